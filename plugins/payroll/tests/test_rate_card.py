"""Rate card rules: the agent-fee ceiling, quota bands, volume tiers, versions, market gaps."""

from __future__ import annotations

import json
from decimal import Decimal as D
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from postalops.errors import ValidationError
from postalops_payroll.period import Month
from postalops_payroll.rate_card import (
    market_gap_report,
    rate_card_from_dict,
    rate_card_to_dict,
    select_version,
)

CARD_JSON = Path(__file__).parent / "fixture_card.json"  # the table in conftest.py


def card_dict(**overrides):
    data = json.loads(CARD_JSON.read_text(encoding="utf-8"))
    data.update(overrides)
    return data


def _fields(error: ValidationError) -> set[str]:
    return {detail["field"] for detail in error.details}


def test_agent_fee_plus_courier_fee_may_equal_the_door_rate(card_data):
    # parcel rural: door 1.30, agent 0.30 -> pickup 1.00 makes 0.30 + 1.00 = 1.30, allowed (<=)
    card_data["delivery_rates"]["parcel"]["pickup_point"]["rural"] = "1.00"
    card = rate_card_from_dict(card_data)
    assert card.rate(*_cell("parcel", "pickup_point", "rural")) == D("1.00")


def test_agent_fee_plus_courier_fee_cannot_exceed_door_rate(card_data):
    # parcel rural: 0.30 + 1.01 = 1.31 > door 1.30 ; express mountain: door 1.80, 0.30 + 1.60 = 1.90
    card_data["delivery_rates"]["parcel"]["pickup_point"]["rural"] = "1.01"
    card_data["delivery_rates"]["express"]["pickup_point"]["mountain"] = "1.60"
    with pytest.raises(ValidationError) as caught:
        rate_card_from_dict(card_data)
    error = caught.value
    assert error.status == 422
    assert _fields(error) == {
        "delivery_rates.parcel.pickup_point.rural",
        "delivery_rates.express.pickup_point.mountain",
    }
    parcel = next(d for d in error.details if d["tier"] == "rural")
    assert (parcel["agent_fee"], parcel["pickup_point_rate"], parcel["door_rate"]) == (
        "0.30",
        "1.01",
        "1.30",
    )


def test_raising_the_agent_fee_flags_every_tier_it_breaks(card_data):
    # gov_mail: pickup = door - 0.50 - 0.10 ; a fee of 0.61 breaks all four tiers by 0.01
    card_data["agent_fees"]["gov_mail"] = "0.61"
    with pytest.raises(ValidationError) as caught:
        rate_card_from_dict(card_data)
    assert _fields(caught.value) == {
        f"delivery_rates.gov_mail.pickup_point.{tier}"
        for tier in ("urban", "suburban", "rural", "mountain")
    }


def test_missing_cells_and_bad_numbers_are_all_reported(card_data):
    del card_data["delivery_rates"]["letter"]["locker"]["mountain"]
    card_data["commission_rates"]["parcel"] = "abc"
    card_data["commission_rates"]["express"] = "8"  # 8 is 800%, not 8%
    with pytest.raises(ValidationError) as caught:
        rate_card_from_dict(card_data)
    assert _fields(caught.value) == {
        "delivery_rates.letter.locker.mountain",
        "commission_rates.parcel",
        "commission_rates.express",
    }


def test_unknown_category_is_named(card_data):
    card_data["delivery_rates"]["postcard"] = {"door": {"urban": "0.1"}}
    with pytest.raises(ValidationError) as caught:
        rate_card_from_dict(card_data)
    assert _fields(caught.value) == {"delivery_rates.postcard.door.urban"}


@pytest.mark.parametrize(
    ("completion", "multiplier"),
    [
        ("0", "0.9"),
        ("0.7999", "0.9"),
        ("0.8", "1.0"),
        ("0.9999", "1.0"),
        ("1", "1.1"),
        ("2.5", "1.1"),
    ],
)
def test_quota_band_edges(card, completion, multiplier):
    assert card.band_for(D(completion)).multiplier == D(multiplier)


def test_band_edges_can_be_closed_on_the_other_side(card_data):
    # (0.8 goes to the lower band): [0, 0.8] x0.9 ; (0.8, 1.0] x1.0 ; (1.0, inf) x1.1
    card_data["quota_bands"] = [
        {"lower": "0", "upper": "0.8", "upper_closed": True, "multiplier": "0.9"},
        {
            "lower": "0.8",
            "lower_closed": False,
            "upper": "1.0",
            "upper_closed": True,
            "multiplier": "1.0",
        },
        {"lower": "1.0", "lower_closed": False, "upper": None, "multiplier": "1.1"},
    ]
    card = rate_card_from_dict(card_data)
    assert [card.band_for(D(x)).multiplier for x in ("0.8", "0.8001", "1.0", "1.0001")] == [
        D("0.9"),
        D("1.0"),
        D("1.0"),
        D("1.1"),
    ]
    assert card.band_for(D("0.8")).label == "[0, 0.8]"


@pytest.mark.parametrize(
    ("bands", "message"),
    [
        # gap between 0.8 and 0.85
        ([("0", "0.8", True, False), ("0.85", None, True, False)], "gap or overlap"),
        # overlap
        ([("0", "0.9", True, False), ("0.8", None, True, False)], "gap or overlap"),
        # 0.8 in both bands
        ([("0", "0.8", True, True), ("0.8", None, True, False)], "in both"),
        # 0.8 in neither
        ([("0", "0.8", True, False), ("0.8", None, False, False)], "in neither"),
        # does not start at 0
        ([("0.1", None, True, False)], "must start at [0"),
        # bounded last band
        ([("0", "5", True, False)], "unbounded"),
    ],
)
def test_quota_bands_must_tile_zero_to_infinity(card_data, bands, message):
    card_data["quota_bands"] = [
        {"lower": lo, "upper": hi, "lower_closed": lc, "upper_closed": uc, "multiplier": "1"}
        for lo, hi, lc, uc in bands
    ]
    with pytest.raises(ValidationError) as caught:
        rate_card_from_dict(card_data)
    assert any(message in d["message"] for d in caught.value.details)


@pytest.mark.parametrize(
    ("delivered", "split"),
    [
        (100, []),
        (101, [(1, 100)]),
        (150, [(50, 100)]),
        (151, [(50, 100), (1, 150)]),
        (400, [(50, 100), (250, 150)]),
    ],
)
def test_volume_tier_boundaries(card, delivered, split):
    assert [(count, tier.above) for count, tier in card.volume_split(delivered)] == split


def test_effective_date_must_be_the_first_of_a_month(card_data):
    card_data["effective_from"] = "2022-03-15"
    with pytest.raises(ValidationError) as caught:
        rate_card_from_dict(card_data)
    assert _fields(caught.value) == {"effective_from"}


def test_the_version_in_force_is_the_latest_started_one():
    jan = rate_card_from_dict(card_dict(effective_from="2022-01-01"), version=1)
    apr = rate_card_from_dict(card_dict(effective_from="2022-04-01"), version=2)
    apr_fix = rate_card_from_dict(card_dict(effective_from="2022-04-01"), version=3)
    assert select_version([jan, apr], Month(2022, 3)).version == 1
    assert select_version([jan, apr], Month(2022, 4)).version == 2
    assert select_version([apr_fix, jan, apr], Month(2022, 9)).version == 3
    with pytest.raises(ValidationError):
        select_version([apr], Month(2022, 1))


def test_market_gap_is_our_door_rate_minus_the_market_rate(card):
    report = {(r["category"], r["tier"]): r["difference"] for r in market_gap_report(card)}
    # parcel urban 1.00 - 1.05 ; express mountain 1.80 - 1.30
    assert report[("parcel", "urban")] == D("-0.05")
    assert report[("express", "mountain")] == D("0.50")
    assert ("letter", "urban") not in report  # no market reference for letters


def test_card_survives_a_json_round_trip(card):
    again = rate_card_from_dict(rate_card_to_dict(card), version=1, unit_code="cn.henan.zhengzhou")
    assert again == card


@given(st.decimals(min_value=0, max_value=10, places=4))
def test_every_completion_falls_in_exactly_one_band(completion):
    card = rate_card_from_dict(card_dict())
    assert sum(band.contains(completion) for band in card.quota_bands) == 1


def _cell(category, mode, tier):
    from postalops_payroll.payslip import cell_of

    return cell_of(category, mode, tier)
