"""KPI arithmetic against a table computed by hand."""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from postalops_outcall.call_policy import Outcome
from postalops_outcall.kpis import (
    KPI_KEYS,
    AttemptFact,
    counts_from_attempts,
    kpi_values,
    median_minutes,
    ratio,
)

SH = ZoneInfo("Asia/Shanghai")


def sh(month, day, hour, minute=0):
    return dt.datetime(2022, month, day, hour, minute, tzinfo=SH)


A, B, C, D = sh(8, 17, 9), sh(8, 17, 9, 30), sh(8, 16, 15), sh(8, 31, 17)
ATTEMPTS = [
    AttemptFact("A", Outcome.NO_ANSWER, sh(8, 17, 10), A),  # first call 60 min after approval
    AttemptFact("A", Outcome.ACCEPTED, sh(8, 17, 12, 10), A),
    AttemptFact("B", Outcome.DECLINED, sh(8, 17, 9, 40), B),  # first call after 10 min
    AttemptFact("C", Outcome.BUSY, sh(8, 16, 16), C),  # before the period
    AttemptFact("C", Outcome.CALLBACK, sh(8, 17, 11), C),
    AttemptFact("C", Outcome.ACCEPTED, sh(8, 17, 14), C),
    # 07:30 on 1 Sep in Guangzhou is still 31 Aug in UTC: the local date decides, so it is out.
    AttemptFact("D", Outcome.NO_ANSWER, sh(9, 1, 7, 30), D),
]


def test_kpis_for_the_hand_table():
    counts = counts_from_attempts(
        ATTEMPTS,
        start=dt.date(2022, 8, 17),
        end=dt.date(2022, 8, 31),
        departments=7,
        service_items=22,
    )
    values = {k: v["value"] for k, v in kpi_values(counts).items()}
    assert values == {
        "calls": 5,  # A×2, B×1, C×2 (C's busy on 16 Aug and D's call on 1 Sep are outside)
        "cases_called": 3,  # A, B, C
        "reached": 4,  # A accepted, B declined, C callback, C accepted
        "accepted": 2,  # A, C
        "success_rate": "0.4000",  # 2 accepted attempts ÷ 5 calls
        "conversion_rate": "0.6667",  # 2 accepted cases ÷ 3 cases called = 0.66666… → 0.6667
        "departments": 7,
        "service_items": 22,
        # Cases whose first-ever call is in the period: A (60 min) and B (10 min); median 35.
        "median_minutes_to_first_call": "35.0",
        # 5 calls ÷ 2 accepted cases = 2.5
        "attempts_per_conversion": "2.50",
        # these plain records carry no call times nor service-level cases (test_handle_time)
        "average_handle_seconds": "0.0",
        "average_talk_seconds": "0.0",
        "average_wrapup_seconds": "0.0",
        "service_level": "0.0000",
    }


def test_every_kpi_carries_unit_and_both_labels():
    payload = kpi_values(
        counts_from_attempts([], start=dt.date(2022, 8, 17), end=dt.date(2022, 8, 31))
    )
    assert tuple(payload) == KPI_KEYS
    for kpi in payload.values():
        assert set(kpi) == {"value", "unit", "label_zh", "label_en"}
    assert payload["success_rate"]["value"] == "0.0000"  # no calls: 0, not a division error
    assert payload["median_minutes_to_first_call"]["value"] == "0.0"


def test_rates_round_half_up_to_four_places():
    assert ratio(1, 3) == Decimal("0.3333")
    assert ratio(2, 3) == Decimal("0.6667")
    assert ratio(1, 8) == Decimal("0.1250")
    assert ratio(27, 50) == Decimal("0.5400")


def test_median_of_an_odd_and_an_even_count():
    assert median_minutes([30, 10, 20]) == Decimal("20.0")
    assert median_minutes([10, 20, 30, 45]) == Decimal("25.0")


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])  # shared, loaded CI box
@given(st.integers(0, 10_000), st.integers(1, 10_000))
def test_a_rate_is_a_fraction_within_rounding(num, extra):
    den = num + extra - 1 if num + extra - 1 > 0 else 1
    num = min(num, den)
    r = ratio(num, den)
    assert Decimal(0) <= r <= Decimal(1)
    assert abs(r - Decimal(num) / Decimal(den)) <= Decimal("0.00005")
