"""Servicing in the database: repayments, the nightly close of business, relief and renewal."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
from postalops.errors import Conflict, Forbidden, ValidationError
from postalops.models import AuditRecord
from postalops_lending import service
from postalops_lending.models import Instalment, Loan, PortfolioSnapshot, Relief, Repayment
from sqlmodel import select

from .conftest import HUOCHENG, YINING, person


def lines(s, loan_id, active=True):
    return s.exec(
        select(Instalment)
        .where(Instalment.loan_id == loan_id, Instalment.active == active)
        .order_by(Instalment.number)
    ).all()


def test_repayment_pays_interest_then_principal_and_a_retry_is_recognised(oil_seed, staff, loan):
    s = oil_seed["session"]
    # 10 Jun: interest 866000 x 0.0435 x 31/360 = 3243.89 due, nothing of principal
    rep = service.record_repayment(
        s, staff["cm"], loan.id, D("3243.89"), dt.date(2022, 6, 10), "r1"
    )
    assert (rep.interest, rep.principal) == (D("3243.89"), D("0.00"))
    again = service.record_repayment(
        s, staff["cm"], loan.id, D("3243.89"), dt.date(2022, 6, 10), "r1"
    )
    assert again.id == rep.id
    with pytest.raises(Conflict):
        service.record_repayment(s, staff["cm"], loan.id, D("1.00"), dt.date(2022, 6, 10), "r1")
    s.commit()
    assert lines(s, loan.id)[0].paid_off
    assert len(s.exec(select(Repayment)).all()) == 1


def test_no_prepayment_on_a_product_without_it(oil_seed, staff, loan):
    with pytest.raises(ValidationError) as err:
        service.record_repayment(
            oil_seed["session"], staff["cm"], loan.id, D("5000.00"), dt.date(2022, 6, 10), "r2"
        )
    assert err.value.code == "prepayment_not_allowed"


def test_close_of_business_classifies_by_days_past_due_and_is_idempotent(oil_seed, staff, loan):
    s = oil_seed["session"]
    # unpaid since the 10 Jun instalment: 10 Sep - 10 Jun = 92 days -> 次级 (91-180)
    result = service.close_of_business(s, YINING, dt.date(2022, 9, 10))
    s.commit()
    s.refresh(loan)
    assert (loan.days_past_due, loan.category) == (92, "substandard")
    assert result["categories"] == {"substandard": 1}
    snap = s.exec(select(PortfolioSnapshot)).all()
    assert [(x.category, x.loans, x.outstanding) for x in snap] == [
        ("substandard", 1, D("866000.00"))
    ]
    # a second run for the same date changes nothing
    service.close_of_business(s, YINING, dt.date(2022, 9, 10))
    s.commit()
    s.refresh(loan)
    assert (loan.days_past_due, loan.category) == (92, "substandard")
    assert len(s.exec(select(PortfolioSnapshot)).all()) == 1
    # on 10 Jul (30 days) it is only 关注
    service.close_of_business(s, YINING, dt.date(2022, 7, 10))
    s.commit()
    s.refresh(loan)
    assert (loan.days_past_due, loan.category) == (30, "special_mention")


def test_close_of_business_of_one_branch_leaves_the_other_alone(oil_seed, staff, loan, scoped):
    s = oil_seed["session"]
    service.close_of_business(scoped(HUOCHENG), HUOCHENG, dt.date(2022, 9, 10))
    s.refresh(loan)
    assert (loan.days_past_due, loan.category) == (0, "normal")


def test_extension_regenerates_from_the_relief_date_and_keeps_the_old_schedule(
    oil_seed, staff, loan
):
    s = oil_seed["session"]
    # Jun: 31 days = 3243.89; Jul: 866000 x 0.0435 x 30/360 = 3139.25
    paid = [(dt.date(2022, 6, 10), D("3243.89")), (dt.date(2022, 7, 10), D("3139.25"))]
    for day, amount in paid:
        service.record_repayment(s, staff["cm"], loan.id, amount, day, f"p{day}")
    request = service.request_relief(
        s,
        staff["cm"],
        loan.id,
        {"kind": "extension", "relief_date": "2022-07-20", "extension_months": 6},
    )
    with pytest.raises(Forbidden):  # the requester cannot approve it
        service.decide_relief(s, person(2, "lending.approve"), request.id, approve=True)
    done = service.decide_relief(s, staff["approver"], request.id, approve=True)
    s.commit()
    s.refresh(loan)
    new = lines(s, loan.id)
    old = lines(s, loan.id, active=False)
    assert len(old) == 12 and loan.schedule_version == 2
    assert sum(x.principal for x in new) == D("866000.00")  # conserved
    assert loan.maturity_date == dt.date(2023, 11, 10)  # 10 May 2023 + 6 months
    # first new line: 20 Jul -> 10 Aug = 21 days on 866,000 = 2197.48, plus 10 Jul -> 20 Jul
    # carried = 1046.42 (10 days): 866000 x 0.0435 x 10/360 = 1046.4167 -> 1046.42
    assert done.carried_interest == D("1046.42")
    assert new[0].interest == D("2197.48") + D("1046.42")
    actions = s.exec(
        select(AuditRecord.action).where(AuditRecord.target_type == "lending_relief")
    ).all()
    assert actions == ["lending.relief.request.extension", "lending.relief.approve.extension"]


def test_renewal_settles_the_old_loan_with_a_linked_new_one(oil_seed, staff, loan):
    s = oil_seed["session"]
    # pay every instalment up to 10 Apr 2023, then renew on 20 Apr (20 days before maturity)
    for x in lines(s, loan.id)[:11]:
        service.record_repayment(s, staff["cm"], loan.id, x.interest, x.due_date, f"p{x.number}")
    req = service.request_relief(
        s, staff["cm"], loan.id, {"kind": "renewal", "relief_date": "2023-04-20", "term_months": 12}
    )
    done = service.decide_relief(s, staff["approver"], req.id, approve=True)
    s.commit()
    s.refresh(loan)
    new = s.get(Loan, done.new_loan_id)
    assert loan.status == "renewed" and loan.renewed_to_id == new.id
    assert new.renewed_from_id == loan.id and new.origin == "renewal"
    assert new.principal == D("866000.00") and loan.outstanding_principal == 0
    settlement = s.exec(select(Repayment).where(Repayment.kind == "renewal_settlement")).one()
    assert settlement.principal == D("866000.00")
    with pytest.raises(Conflict):  # the old loan is closed to repayments
        service.record_repayment(s, staff["cm"], loan.id, D("1.00"), dt.date(2023, 4, 21), "late")


def test_ineligible_relief_writes_nothing(oil_seed, staff, loan):
    s = oil_seed["session"]
    # nothing paid since 10 Jun: on 15 Jul the loan is 35 days past due
    with pytest.raises(ValidationError) as err:
        service.request_relief(
            s,
            staff["cm"],
            loan.id,
            {"kind": "refinancing", "relief_date": "2022-07-15", "term_months": 12},
        )
    assert [d["field"] for d in err.value.details] == ["days_past_due"]
    s.rollback()
    assert s.exec(select(Relief)).all() == []
