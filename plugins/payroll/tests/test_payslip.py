"""Payslips computed by hand from the fixture card in conftest.py."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal as D
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from postalops.errors import ValidationError
from postalops_payroll.dimensions import Category, Mode, Tier
from postalops_payroll.payslip import (
    CATEGORY_CODES,
    MODE_CODES,
    TIER_CODES,
    Adjustment,
    CourierMonth,
    TermCount,
    cell_of,
    line_identity,
    line_positions,
    price_outsourced_courier,
    price_own_courier,
)
from postalops_payroll.rate_card import rate_card_from_dict

# 111 items over five cells: every category, every mode, every tier, and 11 items past the
# first volume tier (above 100).
DELIVERIES = {
    cell_of("parcel", "door", "urban"): 40,
    cell_of("express", "pickup_point", "rural"): 30,
    cell_of("letter", "locker", "mountain"): 20,
    cell_of("gov_mail", "counter", "suburban"): 10,
    cell_of("registered", "door", "mountain"): 11,
}

CARD_JSON = Path(__file__).parent / "fixture_card.json"  # the table in conftest.py


def card_dict(**overrides):
    data = json.loads(CARD_JSON.read_text(encoding="utf-8"))
    data.update(overrides)
    return data


def _month(postage: str, deliveries=None, adjustments=()) -> CourierMonth:
    return CourierMonth(
        courier_code="ZZ-0001",
        grade="A",  # quota 1000 yuan
        base_pay=D("3000.00"),
        deliveries=DELIVERIES if deliveries is None else deliveries,
        postage={Category.PARCEL: D(postage)},
        adjustments=adjustments,
    )


def _lines(slip):
    return [
        (line.kind, line.category, line.mode, line.tier, line.volume_tier, line.amount)
        for line in slip.lines
    ]


def test_payslip_below_the_80_percent_edge(card):
    # postage 799.90 / quota 1000 = 0.7999 -> band [0, 0.8) -> x0.9
    # base                                   3000.00
    # express pickup rural: (1.50-0.30-0.10)=1.10 x0.9 = 0.99 x 30 = 29.70
    # gov_mail counter suburban: (2.10-0.10)=2.00 x0.9 = 1.80 x 10 = 18.00
    # letter locker mountain: (0.80-0.15)=0.65 x0.9 = 0.585 x 20 = 11.70
    # parcel door urban: 1.00 x0.9 = 0.90 x 40                     = 36.00
    # registered door mountain: 1.10 x0.9 = 0.99 x 11              = 10.89
    # volume tier 1: 111-100 = 11 items x 0.05 x0.9 = 0.495 -> half-up  0.50
    # commission parcel: 799.90 x 0.10                             = 79.99
    # agent fee express: 30 x 0.30                                 = -9.00
    # adjustment                                                   = -50.00
    # total = 3000 + 29.70 + 18.00 + 11.70 + 36.00 + 10.89 + 0.50 + 79.99 - 9.00 - 50.00 = 3127.78
    late = Adjustment(D("-50.00"), "late returns on 3 days", "hr.zhang")
    slip = price_own_courier(_month("799.90", adjustments=[late]), card)
    assert _lines(slip) == [
        ("base", None, None, None, None, D("3000.00")),
        ("delivery", "express", "pickup_point", "rural", 0, D("29.70")),
        ("delivery", "gov_mail", "counter", "suburban", 0, D("18.00")),
        ("delivery", "letter", "locker", "mountain", 0, D("11.70")),
        ("delivery", "parcel", "door", "urban", 0, D("36.00")),
        ("delivery", "registered", "door", "mountain", 0, D("10.89")),
        ("volume_tier", None, None, None, 1, D("0.50")),
        ("commission", "parcel", None, None, None, D("79.99")),
        ("agent_fee", "express", "pickup_point", None, None, D("-9.00")),
        ("adjustment", None, None, None, None, D("-50.00")),
    ]
    assert slip.total == D("3127.78")
    assert slip.quota_completion == D("0.7999")
    assert slip.quota_multiplier == D("0.9")
    assert slip.quota_band == "[0, 0.8)"
    assert slip.delivered_items == 111
    assert slip.pickup_point_items == 30
    assert slip.agent_fees == D("9.00")
    assert slip.company_cost == D("3136.78")
    assert {line.rate_card_version for line in slip.lines if line.kind != "adjustment"} == {1}
    adjustment = slip.lines[-1]
    assert (adjustment.reason, adjustment.author) == ("late returns on 3 days", "hr.zhang")


@pytest.mark.parametrize(
    ("postage", "multiplier", "parcel_door_urban", "total"),
    [
        # delivery pay before the multiplier: 29.70/0.9... recomputed per band below:
        # x1.0: 33.00 + 20.00 + 13.00 + 40.00 + 12.10 = 118.10 ; tier 11 x 0.05 = 0.55
        # 80.00%: 3000 + 118.10 + 0.55 + 80.00 - 9.00 = 3189.65
        ("800.00", "1.0", "40.00", "3189.65"),
        # 99.99%: commission 99.99 -> 3000 + 118.10 + 0.55 + 99.99 - 9.00 = 3209.64
        ("999.90", "1.0", "40.00", "3209.64"),
        # x1.1: 36.30 + 22.00 + 14.30 + 44.00 + 13.31 = 129.91 ; tier 11 x 0.055 = 0.605 -> 0.61
        # 100%: 3000 + 129.91 + 0.61 + 100.00 - 9.00 = 3221.52
        ("1000.00", "1.1", "44.00", "3221.52"),
        # 79.99% (see the test above, without the adjustment): 3127.78 + 50 = 3177.78
        ("799.90", "0.9", "36.00", "3177.78"),
    ],
)
def test_band_edges_on_the_payslip(card, postage, multiplier, parcel_door_urban, total):
    slip = price_own_courier(_month(postage), card)
    parcel = next(
        line for line in slip.lines if line.category == "parcel" and line.kind == "delivery"
    )
    assert slip.quota_multiplier == D(multiplier)
    assert parcel.amount == D(parcel_door_urban)
    assert slip.total == D(total)


@pytest.mark.parametrize(
    ("parcels", "tier_lines"),
    [
        # 100 parcels door urban at x0.9 (no postage): no volume line
        (100, []),
        # 101: one item past 100 -> 1 x 0.05 x 0.9 = 0.045 -> 0.05
        (101, [(1, D("1"), D("0.05"))]),
        # 150: 50 x 0.045 = 2.25 ; 151 adds tier 2: 1 x 0.10 x 0.9 = 0.09
        (150, [(1, D("50"), D("2.25"))]),
        (151, [(1, D("50"), D("2.25")), (2, D("1"), D("0.09"))]),
    ],
)
def test_volume_tier_boundary_on_the_payslip(card, parcels, tier_lines):
    work = _month("0", deliveries={cell_of("parcel", "door", "urban"): parcels})
    slip = price_own_courier(work, card)
    got = [
        (ln.volume_tier, ln.quantity, ln.amount) for ln in slip.lines if ln.kind == "volume_tier"
    ]
    assert got == tier_lines


def test_lines_round_half_up_to_the_fen(card):
    # one letter to a mountain locker at x0.9: 0.65 x 0.9 = 0.585 -> 0.59 (banker's would say 0.58)
    slip = price_own_courier(
        _month("0", deliveries={cell_of("letter", "locker", "mountain"): 1}), card
    )
    assert slip.lines[1].amount == D("0.59")
    assert slip.lines[1].unit_rate == D("0.585")


def test_unknown_grade_is_refused(card):
    work = CourierMonth("ZZ-9", "Z", D("3000"), {})
    with pytest.raises(ValidationError) as caught:
        price_own_courier(work, card)
    assert caught.value.details[0]["field"] == "grade"


@pytest.mark.parametrize(
    ("amount", "reason", "author", "field"),
    [
        (D("10.005"), "bonus", "hr", "amount"),
        (D("10"), " ", "hr", "reason"),
        (D("10"), "bonus", "", "author"),
    ],
)
def test_an_adjustment_needs_whole_fen_a_reason_and_an_author(amount, reason, author, field):
    with pytest.raises(ValidationError) as caught:
        Adjustment(amount, reason, author)
    assert [d["field"] for d in caught.value.details] == [field]


def test_outsourced_items_are_charged_at_the_contractor_price_per_term():
    # 1000 items at 1.30 (January term) + 500 items at 1.05 (new term) = 1300.00 + 525.00
    slip = price_outsourced_courier(
        "WB-0001",
        [TermCount("T-2022-01", D("1.30"), 1000, 100), TermCount("T-2022-02", D("1.05"), 500)],
    )
    assert [line.amount for line in slip.lines] == [D("1300.00"), D("525.00")]
    assert slip.total == D("1825.00")
    assert slip.delivered_items == 1500
    assert slip.pickup_point_items == 100
    assert slip.agent_fees == D("0")


cells = st.tuples(st.sampled_from(Category), st.sampled_from(Mode), st.sampled_from(Tier))
work_months = st.builds(
    lambda deliveries, postage, base: CourierMonth(
        "X", "B", base, deliveries, {Category.EXPRESS: postage}
    ),
    st.dictionaries(cells, st.integers(min_value=0, max_value=400), max_size=12),
    st.decimals(min_value=0, max_value=5000, places=2),
    st.decimals(min_value=0, max_value=9000, places=2),
)
CARD = rate_card_from_dict(card_dict(), version=1)


@settings(max_examples=200, deadline=None)
@given(work_months)
def test_the_total_is_the_exact_sum_of_rounded_lines(work):
    slip = price_own_courier(work, CARD)
    assert all(line.amount == line.amount.quantize(D("0.01")) for line in slip.lines)
    assert slip.total == sum(line.amount for line in slip.lines)
    assert slip.delivered_items == sum(work.deliveries.values())


@settings(max_examples=100, deadline=None)
@given(work_months, st.decimals(min_value=0, max_value=2000, places=2))
def test_more_collected_postage_never_lowers_pay(work, extra):
    more = replace(work, postage={Category.EXPRESS: work.postage[Category.EXPRESS] + extra})
    assert price_own_courier(more, CARD).total >= price_own_courier(work, CARD).total


@settings(max_examples=100, deadline=None)
@given(work_months)
def test_identical_input_gives_an_identical_slip_whatever_the_order(work):
    reversed_work = replace(work, deliveries=dict(reversed(list(work.deliveries.items()))))
    assert price_own_courier(reversed_work, CARD) == price_own_courier(work, CARD)


def test_the_position_codes_cover_every_dimension_value():
    # Stored slips depend on these lists: they may grow at the end, never lose or move a value.
    assert set(CATEGORY_CODES) == {c.value for c in Category}
    assert set(MODE_CODES) == {m.value for m in Mode}
    assert set(TIER_CODES) == {t.value for t in Tier}


@settings(max_examples=100, deadline=None)
@given(work_months)
def test_every_stored_position_reads_back_as_its_line(work):
    adjustments = [Adjustment(D("-5.00"), "迟到", "hr"), Adjustment(D("8.00"), "补发", "hr")]
    work = replace(work, adjustments=adjustments)
    for slip in (
        price_own_courier(work, CARD),
        price_outsourced_courier("W1", [TermCount("T1", D("1.10"), 20, 5)], work.adjustments),
    ):
        positions = line_positions(slip.lines)
        assert len(set(positions)) == len(positions)
        assert positions == sorted(positions)  # stored order is slip order
        for position, line in zip(positions, slip.lines, strict=True):
            identity = line_identity(position, slip.kind)
            assert identity == (line.kind, line.category, line.mode, line.tier, line.volume_tier)
