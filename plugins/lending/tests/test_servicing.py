"""Repayments: allocation order, payoff, overpayment, closed loans, days past due."""

from datetime import date
from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st
from postalops.errors import Conflict, ValidationError
from postalops_lending.product import DayCount, RepaymentMethod
from postalops_lending.schedule import generate_schedule
from postalops_lending.servicing import (
    OpenInstalment,
    allocate_repayment,
    amount_due,
    days_past_due,
    payoff_amount,
)

RATE = D("0.12")
DC = DayCount.THIRTY_360
ANCHOR = 31


def open_lines():
    # the 10,000 / 12 % / 3-month 30/360 schedule of test_schedule, nothing paid yet:
    # 28 Feb 3300.22 + 100.00; 31 Mar 3333.22 + 67.00; 30 Apr 3366.56 + 33.67
    lines = generate_schedule(
        D("10000"), RATE, date(2022, 1, 31), 3, RepaymentMethod.EQUAL_INSTALMENTS, DC
    )
    return [
        OpenInstalment(x.number, x.period_start, x.due_date, x.principal, x.interest) for x in lines
    ]


def pay(amount, as_of=date(2022, 4, 5), allow_prepayment=False, status="active"):
    return allocate_repayment(
        D(amount),
        open_lines(),
        as_of,
        annual_rate=RATE,
        day_count=DC,
        anchor_day=ANCHOR,
        allow_prepayment=allow_prepayment,
        loan_status=status,
    )


def test_interest_of_every_billed_instalment_is_paid_before_any_principal():
    # on 5 Apr two instalments are billed; 200.00 pays interest 100.00 + 67.00 = 167.00 first,
    # then 33.00 of the oldest instalment's principal
    result = pay("200.00")
    assert [(x.number, str(x.interest), str(x.principal)) for x in result.lines] == [
        (1, "100.00", "33.00"),
        (2, "67.00", "0.00"),
    ]
    assert result.interest == D("167.00") and result.principal == D("33.00")
    assert not result.closes_loan


def test_a_payment_smaller_than_the_oldest_interest_goes_to_it_alone():
    result = pay("60.00")
    assert [(x.number, str(x.interest), str(x.principal)) for x in result.lines] == [
        (1, "60.00", "0.00")
    ]


def test_amount_due_and_payoff_hand_computed():
    # due on 5 Apr: 3400.22 + 3400.22 = 6800.44
    # accrued on the unbilled 3366.56 from 31 Mar to 5 Apr: 30/360 days = 30 + 5 - 30 = 5;
    #   3366.56 x 0.12 x 5/360 = 5.6109 -> 5.61
    # payoff = 6800.44 + 5.61 + 3366.56 = 10172.61
    lines = open_lines()
    assert amount_due(lines, date(2022, 4, 5)) == D("6800.44")
    assert payoff_amount(lines, date(2022, 4, 5), RATE, DC, ANCHOR) == D("10172.61")


def test_paying_exactly_what_is_due_clears_both_billed_instalments():
    result = pay("6800.44")
    assert result.interest == D("167.00")
    assert result.principal == D("6633.44")  # 3300.22 + 3333.22
    assert result.prepaid_principal == 0


def test_overpayment_above_what_is_due_is_refused_without_prepayment():
    with pytest.raises(ValidationError) as err:
        pay("6800.45")
    assert err.value.code == "prepayment_not_allowed"
    assert err.value.details[0]["field"] == "amount"


def test_prepayment_product_settles_at_the_payoff_amount():
    result = pay("10172.61", allow_prepayment=True)
    assert result.closes_loan
    assert result.principal == D("10000.00")
    assert result.interest == D("172.61")  # 100.00 + 67.00 + 5.61 accrued
    assert result.accrued_interest == D("5.61")


def test_partial_prepayment_pays_accrued_interest_then_principal():
    # 6800.44 clears the dues; of the 100.00 extra, 5.61 is accrued interest, 94.39 principal
    result = pay("6900.44", allow_prepayment=True)
    assert result.accrued_interest == D("5.61")
    assert result.prepaid_principal == D("94.39")
    assert not result.closes_loan


@pytest.mark.parametrize("allow", [False, True])
def test_overpayment_beyond_the_payoff_is_always_refused(allow):
    with pytest.raises(ValidationError) as err:
        pay("10172.62", allow_prepayment=allow)
    assert err.value.code == "overpayment"


@pytest.mark.parametrize("status", ["closed", "renewed", "settled"])
def test_a_closed_loan_takes_no_repayment(status):
    with pytest.raises(Conflict) as err:
        pay("100.00", status=status)
    assert err.value.status == 409


@pytest.mark.parametrize("amount", ["0", "-5.00", "1.001"])
def test_bad_amounts_are_refused(amount):
    with pytest.raises(ValidationError):
        pay(amount)


@pytest.mark.parametrize(
    ("as_of", "dpd"),
    [
        (date(2022, 2, 28), 0),  # on the due date nothing is late yet
        (date(2022, 3, 1), 1),
        (date(2022, 4, 5), 36),  # 28 Feb -> 5 Apr: 28 + 8 days, counted from the oldest
    ],
)
def test_days_past_due_count_from_the_oldest_unpaid_instalment(as_of, dpd):
    assert days_past_due(open_lines(), as_of) == dpd


def test_a_paid_instalment_is_not_past_due():
    lines = open_lines()
    lines[0] = OpenInstalment(1, lines[0].period_start, lines[0].due_date, D("0"), D("0"))
    assert days_past_due(lines, date(2022, 4, 5)) == 5  # now from 31 Mar


@given(cents=st.integers(min_value=1, max_value=1017261))
def test_allocation_conserves_the_amount_and_never_pays_more_than_owed(cents):
    amount = D(cents) / 100
    result = pay(str(amount), allow_prepayment=True)
    assert result.interest + result.principal == amount
    owed = {x.number: x for x in open_lines()}
    for line in result.lines:
        assert line.interest <= owed[line.number].interest_due
        assert line.principal <= owed[line.number].principal_due
        # principal of a line is touched only once all billed interest is paid
        if line.principal > 0:
            assert sum(x.interest for x in result.lines) == D("167.00")
