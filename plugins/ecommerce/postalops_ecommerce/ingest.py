"""Order and event ingest: validated rows in, orders + pending figure deltas out, idempotently.

A batch is all-or-nothing: any invalid row (bad field, unknown leader/session/branch, a pickup
point the pickup_points plugin does not know) fails the whole batch with every bad row named and
nothing written. A valid batch answers per row: ``created`` or ``duplicate`` (the order number,
or refund number, was already received — a retried push changes nothing).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from postalops.bulk import insert_rows
from postalops.errors import PostalOpsError, ValidationError
from postalops.models import OrgUnit
from postalops.money import FEN
from sqlalchemy.dialects import postgresql
from sqlmodel import Session, select

from .models import Campaign, GroupSession, Leader, Order, OrderLine, PendingDelta, Refund
from .order_events import OrderState, apply_cancel, apply_refund, delta
from .order_rows import EventIn, OrderIn
from .units import city_of, province_of

PointCheck = Callable[[str, str], bool]
"""``check(branch_code, point_code) -> bool``: is the point known (pickup_points plugin)?"""


def fen(amount: Decimal) -> int:
    return int(amount / FEN)


# A new order's refunded amount: one object for every row, so the bulk writer converts it once.
NOTHING_REFUNDED = Decimal("0.00")
# The order numbers of one look-up, as one array parameter (PostgreSQL).
_NOS = sa.bindparam("nos", type_=postgresql.ARRAY(sa.String))
_CODES = sa.bindparam("codes", type_=postgresql.ARRAY(sa.String))


def _insert(session: Session, model, rows: list[dict]) -> None:
    """Batch insert through the core's bulk writer (executemany on SQLite, COPY and one
    policy-checked INSERT on PostgreSQL), not the ORM unit of work; it checks every row's unit
    against the session's scope before anything is written."""
    insert_rows(session, model, rows)


def _ancestors_or_self(code: str) -> list[str]:
    parts = code.split(".")
    return [".".join(parts[:i]) for i in range(len(parts), 0, -1)]


def _only_checked(items: list[tuple[int, OrderIn | EventIn]], write: bool) -> None:
    """Rows that failed their shape check may be reference-checked, never written."""
    if write and any(not item.complete for _, item in items):
        raise ValueError("rows that failed their shape check cannot be written")


def _fail(errors: list[dict]) -> None:
    if errors:
        errors.sort(key=lambda e: e["row"])
        raise ValidationError(
            f"{len(errors)} row(s) invalid; nothing was written",
            code="invalid_rows",
            details=errors,
        )


def applicable_campaigns(session: Session, unit_code: str) -> list[Campaign]:
    """Campaigns owned by the unit or one of its ancestors (a province's campaign covers its
    cities and branches)."""
    return list(
        session.exec(
            select(Campaign).where(Campaign.owner_code.in_(_ancestors_or_self(unit_code)))
        ).all()
    )


@dataclass
class _References:
    """What a batch's orders name, read once: leaders and sessions by code (only the columns
    the checks read, as rows: ORM objects for thousands of them cost more than the rest of the
    checks, issue 17 §4), every campaign by id, and the retail branches in the caller's scope."""

    leaders: dict[str, Any]
    sessions: dict[str, Any]
    campaigns: dict[int, Campaign]
    known_units: set[str]


def _references(session: Session, items: list[tuple[int, OrderIn]]) -> _References:
    leader_codes = {o.leader for _, o in items if o.leader}
    session_codes = {o.session for _, o in items if o.session}
    leaders = {
        ld.code: ld
        for ld in _by_code(
            session,
            select(Leader.code, Leader.id, Leader.tenant_code, Leader.pickup_point),
            Leader.code,
            leader_codes,
        )
    }
    sessions = {
        s.code: s
        for s in _by_code(
            session,
            select(
                GroupSession.code,
                GroupSession.id,
                GroupSession.leader_id,
                GroupSession.campaign_id,
            ),
            GroupSession.code,
            session_codes,
        )
    }
    campaigns = {c.id: c for c in session.exec(select(Campaign)).all()}
    retail_branches = {o.branch for _, o in items if o.branch and o.channel == "retail"}
    scope = session.info["scope"]
    known_units = (
        {
            code
            for code in session.exec(
                select(OrgUnit.code).where(OrgUnit.code.in_(retail_branches))
            ).all()
            if scope.allows(code)
        }
        if retail_branches
        else set()
    )
    return _References(leaders, sessions, campaigns, known_units)


def _groupbuy_keys(order: OrderIn, refs: _References, keys: dict, errors: list[dict]) -> None:
    """A group-buy order's branch, leader, session, campaign and point, from its leader and
    session; a row of unreadable channel is checked for the leader and session it names."""
    leader = refs.leaders.get(order.leader or "")
    gs = refs.sessions.get(order.session or "")
    if leader is None and order.leader is not None:
        errors.append({"field": "leader", "message": "unknown leader (or outside your scope)"})
    if gs is None and order.session is not None:
        errors.append({"field": "session", "message": "unknown session (or outside your scope)"})
    if leader is not None and gs is not None and gs.leader_id != leader.id:
        errors.append({"field": "session", "message": "session belongs to another leader"})
    if leader is not None:
        keys["tenant_code"] = branch = leader.tenant_code
        if order.branch and order.branch != branch:
            errors.append({"field": "branch", "message": f"leader's branch is {branch}"})
        keys["leader_id"] = leader.id
        keys["pickup_point"] = keys["pickup_point"] or leader.pickup_point
    if gs is not None:
        keys["session_id"], keys["campaign_id"] = gs.id, gs.campaign_id
        campaign = refs.campaigns.get(gs.campaign_id)
        if order.campaign and campaign and order.campaign != campaign.code:
            errors.append({"field": "campaign", "message": "differs from the session's campaign"})


def _retail_keys(order: OrderIn, refs: _References, keys: dict, errors: list[dict]) -> None:
    """A retail order's branch (named, in scope) and campaign: the one named, or else the first
    of the branch's campaigns running on the day paid."""
    keys["tenant_code"] = branch = order.branch or ""
    if order.branch is not None and branch not in refs.known_units:
        errors.append({"field": "branch", "message": "unknown unit (or outside your scope)"})
    for c in refs.campaigns.values():
        if not (branch == c.owner_code or branch.startswith(c.owner_code + ".")):
            continue
        if order.campaign:
            matches = c.code == order.campaign
        else:  # by the day paid, if it could be read
            matches = order.paid_at is not None and c.starts_on <= order.day <= c.ends_on
        if matches:
            keys["campaign_id"] = c.id
            break
    if order.campaign and not keys["campaign_id"]:
        errors.append({"field": "campaign", "message": "unknown campaign for this branch"})


def _order_keys(
    order: OrderIn, refs: _References, point_check: PointCheck | None
) -> tuple[dict, list[dict]]:
    """The order's rollup keys (branch, leader, session, campaign, pickup point) and the
    reference errors of its row."""
    errors: list[dict] = []
    keys: dict = {"tenant_code": None, "leader_id": 0, "session_id": 0, "campaign_id": 0,
                  "pickup_point": order.pickup_point or ""}  # fmt: skip
    if order.channel == "groupbuy" or order.channel not in ("retail", "groupbuy"):
        _groupbuy_keys(order, refs, keys, errors)
    else:
        _retail_keys(order, refs, keys, errors)
    point, branch = keys["pickup_point"], keys["tenant_code"]
    if point and branch and point_check is not None and not errors:
        if not point_check(branch, point):
            errors.append(
                {"field": "pickup_point", "message": "not an active pickup point of this unit"}
            )
    return keys, errors


def _write_orders(
    session: Session, prepared: list[tuple[int, OrderIn, dict]], report: dict[int, dict]
) -> None:
    """Insert the orders not received before (the others are reported ``duplicate``), their
    lines and their figure deltas."""
    numbers = [o.order_no for _, o, _ in prepared]
    existing = set(_order_ids(session, numbers))
    rows, line_rows, deltas = [], [], {}
    fresh = []
    places: dict[str, tuple[str, str]] = {}  # unit -> (province, city), once per unit
    for row, order, keys in prepared:
        if order.order_no in existing:
            report[row] = {"row": row, "order_no": order.order_no, "status": "duplicate"}
            continue
        report[row] = {"row": row, "order_no": order.order_no, "status": "created"}
        tenant = keys["tenant_code"]
        place = places.get(tenant)
        if place is None:
            place = places[tenant] = (province_of(tenant), city_of(tenant))
        amount = order.amount
        amount_fen = fen(amount)
        day = order.day
        rows.append(
            {
                **keys,
                "order_no": order.order_no,
                "channel": order.channel,
                "paid_at": order.paid_at,
                "day": day,
                "amount": amount,
                "refunded": NOTHING_REFUNDED,
                "cancelled": False,
                "net_fen": amount_fen,
                "province_code": place[0],
                "city_code": place[1],
            }
        )
        fresh.append((order, keys))
        _add_delta(deltas, tenant, day, order.channel, keys, amount_fen, 1)
    if not rows:
        return
    ids = _insert_orders(session, rows)
    for order, keys in fresh:
        oid = ids[order.order_no]
        tenant = keys["tenant_code"]
        for line in order.lines:
            line_rows.append(
                {
                    "tenant_code": tenant,
                    "order_id": oid,
                    "sku": line.sku,
                    "quantity": line.quantity,
                    "unit_price": line.unit_price,
                    "amount": line.amount,
                }
            )
    _insert(session, OrderLine, line_rows)
    _write_deltas(session, deltas, places)


def ingest_orders(
    session: Session,
    items: Iterable[tuple[int, OrderIn]],
    *,
    point_check: PointCheck | None = None,
    write: bool = True,
) -> list[dict]:
    """Store new orders and their figure deltas; report ``created``/``duplicate`` per row.

    ``items`` are (row number, validated order). The session's scope limits which leaders,
    sessions and branches can be named. The caller commits. With ``write=False`` ``items`` may
    also hold the readable part of rows that failed their shape check (``complete=False``, in
    row order with the others): only the codes they name are checked (issue 15 §5).
    """
    items = list(items)
    _only_checked(items, write)
    refs = _references(session, items)
    errors: list[dict] = []
    prepared: list[tuple[int, OrderIn, dict]] = []
    seen: set[str] = set()
    report: dict[int, dict] = {}
    for row, order in items:
        if order.order_no in seen:
            report[row] = {"row": row, "order_no": order.order_no, "status": "duplicate"}
            continue
        if order.order_no is not None:
            seen.add(order.order_no)
        keys, row_errors = _order_keys(order, refs, point_check)
        if row_errors:
            errors.append({"row": row, "errors": [{"row": row, **e} for e in row_errors]})
        elif order.complete:  # an incomplete row's shape errors are the caller's
            prepared.append((row, order, keys))
    _fail(errors)
    if not write:
        return []
    _write_orders(session, prepared, report)
    return [report[r] for r in sorted(report)]


def _by_code(session: Session, query, column, codes: set[str]) -> list:
    """The rows of ``query`` whose ``column`` is one of ``codes``, in one statement: on
    PostgreSQL ``= ANY`` of one array parameter (a plan that keeps the index, whatever the
    count), on SQLite an ``IN`` list."""
    if not codes:
        return []
    if session.get_bind().dialect.name == "postgresql":
        return session.execute(query.where(column == sa.any_(_CODES)), {"codes": list(codes)}).all()
    return session.execute(query.where(column.in_(codes))).all()


def _insert_orders(session: Session, rows: list[dict]) -> dict[str, int]:
    """Insert the new orders; their ids by order number. On PostgreSQL the one
    ``INSERT … SELECT`` from the COPY returns them; on SQLite a plain executemany (``RETURNING``
    would make SQLAlchemy build multi-row statements in Python), then one read of the ids."""
    if session.get_bind().dialect.name == "postgresql":
        returned = insert_rows(session, Order, rows, returning=("order_no", "id"))
        return dict(returned)  # type: ignore[arg-type]
    _insert(session, Order, rows)
    return _order_ids(session, [r["order_no"] for r in rows])


def _order_ids(session: Session, numbers: list[str]) -> dict[str, int]:
    table = Order.__table__
    ids: dict[str, int] = {}
    if session.get_bind().dialect.name == "postgresql":
        # one array parameter: psycopg prepares a statement run five times, and the generic
        # plan of a 900-parameter IN list scanned the whole table (0.5 s a batch at 180,000
        # orders; the demo's 346,800 orders took over an hour); = ANY(array) keeps the index
        query = sa.select(table.c.order_no, table.c.id).where(table.c.order_no == sa.any_(_NOS))
        for start in range(0, len(numbers), 5_000):
            ids.update(session.execute(query, {"nos": numbers[start : start + 5_000]}).all())
        return ids
    for start in range(0, len(numbers), 900):  # stay under SQLite's bound-parameter limit
        chunk = numbers[start : start + 900]
        ids.update(
            session.execute(
                sa.select(table.c.order_no, table.c.id).where(table.c.order_no.in_(chunk))
            ).all()
        )
    return ids


def _add_delta(
    acc: dict, tenant: str, day: dt.date, channel: str, keys: dict, amount_fen: int, orders: int
) -> None:
    key = (
        tenant,
        day,
        channel,
        keys["campaign_id"],
        keys["leader_id"],
        keys["session_id"],
        keys["pickup_point"],
    )
    a, o = acc.get(key, (0, 0))
    acc[key] = (a + amount_fen, o + orders)


def _write_deltas(
    session: Session, acc: dict, places: dict[str, tuple[str, str]] | None = None
) -> None:
    places = {} if places is None else places
    rows = []
    for (t, d, ch, c, ld, s, p), (a, o) in acc.items():
        if not (a or o):
            continue
        place = places.get(t)
        if place is None:
            place = places[t] = (province_of(t), city_of(t))
        rows.append(
            {
                "tenant_code": t,
                "day": d,
                "channel": ch,
                "campaign_id": c,
                "leader_id": ld,
                "session_id": s,
                "pickup_point": p,
                "province_code": place[0],
                "city_code": place[1],
                "amount_fen": a,
                "orders": o,
            }
        )
    if rows:
        _insert(session, PendingDelta, rows)


def ingest_events(
    session: Session, items: Iterable[tuple[int, EventIn]], *, write: bool = True
) -> list[dict]:
    """Apply refunds and cancellations; report ``applied``/``duplicate``/``unchanged`` per row.

    Refunds are idempotent on ``refund_no``; cancelling a cancelled order is ``unchanged``. A
    refund larger than what is left, or of a cancelled order, fails the batch naming the row.
    The caller commits. ``write=False`` only checks (raises as above, writes nothing); the items
    may then also hold the readable part of rows that failed their shape check
    (``complete=False``, in row order): their order number is checked, and a refund or cancel
    that could be read is applied to the order as it stands, as it will be once fixed.
    """
    items = list(items)
    _only_checked(items, write)
    orders, known_refunds = _event_targets(session, items)
    states = {no: OrderState(o.amount, o.refunded, o.cancelled) for no, o in orders.items()}
    start = dict(states)
    report, refunds = _apply_events(items, orders, known_refunds, states)
    if not write:
        return []
    _write_events(session, orders, start, states, refunds)
    return sorted(report, key=lambda r: r["row"])


def _event_targets(
    session: Session, items: list[tuple[int, EventIn]]
) -> tuple[dict[str, Order], set[str]]:
    """The orders the events name (within the caller's scope) and which of their refund
    numbers are already stored."""
    numbers = {e.order_no for _, e in items if e.order_no is not None}
    orders = (
        {
            o.order_no: o
            for o in session.exec(select(Order).where(Order.order_no.in_(numbers))).all()
        }
        if numbers
        else {}
    )
    refund_numbers = {e.refund_no for _, e in items if e.refund_no}
    known_refunds = (
        set(
            session.exec(select(Refund.refund_no).where(Refund.refund_no.in_(refund_numbers))).all()
        )
        if refund_numbers
        else set()
    )
    return orders, known_refunds


def _apply_events(
    items: list[tuple[int, EventIn]],
    orders: dict[str, Order],
    known_refunds: set[str],
    states: dict[str, OrderState],
) -> tuple[list[dict], list[tuple[EventIn, Order]]]:
    """Each event applied in row order to ``states`` (the orders' refunded/cancelled state):
    the per-row report and the new refunds; any row that cannot apply fails the batch (422)
    with every such row named."""
    errors: list[dict] = []
    report: list[dict] = []
    refunds: list[tuple[EventIn, Order]] = []
    for row, ev in items:
        if ev.order_no is None:  # its shape error says so
            continue
        if ev.order_no not in orders:
            errors.append(
                {
                    "row": row,
                    "errors": [
                        {
                            "row": row,
                            "field": "order_no",
                            "message": "unknown order (or outside your scope)",
                        }
                    ],
                }
            )
            continue
        if ev.kind == "refund" and ev.refund_no in known_refunds:
            report.append({"row": row, "order_no": ev.order_no, "status": "duplicate"})
            continue
        if ev.kind not in ("refund", "cancel") or (ev.kind == "refund" and ev.amount is None):
            continue  # a row whose shape errors leave nothing to apply
        before = states[ev.order_no]
        try:
            after = (
                apply_refund(before, ev.amount, order_no=ev.order_no)
                if ev.kind == "refund"
                else apply_cancel(before)
            )
        except PostalOpsError as exc:  # refund too large, or of a cancelled order
            errors.append(
                {
                    "row": row,
                    "errors": [{"row": row, **d, "message": exc.message} for d in exc.details],
                }
            )
            continue
        states[ev.order_no] = after
        if ev.kind == "refund":
            known_refunds.add(ev.refund_no)
            refunds.append((ev, orders[ev.order_no]))
        report.append(
            {
                "row": row,
                "order_no": ev.order_no,
                "status": "applied" if after != before else "unchanged",
            }
        )
    _fail(errors)
    return report, refunds


def _write_events(
    session: Session,
    orders: dict[str, Order],
    start: dict[str, OrderState],
    states: dict[str, OrderState],
    refunds: list[tuple[EventIn, Order]],
) -> None:
    """Store the orders' new state, the refunds, and the figures' deltas."""
    deltas: dict = {}
    for no, after in states.items():
        if after == start[no]:
            continue
        o = orders[no]
        d = delta(start[no], after)
        keys = {
            "campaign_id": o.campaign_id,
            "leader_id": o.leader_id,
            "session_id": o.session_id,
            "pickup_point": o.pickup_point,
        }
        _add_delta(deltas, o.tenant_code, o.day, o.channel, keys, fen(d.amount), d.orders)
        o.refunded, o.cancelled, o.net_fen = after.refunded, after.cancelled, fen(after.net)
        session.add(o)
    if refunds:
        _insert(
            session,
            Refund,
            [
                {
                    "tenant_code": o.tenant_code,
                    "refund_no": ev.refund_no,
                    "order_id": o.id,
                    "amount": ev.amount,
                    "at": ev.at,
                }
                for ev, o in refunds
            ],
        )
    session.flush()
    _write_deltas(session, deltas)
