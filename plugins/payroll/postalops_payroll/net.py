"""Net pay in the database: statutory rates per unit, and each slip's deductions, income tax
and net pay computed by the rules of ``net_pay.py``.

* ``publish_rates`` stores a version of a unit's rates (``payroll.manage``, audited), refused
  with 422 naming each field, or 409 ``month_locked`` when it would take effect in an approved
  month (a closed month never changes).
* ``compute_net(session, run)`` fills the run's slips: the rates in force at the slip's station
  (the nearest unit above it with a version effective on or before the month's 1st), the
  courier's special additional deduction, and the year's earlier slips of the same courier for
  the cumulative figures. A run calls it for its own month on SQLite (on PostgreSQL the pricing
  statement writes the same figures, ``pricing_sql._insert_slips_with_net``, unless an earlier
  slip of the year has none); approval calls it with ``following=True``, which also recomputes
  the later months of the year (a reopened month approved again changes their cumulative tax)
  and returns which months changed.
* ``rates_by_station`` and ``annual_tax_sql`` give that statement the rates in force and the
  annual table.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import Any

from postalops import audit
from postalops.db import check_in_scope, in_scope_clause, utcnow
from postalops.errors import Conflict, PostalOpsError, ValidationError
from postalops.money import money_value, parse_decimal, sum_money
from postalops.tenancy import ancestors
from sqlmodel import Session, select, update

from .models import (
    PayrollCourier,
    PayrollDeductionRate,
    PayrollMonth,
    PayrollPayslip,
    PayrollRun,
)
from .net_pay import (
    BASIC_DEDUCTION,
    RATE_FIELDS,
    TAX_TABLE,
    DeductionRates,
    MonthIn,
    RateProblem,
    check_rates,
    net_pay,
    rates_in_force,
    statutory_deductions,
    withhold_year,
)
from .period import Month
from .rate_card_store import reading_above, split_by_scope

# An exact zero starts the sums: an empty one reads 0, as the API and KPIs have always shown
# it (the core's ZERO is 0.00).
NIL = Decimal(0)

NET_COLUMNS = (
    "contribution_base",
    "pension",
    "medical",
    "unemployment",
    "housing_fund",
    "employer_costs",
    "special_deduction",
    "ytd_taxable",
    "ytd_tax",
    "income_tax",
    "net_pay",
)


def to_rates(row: PayrollDeductionRate) -> DeductionRates:
    return DeductionRates(
        row.effective_from,
        *(Decimal(getattr(row, name)) for name in RATE_FIELDS),
        row.base_floor,
        row.base_ceiling,
    )


def rates_dict(row: PayrollDeductionRate) -> dict[str, Any]:
    """A stored version as the API shows it (fractions and yuan as strings)."""
    return {
        "id": row.id,
        "unit": row.tenant_code,
        "effective_from": row.effective_from,
        **{name: getattr(row, name) for name in RATE_FIELDS},
        "base_floor": row.base_floor,
        "base_ceiling": row.base_ceiling,
        "created_by": row.created_by,
        "created_at": row.created_at,
    }


def publish_rates(
    session: Session, unit: str, rates: DeductionRates, actor: str
) -> PayrollDeductionRate:
    """Store a version of ``unit``'s statutory rates (audited); replaces a version with the
    same ``effective_from`` unless that month is approved."""
    check_in_scope(session, unit)
    try:
        check_rates(rates)
    except RateProblem as problem:
        raise ValidationError(
            f"invalid deduction rates: {problem}",
            code="invalid_deduction_rates",
            details=problem.problems,
        ) from None
    first = rates.effective_from.year * 100 + rates.effective_from.month

    def closed(reader: Session, where: Any) -> list[int]:
        return list(
            reader.exec(
                select(PayrollMonth.month).where(
                    PayrollMonth.locked.is_(True),  # type: ignore[attr-defined]
                    PayrollMonth.month >= first,
                    where,
                )
            ).all()
        )

    months = closed(session, in_scope_clause(PayrollMonth.tenant_code, unit))
    _, above = split_by_scope(session, ancestors(unit))
    if above:
        with reading_above(session) as reader:
            months += closed(reader, PayrollMonth.tenant_code.in_(above))  # type: ignore[union-attr]
    if months:
        shown = sorted({str(Month(m // 100, m % 100)) for m in months})
        raise Conflict(
            f"effective_from {rates.effective_from} falls in approved month(s) {', '.join(shown)}",
            code="month_locked",
            details=[
                {"field": "effective_from", "message": "month already approved", "value": m}
                for m in shown
            ],
        )
    row = session.exec(
        select(PayrollDeductionRate).where(
            PayrollDeductionRate.tenant_code == unit,
            PayrollDeductionRate.effective_from == rates.effective_from,
        )
    ).first()
    before = None if row is None else _audit_values(row)
    row = row or PayrollDeductionRate(tenant_code=unit, effective_from=rates.effective_from)
    for name in RATE_FIELDS:
        setattr(row, name, getattr(rates, name))
    row.base_floor, row.base_ceiling = rates.base_floor, rates.base_ceiling
    row.created_by, row.created_at = actor, utcnow()
    session.add(row)
    session.flush()
    audit.record(
        "payroll.deduction_rates.save",
        target_type="payroll_deduction_rate",
        target_id=f"{unit}@{rates.effective_from}",
        tenant=unit,
        before=before,
        after=_audit_values(row),
        session=session,
        actor=actor,
    )
    return row


def _audit_values(row: PayrollDeductionRate) -> dict[str, Any]:
    return {
        "effective_from": str(row.effective_from),
        **{name: str(getattr(row, name)) for name in RATE_FIELDS},
        "base_floor": str(row.base_floor),
        "base_ceiling": str(row.base_ceiling),
    }


class RatesResolver:
    """The rates in force for any station of a unit: nearest unit above it with a version."""

    def __init__(self, session: Session, unit: str) -> None:
        self._by_unit: dict[str, list[DeductionRates]] = defaultdict(list)

        def load(reader: Session, where: Any) -> None:
            for row in reader.exec(select(PayrollDeductionRate).where(where)):
                self._by_unit[row.tenant_code or ""].append(to_rates(row))

        load(session, in_scope_clause(PayrollDeductionRate.tenant_code, unit))
        _, above = split_by_scope(session, ancestors(unit))
        if above:
            with reading_above(session) as reader:
                load(reader, PayrollDeductionRate.tenant_code.in_(above))  # type: ignore[union-attr]
        self._cache: dict[tuple[str, int], DeductionRates | None] = {}

    def rates_for(self, unit: str, key: int) -> DeductionRates | None:
        if (unit, key) not in self._cache:
            found = None
            first = dt.date(key // 100, key % 100, 1)
            for code in ancestors(unit):
                if code in self._by_unit:
                    found = rates_in_force(self._by_unit[code], first)
                    if found is not None:
                        break
            self._cache[(unit, key)] = found
        return self._cache[(unit, key)]


def rates_by_station(
    session: Session, unit: str, key: int, stations: set[str]
) -> list[tuple[Any, ...]]:
    """``(station, *shares, base_floor, base_ceiling)`` of the rates in force in month ``key``
    at each of ``stations`` that has any: what the run's SQL (``pricing_sql``) prices with."""
    resolver = RatesResolver(session, unit)
    rows = []
    for station in sorted(stations):
        rates = resolver.rates_for(station, key)
        if rates is not None:
            shares = (getattr(rates, name) for name in RATE_FIELDS)
            rows.append((station, *shares, rates.base_floor, rates.base_ceiling))
    return rows


def annual_tax_sql(taxable: str) -> str:
    """``net_pay.annual_tax`` as a SQL expression of the numeric expression ``taxable`` (the
    same table; ``round(x, 2)`` is ``ROUND_HALF_UP`` for the positive amounts it rounds)."""
    cases = [f"WHEN {taxable} <= 0 THEN 0"]
    for upper, rate, quick in TAX_TABLE:
        amount = f"round({taxable} * {rate} - {quick}, 2)"
        cases.append(
            f"ELSE {amount}" if upper is None else f"WHEN {taxable} <= {upper} THEN {amount}"
        )
    return f"(CASE {' '.join(cases)} END)"


BASIC_DEDUCTION_SQL = str(BASIC_DEDUCTION)


def compute_net(session: Session, run: PayrollRun, *, following: bool = False) -> list[int]:
    """Fill the net figures of ``run``'s slips (and, with ``following``, of the same couriers'
    later slips this year); returns the later months whose figures changed."""
    key, year = run.month, run.month // 100
    resolver = RatesResolver(session, run.tenant_code or "")
    in_run = select(PayrollPayslip.courier_id).where(PayrollPayslip.run_id == run.id)
    slip = PayrollPayslip
    rows = session.exec(
        select(
            slip.id,
            slip.run_id,
            slip.courier_id,
            slip.month,
            slip.kind,
            slip.tenant_code,
            slip.total,
            *(getattr(slip, name) for name in NET_COLUMNS),
        )
        .where(
            slip.courier_id.in_(in_run),  # type: ignore[attr-defined]
            slip.month >= year * 100 + 1,
            slip.month <= year * 100 + 12,
        )
        .order_by(slip.courier_id, slip.month)
    ).all()
    specials = dict(
        session.exec(
            select(PayrollCourier.id, PayrollCourier.special_deduction).where(
                PayrollCourier.id.in_(in_run)  # type: ignore[union-attr]
            )
        ).all()
    )
    by_courier: dict[int, list[Any]] = defaultdict(list)
    for row in rows:
        by_courier[row.courier_id].append(row)
    updates: list[dict[str, Any]] = []
    changed_months: set[int] = set()
    touched: set[int] = {run.id} if run.id is not None else set()
    last = 12 + year * 100 if following else key
    for courier_id, slips in by_courier.items():
        # Earlier months keep what they stored; a month stored before net pay existed (null)
        # is computed on the way and stored too.
        recompute_from = min([key] + [r.month for r in slips if r.net_pay is None])
        months, computed = [], []
        for row in slips:
            redo = recompute_from <= row.month <= last
            if row.kind == "outsourced":
                deductions = statutory_deductions(row.total, None, outsourced=True)
                special = NIL
            elif redo:
                deductions = statutory_deductions(
                    row.total, resolver.rates_for(row.tenant_code, row.month)
                )
                special = specials.get(courier_id) or NIL
            else:
                deductions = None
                special = row.special_deduction or NIL
            employee = (
                deductions.employee
                if deductions is not None
                else sum((row.pension, row.medical, row.unemployment, row.housing_fund), NIL)
            )
            # Only own-staff months count for the tax year (an outsourced month is not
            # this employer's wage and brings no 5,000 basic deduction).
            if row.kind != "outsourced":
                months.append(MonthIn(row.total, employee, special))
            computed.append((row, redo, deductions, special))
        taxes = iter(withhold_year(months))
        for row, redo, deductions, special in computed:
            tax = None if row.kind == "outsourced" else next(taxes)
            if not redo or deductions is None:
                continue
            income_tax = NIL if tax is None else tax.tax
            values = {
                "contribution_base": deductions.base,
                "pension": deductions.pension,
                "medical": deductions.medical,
                "unemployment": deductions.unemployment,
                "housing_fund": deductions.housing_fund,
                "employer_costs": deductions.employer,
                "special_deduction": special,
                "ytd_taxable": NIL if tax is None else tax.ytd_taxable,
                "ytd_tax": NIL if tax is None else tax.ytd_tax,
                "income_tax": income_tax,
                "net_pay": net_pay(row.total, deductions, income_tax),
            }
            if row.net_pay is not None and all(
                getattr(row, name) == values[name] for name in NET_COLUMNS
            ):
                continue
            if row.month > key and row.net_pay is not None:
                changed_months.add(row.month)
            updates.append({"id": row.id, **values})
            touched.add(row.run_id)
    _write(session, updates)
    summarise_net(session, touched)
    return sorted(changed_months)


COPY_ABOVE = 200  # slips; fewer are updated by primary key through the ORM


def _write(session: Session, updates: list[dict[str, Any]]) -> None:
    """Store the computed figures. On PostgreSQL a province run's 20,000 slips are copied into
    a temporary table and written by one ``UPDATE … FROM`` (an ``executemany`` of 20,000
    updates took 9 s of a 1 s run); elsewhere, or for a few slips, by primary key."""
    if not updates:
        return
    if session.get_bind().dialect.name != "postgresql" or len(updates) < COPY_ABOVE:
        session.execute(update(PayrollPayslip), updates)
        return
    session.flush()
    columns = ", ".join(f"{name} numeric(18, 2)" for name in NET_COLUMNS)
    assignments = ", ".join(f"{name} = n.{name}" for name in NET_COLUMNS)
    driver = session.connection().connection.driver_connection
    with driver.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS pr_net")
        cursor.execute(
            f"CREATE TEMP TABLE pr_net (id bigint PRIMARY KEY, {columns}) ON COMMIT DROP"
        )
        with cursor.copy(f"COPY pr_net (id, {', '.join(NET_COLUMNS)}) FROM STDIN") as copy:
            for row in updates:
                copy.write_row((row["id"], *(row[name] for name in NET_COLUMNS)))
        # The caller's row-level security still applies to payroll_payslip.
        cursor.execute(
            f"UPDATE payroll_payslip AS p SET {assignments} FROM pr_net AS n WHERE p.id = n.id"
        )
        cursor.execute("DROP TABLE pr_net")
    session.expire_all()  # slips loaded in this session carry the old figures


def summarise_net(session: Session, run_ids: set[int]) -> None:
    """The net totals of ``run_ids``, summed from their own-staff slips."""
    slip = PayrollPayslip
    columns = ("pension", "medical", "unemployment", "housing_fund", "employer_costs")
    sums = session.exec(
        select(
            slip.run_id,
            *(sum_money(session, getattr(slip, name)) for name in columns),
            sum_money(session, slip.income_tax),
            sum_money(session, slip.net_pay),
        )
        .where(slip.run_id.in_(sorted(run_ids)), slip.kind == "own")  # type: ignore[attr-defined]
        .group_by(slip.run_id)
    ).all()
    found = set()
    for run_id, *values in sums:
        run = session.get(PayrollRun, run_id)
        if run is None:
            continue
        found.add(run_id)
        amounts = [money_value(session, v) for v in values]
        run.deductions_total = sum(amounts[:4], NIL)
        run.employer_total, run.income_tax_total, run.net_total = amounts[4:]
        session.add(run)
    for run_id in run_ids - found:  # a run without own staff
        run = session.get(PayrollRun, run_id)
        if run is not None:
            run.deductions_total = run.employer_total = run.income_tax_total = NIL
            run.net_total = NIL
            session.add(run)
    session.flush()


def rates_from_payload(data: dict[str, Any]) -> DeductionRates:
    """Read a rates version from JSON or a form (strings or numbers); every bad field named in
    one 422 ``invalid_deduction_rates``."""
    problems: list[dict[str, str]] = []
    values: dict[str, Any] = {}
    for name in (*RATE_FIELDS, "base_floor", "base_ceiling"):
        try:
            values[name] = parse_decimal(data.get(name), name)
        except PostalOpsError as error:
            problems.extend(error.details or [{"field": name, "message": error.message}])
            values[name] = NIL
    raw = data.get("effective_from")
    try:
        values["effective_from"] = dt.date.fromisoformat(str(raw))
    except (TypeError, ValueError):
        problems.append({"field": "effective_from", "message": "a date, e.g. 2022-01-01"})
        values["effective_from"] = dt.date(2000, 1, 1)
    for name in ("base_floor", "base_ceiling"):
        if values[name] != values[name].quantize(Decimal("0.01")):
            problems.append({"field": name, "message": "whole fen only (two decimals)"})
    rates = DeductionRates(
        values["effective_from"],
        *(values[name] for name in RATE_FIELDS),
        values["base_floor"],
        values["base_ceiling"],
    )
    try:
        check_rates(rates)
    except RateProblem as problem:
        named = {p["field"] for p in problems}
        problems.extend(p for p in problem.problems if p["field"] not in named)
    if problems:
        raise ValidationError(
            f"{len(problems)} problem(s) in the deduction rates; nothing was saved",
            code="invalid_deduction_rates",
            details=problems,
        )
    return rates
