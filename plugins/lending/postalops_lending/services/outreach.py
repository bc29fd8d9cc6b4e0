"""The phone-back list and recorded calls."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from postalops.context import Principal
from postalops.errors import ValidationError
from sqlmodel import Session, select

from postalops_lending import outreach as rules
from postalops_lending.models import Borrower, Loan, OutreachCall
from postalops_lending.services.borrowers import tax_record
from postalops_lending.services.common import get_or_404


def phone_back_list(
    session: Session,
    as_of: dt.date,
    policy: rules.OutreachPolicy = rules.OutreachPolicy(),
    manager: str | None = None,
) -> list[dict[str, Any]]:
    """Borrowers with an active loan whose sales slowed or whose loan matures soon."""
    stmt = (
        select(Loan, Borrower)
        .join(Borrower, Borrower.id == Loan.borrower_id)
        .where(Loan.status == "active")
    )
    if manager:
        stmt = stmt.where(Borrower.customer_manager == manager)
    pairs = session.exec(stmt.order_by(Loan.maturity_date, Loan.id)).all()
    taxes = tax_record(session, {b.id for _, b in pairs})
    last_calls = _last_calls(session, [b.id for _, b in pairs])
    out = []
    for loan, borrower in pairs:
        reasons = rules.reasons_to_call(taxes[borrower.id], loan.maturity_date, as_of, policy)
        if not reasons:
            continue
        drop = rules.sales_drop(taxes[borrower.id], as_of, policy.window_months)
        out.append(
            {
                "borrower_id": borrower.id,
                "borrower": borrower.name,
                "phone": borrower.phone,
                "tenant_code": borrower.tenant_code,
                "customer_manager": borrower.customer_manager,
                "loan_id": loan.id,
                "loan_no": loan.loan_no,
                "maturity_date": loan.maturity_date,
                "outstanding_principal": loan.outstanding_principal,
                "days_past_due": loan.days_past_due,
                "reasons": [r.value for r in reasons],
                "sales_drop": None if drop is None else str(drop.quantize(Decimal("0.0001"))),
                "last_call": last_calls.get(borrower.id),
            }
        )
    return out


def _last_calls(session: Session, borrower_ids: list[int]) -> dict[int, dict[str, Any]]:
    if not borrower_ids:
        return {}
    rows = session.exec(
        select(OutreachCall)
        .where(OutreachCall.borrower_id.in_(borrower_ids))  # type: ignore[attr-defined]
        .order_by(OutreachCall.called_at)
    ).all()
    return {
        r.borrower_id: {"outcome": r.outcome, "called_at": r.called_at, "note": r.note}
        for r in rows
    }


def record_call(
    session: Session,
    actor: Principal,
    *,
    borrower_id: int,
    outcome: str,
    note: str = "",
    loan_id: int | None = None,
    reasons: list[str] | None = None,
    at: dt.datetime | None = None,
) -> OutreachCall:
    borrower = get_or_404(session, Borrower, borrower_id, "borrower_id")
    parsed = rules.parse_outcome(outcome)
    if loan_id is not None:
        loan = get_or_404(session, Loan, loan_id, "loan_id")
        if loan.borrower_id != borrower.id:
            raise ValidationError(
                "loan belongs to another borrower",
                details=[{"field": "loan_id", "message": "other borrower"}],
            )
    known = {r.value for r in rules.Reason}
    bad = [r for r in (reasons or []) if r not in known]
    if bad:
        raise ValidationError(
            "unknown call reason",
            code="invalid_reason",
            details=[{"field": "reasons", "message": f"one of {sorted(known)}"}],
        )
    row = OutreachCall(
        tenant_code=borrower.tenant_code,
        borrower_id=borrower.id,
        loan_id=loan_id,
        reasons=list(reasons or []),
        outcome=parsed.value,
        note=note[:500],
        called_by=actor.name,
    )
    if at is not None:
        row.called_at = at
    session.add(row)
    session.flush()
    return row
