"""The loan book in accounting terms, against the database: the close of business's accrual and
provision steps, write-off (核销) by maker-checker, recoveries, reversals of a repayment or a
disbursement entered by mistake, and the journal lines finance exports.

Nothing here edits or deletes a booked figure: each change is a new ``LoanEvent`` (or, for a
repayment reversal, a compensating ``Repayment`` row of kind ``reversal``) and a new schedule
version where the schedule changes. The rules themselves live in ``postalops_lending.accounting``.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from postalops import audit, clock, plugin_settings
from postalops.context import Principal
from postalops.db import in_scope_clause
from postalops.errors import Conflict, Forbidden, ValidationError
from postalops.journal import JournalLine
from postalops.money import ZERO, to_fen
from sqlmodel import Session, select

from postalops_lending import accounting as rules
from postalops_lending.classification import Bands, classify
from postalops_lending.models import Instalment, Loan, LoanEvent, Product, Repayment, WriteOff
from postalops_lending.product import DayCount
from postalops_lending.services.common import get_or_404, utcnow
from postalops_lending.settings import ProvisionSettings

# --- reading ---------------------------------------------------------------------------------


def terms_of(product: Product | None) -> rules.AccountingTerms:
    return rules.AccountingTerms.from_json(product.accounting if product else None)


def loan_terms(session: Session, loan: Loan) -> rules.AccountingTerms:
    return terms_of(session.get(Product, loan.product_id))


def provision_rates(
    session: Session, loan: Loan, terms: rules.AccountingTerms
) -> rules.ProvisionRates:
    """The product's rates when it sets them, otherwise the unit's settings (PBoC default)."""
    if terms.provision is not None:
        return terms.provision
    return plugin_settings.values(session, "lending", loan.tenant_code, ProvisionSettings).rates()


def accrual_lines(session: Session, loan_id: int) -> list[rules.Line]:
    rows = session.exec(
        select(Instalment)
        .where(Instalment.loan_id == loan_id, Instalment.active.is_(True))  # type: ignore[attr-defined]
        .order_by(Instalment.number)
    ).all()
    return [
        rules.Line(
            x.period_start,
            x.due_date,
            x.opening_principal,
            x.interest,
            x.principal - x.principal_paid,
            x.interest - x.interest_paid,
            x.carried_interest,
        )
        for x in rows
    ]


def penalty_due(
    session: Session, loan: Loan, as_of: dt.date, terms: rules.AccountingTerms | None = None
) -> Decimal:
    """Penalty interest owed on ``as_of``: what the close of business accrued and was not paid,
    plus the days after it last accrued up to the day before ``as_of`` (that day's own penalty
    is charged at its close of business on the balance left after the day's repayments)."""
    terms = terms or loan_terms(session, loan)
    since = loan.accrued_through or loan.disbursed_on
    pending = rules.penalty_accrual(
        accrual_lines(session, loan.id),
        since,
        as_of - dt.timedelta(days=1),
        loan.annual_rate,
        DayCount(loan.day_count),
        terms,
    )
    return max(loan.penalty_accrued - loan.penalty_paid + pending, ZERO)


def interest_receivable(session: Session, loan: Loan) -> tuple[Decimal, Decimal]:
    """(interest, penalty) accrued and not yet paid on ``loan``."""
    paid = session.exec(
        select(sa.func.coalesce(sa.func.sum(Repayment.interest), 0)).where(
            Repayment.loan_id == loan.id
        )
    ).one()
    interest_paid = Decimal(str(paid[0] if isinstance(paid, tuple | sa.Row) else paid))
    return (
        max(to_fen(loan.interest_accrued - interest_paid), ZERO),
        max(loan.penalty_accrued - loan.penalty_paid, ZERO),
    )


def accrue_loan(session: Session, loan: Loan, through: dt.date, recorded_by: str) -> Decimal:
    """Book what ``loan`` earned on its active schedule after its ``accrued_through`` up to the
    end of ``through`` (interest and penalty, one accrual event), as the close of business
    would; before a relief replaces the schedule, so the interest it carries over is accrued on
    the old schedule, once. Returns the amount booked (nothing if already accrued through)."""
    start = loan.accrued_through or loan.disbursed_on
    if loan.status != "active" or through <= start:
        return ZERO
    terms = loan_terms(session, loan)
    mine = accrual_lines(session, loan.id)
    dc = DayCount(loan.day_count)
    interest = rules.interest_accrual(mine, start, through, loan.annual_rate, dc, loan.anchor_day)
    penalty = rules.penalty_accrual(mine, start, through, loan.annual_rate, dc, terms)
    loan.accrued_through = through
    if interest or penalty:
        loan.interest_accrued += interest
        loan.penalty_accrued += penalty
        row = _event_row(
            loan, "accrual", through, utcnow(),
            amount=interest + penalty, interest=interest, penalty=penalty,
            reference=f"accrual:{through.isoformat()}",
            memo=f"计提利息 {start.isoformat()}~{through.isoformat()}",
            recorded_by=recorded_by,
        )  # fmt: skip
        session.add(LoanEvent(**row))
    session.add(loan)
    return interest + penalty


# --- close of business: accrual and provision --------------------------------------------------


def close_accounts(session: Session, unit: str, as_of: dt.date) -> dict[str, Any]:
    """The accounting steps of one close of business for ``unit``'s subtree: accrue each loan's
    interest and penalty for the days after its ``accrued_through`` up to ``as_of`` (a closed or
    renewed loan up to its closing day), then book each loan's provision change for its class on
    ``as_of``. Run after classification; idempotent per day.

    Batched for a large book: one read of the loans, one of the schedule lines that can still
    earn (a period not yet over at the last accrual, or a line overdue and unpaid), the rules in
    Python, then one multi-row insert of events and one executemany update of the loans. The
    statements filter on the unit subtree explicitly (as the classification's SQL does)."""
    loan_t, line_t = Loan.__table__, Instalment.__table__  # type: ignore[attr-defined]
    in_unit = sa.or_(loan_t.c.tenant_code == unit, loan_t.c.tenant_code.like(unit + ".%"))
    since = sa.func.coalesce(loan_t.c.accrued_through, loan_t.c.disbursed_on)
    accruing = sa.or_(
        sa.and_(loan_t.c.status == "active", since < as_of),
        sa.and_(
            loan_t.c.status.in_(("closed", "renewed")),
            loan_t.c.closed_on.is_not(None),
            since < loan_t.c.closed_on,
        ),
    )
    loans = session.execute(
        sa.select(loan_t)
        .where(in_unit, loan_t.c.disbursed_on <= as_of)
        .where(sa.or_(accruing, loan_t.c.status == "active", loan_t.c.provision != 0))
        .order_by(loan_t.c.id)
    ).all()
    if not loans:
        return _books_result(0, ZERO, ZERO, ZERO)
    # the schedule lines that can still earn something: a period not over at the loan's last
    # accrual, or a line overdue and unpaid; read without a join (the lines' own subtree
    # filter and index), then kept for the loans that accrue
    want = {
        row.id: row.accrued_through or row.disbursed_on
        for row in loans
        if row.status == "active"
        or (row.closed_on is not None and (row.accrued_through or row.disbursed_on) < row.closed_on)
    }
    lines: dict[int, list[rules.Line]] = defaultdict(list)
    if want:
        earliest = min(want.values())
        in_lines = sa.or_(line_t.c.tenant_code == unit, line_t.c.tenant_code.like(unit + ".%"))
        for row in session.execute(
            sa.select(
                line_t.c.loan_id,
                line_t.c.period_start,
                line_t.c.due_date,
                line_t.c.opening_principal,
                line_t.c.interest,
                line_t.c.principal,
                line_t.c.principal_paid,
                line_t.c.interest_paid,
                line_t.c.paid_off,
                line_t.c.carried_interest,
            ).where(
                in_lines,
                line_t.c.active,
                sa.or_(
                    line_t.c.due_date > earliest,
                    sa.and_(sa.not_(line_t.c.paid_off), line_t.c.due_date < as_of),
                ),
            )
        ).all():
            since_loan = want.get(row.loan_id)
            if since_loan is None or (
                row.due_date <= since_loan and (row.paid_off or row.due_date >= as_of)
            ):
                continue
            lines[row.loan_id].append(
                rules.Line(
                    row.period_start,
                    row.due_date,
                    row.opening_principal,
                    row.interest,
                    row.principal - row.principal_paid,
                    row.interest - row.interest_paid,
                    row.carried_interest,
                )
            )
    products = {p.id: terms_of(p) for p in session.exec(select(Product)).all()}
    taken = dict(
        session.execute(
            sa.select(LoanEvent.loan_id, sa.func.count())
            .where(
                in_scope_clause(LoanEvent.tenant_code, unit),
                LoanEvent.kind == "provision",
                LoanEvent.event_date == as_of,
            )
            .group_by(LoanEvent.loan_id)
        ).all()
    )
    rates: dict[tuple[int, str], rules.ProvisionRates] = {}
    events: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    interest_total = penalty_total = provision_total = ZERO
    accrued = 0
    now = utcnow()
    for loan in loans:
        terms = products.get(loan.product_id) or rules.AccountingTerms()
        change: dict[str, Any] = {}
        start = loan.accrued_through or loan.disbursed_on
        end = as_of if loan.status == "active" else min(as_of, loan.closed_on or start)
        if loan.status in ("active", "closed", "renewed") and end > start:
            dc = DayCount(loan.day_count)
            mine = lines.get(loan.id, [])
            interest = rules.interest_accrual(
                mine, start, end, loan.annual_rate, dc, loan.anchor_day
            )
            penalty = rules.penalty_accrual(mine, start, end, loan.annual_rate, dc, terms)
            change["accrued_through"] = end
            if interest or penalty:
                accrued += 1
                interest_total += interest
                penalty_total += penalty
                change["interest_accrued"] = loan.interest_accrued + interest
                change["penalty_accrued"] = loan.penalty_accrued + penalty
                events.append(
                    _event_row(
                        loan, "accrual", end, now,
                        amount=interest + penalty, interest=interest, penalty=penalty,
                        reference=f"accrual:{end.isoformat()}",
                        memo=f"计提利息 {start.isoformat()}~{end.isoformat()}",
                    )
                )  # fmt: skip
        key = (loan.product_id, loan.tenant_code)
        if key not in rates:
            rates[key] = terms.provision or provision_rates(session, loan, terms)
        required = (
            rules.required_provision(loan.outstanding_principal, loan.category, rates[key])
            if loan.status == "active"
            else ZERO
        )
        delta = required - loan.provision
        if delta != 0:
            n = int(taken.get(loan.id, 0))
            provision_total += delta
            change["provision"] = required
            events.append(
                _event_row(
                    loan, "provision", as_of, now,
                    amount=delta,
                    principal=loan.outstanding_principal if loan.status == "active" else ZERO,
                    reference=f"provision:{as_of.isoformat()}" + (f":{n + 1}" if n else ""),
                    memo="计提贷款损失准备" if delta > 0 else "转回贷款损失准备",
                )
            )  # fmt: skip
        if change:
            updates.append({"b_id": loan.id, **_full(loan, change)})
    if session.get_bind().dialect.name == "postgresql":
        _write_pg(session, events, updates)
    else:
        if events:
            session.execute(sa.insert(LoanEvent.__table__), events)  # type: ignore[attr-defined]
        if updates:
            session.execute(
                sa.update(loan_t)
                .where(loan_t.c.id == sa.bindparam("b_id"))
                .values({c: sa.bindparam(c) for c in ACCOUNT_COLUMNS}),
                updates,
            )
    session.expire_all()  # loans updated in Core are read afresh by the ORM
    return _books_result(accrued, interest_total, penalty_total, provision_total)


ACCOUNT_COLUMNS = ("accrued_through", "interest_accrued", "penalty_accrued", "provision")
EVENT_COLUMNS = (
    ("tenant_code", "text"),
    ("loan_id", "int"),
    ("kind", "text"),
    ("event_date", "date"),
    ("amount", "numeric"),
    ("principal", "numeric"),
    ("interest", "numeric"),
    ("penalty", "numeric"),
    ("fee", "numeric"),
    ("category", "text"),
    ("reference", "text"),
    ("memo", "text"),
    ("recorded_by", "text"),
    ("recorded_at", "timestamptz"),
)


def _write_pg(session: Session, events: list[dict], updates: list[dict]) -> None:
    """On PostgreSQL a night's events go in one INSERT and the loans' figures in one UPDATE,
    each from column arrays (unnest), not one round trip per row: a book of 100,000 loans
    writes 100,000 accruals a night."""
    if events:
        cols = ", ".join(c for c, _ in EVENT_COLUMNS)
        arrays = ", ".join(f"CAST(:{c} AS {t}[])" for c, t in EVENT_COLUMNS)
        session.execute(
            sa.text(f"INSERT INTO lending_loan_event ({cols}) SELECT * FROM unnest({arrays})"),
            {c: [e[c] for e in events] for c, _ in EVENT_COLUMNS},
        )
    if updates:
        session.execute(
            sa.text(
                "UPDATE lending_loan AS l SET accrued_through = u.t, interest_accrued = u.ia, "
                "penalty_accrued = u.pa, provision = u.p FROM unnest(CAST(:id AS int[]), "
                "CAST(:t AS date[]), CAST(:ia AS numeric[]), CAST(:pa AS numeric[]), "
                "CAST(:p AS numeric[])) AS u(id, t, ia, pa, p) WHERE l.id = u.id"
            ),
            {
                "id": [u["b_id"] for u in updates],
                "t": [u["accrued_through"] for u in updates],
                "ia": [u["interest_accrued"] for u in updates],
                "pa": [u["penalty_accrued"] for u in updates],
                "p": [u["provision"] for u in updates],
            },
        )


def _full(loan: Any, change: dict[str, Any]) -> dict[str, Any]:
    return {c: change.get(c, getattr(loan, c)) for c in ACCOUNT_COLUMNS}


def _event_row(loan: Any, kind: str, day: dt.date, now: dt.datetime, **values: Any) -> dict:
    row = {
        "tenant_code": loan.tenant_code,
        "loan_id": loan.id,
        "kind": kind,
        "event_date": day,
        "amount": ZERO,
        "principal": ZERO,
        "interest": ZERO,
        "penalty": ZERO,
        "fee": ZERO,
        "category": loan.category,
        "reference": "",
        "memo": "",
        "recorded_by": "close_of_business",
        "recorded_at": now,
    }
    row.update(values)
    return row


def _books_result(n: int, interest: Decimal, penalty: Decimal, provision: Decimal) -> dict:
    return {
        "accrued_loans": n,
        "interest_accrued": str(interest),
        "penalty_accrued": str(penalty),
        "provision_change": str(provision),
    }


# --- write-off and recovery ------------------------------------------------------------------


def _actor_id(actor: Principal) -> int:
    if actor.user_id is not None:
        return actor.user_id
    return -(actor.token_id or 0) - 1


def request_write_off(session: Session, actor: Principal, loan_id: int, reason: str) -> WriteOff:
    """A maker asks to write off a 损失 loan; another user decides."""
    loan = get_or_404(session, Loan, loan_id, "loan_id", for_update=True)
    if loan.status != "active" or loan.category != "loss":
        raise Conflict(
            "only an active loan classified 损失 (loss) can be written off",
            code="not_loss",
            details=[{"field": "loan_id", "message": f"{loan.status}, {loan.category}"}],
        )
    pending = session.exec(
        select(WriteOff).where(WriteOff.loan_id == loan.id, WriteOff.status == "requested")
    ).first()
    if pending is not None:
        raise Conflict(
            "a write-off of this loan already awaits a decision",
            code="write_off_pending",
            details=[{"field": "loan_id", "message": f"write-off {pending.id}"}],
        )
    if not reason.strip():
        raise ValidationError(
            "give the reason for the write-off",
            details=[{"field": "reason", "message": "required"}],
        )
    row = WriteOff(
        tenant_code=loan.tenant_code,
        loan_id=loan.id,
        reason=reason.strip()[:500],
        requested_by=_actor_id(actor),
        requested_by_name=actor.name,
        requested_at=utcnow(),
    )
    session.add(row)
    session.flush()
    audit.record(
        "lending.write_off.request",
        target_type="lending_loan",
        target_id=loan.id,
        tenant=loan.tenant_code,
        after={"write_off_id": row.id, "outstanding_principal": loan.outstanding_principal},
        session=session,
        actor=actor.name,
    )
    return row


def decide_write_off(
    session: Session,
    actor: Principal,
    write_off_id: int,
    *,
    approve: bool,
    note: str = "",
    on: dt.date | None = None,
) -> WriteOff:
    """The checker approves (the loan is written off against its provision on ``on``, default
    today) or rejects."""
    row = get_or_404(session, WriteOff, write_off_id, "write_off_id", for_update=True)
    if row.status != "requested":
        raise Conflict(
            f"write-off is {row.status}",
            code="already_decided",
            details=[{"field": "write_off_id", "message": row.status}],
        )
    if row.requested_by == _actor_id(actor):
        raise Forbidden(
            "the maker of a write-off cannot decide it (maker-checker)",
            code="maker_checker",
            details=[{"field": "write_off_id", "message": "decided by another user"}],
        )
    loan = get_or_404(session, Loan, row.loan_id, "loan_id", for_update=True)
    row.decided_by, row.decided_by_name, row.decided_at = _actor_id(actor), actor.name, utcnow()
    row.decision_note = note[:500]
    if not approve:
        row.status = "rejected"
        session.add(row)
        audit.record(
            "lending.write_off.reject",
            target_type="lending_loan",
            target_id=loan.id,
            tenant=loan.tenant_code,
            after={"write_off_id": row.id, "note": row.decision_note},
            session=session,
            actor=actor.name,
        )
        return row
    if loan.status != "active" or loan.category != "loss":
        raise Conflict(
            "the loan is no longer an active 损失 loan",
            code="not_loss",
            details=[{"field": "loan_id", "message": f"{loan.status}, {loan.category}"}],
        )
    day = on or clock.today()
    interest, penalty = interest_receivable(session, loan)
    principal = loan.outstanding_principal
    before = {
        "status": loan.status,
        "outstanding_principal": principal,
        "provision": loan.provision,
    }
    session.add(
        LoanEvent(
            tenant_code=loan.tenant_code,
            loan_id=loan.id,
            kind="write_off",
            event_date=day,
            amount=principal + interest + penalty,
            principal=principal,
            interest=interest,
            penalty=penalty,
            category=loan.category,
            reference=f"write_off:{row.id}",
            memo=f"核销贷款 {loan.loan_no}",
            recorded_by=actor.name,
        )
    )
    row.status, row.principal, row.interest = "approved", principal, interest + penalty
    loan.provision -= principal  # the provision absorbs the principal; the rest is released
    loan.written_off = principal + interest + penalty
    loan.outstanding_principal = ZERO
    loan.status, loan.closed_on = "written_off", day
    session.add_all([row, loan])
    session.flush()
    audit.record(
        "lending.write_off.approve",
        target_type="lending_loan",
        target_id=loan.id,
        tenant=loan.tenant_code,
        before=before,
        after={
            "status": loan.status,
            "written_off": loan.written_off,
            "write_off_id": row.id,
            "provision": loan.provision,
        },
        session=session,
        actor=actor.name,
    )
    return row


def record_recovery(
    session: Session,
    actor: Principal,
    loan_id: int,
    amount: Decimal,
    recovered_on: dt.date,
    reference: str,
) -> LoanEvent:
    """Money recovered on a written-off loan (booked against credit impairment losses);
    idempotent on ``reference``; never more than what was written off and not yet recovered."""
    loan = get_or_404(session, Loan, loan_id, "loan_id", for_update=True)
    ref = f"recovery:{reference}"
    prior = session.exec(
        select(LoanEvent).where(LoanEvent.loan_id == loan.id, LoanEvent.reference == ref)
    ).first()
    if prior is not None:
        if prior.amount != amount or prior.event_date != recovered_on:
            raise Conflict(
                "reference already used for a different recovery",
                code="duplicate_reference",
                details=[{"field": "reference", "message": f"event {prior.id}"}],
            )
        return prior
    if loan.status != "written_off":
        raise Conflict(
            "only a written-off loan takes recoveries",
            code="not_written_off",
            details=[{"field": "loan_id", "message": loan.status}],
        )
    if recovered_on > clock.today() or (loan.closed_on and recovered_on < loan.closed_on):
        raise ValidationError(
            "recovery date must be between the write-off and today",
            code="invalid_date",
            details=[{"field": "recovered_on", "message": f"from {loan.closed_on} to today"}],
        )
    left = loan.written_off - loan.recovered
    if amount <= 0 or amount > left:
        raise ValidationError(
            f"recovery {amount} exceeds what is left written off ({left})",
            code="over_recovery",
            details=[{"field": "amount", "message": f"at most {left}"}],
        )
    event = LoanEvent(
        tenant_code=loan.tenant_code,
        loan_id=loan.id,
        kind="recovery",
        event_date=recovered_on,
        amount=amount,
        reference=ref,
        memo=f"收回已核销贷款 {loan.loan_no}",
        recorded_by=actor.name,
    )
    loan.recovered += amount
    session.add_all([event, loan])
    session.flush()
    audit.record(
        "lending.write_off.recovery",
        target_type="lending_loan",
        target_id=loan.id,
        tenant=loan.tenant_code,
        after={"amount": amount, "recovered": loan.recovered, "event_id": event.id},
        session=session,
        actor=actor.name,
    )
    return event


# --- reversals -------------------------------------------------------------------------------


def reverse_repayment(
    session: Session,
    actor: Principal,
    loan_id: int,
    repayment_id: int,
    reason: str,
    on: dt.date | None = None,
) -> Repayment:
    """Reverse a repayment entered by mistake with a compensating row (negative amounts); the
    schedule as it stood before the repayment becomes a new schedule version, and the loan's
    balance, status and classification are recomputed. Only the loan's latest repayment not
    yet reversed can be reversed (reverse later ones first)."""
    loan = get_or_404(session, Loan, loan_id, "loan_id", for_update=True)
    original = get_or_404(session, Repayment, repayment_id, "repayment_id")
    if original.loan_id != loan.id or original.kind != "repayment":
        raise Conflict(
            "not a repayment of this loan",
            code="not_reversible",
            details=[{"field": "repayment_id", "message": original.kind}],
        )
    if not reason.strip():
        raise ValidationError(
            "give the reason", details=[{"field": "reason", "message": "required"}]
        )
    ref = f"reversal:{original.id}"
    if session.exec(
        select(Repayment).where(Repayment.loan_id == loan.id, Repayment.reference == ref)
    ).first():
        raise Conflict(
            "this repayment is already reversed",
            code="already_reversed",
            details=[{"field": "repayment_id", "message": str(original.id)}],
        )
    reversed_ids = {
        int(r.reference.split(":", 1)[1])
        for r in session.exec(
            select(Repayment).where(Repayment.loan_id == loan.id, Repayment.kind == "reversal")
        ).all()
    }
    later = [
        r.id
        for r in session.exec(
            select(Repayment).where(
                Repayment.loan_id == loan.id,
                Repayment.kind == "repayment",
                Repayment.id > original.id,
            )
        ).all()
        if r.id not in reversed_ids
    ]
    snapshot = original.allocation.get("before")
    if later or loan.status not in ("active", "closed") or snapshot is None:
        raise Conflict(
            "only the latest repayment of an active or closed loan can be reversed",
            code="not_reversible",
            details=[
                {
                    "field": "repayment_id",
                    "message": f"reverse {later} first" if later else "recorded before reversals",
                }
            ],
        )
    before = {
        "status": loan.status,
        "outstanding_principal": loan.outstanding_principal,
        "schedule_version": loan.schedule_version,
        # the repayment reversed, as it was recorded: the audit entry shows both
        "repayment": {
            "id": original.id,
            "paid_on": original.paid_on.isoformat(),
            "amount": str(original.amount),
            "reference": original.reference,
            "recorded_by": original.recorded_by,
        },
    }
    _restore_schedule(session, loan, int(original.allocation["version"]), snapshot)
    loan.outstanding_principal += original.principal
    loan.penalty_paid -= original.penalty
    if loan.status == "closed":
        loan.status, loan.closed_on = "active", None
    today = on or clock.today()
    _reclassify(session, loan, today)
    row = Repayment(
        tenant_code=loan.tenant_code,
        loan_id=loan.id,
        paid_on=today,
        amount=-original.amount,
        interest=-original.interest,
        principal=-original.principal,
        penalty=-original.penalty,
        kind="reversal",
        reference=ref,
        allocation={"reverses": original.id, "reason": reason.strip()[:200]},
        recorded_by=actor.name,
    )
    session.add_all([row, loan])
    session.flush()
    audit.record(
        "lending.repayment.reverse",
        target_type="lending_loan",
        target_id=loan.id,
        tenant=loan.tenant_code,
        before=before,
        after={
            "status": loan.status,
            "outstanding_principal": loan.outstanding_principal,
            "schedule_version": loan.schedule_version,
            "reverses_repayment_id": original.id,
            "reversal_id": row.id,
            "reason": reason.strip()[:200],
        },
        session=session,
        actor=actor.name,
    )
    return row


def _restore_schedule(session: Session, loan: Loan, version: int, snapshot: list) -> None:
    """Store the lines of ``version`` as they stood in ``snapshot`` as the next version."""
    base = {
        x.number: x
        for x in session.exec(
            select(Instalment).where(Instalment.loan_id == loan.id, Instalment.version == version)
        ).all()
    }
    paid = {int(n): (Decimal(p), Decimal(i), bool(off)) for n, p, i, off in snapshot}
    session.execute(
        sa.update(Instalment)
        .where(Instalment.loan_id == loan.id, Instalment.active.is_(True))  # type: ignore[attr-defined]
        .values(active=False)
    )
    loan.schedule_version += 1
    rows = []
    for number, x in sorted(base.items()):
        p, i, off = paid.get(number, (x.principal, x.interest, True))
        rows.append(
            {
                "tenant_code": loan.tenant_code,
                "loan_id": loan.id,
                "version": loan.schedule_version,
                "active": True,
                "number": number,
                "period_start": x.period_start,
                "due_date": x.due_date,
                "days": x.days,
                "opening_principal": x.opening_principal,
                "principal": x.principal,
                "interest": x.interest,
                "carried_interest": x.carried_interest,
                "principal_paid": p,
                "interest_paid": i,
                "paid_off": off,
            }
        )
    session.execute(sa.insert(Instalment), rows)
    loan.maturity_date = max(x.due_date for x in base.values())


def _reclassify(session: Session, loan: Loan, as_of: dt.date) -> None:
    from postalops_lending.services.loans import active_lines, open_view
    from postalops_lending.servicing import days_past_due

    if loan.status != "active":
        return
    session.flush()
    dpd = days_past_due(open_view(active_lines(session, loan.id)), as_of)
    loan.days_past_due, loan.category = dpd, classify(dpd, Bands()).value


def reverse_disbursement(
    session: Session, actor: Principal, loan_id: int, reason: str, on: dt.date | None = None
) -> LoanEvent:
    """Reverse a disbursement entered by mistake: a compensating event that takes the principal
    (and the fee withheld) back and the interest accrued on it out of income; the loan becomes
    ``reversed``. Refused while a repayment on it stands (reverse those first)."""
    loan = get_or_404(session, Loan, loan_id, "loan_id", for_update=True)
    if not reason.strip():
        raise ValidationError(
            "give the reason", details=[{"field": "reason", "message": "required"}]
        )
    if loan.status != "active" or loan.origin != "application":
        raise Conflict(
            "only an active loan disbursed from an application can be reversed",
            code="not_reversible",
            details=[{"field": "loan_id", "message": f"{loan.status}, {loan.origin}"}],
        )
    standing = session.exec(
        select(sa.func.count()).where(Repayment.loan_id == loan.id, Repayment.kind == "repayment")
    ).one()
    reversals = session.exec(
        select(sa.func.count()).where(Repayment.loan_id == loan.id, Repayment.kind == "reversal")
    ).one()
    n = int(standing[0] if isinstance(standing, tuple | sa.Row) else standing)
    m = int(reversals[0] if isinstance(reversals, tuple | sa.Row) else reversals)
    if n > m:
        raise Conflict(
            "reverse the loan's repayments first",
            code="has_repayments",
            details=[{"field": "loan_id", "message": f"{n - m} repayments stand"}],
        )
    day = on or clock.today()
    interest, penalty = interest_receivable(session, loan)
    before = {"status": loan.status, "outstanding_principal": loan.outstanding_principal}
    event = LoanEvent(
        tenant_code=loan.tenant_code,
        loan_id=loan.id,
        kind="disbursement_reversal",
        event_date=day,
        amount=loan.principal,
        principal=loan.principal,
        interest=interest,
        penalty=penalty,
        fee=loan.fee,
        reference="disbursement_reversal",
        memo=f"冲销放款 {loan.loan_no}：{reason.strip()[:80]}",
        recorded_by=actor.name,
    )
    loan.outstanding_principal = ZERO
    loan.status, loan.closed_on = "reversed", day
    session.add_all([event, loan])
    session.flush()
    audit.record(
        "lending.loan.reverse_disbursement",
        target_type="lending_loan",
        target_id=loan.id,
        tenant=loan.tenant_code,
        before=before,
        after={"status": loan.status, "event_id": event.id, "reason": reason.strip()[:200]},
        session=session,
        actor=actor.name,
    )
    return event


# --- the journal -----------------------------------------------------------------------------


def journal_lines(
    session: Session, tenant: str, date_from: dt.date, date_to: dt.date
) -> list[JournalLine]:
    """Balanced vouchers of the loan book in ``tenant``'s subtree on the inclusive dates: one per
    disbursement, repayment (or reversal), write-off, recovery and disbursement reversal, and
    per unit and day one for the accruals and one for the net provision change."""
    out: list[JournalLine] = []
    loans = session.exec(
        select(Loan).where(
            in_scope_clause(Loan.tenant_code, tenant),
            Loan.disbursed_on >= date_from,
            Loan.disbursed_on <= date_to,
        )
    ).all()
    for loan in loans:
        ref = f"lending:disbursement:{loan.id}"
        memo = f"发放贷款 {loan.loan_no}"
        out += _voucher(
            loan.disbursed_on,
            loan.tenant_code,
            ref,
            memo,
            debits=[("loans", loan.principal)],
            credits=[("bank", loan.principal - loan.fee), ("fee_income", loan.fee)],
        )
    reps = session.exec(
        select(Repayment).where(
            in_scope_clause(Repayment.tenant_code, tenant),
            Repayment.paid_on >= date_from,
            Repayment.paid_on <= date_to,
        )
    ).all()
    for r in reps:
        sign = -1 if r.amount < 0 else 1
        memo = "冲销还款" if r.kind == "reversal" else "收回贷款本息"
        debits = [("bank", r.amount * sign)]
        if r.kind == "renewal_settlement":
            # no cash for the carried interest: it moves to the new loan's receivable (the
            # new loan does not accrue it again); the principal nets with its disbursement
            memo = "无还本续贷结清（利息转入新贷款）"
            debits = [("bank", r.principal), ("interest_receivable", r.interest + r.penalty)]
        credits = [
            ("interest_receivable", (r.interest + r.penalty) * sign),
            ("loans", r.principal * sign),
        ]
        if sign < 0:
            debits, credits = credits, debits
        out += _voucher(
            r.paid_on, r.tenant_code, f"lending:repayment:{r.id}", memo, debits, credits
        )
    events = session.exec(
        select(LoanEvent).where(
            in_scope_clause(LoanEvent.tenant_code, tenant),
            LoanEvent.event_date >= date_from,
            LoanEvent.event_date <= date_to,
        )
    ).all()
    accrual: dict[tuple[str, dt.date], list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    provision: dict[tuple[str, dt.date], Decimal] = defaultdict(lambda: ZERO)
    for e in events:
        key = (e.tenant_code or "", e.event_date)
        if e.kind == "accrual":
            accrual[key][0] += e.interest
            accrual[key][1] += e.penalty
        elif e.kind == "provision":
            provision[key] += e.amount
        elif e.kind == "write_off":
            out += _voucher(
                e.event_date,
                key[0],
                f"lending:write_off:{e.id}",
                e.memo,
                debits=[
                    ("loan_loss_provision", e.principal),
                    ("credit_impairment_loss", e.interest + e.penalty),
                ],
                credits=[("loans", e.principal), ("interest_receivable", e.interest + e.penalty)],
            )
        elif e.kind == "recovery":
            out += _voucher(
                e.event_date,
                key[0],
                f"lending:recovery:{e.id}",
                e.memo,
                debits=[("bank", e.amount)],
                credits=[("credit_impairment_loss", e.amount)],
            )
        elif e.kind == "disbursement_reversal":
            out += _voucher(
                e.event_date,
                key[0],
                f"lending:disbursement_reversal:{e.id}",
                e.memo,
                debits=[
                    ("bank", e.principal - e.fee),
                    ("fee_income", e.fee),
                    ("interest_income", e.interest + e.penalty),
                ],
                credits=[("loans", e.principal), ("interest_receivable", e.interest + e.penalty)],
            )
    for (unit, day), (interest, penalty) in sorted(accrual.items()):
        out += _voucher(
            day,
            unit,
            f"lending:accrual:{unit}:{day.isoformat()}",
            "计提贷款利息及罚息",
            debits=[("interest_receivable", interest + penalty)],
            credits=[("interest_income", interest), ("interest_income", penalty)],
        )
    for (unit, day), change in sorted(provision.items()):
        pair = [("credit_impairment_loss", abs(change))], [("loan_loss_provision", abs(change))]
        debits, credits = pair if change > 0 else (pair[1], pair[0])
        out += _voucher(
            day,
            unit,
            f"lending:provision:{unit}:{day.isoformat()}",
            "计提贷款损失准备" if change > 0 else "转回贷款损失准备",
            debits,
            credits,
        )
    return out


def _voucher(
    day: dt.date,
    unit: str,
    ref: str,
    memo: str,
    debits: Sequence[tuple[str, Decimal]],
    credits: Sequence[tuple[str, Decimal]],
) -> list[JournalLine]:
    lines = [JournalLine(day, a, to_fen(v), ZERO, unit, ref, memo) for a, v in debits if v]
    lines += [JournalLine(day, a, ZERO, to_fen(v), unit, ref, memo) for a, v in credits if v]
    return lines
