"""Couriers, contractors and contract terms: imported in bulk, each row reported.

Imports are all-or-nothing like every PostalOps import: when any row is bad the caller gets one
422 naming every bad row and each of its errors, and nothing is written. Errors come in one
pass (the core's ``check_rows`` / ``RowErrors``): a row's shape errors (missing or malformed
cells) and its reference errors (unknown or out-of-scope station, unknown contractor, a code
twice in the file or taken outside the caller's scope, overlapping contract terms, a price
above the city's cap) are reported together, and so are every other row's; a file is never
fixed twice to meet a second stage. A good import reports each row as ``created``,
``updated`` or ``unchanged`` (re-sending a file changes nothing).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Annotated, Any, Literal

from postalops import clock
from postalops.db import in_scope_clause, scope_of
from postalops.errors import PostalOpsError, ValidationError
from postalops.imports import RowErrors, check_rows
from postalops.models import OrgUnit
from postalops.money import parse_decimal
from pydantic import BaseModel, BeforeValidator, ConfigDict, StringConstraints
from pydantic_core import PydanticCustomError
from sqlmodel import Session, select

from .models import PayrollBudget, PayrollContractor, PayrollContractTerm, PayrollCourier
from .outsourcing import ContractTerm
from .payslip import OUTSOURCED, OWN
from .period import Month
from .rate_card_store import CardResolver

Rows = Iterable[tuple[int, Mapping[str, Any]]]


# --- the shape of a row (pydantic, through the core's check_rows) ------------------------------


def _cell_text(value: Any) -> str | None:
    """A cell as text: numbers from a spreadsheet (1001, 1001.0) read as their digits."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def _required(value: Any) -> str:
    text = _cell_text(value)
    if text is None:
        raise PydanticCustomError("required", "required")
    return text


def _fen(value: Any) -> Decimal:
    try:
        number = parse_decimal(value, "amount")
    except PostalOpsError as error:
        message = error.details[0]["message"] if error.details else error.message
        raise PydanticCustomError("invalid_amount", message) from None
    assert number is not None
    if number != number.quantize(Decimal("0.01")):
        raise PydanticCustomError("whole_fen", "whole fen only (two decimals)")
    return number


def _optional_fen(value: Any) -> Decimal | None:
    return None if _cell_text(value) is None else _fen(value)


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(_required(value)[:10])
    except ValueError:
        raise PydanticCustomError("invalid_date", "a date like 2022-01-01") from None


def _first_of_month(value: Any) -> dt.date:
    day = _date(value)
    if day.day != 1:
        raise PydanticCustomError("not_first_day", "terms start on the 1st of a month")
    return day


def _last_of_month(value: Any) -> dt.date:
    day = _date(value)
    if day != Month.parse(day).last_day:
        raise PydanticCustomError("not_last_day", "terms end on a month's last day")
    return day


def Text(max_length: int) -> Any:  # noqa: N802 - a type
    return Annotated[str, BeforeValidator(_required), StringConstraints(max_length=max_length)]


def OptionalText(max_length: int) -> Any:  # noqa: N802 - a type
    return Annotated[
        Annotated[str, StringConstraints(max_length=max_length)] | None,
        BeforeValidator(_cell_text),
    ]


Fen = Annotated[Decimal, BeforeValidator(_fen)]


def _bank_account(value: Any) -> str | None:
    """A bank card or account number: 8 to 30 digits once spaces and dashes are dropped."""
    text = _cell_text(value)
    if text is None:
        return None
    digits = text.replace(" ", "").replace("-", "")
    if not digits.isdigit() or not 8 <= len(digits) <= 30:
        raise ValueError("a bank account is 8 to 30 digits")
    return digits


class ContractorRow(BaseModel):
    """One contractor: its code, name and the city (unit) it works for."""

    model_config = ConfigDict(extra="ignore")
    code: Text(40)
    name: Text(100)
    unit: Text(200)


class CourierRow(BaseModel):
    """One courier; own staff need ``grade`` and ``base_pay``, outsourced ones ``contractor``
    (checked with the references, so a row with a bad kind still has its other cells checked)."""

    model_config = ConfigDict(extra="ignore")
    code: Text(40)
    name: Text(100)
    kind: Annotated[
        Literal["own", "outsourced"],
        BeforeValidator(lambda v: _required(v).lower()),
    ]
    station: Text(200)
    grade: OptionalText(20) = None
    base_pay: Annotated[Decimal | None, BeforeValidator(_optional_fen)] = None
    contractor: OptionalText(40) = None
    username: OptionalText(80) = None
    # Salary account for the bank payment file (代发工资): digits, spaces allowed and dropped.
    bank_account: Annotated[str | None, BeforeValidator(_bank_account)] = None
    bank_name: OptionalText(60) = None
    # Monthly special additional deductions (专项附加扣除) the courier declared, in yuan.
    special_deduction: Annotated[Decimal | None, BeforeValidator(_optional_fen)] = None


class ContractTermRow(BaseModel):
    """One contract term: whole months, ``start`` on a 1st, ``end`` on a month's last day."""

    model_config = ConfigDict(extra="ignore")
    code: Text(60)
    contractor: Text(40)
    start: Annotated[dt.date, BeforeValidator(_first_of_month)]
    end: Annotated[dt.date, BeforeValidator(_last_of_month)]
    unit_price: Fen


def _readable(row: Any, raw: Mapping[str, Any] | None, name: str) -> str | None:
    """A cell's text for the reference checks: from the validated row, or from the raw row
    when the row failed its shape (whatever of it can be read is still checked)."""
    if row is not None:
        value = getattr(row, name)
        return None if value is None else str(value)
    return _cell_text(raw.get(name)) if raw is not None else None


def _all_rows(valid: list[tuple[int, Any]], errors: RowErrors) -> list[tuple[int, Any, Any]]:
    """Every row in file order as ``(row, validated or None, raw or None)``."""
    rows = [(n, item, None) for n, item in valid] + [(n, None, raw) for n, raw in errors.raw_rows()]
    return sorted(rows, key=lambda r: r[0])


def _unit_codes(session: Session, codes: set[str]) -> set[str]:
    """Which of ``codes`` are org units inside the caller's scope."""
    scope = scope_of(session)
    found = session.exec(select(OrgUnit.code).where(OrgUnit.code.in_(sorted(codes)))).all()  # type: ignore[attr-defined]
    return {code for code in found if scope.allows(code)}


def _report(results: list[dict[str, Any]]) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for result in results:
        counts[result["status"]] = counts.get(result["status"], 0) + 1
    return {"counts": counts, "rows": results}


def _check_code_twice(
    rows: list[tuple[int, Any, Any]], errors: RowErrors, name: str = "code"
) -> None:
    seen: set[str] = set()
    for row_no, item, raw in rows:
        code = _readable(item, raw, name)
        if code and code in seen:
            errors.add(row_no, name, "appears twice in this file")
        seen.add(code or "")


def import_contractors(session: Session, rows: Rows) -> dict[str, Any]:
    """Upsert contractors: columns ``code``, ``name``, ``unit`` (the city they work for)."""
    valid, errors = check_rows(rows, ContractorRow)
    every = _all_rows(valid, errors)
    units = _unit_codes(session, {_readable(i, r, "unit") or "" for _, i, r in every})
    for row_no, item, raw in every:
        unit = _readable(item, raw, "unit")
        if unit and unit not in units:
            errors.add(row_no, "unit", "unknown unit or outside your scope")
    _check_code_twice(every, errors)
    errors.raise_if_any()
    existing = {
        c.code: c
        for c in session.exec(
            select(PayrollContractor).where(
                PayrollContractor.code.in_([item.code for _, item in valid])  # type: ignore[attr-defined]
            )
        )
    }
    results = []
    for row_no, item in valid:
        current = existing.get(item.code)
        if current is None:
            session.add(PayrollContractor(code=item.code, name=item.name, tenant_code=item.unit))
            status = "created"
        elif (current.name, current.tenant_code) == (item.name, item.unit):
            status = "unchanged"
        else:
            current.name, current.tenant_code = item.name, item.unit
            session.add(current)
            status = "updated"
        results.append({"row": row_no, "status": status, "key": item.code})
    session.flush()
    return _report(results)


def import_couriers(session: Session, rows: Rows) -> dict[str, Any]:
    """Upsert couriers by ``code``.

    Columns: ``code``, ``name``, ``kind`` (own | outsourced), ``station`` (unit code), and for own
    staff ``grade`` and ``base_pay``; for outsourced couriers ``contractor`` (its code).
    Optional ``username`` links the courier's portal login; optional ``bank_account``,
    ``bank_name`` (for the bank payment file) and ``special_deduction`` (monthly special
    additional deductions for income tax) are kept when a later file leaves them out.

    The report flags (``warnings``, per row and listed together) own couriers who cannot be
    paid as things stand: a grade without a quota in the card in force, or no card
    (``QuotaCheck``); they are imported all the same.
    """
    valid, errors = check_rows(rows, CourierRow)
    every = _all_rows(valid, errors)
    units = _unit_codes(session, {_readable(i, r, "station") or "" for _, i, r in every})
    contractors = {c.code: c for c in session.exec(select(PayrollContractor))}
    codes = sorted({code for _, i, r in every if (code := _readable(i, r, "code"))})
    existing: dict[str, PayrollCourier] = {}
    for start in range(0, len(codes), 500):
        chunk = codes[start : start + 500]
        for courier in session.exec(select(PayrollCourier).where(PayrollCourier.code.in_(chunk))):  # type: ignore[attr-defined]
            existing[courier.code] = courier
    scope = scope_of(session)
    for row_no, item, raw in every:
        station = _readable(item, raw, "station")
        if station and station not in units:
            errors.add(row_no, "station", "unknown unit or outside your scope")
        kind = (_readable(item, raw, "kind") or "").lower()
        if kind == OWN:
            for name in ("grade", "base_pay"):
                if item is not None and getattr(item, name) is None:
                    errors.add(row_no, name, "required for own staff")
                elif item is None and _cell_text(raw.get(name)) is None:
                    errors.add(row_no, name, "required for own staff")
        contractor = _readable(item, raw, "contractor")
        if kind == OUTSOURCED and not contractor:
            errors.add(row_no, "contractor", "required for outsourced couriers")
        if contractor and contractor not in contractors:
            errors.add(row_no, "contractor", "unknown contractor")
        code = _readable(item, raw, "code")
        if code in existing and not scope.allows(existing[code].tenant_code):
            errors.add(row_no, "code", "taken by a courier outside your scope")
    _check_code_twice(every, errors)
    errors.raise_if_any()
    quotas = QuotaCheck(session)
    results: list[dict[str, Any]] = []
    warnings: list[dict[str, Any]] = []
    for row_no, item in valid:
        values: dict[str, Any] = {
            "code": item.code,
            "name": item.name,
            "kind": item.kind,
            "tenant_code": item.station,
            "username": item.username,
        }
        # Bank and tax columns are optional in an import: a file without them keeps what is set.
        for name in ("bank_account", "bank_name", "special_deduction"):
            if getattr(item, name) is not None:
                values[name] = getattr(item, name)
        if item.kind == OWN:
            values.update(grade=item.grade, base_pay=item.base_pay, contractor_id=None)
        else:
            values.update(grade=None, base_pay=None, contractor_id=contractors[item.contractor].id)
        current = existing.get(item.code)
        if current is None:
            session.add(PayrollCourier(**values))
            status = "created"
        elif all(getattr(current, k) == v for k, v in values.items()):
            status = "unchanged"
        else:
            for key, value in values.items():
                setattr(current, key, value)
            session.add(current)
            status = "updated"
        result = {"row": row_no, "status": status, "key": item.code}
        flagged = quotas.warnings(item.station, item.kind, item.grade)
        if flagged:
            result["warnings"] = flagged
            warnings.extend({"row": row_no, "key": item.code, **w} for w in flagged)
        results.append(result)
    session.flush()
    return _report(results) | {"warnings": warnings}


class QuotaCheck:
    """Flags own couriers who cannot be paid as things stand: their grade has no collection
    quota in the rate card in force this month at their station (``grade_without_quota``), or
    no card is in force there (``no_rate_card``).

    A warning, not a refusal: cards and couriers are kept by different people in either order,
    and a later card version may add the grade. The payroll run still refuses to price such a
    courier (422 ``unpriceable_couriers``); the warning says so at import time and on the
    courier list, before the month is run.
    """

    def __init__(self, session: Session, month: Month | None = None) -> None:
        self.session = session
        self.month = month or Month.parse(clock.today())
        self._resolvers: dict[str, CardResolver] = {}

    def _resolver(self, station: str) -> CardResolver:
        scope = scope_of(self.session)
        root = station.split(".")[0] if scope.system or not scope.code else scope.code
        if root not in self._resolvers:
            self._resolvers[root] = CardResolver(self.session, root, self.month)
        return self._resolvers[root]

    def warnings(self, station: str | None, kind: str, grade: str | None) -> list[dict[str, Any]]:
        if kind != OWN or not station or not grade:
            return []
        card = self._resolver(station).card_for(station)
        if card is None:
            return [
                {
                    "field": "station",
                    "code": "no_rate_card",
                    "message": f"no rate card in force for {station} in {self.month}: "
                    "the courier cannot be paid until one is published",
                    "value": station,
                }
            ]
        if grade not in card.quotas_by_grade:
            return [
                {
                    "field": "grade",
                    "code": "grade_without_quota",
                    "message": f"grade {grade!r} has no collection quota in rate card "
                    f"v{card.version} of {card.unit_code} (in force in {self.month}; grades "
                    f"{', '.join(sorted(card.quotas_by_grade))}): the courier cannot be paid "
                    "until it has one",
                    "value": grade,
                }
            ]
        return []


def import_contract_terms(session: Session, rows: Rows) -> dict[str, Any]:
    """Upsert contract terms: ``code``, ``contractor``, ``start``, ``end``, ``unit_price``.

    Terms cover whole months (start on a 1st, end on a month's last day) so every month of an
    outsourced courier is priced at one unit price; terms of a contractor may not overlap (the
    stored ones, and each other), and a price above the city's cap in any budgeted month is
    refused. Every row is checked for all of these in one pass.
    """
    valid, errors = check_rows(rows, ContractTermRow)
    every = _all_rows(valid, errors)
    contractors = {c.code: c for c in session.exec(select(PayrollContractor))}
    for row_no, item, raw in every:
        contractor = _readable(item, raw, "contractor")
        if contractor and contractor not in contractors:
            errors.add(row_no, "contractor", "unknown contractor")
    _check_code_twice(every, errors)
    plan = [
        (
            row_no,
            ContractTerm(item.code, item.contractor, item.start, item.end, item.unit_price),
            contractors[item.contractor],
        )
        for row_no, item in valid
        if item.contractor in contractors
    ]
    for row_no, term, _ in plan:
        if term.end < term.start:
            errors.add(row_no, "end", "ends before it starts")
        if term.unit_price <= 0:
            errors.add(row_no, "unit_price", "must be > 0")
    _overlaps(session, plan, contractors, errors)
    for problem in _cap_problems(session, plan):
        errors.add(problem.pop("row"), problem.pop("field"), problem.pop("message"), **problem)
    errors.raise_if_any()
    incoming = {term.code for _, term, _ in plan}
    existing = {
        t.code: t
        for t in session.exec(
            select(PayrollContractTerm).where(PayrollContractTerm.code.in_(sorted(incoming)))  # type: ignore[attr-defined]
        )
    }
    results = []
    for row_no, term, contractor in plan:
        values = dict(
            code=term.code,
            contractor_id=contractor.id,
            start=term.start,
            end=term.end,
            unit_price=term.unit_price,
            tenant_code=contractor.tenant_code,
        )
        current = existing.get(term.code)
        if current is None:
            session.add(PayrollContractTerm(**values))
            status = "created"
        elif all(getattr(current, k) == v for k, v in values.items()):
            status = "unchanged"
        else:
            for key, value in values.items():
                setattr(current, key, value)
            session.add(current)
            status = "updated"
        results.append({"row": row_no, "status": status, "key": term.code})
    session.flush()
    return _report(results)


def _overlaps(
    session: Session,
    plan: list[tuple[int, ContractTerm, PayrollContractor]],
    contractors: Mapping[str, PayrollContractor],
    errors: RowErrors,
) -> None:
    """Name on each row the terms of the same contractor it overlaps, stored or in the file
    (a stored term the file re-sends under the same code is replaced, not overlapped)."""
    incoming = {term.code for _, term, _ in plan}
    names = contractors_by_id(contractors)
    stored = [
        (None, ContractTerm(t.code, names[t.contractor_id], t.start, t.end, t.unit_price))
        for t in session.exec(select(PayrollContractTerm))
        if t.code not in incoming and t.contractor_id in names
    ]
    by_contractor: dict[str, list[ContractTerm]] = {}
    for _, term in stored:
        by_contractor.setdefault(term.contractor_code, []).append(term)
    for _, term, _ in plan:
        by_contractor.setdefault(term.contractor_code, []).append(term)
    for row_no, term, _ in plan:
        for other in by_contractor[term.contractor_code]:
            if other is not term and other.start <= term.end and term.start <= other.end:
                errors.add(
                    row_no,
                    "start",
                    f"overlaps {other.code} ({other.start} to {other.end}) of "
                    f"{term.contractor_code}",
                    code="overlapping_term",
                )


def contractors_by_id(contractors: Mapping[str, PayrollContractor]) -> dict[int, str]:
    return {c.id: c.code for c in contractors.values() if c.id is not None}


def _cap_problems(
    session: Session, plan: list[tuple[int, ContractTerm, PayrollContractor]]
) -> list[dict[str, Any]]:
    problems = []
    for row_no, term, contractor in plan:
        first, last = Month.parse(term.start), Month.parse(term.end)
        keys = []
        month = first
        while month <= last:
            keys.append(month.year * 100 + month.month)
            month = month.next()
        budgets = session.exec(
            select(PayrollBudget).where(
                in_scope_clause(PayrollBudget.tenant_code, contractor.tenant_code),
                PayrollBudget.month.in_(keys),  # type: ignore[attr-defined]
            )
        ).all()
        for budget in budgets:
            if term.unit_price > budget.unit_price_cap:
                problems.append(
                    {
                        "row": row_no,
                        "field": "unit_price",
                        "message": f"{term.unit_price} exceeds the cap {budget.unit_price_cap} of {budget.tenant_code} in {budget.month}",
                    }
                )
    return problems


def set_budget(
    session: Session, unit: str, month: Month, volume_budget: int, unit_price_cap: Decimal
) -> PayrollBudget:
    """Create or replace a city's outsourced-volume budget and unit-price cap for a month."""
    errors = []
    if volume_budget < 0:
        errors.append({"field": "volume_budget", "message": "must be >= 0"})
    if unit_price_cap <= 0:
        errors.append({"field": "unit_price_cap", "message": "must be > 0"})
    if not _unit_codes(session, {unit}):
        errors.append({"field": "unit", "message": "unknown unit or outside your scope"})
    if errors:
        raise ValidationError("invalid budget", details=errors)
    key = month.year * 100 + month.month
    budget = session.exec(
        select(PayrollBudget).where(PayrollBudget.tenant_code == unit, PayrollBudget.month == key)
    ).first()
    if budget is None:
        budget = PayrollBudget(
            tenant_code=unit, month=key, volume_budget=volume_budget, unit_price_cap=unit_price_cap
        )
    else:
        budget.volume_budget, budget.unit_price_cap = volume_budget, unit_price_cap
    session.add(budget)
    session.flush()
    return budget
