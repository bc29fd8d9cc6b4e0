"""Order and event ingest: validated rows in, orders + pending figure deltas out, idempotently.

A batch is all-or-nothing: any invalid row (bad field, unknown leader/session/branch, a pickup
point the pickup_points plugin does not know) fails the whole batch with every bad row named and
nothing written. A valid batch answers per row: ``created`` or ``duplicate`` (the order number,
or refund number, was already received — a retried push changes nothing).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from decimal import Decimal

import sqlalchemy as sa
from postalops.bulk import insert_rows
from postalops.errors import PostalOpsError, ValidationError
from postalops.models import OrgUnit
from sqlalchemy.dialects import postgresql
from sqlmodel import Session, select

from .models import Campaign, GroupSession, Leader, Order, OrderLine, PendingDelta, Refund
from .money import FEN
from .order_events import OrderState, apply_cancel, apply_refund, delta
from .order_rows import EventIn, OrderIn
from .units import city_of, province_of

PointCheck = Callable[[str, str], bool]
"""``check(branch_code, point_code) -> bool``: is the point known (pickup_points plugin)?"""


def fen(amount: Decimal) -> int:
    return int(amount / FEN)


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
    errors: list[dict] = []
    leader_codes = {o.leader for _, o in items if o.leader}
    session_codes = {o.session for _, o in items if o.session}
    # Only the columns the checks read, as rows: building ORM objects for a batch's thousands
    # of leaders and sessions cost more than the rest of the checks (issue 17 §4).
    leaders = (
        {
            ld.code: ld
            for ld in session.execute(
                select(Leader.code, Leader.id, Leader.tenant_code, Leader.pickup_point).where(
                    Leader.code.in_(leader_codes)
                )
            ).all()
        }
        if leader_codes
        else {}
    )
    sessions = (
        {
            s.code: s
            for s in session.execute(
                select(
                    GroupSession.code,
                    GroupSession.id,
                    GroupSession.leader_id,
                    GroupSession.campaign_id,
                ).where(GroupSession.code.in_(session_codes))
            ).all()
        }
        if session_codes
        else {}
    )
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

    prepared: list[tuple[int, OrderIn, dict]] = []
    seen: set[str] = set()
    report: dict[int, dict] = {}
    for row, order in items:
        row_errors: list[dict] = []
        if order.order_no in seen:
            report[row] = {"row": row, "order_no": order.order_no, "status": "duplicate"}
            continue
        if order.order_no is not None:
            seen.add(order.order_no)
        leader_id = session_id = campaign_id = 0
        branch = None
        point = order.pickup_point or ""
        # A row of unreadable channel is checked for the leader and session it names, if any.
        if order.channel == "groupbuy" or order.channel not in ("retail", "groupbuy"):
            leader = leaders.get(order.leader or "")
            gs = sessions.get(order.session or "")
            if leader is None and order.leader is not None:
                row_errors.append(
                    {"field": "leader", "message": "unknown leader (or outside your scope)"}
                )
            if gs is None and order.session is not None:
                row_errors.append(
                    {"field": "session", "message": "unknown session (or outside your scope)"}
                )
            if leader is not None and gs is not None and gs.leader_id != leader.id:
                row_errors.append(
                    {"field": "session", "message": "session belongs to another leader"}
                )
            if leader is not None:
                branch = leader.tenant_code
                if order.branch and order.branch != branch:
                    row_errors.append(
                        {"field": "branch", "message": f"leader's branch is {branch}"}
                    )
                leader_id = leader.id
                point = point or leader.pickup_point
            if gs is not None:
                session_id, campaign_id = gs.id, gs.campaign_id
                campaign = campaigns.get(gs.campaign_id)
                if order.campaign and campaign and order.campaign != campaign.code:
                    row_errors.append(
                        {"field": "campaign", "message": "differs from the session's campaign"}
                    )
        else:
            branch = order.branch or ""
            if order.branch is not None and branch not in known_units:
                row_errors.append(
                    {"field": "branch", "message": "unknown unit (or outside your scope)"}
                )
            for c in campaigns.values():
                if not (branch == c.owner_code or branch.startswith(c.owner_code + ".")):
                    continue
                if order.campaign:
                    matches = c.code == order.campaign
                else:  # by the day paid, if it could be read
                    matches = order.paid_at is not None and c.starts_on <= order.day <= c.ends_on
                if matches:
                    campaign_id = c.id
                    break
            if order.campaign and not campaign_id:
                row_errors.append(
                    {"field": "campaign", "message": "unknown campaign for this branch"}
                )
        if (
            point
            and branch
            and point_check is not None
            and not row_errors
            and not point_check(branch, point)
        ):
            row_errors.append(
                {"field": "pickup_point", "message": "not an active pickup point of this unit"}
            )
        if row_errors:
            errors.append({"row": row, "errors": [{"row": row, **e} for e in row_errors]})
            continue
        if not order.complete:  # its shape errors are the caller's; nothing to write
            continue
        prepared.append(
            (
                row,
                order,
                {
                    "tenant_code": branch,
                    "leader_id": leader_id,
                    "session_id": session_id,
                    "campaign_id": campaign_id,
                    "pickup_point": point,
                },
            )
        )
    _fail(errors)
    if not write:
        return []

    numbers = [o.order_no for _, o, _ in prepared]
    existing = set(_order_ids(session, numbers))
    rows, line_rows, deltas = [], [], {}
    fresh = []
    for row, order, keys in prepared:
        if order.order_no in existing:
            report[row] = {"row": row, "order_no": order.order_no, "status": "duplicate"}
            continue
        report[row] = {"row": row, "order_no": order.order_no, "status": "created"}
        amount = order.amount
        rows.append(
            {
                **keys,
                "order_no": order.order_no,
                "channel": order.channel,
                "paid_at": order.paid_at,
                "day": order.day,
                "amount": amount,
                "refunded": Decimal("0.00"),
                "cancelled": False,
                "net_fen": fen(amount),
                "province_code": province_of(keys["tenant_code"]),
                "city_code": city_of(keys["tenant_code"]),
            }
        )
        fresh.append((order, keys))
        _add_delta(deltas, keys["tenant_code"], order.day, order.channel, keys, fen(amount), 1)
    if rows:
        # A plain executemany, then the new ids by order number: RETURNING makes SQLAlchemy
        # build multi-row VALUES statements in Python instead of the driver's executemany.
        _insert(session, Order, rows)
        ids = _order_ids(session, [r["order_no"] for r in rows])
        for order, keys in fresh:
            oid = ids[order.order_no]
            for line in order.lines:
                line_rows.append(
                    {
                        "tenant_code": keys["tenant_code"],
                        "order_id": oid,
                        "sku": line.sku,
                        "quantity": line.quantity,
                        "unit_price": line.unit_price,
                        "amount": line.amount,
                    }
                )
        _insert(session, OrderLine, line_rows)
        _write_deltas(session, deltas)
    return [report[r] for r in sorted(report)]


def _order_ids(session: Session, numbers: list[str]) -> dict[str, int]:
    table = Order.__table__
    ids: dict[str, int] = {}
    if session.get_bind().dialect.name == "postgresql":
        # one array parameter: psycopg prepares a statement run five times, and the generic
        # plan of a 900-parameter IN list scanned the whole table (0.5 s a batch at 180,000
        # orders; the demo's 346,800 orders took over an hour); = ANY(array) keeps the index
        nos = sa.bindparam("nos", type_=postgresql.ARRAY(sa.String))
        query = sa.select(table.c.order_no, table.c.id).where(table.c.order_no == sa.any_(nos))
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


def _write_deltas(session: Session, acc: dict) -> None:
    rows = [
        {
            "tenant_code": t,
            "day": d,
            "channel": ch,
            "campaign_id": c,
            "leader_id": ld,
            "session_id": s,
            "pickup_point": p,
            "province_code": province_of(t),
            "city_code": city_of(t),
            "amount_fen": a,
            "orders": o,
        }
        for (t, d, ch, c, ld, s, p), (a, o) in acc.items()
        if a or o
    ]
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
    states = {no: OrderState(o.amount, o.refunded, o.cancelled) for no, o in orders.items()}
    start = dict(states)
    errors, report, refunds, deltas = [], [], [], {}
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
    if not write:
        return []

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
    return sorted(report, key=lambda r: r["row"])
