"""Payroll runs (工资核算): one unit, one month, every courier below the unit priced.

The run never reads events. Ingest keeps per-courier tallies of the month (items by category,
mode and tier; postage by category) in the transaction that stores the events, so a run reads
some twenty rows per courier whatever the event count. On PostgreSQL the whole pricing is a
few set-based statements inside the database (``pricing_sql.py``); on SQLite the pure pricing
of ``payslip.py`` prices courier by courier. ``payslip.py`` states the rules; the tests hold
both paths to the same hand-computed slips. Memory grows with couriers, never with events.

A draft is replaced by a re-run (same input, same totals). Approval (``payroll.approve``,
audited; maker-checker: not by whoever ran the last draft, unless the unit turned that control
off, ``controls.py``) locks the month: events, adjustments, re-runs and new rate-card versions for it are
refused until someone holding ``payroll.reopen`` reopens it with a reason.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any, NamedTuple

from postalops import audit
from postalops.db import check_in_scope, in_scope_clause, utcnow
from postalops.errors import Conflict, NotFound, ValidationError
from postalops.money import FEN, money_value, sum_money
from postalops.tenancy import ancestors
from sqlmodel import Session, delete, func, select

from .controls import check_maker_checker
from .dimensions import Category
from .models import (
    PayrollAdjustment,
    PayrollCollectionTally,
    PayrollContractTerm,
    PayrollCourier,
    PayrollDeliveryTally,
    PayrollMonth,
    PayrollPayslip,
    PayrollRun,
    lines_as_json,
)
from .net import compute_net, rates_by_station, summarise_net
from .payslip import (
    OUTSOURCED,
    Adjustment,
    CourierMonth,
    Payslip,
    TermCount,
    cell_of,
    line_identity,
    line_positions,
    price_outsourced_courier,
    price_own_courier,
)
from .period import Month, ensure_month_open
from .pricing_sql import price_in_database
from .rate_card import RateCard
from .rate_card_store import CardResolver, locked_in_subtree
from .run_inputs import ensure_not_stale, run_inputs

# An exact zero starts the sums: an empty one reads 0, as the API and KPIs have always shown
# it (the core's ZERO is 0.00).
NIL = Decimal(0)

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


class CourierRow(NamedTuple):
    id: int
    code: str
    tenant_code: str
    kind: str
    grade: str | None
    base_pay: Decimal | None
    contractor_id: int | None
    active: bool


class Slated(NamedTuple):
    """A courier the run writes a slip for, with what prices them."""

    courier: CourierRow
    card: RateCard | None  # own staff
    term: PayrollContractTerm | None  # outsourced


def check_can_run(session: Session, unit: str, month: Month) -> PayrollRun | None:
    """Refuse a run that cannot start: the unit outside the caller's scope (403), the month
    approved at the unit, above or below it (409 ``month_locked``), a run of the month at
    another level (409 ``overlapping_run``). Returns the unit's existing draft, if any.

    ``POST /runs`` calls it before submitting the job, so a refused run answers at once
    instead of a 202 and a failed job; the job calls it again (the state may have changed).
    """
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
    return run


def run_payroll(
    session: Session,
    unit: str,
    month: Month,
    actor: str,
    *,
    job_id: str | None = None,
    progress: Progress | None = None,
) -> PayrollRun:
    """Compute (or recompute) the draft payroll of ``unit`` for ``month``; idempotent.

    Every courier with delivered items in the month, and every active courier, gets a slip.
    The month's work is read from the tallies ingest keeps. On PostgreSQL the slips and lines
    are priced by SQL inside the database (``pricing_sql``); elsewhere by ``payslip.py``, row by
    row. Both apply the same rules and give the same slips (tested on both backends).
    """
    run = check_can_run(session, unit, month)
    key = month_key(month)

    report = progress or (lambda done, total, message: None)
    couriers = _couriers(session, unit)
    # Taken before pricing: whatever is stored while the run prices makes the draft stale.
    inputs = run_inputs(session, unit, month, couriers)
    report(0, len(couriers), "reading the month's tallies")
    slated = _slate(session, unit, key, month, couriers)
    in_database = session.get_bind().dialect.name == "postgresql"
    priced: list[tuple] = []
    if not in_database:
        priced = _price_in_python(session, unit, key, slated, report)
    # Only now write: reading holds no write lock, so the job's progress records (committed on
    # their own connection) never wait on this transaction, even on SQLite. From here on only
    # PostgreSQL, whose writers do not block the job table, reports progress.
    if not in_database:  # PostgreSQL reports its own stages (price_in_database)
        report(len(slated), len(slated), "writing payslips")
    if run is None:
        run = PayrollRun(tenant_code=unit, month=key)
        session.add(run)
        session.flush()
    else:
        # No session synchronisation: it would fetch the ids of all 20,000 slips of a province
        # run into Python (RETURNING) only to expire objects nobody loaded.
        session.execute(
            delete(PayrollPayslip).where(PayrollPayslip.run_id == run.id),
            execution_options={"synchronize_session": False},
        )

    assert run.id is not None
    net_written = False
    if in_database:
        # The net figures are priced with the slips, in the same statement, where the year's
        # earlier slips allow it (a separate step cost a third of a province run).
        stations = {courier.tenant_code for courier, _, _ in slated if courier.kind == "own"}
        net_written = price_in_database(
            session,
            run_id=run.id,
            unit=unit,
            month=key,
            slated=slated,
            progress=report,
            net_rates=rates_by_station(session, unit, key, stations),
        )
    else:
        _write(session, run.id, priced)
    _summarise(session, run)
    if net_written:
        summarise_net(session, {run.id})
    else:
        compute_net(session, run)  # deductions, income tax and net pay of this month's slips
    run.status = "draft"
    run.job_id = job_id
    run.started_by = actor
    run.computed_at = utcnow()
    run.inputs = inputs
    session.add(run)
    session.flush()
    return run


def _couriers(session: Session, unit: str) -> dict[int, CourierRow]:
    """Every courier of the unit's subtree (columns only, as plain rows: a province has 20,000).

    The unit was checked against the caller's scope; the filter names it, and on PostgreSQL
    row-level security applies to the session's connection.
    """
    columns = [getattr(PayrollCourier, name) for name in CourierRow._fields]
    statement = select(*columns).where(in_scope_clause(PayrollCourier.tenant_code, unit))
    return {row[0]: CourierRow(*row) for row in session.connection().execute(statement)}


def _with_items(session: Session, unit: str, key: int, ids: Sequence[int]) -> set[int]:
    """Which of ``ids`` delivered items in the month (key lookups in the tallies)."""
    tally = PayrollDeliveryTally
    found: set[int] = set()
    for start in range(0, len(ids), BATCH):
        statement = (
            select(tally.courier_id)
            .where(
                tally.courier_id.in_(ids[start : start + BATCH]),  # type: ignore[attr-defined]
                tally.month == key,
                tally.items > 0,
                in_scope_clause(tally.tenant_code, unit),
            )
            .distinct()
        )
        found.update(session.exec(statement))
    return found


def _slate(
    session: Session, unit: str, key: int, month: Month, couriers: dict[int, CourierRow]
) -> list[Slated]:
    """Who gets a slip and what prices them; every courier that cannot be priced is named.

    Every active courier gets a slip. Whether a courier delivered anything this month is asked
    only where it decides: for inactive couriers, and outsourced ones no contract term covers.
    Raises one ``ValidationError`` listing them all, before anything is written.
    """
    resolver = CardResolver(session, unit, month)
    terms = _terms_for(session, month)
    undecided = [
        courier.id
        for courier in couriers.values()
        if not courier.active
        or (courier.kind == OUTSOURCED and terms.get(courier.contractor_id or -1) is None)
    ]
    items = _with_items(session, unit, key, sorted(undecided))
    slated: list[Slated] = []
    problems: list[dict[str, Any]] = []
    for courier_id in sorted(couriers):
        courier = couriers[courier_id]
        if courier_id not in items and not courier.active:
            continue
        if courier.kind == OUTSOURCED:
            term = terms.get(courier.contractor_id or -1)
            if term is None:
                if courier_id in items:
                    problems.append(
                        {
                            "courier": courier.code,
                            "field": "contractor",
                            "message": f"no contract term covers {month}",
                        }
                    )
                continue
            slated.append(Slated(courier, None, term))
            continue
        card = resolver.card_for(courier.tenant_code)
        if card is None:
            problems.append(
                {
                    "courier": courier.code,
                    "field": "rate_card",
                    "message": f"no rate card in force for {courier.tenant_code} in {month}",
                }
            )
            continue
        if courier.grade is None or courier.base_pay is None:
            problems.append(
                {
                    "courier": courier.code,
                    "field": "grade",
                    "message": "own courier without grade or base pay",
                }
            )
            continue
        try:
            card.quota_for(courier.grade)
        except ValidationError as error:
            problems.extend({"courier": courier.code, **detail} for detail in error.details)
            continue
        slated.append(Slated(courier, card, None))
    if problems:
        raise ValidationError(
            f"{len(problems)} courier(s) cannot be priced; nothing was written",
            code="unpriceable_couriers",
            details=problems[:200],
        )
    return slated


def _summarise(session: Session, run: PayrollRun) -> None:
    """The run's totals, summed from the slips just written."""
    slip = PayrollPayslip
    rows = session.exec(
        select(
            slip.kind,
            func.count(),
            func.coalesce(func.sum(slip.delivered_items), 0),
            func.coalesce(func.sum(slip.pickup_point_items), 0),
        )
        .where(slip.run_id == run.id)
        .group_by(slip.kind)
    ).all()
    by_kind = {kind: (int(n), int(items), int(pickup)) for kind, n, items, pickup in rows}
    own, outsourced = by_kind.get("own", (0, 0, 0)), by_kind.get(OUTSOURCED, (0, 0, 0))
    run.couriers = own[0] + outsourced[0]
    run.own_items, run.outsourced_items = own[1], outsourced[1]
    run.pickup_point_items = own[2] + outsourced[2]
    money = _money_sums(session, run.id)
    run.own_total = money.get(("own", "total"), NIL)
    run.agent_fees = money.get(("own", "agent_fees"), NIL)
    run.outsourced_total = money.get((OUTSOURCED, "total"), NIL)
    run.payroll_total = run.own_total + run.outsourced_total
    run.rate_card_versions = sorted(
        v
        for v in session.exec(
            select(slip.rate_card_version)
            .where(slip.run_id == run.id, slip.kind == "own")
            .distinct()
        )
        if v is not None
    )


def _money_sums(session: Session, run_id: int | None) -> dict[tuple[str, str], Decimal]:
    """Exact sums of slip totals and agent fees per kind."""
    slip = PayrollPayslip
    statement = (
        select(slip.kind, sum_money(session, slip.total), sum_money(session, slip.agent_fees))
        .where(slip.run_id == run_id)
        .group_by(slip.kind)
    )
    out: dict[tuple[str, str], Decimal] = {}
    for kind, totals, fees in session.exec(statement):
        out[(kind, "total")] = money_value(session, totals)
        out[(kind, "agent_fees")] = money_value(session, fees)
    return out


def _price_in_python(
    session: Session, unit: str, key: int, slated: list[Slated], report: Progress
) -> list[tuple]:
    """Price each slated courier with ``payslip.py``: the rows of their slips."""
    cells = _cell_counts(session, unit, key)
    postage = _postage(session, unit, key)
    adjustments = _adjustments(session, unit, key)
    slips: list[tuple] = []
    for done, (courier, card, term) in enumerate(slated, start=1):
        mine = cells.get(courier.id, {})
        if term is not None:
            count = sum(mine.values())
            pickup = sum(n for (_, mode, _), n in mine.items() if mode == "pickup_point")
            slip = price_outsourced_courier(
                courier.code,
                [TermCount(term.code, term.unit_price, count, pickup)],
                adjustments.get(courier.id, []),
            )
        else:
            assert card is not None and courier.grade is not None
            assert courier.base_pay is not None
            work = CourierMonth(
                courier_code=courier.code,
                grade=courier.grade,
                base_pay=courier.base_pay,
                deliveries={cell_of(*cell): n for cell, n in mine.items()},
                postage=postage.get(courier.id, {}),
                adjustments=adjustments.get(courier.id, []),
            )
            slip = price_own_courier(work, card)
        _rows(courier, slip, key, slips)
        if done % BATCH == 0:
            report(done, len(slated), f"{done} payslips priced")
    return slips


def _cell_counts(session: Session, unit: str, key: int) -> dict[int, dict]:
    """Per courier: {(category, mode, tier): items}, from the delivery tallies."""
    tally = PayrollDeliveryTally
    statement = (
        select(tally.courier_id, tally.category, tally.mode, tally.tier, func.sum(tally.items))
        .where(tally.month == key, in_scope_clause(tally.tenant_code, unit))
        .group_by(tally.courier_id, tally.category, tally.mode, tally.tier)
    )
    out: dict[int, dict] = defaultdict(dict)
    for courier_id, category, mode, tier, count in session.connection().execute(statement):
        if count:
            out[courier_id][(category, mode, tier)] = int(count)
    return out


def _postage(session: Session, unit: str, key: int) -> dict[int, dict[Category, Decimal]]:
    """Per courier and category: collected postage, from the collection tallies (whole fen)."""
    tally = PayrollCollectionTally
    statement = (
        select(tally.courier_id, tally.category, func.sum(tally.postage_fen))
        .where(tally.month == key, in_scope_clause(tally.tenant_code, unit))
        .group_by(tally.courier_id, tally.category)
    )
    out: dict[int, dict[Category, Decimal]] = defaultdict(dict)
    for courier_id, category, fen in session.connection().execute(statement):
        out[courier_id][Category(category)] = (Decimal(int(fen)) / 100).quantize(FEN)
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


SLIP_COLUMNS = (
    "tenant_code",
    "month",
    "courier_id",
    "courier_code",
    "kind",
    "delivered_items",
    "pickup_point_items",
    "quota",
    "collected_postage",
    "quota_completion",
    "quota_band",
    "quota_multiplier",
    "rate_card_version",
    "agent_fees",
    "total",
)


def _rows(courier: CourierRow, slip: Payslip, key: int, slips: list) -> None:
    """Append the slip's row, its lines inside it, as the values SQLite stores (exact text for
    decimals; tuples, not dicts, since a province run holds 20,000 of them)."""
    positions = line_positions(slip.lines)
    lines = lines_as_json(
        (position, line.quantity, line.unit_rate, line.amount, line.rate_card_version)
        for position, line in zip(positions, slip.lines, strict=True)
    )
    notes: dict[str, dict[str, str]] = {}
    for position, line in zip(positions, slip.lines, strict=True):
        if line.contract_term is not None:
            notes[str(position)] = {"contract_term": line.contract_term}
        if line.reason is not None:
            notes[str(position)] = {"reason": line.reason, "author": line.author or ""}
    slips.append(
        (
            courier.tenant_code,
            key,
            courier.id,
            courier.code,
            slip.kind,
            slip.delivered_items,
            slip.pickup_point_items,
            _sqlite_value(slip.quota, True),
            _sqlite_value(slip.collected_postage, True),
            _sqlite_value(slip.quota_completion, False),
            slip.quota_band,
            _sqlite_value(slip.quota_multiplier, False),
            slip.rate_card_version,
            _sqlite_value(slip.agent_fees, True),
            _sqlite_value(slip.total, True),
            json.dumps(lines),
            json.dumps(notes) if notes else None,
        )
    )


def _write(session: Session, run_id: int | None, slips: list) -> None:
    """Write the run's slips, lines inside them, with one ``executemany`` (the SQLite path).

    Every row's unit is a courier's, read through the caller's scoped session, and each
    distinct unit is re-checked against the scope before anything is written.
    """
    for unit in {row[0] for row in slips}:
        check_in_scope(session, unit)
    if not slips:
        return
    names = ", ".join((*SLIP_COLUMNS, "lines", "line_notes", "run_id"))
    marks = ", ".join("?" for _ in range(len(SLIP_COLUMNS) + 3))
    session.connection().connection.driver_connection.executemany(
        f"INSERT INTO {PayrollPayslip.__tablename__} ({names}) VALUES ({marks})",
        (row + (run_id,) for row in slips),
    )


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


def draft_covering(session: Session, unit: str, key: int) -> PayrollRun | None:
    """The draft run of month ``key`` that prices ``unit``'s couriers (a run at the unit or an
    ancestor), when the caller can see it; None otherwise."""
    return session.exec(
        select(PayrollRun).where(
            PayrollRun.month == key,
            PayrollRun.status == "draft",
            PayrollRun.tenant_code.in_(ancestors(unit)),  # type: ignore[union-attr]
        )
    ).first()


def approve(session: Session, unit: str, month: Month, actor: str) -> PayrollRun:
    """Approve the draft and lock the month (audited). Where the unit's maker-checker control
    is on (the default), whoever ran the last draft may not approve it (403); a draft whose
    inputs changed since its run (a scan, an adjustment, a courier, a card) is refused with
    409 ``draft_stale`` naming each change (``run_inputs.py``)."""
    run = get_run(session, unit, month)
    if run.status != "draft":
        raise Conflict(f"run {unit} {month} is already {run.status}", code="run_not_draft")
    check_maker_checker(session, unit, run.started_by, actor)
    ensure_not_stale(session, run)
    row = _month_row(session, unit, run.month) or PayrollMonth(tenant_code=unit, month=run.month)
    before = {"status": run.status, "locked": row.locked}
    # The month's net figures as they stand now, and the year's later months of the same
    # couriers: a reopened month approved again changes their cumulative tax.
    following = compute_net(session, run, following=True)
    run.net_notice = (
        None
        if not following
        else {
            "months": [str(Month(m // 100, m % 100)) for m in following],
            "at": utcnow().isoformat(timespec="seconds"),
            "by": actor,
        }
    )
    run.status = "approved"
    row.locked, row.approved_by, row.approved_at = True, actor, utcnow()
    session.add_all([run, row])
    audit.record(
        "payroll.approve",
        target_type="payroll_run",
        target_id=f"{unit}#{month}",
        tenant=unit,
        before=before,
        after={
            "status": "approved",
            "locked": True,
            "payroll_total": run.payroll_total,
            "net_total": run.net_total,
        },
        session=session,
        actor=actor,
    )
    if following:
        audit.record(
            "payroll.net.recomputed",
            target_type="payroll_run",
            target_id=f"{unit}#{month}",
            tenant=unit,
            after=run.net_notice,
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


class SlipLine(NamedTuple):
    """A line of a stored slip, as the API and the exports show it."""

    position: int
    kind: str
    category: str | None
    mode: str | None
    tier: str | None
    volume_tier: int | None
    quantity: Decimal
    unit_rate: Decimal
    amount: Decimal
    rate_card_version: int | None
    contract_term: str | None
    reason: str | None
    author: str | None


def payslip_lines(slip: PayrollPayslip) -> list[SlipLine]:
    """The slip's lines in slip order, read back from the numbers stored with it."""
    notes = slip.line_notes or {}
    out = []
    for position, quantity, unit_rate, amount, version in sorted(slip.lines):
        identity = line_identity(position, slip.kind)
        note = notes.get(str(position), {})
        out.append(
            SlipLine(
                position,
                *identity,
                quantity,
                unit_rate,
                amount,
                version,
                note.get("contract_term"),
                note.get("reason"),
                note.get("author"),
            )
        )
    return out
