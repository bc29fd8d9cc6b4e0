"""Leader commission, pickup verification (核销), settlement statements and the group threshold
(成团), on the database (issue 19 §3). The rules are in commission.py; this module feeds them and
stores what they decide. No Flask: the API, pages and jobs call these with a session."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from postalops import audit
from postalops.db import in_scope_clause, utcnow
from postalops.errors import Conflict, NotFound, ValidationError
from postalops.money import ZERO
from sqlmodel import Session, select

from . import commission
from .ingest import ingest_events
from .models import (
    CommissionRate,
    GroupSession,
    Leader,
    Order,
    OrderLine,
    Pickup,
    Product,
    Statement,
    StatementLine,
)
from .order_rows import EventIn, shanghai_day

# --- rates -----------------------------------------------------------------------------------


def parse_rate(raw: object, field: str = "rate") -> Decimal:
    """A commission rate as a fraction between 0 and 0.5 ("0.08"), at most 4 decimals."""
    try:
        if isinstance(raw, (bool, float)):
            raise InvalidOperation
        rate = Decimal(str(raw).strip())
    except (InvalidOperation, ValueError):
        rate = None
    if rate is None or not rate.is_finite() or rate < 0 or rate > Decimal("0.5"):
        raise ValidationError(
            "a rate is a fraction from 0 to 0.5, e.g. 0.08",
            code="commission_rate_invalid",
            details=[{"field": field, "message": "a fraction from 0 to 0.5, e.g. 0.08"}],
        )
    if rate != rate.quantize(Decimal("0.0001")):
        raise ValidationError(
            "a rate has at most 4 decimals",
            code="commission_rate_invalid",
            details=[{"field": field, "message": "at most 4 decimals"}],
        )
    return rate


def set_rate(
    session: Session,
    *,
    unit: str,
    rate: object,
    effective_from: dt.date,
    sku: str = "",
    category: str = "",
    by: str = "",
) -> CommissionRate:
    """Record a rate for a product or a category at ``unit`` (a new row; never an edit)."""
    sku, category = (sku or "").strip(), (category or "").strip()
    if bool(sku) == bool(category):
        raise ValidationError(
            "a rate is for one product (sku) or one category",
            code="commission_rate_target",
            details=[{"field": "sku", "message": "give a sku or a category, not both"}],
        )
    value = parse_rate(rate)
    row = CommissionRate(
        unit_code=unit,
        sku=sku,
        category=category,
        rate=str(value),
        effective_from=effective_from,
        set_by=by,
    )
    session.add(row)
    session.flush()
    audit.record(
        "ecommerce.commission_rate.set",
        target_type="ecommerce_commission_rate",
        target_id=row.id,
        after={"unit": unit, "sku": sku, "category": category, "rate": str(value),
               "effective_from": effective_from.isoformat()},
    )  # fmt: skip
    return row


def rates(session: Session) -> list[commission.Rate]:
    return [
        commission.Rate(r.unit_code, r.sku, r.category, Decimal(r.rate), r.effective_from)
        for r in session.exec(select(CommissionRate)).all()
    ]


# --- pickup verification ---------------------------------------------------------------------


def code_for(session: Session, secret: str, order_no: str) -> dict[str, Any]:
    order = session.exec(select(Order).where(Order.order_no == order_no)).first()
    if order is None:
        raise NotFound("unknown order", details=[{"field": "order_no", "message": "unknown order"}])
    done = session.exec(select(Pickup).where(Pickup.order_id == order.id)).first()
    return {
        "order_no": order.order_no,
        "pickup_point": order.pickup_point,
        "pickup_code": commission.pickup_code(secret, order.id, order.order_no),
        "status": "picked_up" if done else "waiting",  # labels: ecommerce.pickup
        "picked_up_on": done.day.isoformat() if done else None,
    }


def verify_pickup(
    session: Session, secret: str, *, code: str, point: str, by: str, at: dt.datetime | None = None
) -> dict[str, Any]:
    """Verify a pickup code at ``point``; the order becomes picked up. Refused, naming the
    problem: a code that is not one (422 ``pickup_code_invalid``), the wrong point (422
    ``wrong_pickup_point``), an order refunded or cancelled (409 ``order_cancelled``), a code
    already verified (409 ``already_picked_up``)."""
    now = utcnow()
    at = at or now
    if at > now + dt.timedelta(minutes=5):
        raise ValidationError(
            "a pickup cannot be verified in the future",
            code="verified_at_future",
            details=[{"field": "verified_at", "message": "in the future"}],
        )
    order_id = commission.code_order_id(code or "")
    order = (
        session.exec(select(Order).where(Order.id == order_id)).first()
        if order_id is not None
        else None
    )
    if order is None or not commission.code_matches(secret, code, order.id, order.order_no):
        raise ValidationError(
            "not a valid pickup code",
            code="pickup_code_invalid",
            details=[{"field": "code", "message": "not a valid pickup code"}],
        )
    done = session.exec(select(Pickup).where(Pickup.order_id == order.id)).first()
    if done is not None:
        raise Conflict(
            f"order {order.order_no} was already picked up at {done.pickup_point}",
            code="already_picked_up",
            details=[{"field": "code", "message": "already verified", "order_no": order.order_no,
                      "pickup_point": done.pickup_point,
                      "verified_at": done.verified_at.isoformat()}],
        )  # fmt: skip
    if not point or point != order.pickup_point:
        raise ValidationError(
            f"order {order.order_no} is collected at {order.pickup_point or 'no pickup point'}, "
            f"not {point or '(none)'}",
            code="wrong_pickup_point",
            details=[{"field": "pickup_point", "message": "not this order's pickup point",
                      "order_no": order.order_no, "expected": order.pickup_point}],
        )  # fmt: skip
    if at < order.paid_at:
        raise ValidationError(
            "a pickup cannot be verified before the order was paid",
            code="verified_before_paid",
            details=[{"field": "verified_at", "message": "before the order was paid"}],
        )
    if order.cancelled or order.net_fen <= 0:
        raise Conflict(
            f"order {order.order_no} is cancelled or refunded in full",
            code="order_cancelled",
            details=[{"field": "code", "message": "order cancelled or refunded",
                      "order_no": order.order_no}],
        )  # fmt: skip
    pickup = Pickup(
        tenant_code=order.tenant_code,
        order_id=order.id,
        pickup_point=point,
        day=shanghai_day(at),
        verified_at=at,
        verified_by=by,
    )
    try:
        with session.begin_nested():
            session.add(pickup)
            session.flush()
    except sa.exc.IntegrityError:  # verified by someone else a moment ago
        raise Conflict(
            f"order {order.order_no} was already picked up",
            code="already_picked_up",
            details=[{"field": "code", "message": "already verified"}],
        ) from None
    return {
        "order_no": order.order_no,
        "pickup_point": point,
        "picked_up_on": pickup.day.isoformat(),
        "status": "picked_up",
    }


def picked_up_items(
    session: Session, tenant: str, date_from: dt.date, date_to: dt.date
) -> list[dict[str, Any]]:
    """Verified pickups of ``tenant``'s subtree on the inclusive local dates, counted per pickup
    point, the order's unit and day: one item per group-buy order (its parcel), what the
    ``postalops_picked_up_items`` hook answers for the pickup-point agent fee."""
    rows = session.exec(
        select(Pickup.pickup_point, Pickup.tenant_code, Pickup.day, sa.func.count())
        .where(in_scope_clause(Pickup.tenant_code, tenant), Pickup.day.between(date_from, date_to))
        .group_by(Pickup.pickup_point, Pickup.tenant_code, Pickup.day)
        .order_by(Pickup.pickup_point, Pickup.tenant_code, Pickup.day)
    ).all()
    return [
        {"pickup_point": code, "unit": unit, "day": day, "items": int(n)}
        for code, unit, day, n in rows
    ]


# --- statements ------------------------------------------------------------------------------


def _parse_period(period: str) -> tuple[dt.date, dt.date]:
    try:
        return commission.month_bounds(period or "")
    except ValueError:
        raise ValidationError(
            "period is a month, YYYY-MM",
            code="period_invalid",
            details=[{"field": "period", "message": "a month, YYYY-MM"}],
        ) from None


def _dues(session: Session, leader_ids: list[int], last: dt.date) -> dict[int, list]:
    """Every order of these leaders picked up by ``last``, with what it has earned now and
    what earlier statements settled, by leader."""
    rows = session.exec(
        select(Order, Pickup.day)
        .join(Pickup, Pickup.order_id == Order.id)
        .where(Order.leader_id.in_(leader_ids), Pickup.day <= last)
    ).all()
    if not rows:
        return {}
    ids = [o.id for o, _ in rows]
    lines: dict[int, list] = defaultdict(list)
    for ln in session.exec(select(OrderLine).where(OrderLine.order_id.in_(ids))).all():
        lines[ln.order_id].append(ln)
    skus = {ln.sku for lst in lines.values() for ln in lst}
    category = dict(
        session.exec(select(Product.sku, Product.category).where(Product.sku.in_(skus))).all()
    )
    settled = dict(
        session.exec(
            select(StatementLine.order_id, sa.func.sum(StatementLine.commission))
            .join(Statement, Statement.id == StatementLine.statement_id)
            .where(StatementLine.order_id.in_(ids), Statement.status != "rejected")
            .group_by(StatementLine.order_id)
        ).all()
    )
    table = rates(session)
    out: dict[int, list] = defaultdict(list)
    for order, day in rows:
        com = commission.order_commission(
            table,
            order.tenant_code,
            [
                commission.Line(ln.sku, category.get(ln.sku, ""), ln.amount)
                for ln in lines[order.id]
            ],
            day,
        )
        net = ZERO if order.cancelled else order.amount - order.refunded
        out[order.leader_id].append(
            commission.Due(
                order.id,
                order.order_no,
                day,
                net,
                commission.earned(com, order.amount, net),
                Decimal(str(settled.get(order.id) or 0)).quantize(Decimal("0.01")),
            )
        )
    return out


def generate(session: Session, tenant: str, period: str, *, by: str) -> dict[str, list]:
    """Draw up the month's statement of every leader under ``tenant`` with something to settle
    (idempotent: a leader with a statement for the month that is not rejected keeps it).
    Returns ``{"created": [ids], "existing": [ids]}``."""
    first, last = _parse_period(period)
    leaders = session.exec(
        select(Leader).where(in_scope_clause(Leader.tenant_code, tenant)).order_by(Leader.code)
    ).all()
    if not leaders:
        return {"created": [], "existing": []}
    ids = [ld.id for ld in leaders]
    have = {
        s.leader_id: s.id
        for s in session.exec(
            select(Statement).where(
                Statement.leader_id.in_(ids),
                Statement.period == period,
                Statement.status != "rejected",
            )
        ).all()
    }
    dues = _dues(session, [i for i in ids if i not in have], last)
    created = []
    for ld in leaders:
        if ld.id in have:
            continue
        lines = commission.statement_lines(dues.get(ld.id, []))
        previous = session.exec(
            select(Statement)
            .where(
                Statement.leader_id == ld.id,
                Statement.period < period,
                Statement.status != "rejected",
            )
            .order_by(Statement.period.desc(), Statement.id.desc())
        ).first()
        # a negative balance carries until offset, whatever its statement's approval state;
        # only the latest statement's balance is carried (it already holds the earlier ones),
        # so approving a carried statement later counts nothing twice
        carried = previous.payable if previous is not None and previous.payable < 0 else ZERO
        if not lines and not carried:
            continue
        sums = commission.totals(lines, carried)
        st = Statement(tenant_code=ld.tenant_code, leader_id=ld.id, period=period,
                       status="pending", prepared_by=by, **sums)  # fmt: skip
        session.add(st)
        session.flush()
        add_lines(session, st, lines)
        audit.record(
            "ecommerce.statement.prepare",
            target_type="ecommerce_statement",
            target_id=st.id,
            after={"leader": ld.code, "period": period, "payable": str(st.payable)},
        )
        created.append(st.id)
    session.flush()
    return {"created": created, "existing": sorted(have.values())}


def add_lines(session: Session, st: Statement, lines: list[commission.StatementLineOut]) -> None:
    for ln in lines:
        session.add(
            StatementLine(
                tenant_code=st.tenant_code,
                statement_id=st.id,
                order_id=ln.order_id,
                order_no=ln.order_no,
                kind=ln.kind,
                base=ln.base,
                commission=ln.commission,
                picked_up_on=ln.picked_up_on,
            )
        )


def get(session: Session, statement_id: int) -> Statement:
    st = session.exec(select(Statement).where(Statement.id == statement_id)).first()
    if st is None:
        raise NotFound("unknown statement")
    return st


def lines_of(session: Session, statement_id: int) -> list[StatementLine]:
    return list(
        session.exec(
            select(StatementLine)
            .where(StatementLine.statement_id == statement_id)
            .order_by(StatementLine.picked_up_on, StatementLine.order_no)
        ).all()
    )


def decide(
    session: Session, statement_id: int, *, approve: bool, by: str, on: dt.date
) -> Statement:
    """Approve or reject a pending statement; the one who prepared it cannot (maker-checker)."""
    st = get(session, statement_id)
    if st.status != "pending":
        raise Conflict(
            f"statement {st.id} is {st.status}, not pending",
            code="statement_not_pending",
            details=[{"field": "status", "message": st.status}],
        )
    if by == st.prepared_by:
        raise Conflict(
            "the statement must be approved by someone other than who prepared it",
            code="maker_checker",
            details=[{"field": "decided_by", "message": "prepared by the same person"}],
        )
    if not approve and st.payable < 0:
        later = session.exec(
            select(Statement.id, Statement.period).where(
                Statement.leader_id == st.leader_id,
                Statement.period > st.period,
                Statement.status != "rejected",
            )
        ).first()
        if later is not None:
            raise Conflict(
                f"statement {st.id}'s balance {st.payable} was carried into the {later.period} "
                f"statement {later.id}: reject that one first",
                code="statement_carried",
                details=[{"field": "status", "message": "carried into a later statement",
                          "statement": later.id, "period": later.period}],
            )  # fmt: skip
    before = st.status
    st.status = "approved" if approve else "rejected"
    st.decided_by, st.decided_at, st.decided_on = by, utcnow(), on
    session.add(st)
    audit.record(
        "ecommerce.statement.approve" if approve else "ecommerce.statement.reject",
        target_type="ecommerce_statement",
        target_id=st.id,
        before={"status": before},
        after={"status": st.status, "payable": str(st.payable)},
    )
    session.flush()
    return st


def pay(session: Session, statement_id: int, *, by: str, on: dt.date) -> Statement:
    """Record the payout of an approved statement with something to pay."""
    st = get(session, statement_id)
    if st.status != "approved":
        raise Conflict(
            f"statement {st.id} is {st.status}; only an approved statement is paid",
            code="statement_not_approved",
            details=[{"field": "status", "message": st.status}],
        )
    if st.payable <= 0:
        raise Conflict(
            "nothing to pay: the balance is carried into the next statement",
            code="nothing_to_pay",
            details=[{"field": "payable", "message": str(st.payable)}],
        )
    st.status, st.paid_by, st.paid_on = "paid", by, on
    session.add(st)
    audit.record(
        "ecommerce.statement.pay",
        target_type="ecommerce_statement",
        target_id=st.id,
        before={"status": "approved"},
        after={"status": "paid", "paid_on": on.isoformat(), "payable": str(st.payable)},
    )
    session.flush()
    return st


# --- group threshold (成团) -------------------------------------------------------------------


def close_session(
    session: Session, group: GroupSession, *, at: dt.datetime | None = None
) -> dict[str, Any]:
    """Close a session. Below its minimum of paid orders it is cancelled, and each of its orders
    is refunded in full through the same refund events the e-shop sends (refund number
    ``TH-<session>-<order>``, so a re-run refunds nothing twice). Idempotent."""
    at = at or utcnow()
    if group.state != "open":
        return {"session": group.code, "state": group.state, "orders": 0, "refunded": 0}
    orders = session.exec(
        select(Order).where(Order.session_id == group.id).order_by(Order.id)
    ).all()
    counted = [o for o in orders if not o.cancelled and o.net_fen > 0]
    below = group.min_orders is not None and len(counted) < group.min_orders
    refunded = 0
    if below:
        events = [
            (i, EventIn("refund", o.order_no, at, f"TH-{group.code}-{o.order_no}"[:64],
                        o.amount - o.refunded))
            for i, o in enumerate(counted)
        ]  # fmt: skip
        if events:
            ingest_events(session, events)
            refunded = len(events)
    group.state, group.closed_at = ("cancelled" if below else "closed"), at
    session.add(group)
    if below:
        audit.record(
            "ecommerce.session.cancel",
            target_type="ecommerce_session",
            target_id=group.id,
            before={"state": "open"},
            after={"state": group.state, "orders": len(counted), "min_orders": group.min_orders},
        )
    session.flush()
    return {"session": group.code, "state": group.state, "orders": len(counted),
            "refunded": refunded}  # fmt: skip


def close_due_sessions(session: Session, now: dt.datetime | None = None) -> list[dict]:
    """Close every open session in scope with a minimum (成团) whose window has ended (the
    scheduled job); a session without a minimum has nothing to decide and stays as it is."""
    now = now or utcnow()
    due = session.exec(
        select(GroupSession)
        .where(
            GroupSession.state == "open",
            GroupSession.min_orders.is_not(None),
            GroupSession.ends_at <= now,
        )
        .order_by(GroupSession.id)
    ).all()
    return [close_session(session, g, at=now) for g in due]
