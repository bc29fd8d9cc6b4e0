"""Amortisation schedules against hand-computed tables, and their invariants."""

from datetime import date, timedelta
from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st
from postalops.errors import ValidationError
from postalops_lending.product import DayCount, RepaymentMethod
from postalops_lending.schedule import (
    add_months,
    build_schedule,
    day_count_days,
    generate_schedule,
    level_payment,
    period_interest,
)

EQUAL = RepaymentMethod.EQUAL_INSTALMENTS
BULLET = RepaymentMethod.INTEREST_ONLY_BULLET


def table(lines):
    return [(x.due_date.isoformat(), x.days, str(x.principal), str(x.interest)) for x in lines]


def test_equal_instalments_30_360_hand_computed():
    # 10,000 at 12 %, 3 months, 30/360, from 31 Jan (due dates clamp to month end)
    # r = 0.01; payment = 10000 x 0.01 x 1.01^3 / (1.01^3 - 1) = 103.0301 / 0.030301
    #         = 3400.2211.. -> 3400.22
    # 1: interest 10000 x 0.12 x 30/360 = 100.00; principal 3300.22; left 6699.78
    # 2: interest 6699.78 x 0.01 = 66.9978 -> 67.00; principal 3333.22; left 3366.56
    # 3: interest 3366.56 x 0.01 = 33.6656 -> 33.67; principal = residue 3366.56; pays 3400.23
    lines = generate_schedule(
        D("10000"), D("0.12"), date(2022, 1, 31), 3, EQUAL, DayCount.THIRTY_360
    )
    assert level_payment(D("10000"), D("0.12"), 3) == D("3400.22")
    assert table(lines) == [
        ("2022-02-28", 30, "3300.22", "100.00"),
        ("2022-03-31", 30, "3333.22", "67.00"),
        ("2022-04-30", 30, "3366.56", "33.67"),
    ]
    assert [str(x.payment) for x in lines] == ["3400.22", "3400.22", "3400.23"]
    assert sum(x.principal for x in lines) == D("10000")


def test_interest_only_act_360_hand_computed():
    # 100,000 at 3.6 %, ACT/360, from 15 Jan: 31, 28, 31 days
    # 100000 x 0.036 / 360 = 10.00 a day -> 310.00, 280.00, 310.00; principal at maturity
    lines = generate_schedule(
        D("100000"), D("0.036"), date(2022, 1, 15), 3, BULLET, DayCount.ACT_360
    )
    assert table(lines) == [
        ("2022-02-15", 31, "0.00", "310.00"),
        ("2022-03-15", 28, "0.00", "280.00"),
        ("2022-04-15", 31, "100000.00", "310.00"),
    ]


def test_equal_instalments_act_365_hand_computed():
    # 12,000 at 3.65 %, ACT/365, 2 months from 1 Mar; r = 0.0365/12 = 0.0030416..
    # payment = P(1+r)^2/(2+r) = 12000 x 1.0060925851 / 2.0030416667 = 6027.3889 -> 6027.39
    # 1: 31 days: 12000 x 0.0365 x 31/365 = 12000 x 0.0031 = 37.20; principal 5990.19
    # 2: 30 days: 6009.81 x 0.0365 x 30/365 = 6009.81 x 0.003 = 18.0294 -> 18.03;
    #    principal = residue 6009.81; pays 6027.84
    lines = generate_schedule(D("12000"), D("0.0365"), date(2022, 3, 1), 2, EQUAL, DayCount.ACT_365)
    assert table(lines) == [
        ("2022-04-01", 31, "5990.19", "37.20"),
        ("2022-05-01", 30, "6009.81", "18.03"),
    ]
    assert [str(x.payment) for x in lines] == ["6027.39", "6027.84"]


def test_due_dates_keep_the_anchor_day_through_short_months():
    assert add_months(date(2022, 1, 31), 1) == date(2022, 2, 28)
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert add_months(date(2022, 1, 31), 2) == date(2022, 3, 31)
    assert add_months(date(2022, 11, 15), 3) == date(2023, 2, 15)


@pytest.mark.parametrize(
    ("start", "end", "anchor", "days"),
    [
        (date(2022, 1, 31), date(2022, 2, 28), 31, 30),  # clamped due date counts as day 30
        (date(2022, 2, 28), date(2022, 3, 31), 31, 30),
        (date(2022, 2, 28), date(2022, 3, 28), 28, 30),  # a real 28th stays the 28th
        (date(2022, 5, 20), date(2022, 6, 10), 10, 20),  # broken period after relief
        (date(2022, 1, 1), date(2023, 1, 1), 1, 360),
    ],
)
def test_thirty_360_day_counts(start, end, anchor, days):
    assert day_count_days(start, end, DayCount.THIRTY_360, anchor) == days


def test_act_conventions_count_actual_days():
    assert day_count_days(date(2024, 2, 1), date(2024, 3, 1), DayCount.ACT_360) == 29
    assert day_count_days(date(2024, 2, 1), date(2024, 3, 1), DayCount.ACT_365) == 29


def test_zero_rate_splits_principal_evenly_with_residue_last():
    # 100.00 / 3 = 33.33, 33.33, residue 33.34
    lines = generate_schedule(D("100"), D("0"), date(2022, 1, 1), 3, EQUAL, DayCount.ACT_360)
    assert [str(x.principal) for x in lines] == ["33.33", "33.33", "33.34"]
    assert all(x.interest == 0 for x in lines)


@pytest.mark.parametrize(
    ("principal", "rate", "term"),
    [
        (D("-1"), D("0.05"), 12),
        (D("100.001"), D("0.05"), 12),
        (D("100"), D("1.5"), 12),
        (D("100"), D("0.05"), 0),
    ],
)
def test_bad_schedule_inputs_are_refused(principal, rate, term):
    with pytest.raises(ValidationError):
        generate_schedule(principal, rate, date(2022, 1, 1), term, EQUAL, DayCount.ACT_360)


def test_due_dates_must_ascend():
    with pytest.raises(ValidationError) as err:
        build_schedule(
            D("100"), D("0.05"), date(2022, 1, 1), [date(2022, 1, 1)], EQUAL, DayCount.ACT_360
        )
    assert err.value.details[0]["field"] == "due_dates"


@given(
    principal=st.decimals(min_value=D("1000"), max_value=D("5000000"), places=2),
    rate=st.decimals(min_value=D("0"), max_value=D("0.24"), places=4),
    term=st.integers(min_value=1, max_value=60),
    start=st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31)),
    method=st.sampled_from(list(RepaymentMethod)),
    day_count=st.sampled_from(list(DayCount)),
)
def test_schedule_invariants(principal, rate, term, start, method, day_count):
    lines = generate_schedule(principal, rate, start, term, method, day_count)
    # the principal column sums to the amount exactly; the last line leaves nothing
    assert sum(x.principal for x in lines) == principal
    assert lines[-1].closing_principal == 0
    assert len(lines) == term
    for prev, line in zip(lines, lines[1:], strict=False):
        assert line.opening_principal == prev.closing_principal
        assert line.period_start == prev.due_date
    for line in lines:
        assert line.principal >= 0
        # every line's interest is its day-count interest on the opening principal
        days = day_count_days(line.period_start, line.due_date, day_count, start.day)
        assert line.days == days
        assert line.interest == period_interest(line.opening_principal, rate, days, day_count)
        assert line.interest == line.interest.quantize(D("0.01"))
        assert line.due_date - line.period_start <= timedelta(days=31)
    if method is EQUAL:
        payment = level_payment(principal, rate, term)
        assert all(x.payment == payment for x in lines[:-1] if x.closing_principal > 0)
