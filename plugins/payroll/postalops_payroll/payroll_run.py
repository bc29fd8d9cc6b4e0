"""Payroll runs (工资核算): one unit, one month, every courier below the unit priced.

The run never loads events into Python. Two SQL ``GROUP BY`` queries reduce the month's events
to per-courier counts (by category, mode and tier) and postage sums (by category); the pure
pricing in ``payslip.py`` turns those into lines, and slips and lines are written in batches.
Memory therefore grows with the number of couriers, not with the number of events.

A draft is replaced by a re-run (same input, same totals). Approval (``payroll.approve``,
audited) locks the month: events, adjustments, re-runs and new rate-card versions for it are
refused until someone holding ``payroll.reopen`` reopens it with a reason.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from postalops import audit
from postalops.db import Money, check_in_scope, in_scope_clause, utcnow
from postalops.errors import Conflict, NotFound, ValidationError
from postalops.tenancy import ancestors
from sqlmodel import Session, delete, func, select

from .dimensions import Category
from .models import (
    PayrollAdjustment,
    PayrollCollection,
    PayrollContractTerm,
    PayrollCourier,
    PayrollDelivery,
    PayrollMonth,
    PayrollPayLine,
    PayrollPayslip,
    PayrollRun,
)
from .money import FEN, ZERO
from .payslip import (
    OUTSOURCED,
    Adjustment,
    CourierMonth,
    Payslip,
    TermCount,
    cell_of,
    price_outsourced_courier,
    price_own_courier,
)
from .period import Month, ensure_month_open
from .rate_card_store import CardResolver, locked_in_subtree

Progress = Callable[[int, int, str], None]
BATCH = 1000


def month_key(month: Month) -> int:
    return month.year * 100 + month.month


def _month_row(session: Session, unit: str, key: int) -> PayrollMonth | None:
    return session.exec(
        select(PayrollMonth).where(PayrollMonth.tenant_code == unit, PayrollMonth.month == key)
    ).first()


def _overlapping_run(session: Session, unit: str, key: int) -> PayrollRun | None:
    """A run of the same month at an ancestor or descendant would count couriers twice."""
    return session.exec(
        select(PayrollRun).where(
            PayrollRun.month == key,
            PayrollRun.tenant_code != unit,
            in_scope_clause(PayrollRun.tenant_code, unit)
            | PayrollRun.tenant_code.in_(ancestors(unit)),  # type: ignore[union-attr]
        )
    ).first()


def run_payroll(
    session: Session,
    unit: str,
    month: Month,
    actor: str,
    *,
    job_id: str | None = None,
    progress: Progress | None = None,
) -> PayrollRun:
    """Compute (or recompute) the draft payroll of ``unit`` for ``month``; idempotent."""
    check_in_scope(session, unit)
    key = month_key(month)
    ensure_month_open(month, locked_in_subtree(session, unit, key), unit=unit)
    other = _overlapping_run(session, unit, key)
    if other is not None:
        raise Conflict(
            f"{month} already has a run at {other.tenant_code}; a month is run at one level",
            code="overlapping_run",
            details=[{"field": "unit", "message": f"run exists at {other.tenant_code}"}],
        )
    run = session.exec(
        select(PayrollRun).where(PayrollRun.tenant_code == unit, PayrollRun.month == key)
    ).first()
    if run is not None and run.status != "draft":
        raise Conflict(f"run {unit} {month} is {run.status}", code="run_not_draft")

    couriers = {
        c.id: c
        for c in session.exec(
            select(PayrollCourier).where(in_scope_clause(PayrollCourier.tenant_code, unit))
        )
    }
    resolver = CardResolver(session, unit, month)
    terms = _terms_for(session, month)
    postage = _postage(session, unit, key)
    adjustments = _adjustments(session, unit, key)
    total = len(couriers)
    report = progress or (lambda done, total, message: None)
    report(0, total, "counting events")

    totals: dict[str, Any] = defaultdict(lambda: ZERO)
    counts: dict[str, int] = defaultdict(int)
    versions: set[int] = set()
    problems: list[dict[str, Any]] = []
    slips: list[dict[str, Any]] = []
    lines: list[dict[str, Any]] = []
    seen: set[int] = set()

    def price(courier: PayrollCourier, cells: dict) -> None:
        slip = _price(
            courier,
            cells,
            resolver,
            terms,
            postage.get(courier.id, {}),
            adjustments.get(courier.id, []),
            month,
            problems,
        )
        if slip is None:
            return
        seen.add(courier.id)
        if slip.rate_card_version is not None:
            versions.add(slip.rate_card_version)
        _rows(courier, slip, key, slips, lines)
        if slip.kind == OUTSOURCED:
            counts["outsourced_items"] += slip.delivered_items
            totals["outsourced_total"] += slip.total
        else:
            counts["own_items"] += slip.delivered_items
            totals["own_total"] += slip.total
            totals["agent_fees"] += slip.agent_fees
        counts["pickup_point_items"] += slip.pickup_point_items
        if len(seen) % BATCH == 0:
            report(len(seen), total, f"{len(seen)} payslips priced")

    for courier_id, cells in _delivery_counts(session, unit, key):
        courier = couriers.get(courier_id)
        if courier is not None:
            price(courier, cells)
    for courier in sorted(couriers.values(), key=lambda c: c.id or 0):
        if courier.id not in seen and courier.active:
            price(courier, {})
    if problems:
        raise ValidationError(
            f"{len(problems)} courier(s) cannot be priced; nothing was written",
            code="unpriceable_couriers",
            details=problems[:200],
        )
    # Only now write: reading and pricing hold no write lock, so the job's progress records
    # (committed on their own connection) never wait on this transaction, even on SQLite.
    report(len(seen), total, "writing payslips")
    if run is None:
        run = PayrollRun(tenant_code=unit, month=key)
        session.add(run)
        session.flush()
    else:
        session.execute(delete(PayrollPayLine).where(PayrollPayLine.run_id == run.id))
        session.execute(delete(PayrollPayslip).where(PayrollPayslip.run_id == run.id))
    _write(session, run.id, slips, lines)
    run.status = "draft"
    run.job_id = job_id
    run.started_by = actor
    run.computed_at = utcnow()
    run.couriers = len(seen)
    run.own_items, run.outsourced_items = counts["own_items"], counts["outsourced_items"]
    run.pickup_point_items = counts["pickup_point_items"]
    run.own_total, run.agent_fees = totals["own_total"], totals["agent_fees"]
    run.outsourced_total = totals["outsourced_total"]
    run.payroll_total = totals["own_total"] + totals["outsourced_total"]
    run.rate_card_versions = sorted(versions)
    session.add(run)
    session.flush()
    return run


def _delivery_counts(session: Session, unit: str, key: int) -> Iterator[tuple[int, dict]]:
    """Per courier: {(category, mode, tier): count}, from one GROUP BY.

    Executed on the session's connection (a Core statement): the unit filter is explicit and
    the unit was checked against the caller's scope, and on PostgreSQL row-level security
    applies. It is not a server-side cursor, so PostgreSQL may aggregate with parallel
    workers; the result holds one row per courier and cell, never one per event.
    """
    statement = (
        select(
            PayrollDelivery.courier_id,
            PayrollDelivery.category,
            PayrollDelivery.mode,
            PayrollDelivery.tier,
            func.count(),
        )
        .where(PayrollDelivery.month == key, in_scope_clause(PayrollDelivery.tenant_code, unit))
        .group_by(
            PayrollDelivery.courier_id,
            PayrollDelivery.category,
            PayrollDelivery.mode,
            PayrollDelivery.tier,
        )
        .order_by(PayrollDelivery.courier_id)
    )
    current: int | None = None
    cells: dict = {}
    for courier_id, category, mode, tier, count in session.connection().execute(statement):
        if courier_id != current:
            if current is not None:
                yield current, cells
            current, cells = courier_id, {}
        cells[(category, mode, tier)] = int(count)
    if current is not None:
        yield current, cells


def _postage(session: Session, unit: str, key: int) -> dict[int, dict[Category, Decimal]]:
    """Per courier and category: collected postage, from one GROUP BY.

    SUM over NUMERIC is exact on PostgreSQL; on SQLite (text storage) the sum is taken over the
    integer fen value so no float ever touches money.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        amount = func.sum(
            sa.cast(sa.func.round(sa.cast(PayrollCollection.postage, sa.Numeric) * 100), sa.Integer)
        )
    else:
        amount = func.sum(PayrollCollection.postage)
    statement = (
        select(PayrollCollection.courier_id, PayrollCollection.category, amount)
        .where(PayrollCollection.month == key, in_scope_clause(PayrollCollection.tenant_code, unit))
        .group_by(PayrollCollection.courier_id, PayrollCollection.category)
    )
    out: dict[int, dict[Category, Decimal]] = defaultdict(dict)
    for courier_id, category, total in session.connection().execute(statement):
        value = Decimal(int(total)) / 100 if dialect == "sqlite" else Decimal(str(total))
        out[courier_id][Category(category)] = value.quantize(Decimal("0.01"))
    return out


def _adjustments(session: Session, unit: str, key: int) -> dict[int, list[Adjustment]]:
    out: dict[int, list[Adjustment]] = defaultdict(list)
    for row in session.exec(
        select(PayrollAdjustment)
        .where(PayrollAdjustment.month == key, in_scope_clause(PayrollAdjustment.tenant_code, unit))
        .order_by(PayrollAdjustment.id)
    ):
        out[row.courier_id].append(Adjustment(row.amount, row.reason, row.author))
    return out


def _terms_for(session: Session, month: Month) -> dict[int, PayrollContractTerm]:
    """Contractor id -> the term covering ``month`` (terms are whole months)."""
    rows = session.exec(
        select(PayrollContractTerm).where(
            PayrollContractTerm.start <= month.first_day, PayrollContractTerm.end >= month.last_day
        )
    ).all()
    return {row.contractor_id: row for row in rows}


def _price(
    courier: PayrollCourier,
    cells: dict,
    resolver: CardResolver,
    terms: dict[int, PayrollContractTerm],
    postage: dict[Category, Decimal],
    adjustments: list[Adjustment],
    month: Month,
    problems: list[dict[str, Any]],
) -> Payslip | None:
    if courier.kind == OUTSOURCED:
        term = terms.get(courier.contractor_id or -1)
        items = sum(cells.values())
        if term is None:
            if items:
                problems.append(
                    {
                        "courier": courier.code,
                        "field": "contractor",
                        "message": f"no contract term covers {month}",
                    }
                )
            return None
        pickup = sum(n for (_, mode, _), n in cells.items() if mode == "pickup_point")
        return price_outsourced_courier(
            courier.code, [TermCount(term.code, term.unit_price, items, pickup)], adjustments
        )
    card = resolver.card_for(courier.tenant_code or "")
    if card is None:
        problems.append(
            {
                "courier": courier.code,
                "field": "rate_card",
                "message": f"no rate card in force for {courier.tenant_code} in {month}",
            }
        )
        return None
    if courier.grade is None or courier.base_pay is None:
        problems.append(
            {
                "courier": courier.code,
                "field": "grade",
                "message": "own courier without grade or base pay",
            }
        )
        return None
    work = CourierMonth(
        courier_code=courier.code,
        grade=courier.grade,
        base_pay=courier.base_pay,
        deliveries={cell_of(*cell): n for cell, n in cells.items()},
        postage=postage,
        adjustments=adjustments,
    )
    try:
        return price_own_courier(work, card)
    except ValidationError as error:
        problems.extend({"courier": courier.code, **detail} for detail in error.details)
        return None


def _rows(courier: PayrollCourier, slip: Payslip, key: int, slips: list, lines: list) -> None:
    slips.append(
        {
            "tenant_code": courier.tenant_code,
            "month": key,
            "courier_id": courier.id,
            "courier_code": courier.code,
            "kind": slip.kind,
            "delivered_items": slip.delivered_items,
            "pickup_point_items": slip.pickup_point_items,
            "quota": slip.quota,
            "collected_postage": slip.collected_postage,
            "quota_completion": slip.quota_completion,
            "quota_band": slip.quota_band,
            "quota_multiplier": slip.quota_multiplier,
            "rate_card_version": slip.rate_card_version,
            "agent_fees": slip.agent_fees,
            "total": slip.total,
        }
    )
    for position, line in enumerate(slip.lines):
        lines.append(
            {
                "tenant_code": courier.tenant_code,
                "courier_id": courier.id,
                "position": position,
                "kind": line.kind,
                "category": line.category,
                "mode": line.mode,
                "tier": line.tier,
                "volume_tier": line.volume_tier,
                "quantity": line.quantity,
                "unit_rate": line.unit_rate,
                "amount": line.amount,
                "rate_card_version": line.rate_card_version,
                "contract_term": line.contract_term,
                "reason": line.reason,
                "author": line.author,
            }
        )


def _write(session: Session, run_id: int | None, slips: list, lines: list) -> None:
    """Write the run's slips and lines in bulk: one ``INSERT … SELECT FROM unnest(arrays)`` per
    50,000 rows on PostgreSQL (COPY is refused under row-level security), executemany on SQLite.

    This is the hot path of a province run (hundreds of thousands of lines), so it talks to the
    driver directly. Every row's unit is a courier's, read through the caller's scoped session,
    and each distinct unit is re-checked against the scope first; on PostgreSQL the rows also
    pass the tables' row-level-security policy.
    """
    for unit in {row["tenant_code"] for row in slips}:
        check_in_scope(session, unit)
    connection = session.connection()
    for rows, model in ((slips, PayrollPayslip), (lines, PayrollPayLine)):
        if not rows:
            continue
        names = [*rows[0], "run_id"]
        table = model.__tablename__
        driver = connection.connection.driver_connection
        if connection.dialect.name == "postgresql":
            types = [model.__table__.c[name].type.compile(connection.dialect) for name in names]
            arrays = ", ".join(f"%s::{sql_type}[]" for sql_type in types)
            statement = f"INSERT INTO {table} ({', '.join(names)}) SELECT * FROM unnest({arrays})"
            cursor = driver.cursor()
            for start in range(0, len(rows), 50_000):
                chunk = rows[start : start + 50_000]
                columns = [[row[name] for row in chunk] for name in names[:-1]]
                cursor.execute(statement, [*columns, [run_id] * len(chunk)])
        else:
            money = {c.name for c in model.__table__.columns if isinstance(c.type, Money)}
            values = [
                [_sqlite_value(row[c], c in money) for c in names[:-1]] + [run_id] for row in rows
            ]
            marks = ", ".join("?" for _ in names)
            driver.executemany(f"INSERT INTO {table} ({', '.join(names)}) VALUES ({marks})", values)


def _sqlite_value(value: Any, money: bool) -> Any:
    # The same text the Money/Rate column types store on SQLite (exact decimals, no float).
    if isinstance(value, Decimal):
        return str(value.quantize(FEN)) if money else str(value)
    return value


# --- approval -----------------------------------------------------------------------------------


def get_run(session: Session, unit: str, month: Month) -> PayrollRun:
    run = session.exec(
        select(PayrollRun).where(
            PayrollRun.tenant_code == unit, PayrollRun.month == month_key(month)
        )
    ).first()
    if run is None:
        raise NotFound(
            f"no payroll run for {unit} {month}", details=[{"field": "month", "message": "no run"}]
        )
    return run


def approve(session: Session, unit: str, month: Month, actor: str) -> PayrollRun:
    """Approve the draft and lock the month (audited)."""
    run = get_run(session, unit, month)
    if run.status != "draft":
        raise Conflict(f"run {unit} {month} is already {run.status}", code="run_not_draft")
    row = _month_row(session, unit, run.month) or PayrollMonth(tenant_code=unit, month=run.month)
    before = {"status": run.status, "locked": row.locked}
    run.status = "approved"
    row.locked, row.approved_by, row.approved_at = True, actor, utcnow()
    session.add_all([run, row])
    audit.record(
        "payroll.approve",
        target_type="payroll_run",
        target_id=f"{unit}#{month}",
        tenant=unit,
        before=before,
        after={"status": "approved", "locked": True, "payroll_total": run.payroll_total},
        session=session,
        actor=actor,
    )
    session.flush()
    return run


def reopen(session: Session, unit: str, month: Month, actor: str, reason: str) -> PayrollRun:
    """Unlock an approved month so it can change again; the run goes back to draft (audited)."""
    if not reason or not reason.strip():
        raise ValidationError(
            "a reason is required to reopen a month",
            details=[{"field": "reason", "message": "required"}],
        )
    run = get_run(session, unit, month)
    row = _month_row(session, unit, run.month)
    if run.status != "approved" or row is None or not row.locked:
        raise Conflict(f"{unit} {month} is not approved", code="not_locked")
    row.locked, row.reopened_by, row.reopen_reason = False, actor, reason.strip()
    run.status = "draft"
    session.add_all([run, row])
    audit.record(
        "payroll.reopen",
        target_type="payroll_run",
        target_id=f"{unit}#{month}",
        tenant=unit,
        before={"status": "approved", "locked": True},
        after={"status": "draft", "locked": False, "reason": reason.strip()},
        session=session,
        actor=actor,
    )
    session.flush()
    return run


def add_adjustment(
    session: Session, courier_code: str, month: Month, amount: Decimal, reason: str, actor: str
) -> PayrollAdjustment:
    """A manual amount on a courier's month; refused when the month is locked (audited)."""
    courier = session.exec(
        select(PayrollCourier).where(PayrollCourier.code == courier_code)
    ).first()
    if courier is None:
        raise NotFound(
            f"unknown courier {courier_code!r}",
            details=[{"field": "courier", "message": "unknown courier"}],
        )
    Adjustment(amount, reason, actor)  # validates whole fen, reason and author
    key = month_key(month)
    ensure_month_open(
        month,
        locked_in_subtree(session, courier.tenant_code or "", key),
        unit=courier.tenant_code or "",
    )
    row = PayrollAdjustment(
        tenant_code=courier.tenant_code,
        courier_id=courier.id,
        month=key,
        amount=amount,
        reason=reason.strip(),
        author=actor,
    )
    session.add(row)
    session.flush()
    audit.record(
        "payroll.adjustment",
        target_type="payroll_adjustment",
        target_id=row.id,
        tenant=courier.tenant_code,
        after={"courier": courier_code, "month": str(month), "amount": amount, "reason": reason},
        session=session,
        actor=actor,
    )
    return row


def payslip_lines(session: Session, slip: PayrollPayslip) -> list[PayrollPayLine]:
    return list(
        session.exec(
            select(PayrollPayLine)
            .where(
                PayrollPayLine.run_id == slip.run_id, PayrollPayLine.courier_id == slip.courier_id
            )
            .order_by(PayrollPayLine.position)
        )
    )
