"""Relief requests: eligibility on request and again on approval, maker-checker, regeneration
from the relief date (old schedule kept), renewal as a linked new loan. Everything audited."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from postalops import audit
from postalops.context import Principal
from postalops.errors import Conflict
from postalops.money import ZERO
from sqlmodel import Session, select

from postalops_lending import application_flow as flow
from postalops_lending import relief as rules
from postalops_lending.models import Borrower, Instalment, Loan, Relief, Repayment
from postalops_lending.product import DayCount, RepaymentMethod
from postalops_lending.services import accounting, loans
from postalops_lending.services.applications import _id, actor_permissions
from postalops_lending.services.common import get_or_404, utcnow
from postalops_lending.servicing import OpenInstalment, accrued_interest, days_past_due

RELIEF_PERMISSION = "lending.relief"


def _open_on(
    session: Session, loan: Loan, lines: list[Instalment], on: dt.date
) -> list[OpenInstalment]:
    """What was unpaid on each active line at the end of ``on``: today's unpaid amounts plus what
    repayments dated after ``on`` paid on that line (their stored allocation). Days past due are
    counted from this, as of the relief date, not from the last close of business nor from
    payments the borrower made only later."""
    later: dict[int, list[Decimal]] = {}
    for rep in session.exec(
        select(Repayment).where(Repayment.loan_id == loan.id, Repayment.paid_on > on)
    ).all():
        for number, interest, principal in (rep.allocation or {}).get("lines", []):
            back = later.setdefault(int(number), [ZERO, ZERO])
            back[0] += Decimal(interest)
            back[1] += Decimal(principal)
    out = []
    for x in lines:
        interest, principal = later.get(x.number, (ZERO, ZERO))
        unpaid_p = min(x.principal, x.principal - x.principal_paid + principal)
        unpaid_i = min(x.interest, x.interest - x.interest_paid + interest)
        if unpaid_p + unpaid_i > 0:
            out.append(OpenInstalment(x.number, x.period_start, x.due_date, unpaid_p, unpaid_i))
    return out


def position(session: Session, loan: Loan, on: dt.date) -> rules.LoanPosition:
    """The loan as relief sees it on ``on``."""
    borrower = get_or_404(session, Borrower, loan.borrower_id, "borrower_id")
    lines = loans.active_lines(session, loan.id)
    view = loans.open_view(lines)
    dc = DayCount(loan.day_count)
    billed_interest = sum((x.interest_due for x in view if x.due_date <= on), ZERO)
    unbilled = [x for x in view if x.due_date > on]
    return rules.LoanPosition(
        status=loan.status,
        days_past_due=days_past_due(_open_on(session, loan, lines, on), on),
        business_operating=borrower.operating,
        maturity_date=loan.maturity_date,
        outstanding_principal=sum((x.principal_due for x in view), ZERO),
        carried_interest=billed_interest
        + accrued_interest(view, on, loan.annual_rate, dc, loan.anchor_day),
        annual_rate=loan.annual_rate,
        day_count=dc,
        method=RepaymentMethod(loan.method),
        remaining_due_dates=[x.due_date for x in unbilled],
        next_number=min((x.number for x in unbilled), default=len(view) + 1),
        anchor_day=loan.anchor_day,
    )


def request_relief(
    session: Session,
    actor: Principal,
    loan_id: int,
    payload: Mapping[str, Any],
    *,
    at: dt.datetime | None = None,
) -> Relief:
    """Record one relief operation for approval; an ineligible loan is refused (422)."""
    request = rules.parse_request(payload)  # one operation, well-formed: else 400/422
    loan = get_or_404(session, Loan, loan_id, "loan_id", for_update=True)
    if request.relief_date < loan.disbursed_on:
        raise Conflict(
            "relief date before disbursement",
            details=[{"field": "relief_date", "message": "before disbursement"}],
        )
    pending = session.exec(
        select(Relief).where(Relief.loan_id == loan.id, Relief.status == "requested")
    ).first()
    if pending is not None:
        raise Conflict(
            "this loan already has a relief request awaiting approval",
            code="relief_pending",
            details=[{"field": "loan_id", "message": f"relief {pending.id}"}],
        )
    outcomes = rules.ensure_eligible(request, position(session, loan, request.relief_date))
    row = Relief(
        tenant_code=loan.tenant_code,
        loan_id=loan.id,
        kind=request.kind.value,
        relief_date=request.relief_date,
        params={
            "term_months": request.term_months,
            "extension_months": request.extension_months,
            "annual_rate": str(request.annual_rate) if request.annual_rate is not None else None,
        },
        reason=request.reason[:500],
        eligibility=[o.as_dict() for o in outcomes],
        requested_by=_id(actor),
        requested_by_name=actor.name,
        requested_at=at or utcnow(),
    )
    session.add(row)
    session.flush()
    audit.record(
        f"lending.relief.request.{row.kind}",
        target_type="lending_relief",
        target_id=row.id,
        tenant=row.tenant_code,
        after={
            "loan_id": loan.id,
            "kind": row.kind,
            "params": row.params,
            "relief_date": row.relief_date,
            "eligibility": row.eligibility,
        },
        session=session,
        actor=actor.name,
    )
    return row


def decide_relief(
    session: Session,
    actor: Principal,
    relief_id: int,
    *,
    approve: bool,
    note: str = "",
    at: dt.datetime | None = None,
) -> Relief:
    """Approve (apply) or reject a relief; the requester may not decide it."""
    row = get_or_404(session, Relief, relief_id, "relief_id", for_update=True)
    if row.status != "requested":
        raise Conflict(
            f"relief is already {row.status}",
            code="invalid_transition",
            details=[{"field": "relief_id", "message": row.status}],
        )
    flow.check_maker_checker(_id(actor), actor_permissions(actor), makers=[row.requested_by])
    at = at or utcnow()
    loan = get_or_404(session, Loan, row.loan_id, "loan_id", for_update=True)
    before = {
        "status": row.status,
        "loan_status": loan.status,
        "schedule_version": loan.schedule_version,
        "maturity_date": loan.maturity_date,
        "outstanding_principal": loan.outstanding_principal,
    }
    row.decided_by, row.decided_by_name, row.decided_at = _id(actor), actor.name, at
    if not approve:
        row.status = "rejected"
        session.add(row)
        audit.record(
            "lending.relief.reject",
            target_type="lending_relief",
            target_id=row.id,
            tenant=row.tenant_code,
            before=before,
            after={"status": "rejected", "note": note[:500]},
            session=session,
            actor=actor.name,
        )
        return row
    request = rules.ReliefRequest(
        kind=rules.ReliefKind(row.kind),
        relief_date=row.relief_date,
        term_months=row.params.get("term_months"),
        extension_months=row.params.get("extension_months"),
        annual_rate=None
        if row.params.get("annual_rate") is None
        else Decimal(row.params["annual_rate"]),
    )
    if not plan_renews(row):
        # the interest carried onto the new schedule is accrued on the old one, up to the
        # relief date, once (the close of business may not have reached that day yet)
        accounting.accrue_loan(session, loan, row.relief_date, actor.name)
    pos = position(session, loan, row.relief_date)
    plan = rules.plan(request, pos)  # eligibility checked again: the loan may have moved on
    row.outstanding_principal, row.carried_interest = plan.principal, plan.carried_interest
    row.old_schedule_version = loan.schedule_version
    if plan.new_loan:
        new = _renew(session, actor, loan, plan, at)
        row.new_loan_id, row.new_schedule_version = new.id, 1
    else:
        row.new_schedule_version = loans.replace_schedule(session, loan, plan.schedule)
        loan.annual_rate = plan.annual_rate
        if request.kind is rules.ReliefKind.EXTENSION:
            loan.term_months += request.extension_months or 0
        else:
            loan.term_months = len(plan.schedule)
        loan.days_past_due, loan.category = 0, "normal"
        session.add(loan)
    row.status = "approved"
    session.add(row)
    session.flush()
    audit.record(
        f"lending.relief.approve.{row.kind}",
        target_type="lending_relief",
        target_id=row.id,
        tenant=row.tenant_code,
        before=before,
        after={
            "status": "approved",
            "loan_status": loan.status,
            "schedule_version": loan.schedule_version,
            "maturity_date": plan.maturity_date,
            "new_loan_id": row.new_loan_id,
            "outstanding_principal": plan.principal,
            "carried_interest": plan.carried_interest,
            "note": note[:500],
        },
        session=session,
        actor=actor.name,
    )
    return row


def plan_renews(row: Relief) -> bool:
    """A renewal settles the old loan (its closes accrue it up to the relief date)."""
    return row.kind == rules.ReliefKind.RENEWAL.value


def _renew(
    session: Session, actor: Principal, old: Loan, plan: rules.ReliefPlan, at: dt.datetime
) -> Loan:
    """无还本续贷: a new loan for the outstanding principal settles the old one; both linked."""
    new = loans.create_loan(
        session,
        tenant_code=old.tenant_code,
        loan_no=f"XR{plan.relief_date:%Y%m%d}{old.id:07d}",
        borrower_id=old.borrower_id,
        product_id=old.product_id,
        principal=plan.principal,
        annual_rate=plan.annual_rate,
        term_months=len(plan.schedule),
        method=RepaymentMethod(old.method),
        day_count=DayCount(old.day_count),
        allow_prepayment=old.allow_prepayment,
        disbursed_at=at,
        disbursed_on=plan.relief_date,
        origin="renewal",
        renewed_from_id=old.id,
        lines=plan.schedule,
    )
    settlement = Repayment(
        tenant_code=old.tenant_code,
        loan_id=old.id,
        paid_on=plan.relief_date,
        amount=plan.principal + plan.carried_interest,
        interest=plan.carried_interest,
        principal=plan.principal,
        kind="renewal_settlement",
        reference=f"renewal:{new.id}",
        allocation={"settled_by_loan": new.id, "carried_interest": str(plan.carried_interest)},
        recorded_by=actor.name,
    )
    session.add(settlement)
    old.status, old.closed_on, old.renewed_to_id = "renewed", plan.relief_date, new.id
    old.outstanding_principal = ZERO
    session.add(old)
    session.flush()
    return new
