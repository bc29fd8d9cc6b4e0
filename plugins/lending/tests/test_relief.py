"""Relief: eligibility, one operation per request, regeneration conserving principal."""

from dataclasses import replace
from datetime import date
from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st
from postalops.errors import BadRequest, ValidationError
from postalops_lending.product import DayCount, RepaymentMethod
from postalops_lending.relief import (
    LoanPosition,
    ReliefKind,
    ReliefRequest,
    eligibility,
    parse_request,
    plan,
)
from postalops_lending.schedule import generate_schedule
from postalops_lending.servicing import OpenInstalment, accrued_interest

# 100,000 at 3.6 % ACT/360, interest monthly, principal at maturity, from 15 Jan 2022:
# 10.00 interest a day; due on the 15th, maturity 15 Jan 2023
SCHEDULE = generate_schedule(
    D("100000"),
    D("0.036"),
    date(2022, 1, 15),
    12,
    RepaymentMethod.INTEREST_ONLY_BULLET,
    DayCount.ACT_360,
)


def position(relief_date, dpd=0, operating=True, status="active"):
    """The loan on ``relief_date`` with every instalment due before it paid."""
    open_lines = [
        OpenInstalment(x.number, x.period_start, x.due_date, x.principal, x.interest)
        for x in SCHEDULE
        if x.due_date > relief_date
    ]
    return LoanPosition(
        status=status,
        days_past_due=dpd,
        business_operating=operating,
        maturity_date=SCHEDULE[-1].due_date,
        outstanding_principal=sum(x.principal_due for x in open_lines),
        carried_interest=accrued_interest(
            open_lines, relief_date, D("0.036"), DayCount.ACT_360, 15
        ),
        annual_rate=D("0.036"),
        day_count=DayCount.ACT_360,
        method=RepaymentMethod.INTEREST_ONLY_BULLET,
        remaining_due_dates=[x.due_date for x in open_lines],
        next_number=open_lines[0].number,
        anchor_day=15,
    )


def test_temporary_extension_moves_maturity_and_carries_accrued_interest():
    # relief on 5 May: interest paid to 15 Apr; 20 days accrued = 200.00 carried.
    # 9 remaining due dates (15 May .. 15 Jan) + 3 months = 12 lines, numbered from 4.
    # First line 5 -> 15 May, 10 days = 100.00, + 200.00 carried = 300.00: the same as an
    # untouched 30-day month, so the borrower pays no interest on interest.
    loan = position(date(2022, 5, 5))
    assert loan.carried_interest == D("200.00")
    result = plan(ReliefRequest(ReliefKind.EXTENSION, date(2022, 5, 5), extension_months=3), loan)
    assert not result.new_loan
    assert [x.number for x in result.schedule] == list(range(4, 16))
    assert result.schedule[0].interest == D("300.00")
    assert result.maturity_date == date(2023, 4, 15)
    assert result.schedule[-1].principal == D("100000.00")
    assert sum(x.principal for x in result.schedule) == loan.outstanding_principal


def test_renewal_is_a_new_loan_for_the_outstanding_principal():
    # relief on 20 Dec 2022, 26 days before maturity; 5 days accrued = 50.00 carried.
    # New loan numbered from 1, due on the 20th; first line 20 Dec -> 20 Jan = 31 days
    # = 310.00 + 50.00 = 360.00; maturity 20 Dec 2023.
    loan = position(date(2022, 12, 20))
    result = plan(ReliefRequest(ReliefKind.RENEWAL, date(2022, 12, 20), term_months=12), loan)
    assert result.new_loan
    assert result.principal == D("100000.00")
    assert result.schedule[0].number == 1
    assert result.schedule[0].interest == D("360.00")
    assert result.maturity_date == date(2023, 12, 20)


def test_refinancing_can_change_rate_and_term():
    # 100,000 at 2.4 % over 6 months from 5 May; first line 5 May -> 5 Jun = 31 days:
    # 100000 x 0.024 x 31/360 = 206.666.. -> 206.67, + 200.00 carried = 406.67
    loan = position(date(2022, 5, 5))
    request = ReliefRequest(
        ReliefKind.REFINANCING, date(2022, 5, 5), term_months=6, annual_rate=D("0.024")
    )
    result = plan(request, loan)
    assert result.annual_rate == D("0.024")
    assert result.schedule[0].interest == D("406.67")
    assert result.maturity_date == date(2022, 11, 5)


def outcomes(request, loan):
    return {o.rule: o.passed for o in eligibility(request, loan)}


@pytest.mark.parametrize(("dpd", "eligible"), [(0, True), (29, True), (30, False)])
def test_relief_needs_less_than_30_days_past_due(dpd, eligible):
    request = ReliefRequest(ReliefKind.EXTENSION, date(2022, 5, 5), extension_months=3)
    assert outcomes(request, position(date(2022, 5, 5), dpd=dpd))["days_past_due"] is eligible


def test_an_ineligible_loan_is_refused_with_every_failed_rule():
    request = ReliefRequest(ReliefKind.EXTENSION, date(2022, 5, 5), extension_months=9)
    loan = position(date(2022, 5, 5), dpd=45, operating=False)
    with pytest.raises(ValidationError) as err:
        plan(request, loan)
    assert err.value.code == "relief_ineligible"
    assert {d["field"] for d in err.value.details} == {
        "days_past_due",
        "business_operating",
        "extension_months",
    }


def test_renewal_only_near_maturity():
    # 5 May 2022 is 255 days before the 15 Jan 2023 maturity; the window is 90
    request = ReliefRequest(ReliefKind.RENEWAL, date(2022, 5, 5), term_months=12)
    assert outcomes(request, position(date(2022, 5, 5)))["renewal_window"] is False


def test_a_closed_loan_gets_no_relief():
    request = ReliefRequest(ReliefKind.REFINANCING, date(2022, 5, 5), term_months=12)
    assert outcomes(request, position(date(2022, 5, 5), status="closed"))["loan_active"] is False


def test_one_operation_per_request():
    op = {"kind": "extension", "relief_date": "2022-05-05", "extension_months": 3}
    assert parse_request({"operations": [op]}).kind is ReliefKind.EXTENSION
    assert parse_request(op).extension_months == 3
    for ops in ([op, dict(op, kind="renewal")], []):
        with pytest.raises(BadRequest) as err:
            parse_request({"operations": ops})
        assert err.value.code == "one_operation_per_request"
        assert err.value.details[0]["field"] == "operations"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"kind": "forgiveness", "relief_date": "2022-05-05"}, "kind"),
        ({"kind": "renewal", "relief_date": "5/5/2022"}, "relief_date"),
        ({"kind": "renewal", "relief_date": "2022-05-05", "term_months": "12"}, "term_months"),
        ({"kind": "refinancing", "relief_date": "2022-05-05", "annual_rate": 0.03}, "annual_rate"),
    ],
)
def test_bad_relief_requests_name_the_field(payload, field):
    with pytest.raises(ValidationError) as err:
        parse_request(payload)
    assert field in {d["field"] for d in err.value.details}


@given(
    principal=st.decimals(min_value=D("10000"), max_value=D("3000000"), places=2),
    rate=st.decimals(min_value=D("0.01"), max_value=D("0.2"), places=4),
    paid=st.integers(min_value=0, max_value=10),
    day=st.integers(min_value=1, max_value=27),
    kind=st.sampled_from(list(ReliefKind)),
    months=st.integers(min_value=1, max_value=6),
    method=st.sampled_from(list(RepaymentMethod)),
)
def test_regeneration_conserves_outstanding_principal(
    principal, rate, paid, day, kind, months, method
):
    lines = generate_schedule(principal, rate, date(2022, 1, 10), 12, method, DayCount.ACT_365)
    relief_date = date(lines[paid].period_start.year, lines[paid].period_start.month, day)
    if relief_date <= lines[paid].period_start:
        relief_date = lines[paid].period_start.replace(day=lines[paid].period_start.day + 1)
    open_lines = [x for x in lines if x.due_date > relief_date]
    outstanding = sum(x.principal for x in open_lines)
    loan = LoanPosition(
        status="active",
        days_past_due=0,
        business_operating=True,
        maturity_date=lines[-1].due_date,
        outstanding_principal=outstanding,
        carried_interest=D("0"),
        annual_rate=rate,
        day_count=DayCount.ACT_365,
        method=method,
        remaining_due_dates=[x.due_date for x in open_lines],
        next_number=open_lines[0].number,
        anchor_day=10,
    )
    request = ReliefRequest(kind, relief_date, term_months=months * 4, extension_months=months)
    if kind is ReliefKind.RENEWAL:
        loan = replace(loan, maturity_date=relief_date)  # inside the renewal window
    result = plan(request, loan)
    assert sum(x.principal for x in result.schedule) == outstanding
    assert result.schedule[-1].closing_principal == 0
    # the old schedule is untouched: plans never mutate their input
    assert sum(x.principal for x in lines) == principal
