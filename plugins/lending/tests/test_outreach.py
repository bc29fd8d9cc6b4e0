"""The phone-back list: slowed receivables and near maturity, at their edges."""

from datetime import date
from decimal import Decimal as D

import pytest
from postalops.errors import ValidationError
from postalops_lending.credit_line import TaxMonth
from postalops_lending.outreach import CallOutcome, Reason, parse_outcome, reasons_to_call

AS_OF = date(2022, 5, 9)
FAR = date(2023, 5, 9)


def sales(earlier, recent):
    # Nov, Dec, Jan are the earlier window; Feb, Mar, Apr the recent one (May is not full)
    periods = [
        date(2021, 11, 1),
        date(2021, 12, 1),
        date(2022, 1, 1),
        date(2022, 2, 1),
        date(2022, 3, 1),
        date(2022, 4, 1),
    ]
    values = list(earlier) + list(recent)
    return [TaxMonth(p, D("1000"), D(v), "A") for p, v in zip(periods, values, strict=True)]


def test_sales_down_thirty_percent_is_listed():
    # earlier 300,000, recent 60,000 + 70,000 + 80,000 = 210,000: down 90,000 / 300,000 = 0.30
    data = sales(["100000"] * 3, ["60000", "70000", "80000"])
    assert reasons_to_call(data, FAR, AS_OF) == [Reason.RECEIVABLES_SLOWED]


def test_sales_down_just_under_thirty_percent_is_not():
    # recent 210,010: down 89,990 / 300,000 = 0.29997
    data = sales(["100000"] * 3, ["60000", "70000", "80010"])
    assert reasons_to_call(data, FAR, AS_OF) == []


def test_no_earlier_sales_gives_no_slowdown_signal():
    assert reasons_to_call(sales(["0"] * 3, ["0"] * 3), FAR, AS_OF) == []


@pytest.mark.parametrize(
    ("maturity", "listed"),
    [(date(2022, 6, 8), True), (date(2022, 6, 9), False), (AS_OF, True), (date(2022, 5, 8), False)],
)
def test_near_maturity_means_within_30_days(maturity, listed):
    # 9 May + 30 days = 8 June
    data = sales(["100000"] * 3, ["100000"] * 3)
    assert (reasons_to_call(data, maturity, AS_OF) == [Reason.NEAR_MATURITY]) is listed


def test_call_outcomes_are_a_closed_list():
    assert parse_outcome("needs_relief") is CallOutcome.NEEDS_RELIEF
    with pytest.raises(ValidationError) as err:
        parse_outcome("maybe")
    assert err.value.details[0]["field"] == "outcome"
