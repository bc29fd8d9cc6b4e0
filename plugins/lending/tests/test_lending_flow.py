"""The application flow through the database: one-day approval, maker-checker, audit."""

import datetime as dt
from decimal import Decimal as D

import pytest
from postalops.errors import Conflict, Forbidden
from postalops.models import AuditRecord
from postalops_lending import service
from postalops_lending.models import Application, Instalment, Loan
from sqlmodel import select

SHANGHAI = dt.timezone(dt.timedelta(hours=8))


def at(day, hour, minute=0):
    return dt.datetime(2022, 5, day, hour, minute, tzinfo=SHANGHAI)


def test_the_866000_loan_goes_from_application_to_money_in_under_a_day(oil_seed, staff):
    s, product, b = oil_seed["session"], oil_seed["product"], oil_seed["borrower"]
    app = service.submit_application(
        s,
        staff["cm"],
        borrower_id=b.id,
        product_id=product.id,
        requested_amount=D("866000.00"),
        channel="online",
        at=at(9, 10, 12),
    )
    assert app.status == "prechecked"
    assert app.credit_line == D("866000.00") and app.granted_amount == D("866000.00")
    assert all(o["passed"] for o in app.precheck) and len(app.precheck) == 6
    service.review_application(s, staff["cm"], app.id, accept=True, at=at(9, 15))
    service.decide_application(s, staff["approver"], app.id, approve=True, at=at(9, 17, 30))
    service.sign_contract(s, staff["cm"], app.id, at=at(10, 9))
    loan = service.disburse(s, staff["cm"], app.id, at=at(10, 9, 40))
    s.commit()
    # 9 May 10:12 -> 10 May 09:40 = 23 h 28 min = 23.47 h
    assert service.hours_to_disbursement(app) == D("23.47")
    assert loan.principal == D("866000.00") and loan.disbursed_on == dt.date(2022, 5, 10)
    lines = s.exec(select(Instalment).where(Instalment.loan_id == loan.id)).all()
    assert len(lines) == 12 and sum(x.principal for x in lines) == D("866000.00")
    # 10 May -> 10 Jun = 31 days: 866000 x 0.0435 = 37671; x 31 / 360 = 3243.8917 -> 3243.89
    assert lines[0].interest == D("3243.89")
    actions = s.exec(
        select(AuditRecord.action).where(
            AuditRecord.target_type == "lending_application", AuditRecord.target_id == str(app.id)
        )
    ).all()
    assert actions == [
        "lending.application.submit",
        "lending.application.precheck_pass",
        "lending.application.review",
        "lending.application.approve",
        "lending.application.contract",
        "lending.application.disburse",
    ]


def submitted_and_reviewed(oil_seed, staff):
    s, product, b = oil_seed["session"], oil_seed["product"], oil_seed["borrower"]
    app = service.submit_application(
        s,
        staff["cm"],
        borrower_id=b.id,
        product_id=product.id,
        requested_amount=D("500000.00"),
        at=at(9, 10),
    )
    service.review_application(s, staff["cm"], app.id, accept=True, at=at(9, 11))
    s.commit()
    return s, app


def test_the_maker_cannot_approve_and_nothing_is_written(oil_seed, staff):
    s, app = submitted_and_reviewed(oil_seed, staff)
    audits = len(s.exec(select(AuditRecord)).all())
    maker_with_approve = staff["cm"].__class__(
        **{**staff["cm"].__dict__, "permissions": frozenset({"lending.approve"})}
    )
    with pytest.raises(Forbidden) as err:
        service.decide_application(s, maker_with_approve, app.id, approve=True)
    assert err.value.code == "maker_cannot_check"
    s.rollback()
    fresh = s.get(Application, app.id)
    s.refresh(fresh)
    assert fresh.status == "reviewed" and fresh.decided_by is None
    assert len(s.exec(select(AuditRecord)).all()) == audits


def test_approval_needs_the_permission(oil_seed, staff):
    s, app = submitted_and_reviewed(oil_seed, staff)
    reviewer_only = staff["cm"].__class__(
        **{**staff["approver"].__dict__, "permissions": frozenset({"lending.review"})}
    )
    with pytest.raises(Forbidden):
        service.decide_application(s, reviewer_only, app.id, approve=True)


def test_no_disbursement_before_contract(oil_seed, staff):
    s, app = submitted_and_reviewed(oil_seed, staff)
    service.decide_application(s, staff["approver"], app.id, approve=True)
    with pytest.raises(Conflict):
        service.disburse(s, staff["cm"], app.id)
    assert s.exec(select(Loan)).all() == []


def test_a_declined_precheck_records_the_failed_rule(oil_seed, staff):
    s, product, b = oil_seed["session"], oil_seed["product"], oil_seed["borrower"]
    b.operating = False
    s.add(b)
    app = service.submit_application(
        s,
        staff["cm"],
        borrower_id=b.id,
        product_id=product.id,
        requested_amount=D("100000.00"),
        at=at(9, 10),
    )
    assert app.status == "declined"
    assert [o["rule"] for o in app.precheck if not o["passed"]] == ["business_operating"]
    with pytest.raises(Conflict):
        service.review_application(s, staff["cm"], app.id, accept=True)
