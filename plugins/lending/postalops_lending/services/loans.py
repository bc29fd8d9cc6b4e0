"""Loans: disbursement with its schedule, stored schedule versions, repayments."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from postalops import audit, clock
from postalops.context import Principal
from postalops.errors import Conflict, ValidationError
from postalops.money import ZERO
from sqlmodel import Session, select

from postalops_lending import schedule as rules
from postalops_lending.models import Instalment, Loan, Repayment
from postalops_lending.product import DayCount, RepaymentMethod
from postalops_lending.services import accounting
from postalops_lending.services.common import get_or_404, utcnow
from postalops_lending.servicing import (
    Allocation,
    OpenInstalment,
    accrued_interest,
    allocate_repayment,
    amount_due,
    payoff_amount,
)


def create_loan(
    session: Session,
    *,
    tenant_code: str,
    loan_no: str,
    borrower_id: int,
    product_id: int,
    principal: Decimal,
    annual_rate: Decimal,
    term_months: int,
    method: RepaymentMethod,
    day_count: DayCount,
    allow_prepayment: bool,
    disbursed_at: dt.datetime,
    disbursed_on: dt.date,
    origin: str = "application",
    application_id: int | None = None,
    renewed_from_id: int | None = None,
    lines: Sequence[rules.Instalment] | None = None,
    fee: Decimal = ZERO,
) -> Loan:
    """Store a loan and its first schedule (generated here unless ``lines`` is given);
    ``fee`` is the arrangement fee withheld from the amount paid out."""
    if lines is None:
        lines = rules.generate_schedule(
            principal, annual_rate, disbursed_on, term_months, method, day_count
        )
    loan = Loan(
        tenant_code=tenant_code,
        loan_no=loan_no,
        borrower_id=borrower_id,
        application_id=application_id,
        product_id=product_id,
        origin=origin,
        principal=principal,
        annual_rate=annual_rate,
        term_months=len(lines),
        day_count=day_count.value,
        method=method.value,
        allow_prepayment=allow_prepayment,
        disbursed_on=disbursed_on,
        disbursed_at=disbursed_at,
        maturity_date=lines[-1].due_date,
        anchor_day=disbursed_on.day,
        renewed_from_id=renewed_from_id,
        outstanding_principal=principal,
        fee=fee,
    )
    session.add(loan)
    session.flush()
    store_schedule(session, loan, lines, version=1)
    return loan


def store_schedule(
    session: Session, loan: Loan, lines: Sequence[rules.Instalment], version: int
) -> None:
    """Insert one schedule version in a single batch."""
    session.execute(
        sa.insert(Instalment),
        [
            {
                "tenant_code": loan.tenant_code,
                "loan_id": loan.id,
                "version": version,
                "active": True,
                "number": x.number,
                "period_start": x.period_start,
                "due_date": x.due_date,
                "days": x.days,
                "opening_principal": x.opening_principal,
                "principal": x.principal,
                "interest": x.interest,
                "carried_interest": x.carried_interest,
                "principal_paid": ZERO,
                "interest_paid": ZERO,
                "paid_off": False,
            }
            for x in lines
        ],
    )


def replace_schedule(session: Session, loan: Loan, lines: Sequence[rules.Instalment]) -> int:
    """Retire the active schedule (kept, ``active = False``) and store ``lines`` as the next."""
    session.execute(
        sa.update(Instalment)
        .where(Instalment.loan_id == loan.id, Instalment.active.is_(True))  # type: ignore[attr-defined]
        .values(active=False)
    )
    loan.schedule_version += 1
    store_schedule(session, loan, lines, loan.schedule_version)
    loan.maturity_date = lines[-1].due_date
    loan.outstanding_principal = sum((x.principal for x in lines), ZERO)
    session.add(loan)
    return loan.schedule_version


def active_lines(session: Session, loan_id: int) -> list[Instalment]:
    return list(
        session.exec(
            select(Instalment)
            .where(Instalment.loan_id == loan_id, Instalment.active.is_(True))  # type: ignore[attr-defined]
            .order_by(Instalment.number)
        ).all()
    )


def open_view(lines: Sequence[Instalment]) -> list[OpenInstalment]:
    """Active lines with what is still unpaid, as the servicing rules take them."""
    return [
        OpenInstalment(
            x.number,
            x.period_start,
            x.due_date,
            x.principal - x.principal_paid,
            x.interest - x.interest_paid,
        )
        for x in lines
        if not x.paid_off
    ]


def quote(session: Session, loan: Loan, as_of: dt.date) -> dict[str, Any]:
    """What is due and what settles ``loan`` on ``as_of``: billed interest and principal, the
    penalty interest (罚息, with compound interest where the product sets it), the payoff, and
    the order a repayment is allocated in."""
    view = open_view(active_lines(session, loan.id))
    dc = DayCount(loan.day_count)
    terms = accounting.loan_terms(session, loan)
    penalty = (
        accounting.penalty_due(session, loan, as_of, terms) if loan.status == "active" else ZERO
    )
    billed = [x for x in view if x.due_date <= as_of]
    return {
        "amount_due": amount_due(view, as_of) + penalty,
        "billed_interest": sum((x.interest_due for x in billed), ZERO),
        "billed_principal": sum((x.principal_due for x in billed), ZERO),
        "penalty_interest": penalty,
        "accrued_interest": accrued_interest(view, as_of, loan.annual_rate, dc, loan.anchor_day),
        "payoff": payoff_amount(view, as_of, loan.annual_rate, dc, loan.anchor_day) + penalty,
        "outstanding_principal": loan.outstanding_principal,
        "allocation_order": list(terms.allocation_order),
    }


def record_repayment(
    session: Session,
    actor: Principal,
    loan_id: int,
    amount: Decimal,
    paid_on: dt.date,
    reference: str,
) -> Repayment:
    """Record money received and allocate it (interest first, then principal).

    Idempotent on ``reference``: the same reference and amount again returns the first record;
    the same reference with another amount is a 409. Nothing is written when a rule refuses.
    """
    _refuse_future_payment(paid_on)
    loan = get_or_404(session, Loan, loan_id, "loan_id", for_update=True)
    prior = _earlier_repayment(session, loan, reference, amount, paid_on)
    if prior is not None:
        return prior
    if paid_on < loan.disbursed_on:
        raise Conflict(
            "repayment dated before disbursement",
            code="before_disbursement",
            details=[{"field": "paid_on", "message": f"disbursed {loan.disbursed_on}"}],
        )
    lines = active_lines(session, loan.id)
    terms = accounting.loan_terms(session, loan)
    penalty = (
        accounting.penalty_due(session, loan, paid_on, terms) if loan.status == "active" else ZERO
    )
    result = allocate_repayment(
        amount,
        open_view(lines),
        paid_on,
        annual_rate=loan.annual_rate,
        day_count=DayCount(loan.day_count),
        anchor_day=loan.anchor_day,
        allow_prepayment=loan.allow_prepayment,
        loan_status=loan.status,
        penalty_due=penalty,
        order=terms.allocation_order,
    )
    before_status = loan.status
    # what a reversal restores: the schedule version and each line's paid figures before
    before = {
        "version": loan.schedule_version,
        "before": [
            [x.number, str(x.principal_paid), str(x.interest_paid), x.paid_off] for x in lines
        ],
    }
    loan.penalty_paid += result.penalty
    _apply_allocation(session, loan, lines, result, paid_on)
    repayment = _repayment_record(actor, loan, amount, paid_on, reference, result)
    repayment.allocation = {**repayment.allocation, **before}
    session.add(repayment)
    session.add(loan)
    session.flush()
    if result.closes_loan or result.prepaid_principal > 0:
        _audit_prepayment_or_close(session, actor, loan, repayment, result, before_status)
    return repayment


def _refuse_future_payment(paid_on: dt.date) -> None:
    """A repayment cannot be dated after today (the network's day)."""
    today = clock.today()
    if paid_on > today:
        raise ValidationError(
            "repayment dated in the future",
            code="paid_on_in_future",
            details=[{"field": "paid_on", "message": f"after today ({today.isoformat()})"}],
        )


def _earlier_repayment(
    session: Session, loan: Loan, reference: str, amount: Decimal, paid_on: dt.date
) -> Repayment | None:
    """The repayment already recorded under ``reference`` (a replay), or None; the same
    reference for another amount or day is a 409."""
    prior = session.exec(
        select(Repayment).where(Repayment.loan_id == loan.id, Repayment.reference == reference)
    ).first()
    if prior is not None and (prior.amount != amount or prior.paid_on != paid_on):
        raise Conflict(
            "reference already used for a different repayment",
            code="duplicate_reference",
            details=[{"field": "reference", "message": f"repayment {prior.id}"}],
        )
    return prior


def _apply_allocation(
    session: Session, loan: Loan, lines: Sequence[Instalment], result: Allocation, paid_on: dt.date
) -> None:
    """Book the allocation on the instalments and the loan: each line's share, the outstanding
    principal, then the payoff (closing the loan) or the reschedule after a prepayment."""
    by_number = {x.number: x for x in lines}
    for part in result.lines:
        line = by_number[part.number]
        line.interest_paid += part.interest
        line.principal_paid += part.principal
        line.paid_off = (
            line.interest_paid == line.interest and line.principal_paid == line.principal
        )
        session.add(line)
    loan.outstanding_principal -= result.principal
    if result.closes_loan:
        loan.status, loan.closed_on = "closed", paid_on
        for line in lines:
            # the payoff settles every open line: billed ones above, the current period's
            # accrued interest and all unbilled principal here
            if not line.paid_off:
                line.principal_paid = line.principal
                line.interest_paid = line.interest_paid + (
                    result.accrued_interest
                    if line.period_start <= paid_on < line.due_date
                    else ZERO
                )
                line.paid_off = True
                session.add(line)
    elif result.prepaid_principal > 0:
        _reschedule_after_prepayment(session, loan, lines, paid_on)


def _repayment_record(
    actor: Principal,
    loan: Loan,
    amount: Decimal,
    paid_on: dt.date,
    reference: str,
    result: Allocation,
) -> Repayment:
    """The repayment row, with how it was allocated line by line."""
    return Repayment(
        tenant_code=loan.tenant_code,
        loan_id=loan.id,
        paid_on=paid_on,
        amount=amount,
        interest=result.interest,
        principal=result.principal,
        penalty=result.penalty,
        reference=reference,
        allocation={
            "penalty": str(result.penalty),
            "lines": [[x.number, str(x.interest), str(x.principal)] for x in result.lines],
            "accrued_interest": str(result.accrued_interest),
            "prepaid_principal": str(result.prepaid_principal),
        },
        recorded_by=actor.name,
    )


def _audit_prepayment_or_close(
    session: Session,
    actor: Principal,
    loan: Loan,
    repayment: Repayment,
    result: Allocation,
    before_status: str,
) -> None:
    audit.record(
        "lending.loan.prepayment" if not result.closes_loan else "lending.loan.close",
        target_type="lending_loan",
        target_id=loan.id,
        tenant=loan.tenant_code,
        before={"status": before_status},
        after={
            "status": loan.status,
            "repayment_id": repayment.id,
            "outstanding_principal": loan.outstanding_principal,
        },
        session=session,
        actor=actor.name,
    )


def _reschedule_after_prepayment(
    session: Session, loan: Loan, lines: Sequence[Instalment], paid_on: dt.date
) -> None:
    """Same due dates, lower payments: the rest is re-amortised from the payment date.

    Interest accrued before the payment was paid with it, so the first new line charges only
    from ``paid_on``.
    """
    remaining_dates = [x.due_date for x in lines if x.due_date > paid_on and not x.paid_off]
    first_number = min(x.number for x in lines if x.due_date > paid_on)
    new_lines = rules.build_schedule(
        loan.outstanding_principal,
        loan.annual_rate,
        paid_on,
        remaining_dates,
        RepaymentMethod(loan.method),
        DayCount(loan.day_count),
        first_number=first_number,
        anchor_day=loan.anchor_day,
    )
    replace_schedule(session, loan, new_lines)


def now() -> dt.datetime:
    return utcnow()
