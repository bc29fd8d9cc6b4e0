"""Loan accounting rules by hand-computed tables: daily accrual, penalty (罚息) and compound
interest, allocation order, provisions by five-category class, the arrangement fee."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
from postalops.errors import ValidationError
from postalops_lending.accounting import (
    AccountingTerms,
    Line,
    ProvisionRates,
    arrangement_fee,
    earned_by,
    interest_accrual,
    penalty_accrual,
    penalty_for_day,
    required_provision,
)
from postalops_lending.product import DayCount
from postalops_lending.servicing import OpenInstalment, allocate_repayment

RATE = D("0.0435")
# the article's oil-seed loan: 866,000 interest-only from 10 May 2022; first period 31 days
# interest 866,000 x 0.0435 x 31 / 360 = 1,167,801 / 360 = 3,243.8917 -> 3,243.89
LINE1 = Line(dt.date(2022, 5, 10), dt.date(2022, 6, 10), D("866000.00"), D("3243.89"))


def test_interest_accrues_day_by_day_and_adds_up_to_the_billed_interest():
    # one day: 866,000 x 0.0435 / 360 = 37,671 / 360 = 104.6417 -> 104.64
    assert interest_accrual([LINE1], dt.date(2022, 5, 10), dt.date(2022, 5, 11), RATE,
                            DayCount.ACT_360, 10) == D("104.64")  # fmt: skip
    # earned by day 2: 75,342 / 360 = 209.2833 -> 209.28; by day 3: 113,013 / 360 = 313.925
    # -> 313.93; so the third day accrues 313.93 - 209.28 = 104.65 (rounding of the running sum)
    assert earned_by(LINE1, dt.date(2022, 5, 12), RATE, DayCount.ACT_360, 10) == D("209.28")
    assert interest_accrual([LINE1], dt.date(2022, 5, 12), dt.date(2022, 5, 13), RATE,
                            DayCount.ACT_360, 10) == D("104.65")  # fmt: skip
    # every day of the period together: exactly the billed 3,243.89
    total = sum(
        interest_accrual([LINE1], dt.date(2022, 5, 9) + dt.timedelta(days=k),
                         dt.date(2022, 5, 10) + dt.timedelta(days=k), RATE, DayCount.ACT_360, 10)
        for k in range(1, 32)
    )  # fmt: skip
    assert total == D("3243.89")
    # nothing before the period starts, nothing twice for the same day
    assert interest_accrual([LINE1], dt.date(2022, 5, 11), dt.date(2022, 5, 11), RATE,
                            DayCount.ACT_360, 10) == D("0")  # fmt: skip


def test_penalty_is_the_contract_rate_plus_the_surcharge_on_overdue_principal():
    line = Line(dt.date(2022, 1, 10), dt.date(2022, 2, 10), D("10000.00"), D("37.46"),
                principal_unpaid=D("10000.00"), interest_unpaid=D("500.00"))  # fmt: skip
    terms = AccountingTerms(penalty_surcharge=D("0.5"))
    # penalty rate 4.35 % x 1.5 = 6.525 %; one day: 10,000 x 0.06525 / 360 = 1.8125 -> 1.81
    assert penalty_for_day([line], dt.date(2022, 2, 11), RATE, DayCount.ACT_360, terms) == (
        D("1.81"),
        D("0"),
    )
    # the due date itself is not overdue yet
    assert penalty_for_day([line], dt.date(2022, 2, 10), RATE, DayCount.ACT_360, terms) == (
        D("0"),
        D("0"),
    )
    # compound: overdue interest 500 x 0.06525 / 360 = 0.0906 -> 0.09 a day
    compound = AccountingTerms(penalty_surcharge=D("0.5"), compound_overdue_interest=True)
    assert penalty_for_day([line], dt.date(2022, 2, 11), RATE, DayCount.ACT_360, compound) == (
        D("1.81"),
        D("0.09"),
    )
    # ten days after the due date (11..20 Feb): 10 x (1.81 + 0.09) = 19.00
    assert penalty_accrual([line], dt.date(2022, 2, 10), dt.date(2022, 2, 20), RATE,
                           DayCount.ACT_360, compound) == D("19.00")  # fmt: skip
    # a 100 % surcharge doubles the rate: 10,000 x 0.087 / 360 = 2.4167 -> 2.42
    double = AccountingTerms(penalty_surcharge=D("1"))
    assert penalty_for_day([line], dt.date(2022, 2, 11), RATE, DayCount.ACT_360, double)[0] == D(
        "2.42"
    )


def _billed():
    return [OpenInstalment(1, dt.date(2022, 1, 10), dt.date(2022, 2, 10), D("1000.00"),
                           D("100.00"))]  # fmt: skip


def test_allocation_pays_penalty_then_interest_then_principal_by_default():
    a = allocate_repayment(D("50.00"), _billed(), dt.date(2022, 2, 20), annual_rate=RATE,
                           day_count=DayCount.ACT_360, anchor_day=10, allow_prepayment=False,
                           penalty_due=D("5.00"))  # fmt: skip
    # 50.00 = penalty 5.00 + interest 45.00 + principal 0
    assert (a.penalty, a.interest, a.principal) == (D("5.00"), D("45.00"), D("0"))
    a = allocate_repayment(D("1105.00"), _billed(), dt.date(2022, 2, 20), annual_rate=RATE,
                           day_count=DayCount.ACT_360, anchor_day=10, allow_prepayment=False,
                           penalty_due=D("5.00"))  # fmt: skip
    assert (a.penalty, a.interest, a.principal) == (D("5.00"), D("100.00"), D("1000.00"))


def test_allocation_order_is_a_product_setting():
    a = allocate_repayment(D("1050.00"), _billed(), dt.date(2022, 2, 20), annual_rate=RATE,
                           day_count=DayCount.ACT_360, anchor_day=10, allow_prepayment=False,
                           penalty_due=D("5.00"),
                           order=("principal", "interest", "penalty"))  # fmt: skip
    # principal 1,000.00 first, then 50.00 of the 100.00 interest, no penalty
    assert (a.principal, a.interest, a.penalty) == (D("1000.00"), D("50.00"), D("0"))
    with pytest.raises(ValidationError):
        AccountingTerms(allocation_order=("interest", "interest", "principal"))


def test_a_payment_above_the_penalty_and_dues_is_refused_without_prepayment():
    with pytest.raises(ValidationError) as err:
        allocate_repayment(D("1105.01"), _billed(), dt.date(2022, 2, 20), annual_rate=RATE,
                           day_count=DayCount.ACT_360, anchor_day=10, allow_prepayment=False,
                           penalty_due=D("5.00"))  # fmt: skip
    assert err.value.details[0]["field"] == "amount"


@pytest.mark.parametrize(
    "category, expected",
    [
        # 866,000 x 1 % general = 8,660.00, plus the class's special provision
        ("normal", D("8660.00")),  # + 0
        ("special_mention", D("25980.00")),  # + 866,000 x 2 % = 17,320 -> 25,980
        ("substandard", D("225160.00")),  # + 866,000 x 25 % = 216,500 -> 225,160
        ("doubtful", D("441660.00")),  # + 866,000 x 50 % = 433,000 -> 441,660
        ("loss", D("874660.00")),  # + 866,000 x 100 % = 866,000 -> 874,660
    ],
)
def test_provision_follows_the_pboc_guideline_by_class(category, expected):
    assert required_provision(D("866000.00"), category, ProvisionRates()) == expected


def test_provision_rates_can_be_the_products_own():
    rates = ProvisionRates(D("0.015"), {"substandard": D("0.30")})
    # 100,000.01 x 1.5 % = 1,500.00015 -> 1,500.00; x 30 % = 30,000.003 -> 30,000.00
    assert required_provision(D("100000.01"), "substandard", rates) == D("31500.00")
    assert required_provision(D("100000.01"), "loss", rates) == D("1500.00")  # no special rate


def test_arrangement_fee_is_a_fraction_of_the_principal():
    # 866,000 x 0.5 % = 4,330.00; 123,456.78 x 1 % = 1,234.5678 -> 1,234.57
    assert arrangement_fee(D("866000.00"), AccountingTerms(arrangement_fee_rate=D("0.005"))) == D(
        "4330.00"
    )
    assert arrangement_fee(D("123456.78"), AccountingTerms(arrangement_fee_rate=D("0.01"))) == D(
        "1234.57"
    )
    assert arrangement_fee(D("866000.00"), AccountingTerms()) == D("0")
