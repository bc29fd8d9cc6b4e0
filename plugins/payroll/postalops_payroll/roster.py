"""Couriers, contractors and contract terms: imported in bulk, each row reported.

Imports are all-or-nothing like every PostalOps import: when any row is bad the caller gets a
422 naming every bad row and field, and nothing is written. A good import reports each row as
``created``, ``updated`` or ``unchanged`` (re-sending a file changes nothing).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from postalops.db import in_scope_clause, scope_of
from postalops.errors import PostalOpsError, ValidationError
from postalops.models import OrgUnit
from sqlmodel import Session, select

from .models import PayrollBudget, PayrollContractor, PayrollContractTerm, PayrollCourier
from .money import parse_decimal
from .outsourcing import ContractTerm, validate_terms
from .payslip import OUTSOURCED, OWN
from .period import Month

Rows = Iterable[tuple[int, Mapping[str, Any]]]


def _text(
    raw: Mapping[str, Any],
    name: str,
    errors: list[dict[str, Any]],
    *,
    required: bool = True,
    max_length: int = 100,
) -> str | None:
    value = raw.get(name)
    text = "" if value is None else str(value).strip()
    if not text:
        if required:
            errors.append({"field": name, "message": "required"})
        return None
    if len(text) > max_length:
        errors.append({"field": name, "message": f"at most {max_length} characters"})
    return text


def _money(raw: Mapping[str, Any], name: str, errors: list[dict[str, Any]]) -> Decimal | None:
    try:
        value = parse_decimal(raw.get(name), name)
    except PostalOpsError as error:
        errors.extend(error.details)
        return None
    if value is not None and value != value.quantize(Decimal("0.01")):
        errors.append({"field": name, "message": "whole fen only (two decimals)"})
    return value


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


def _raise_if(errors: list[dict[str, Any]], what: str) -> None:
    if errors:
        raise ValidationError(
            f"{len(errors)} {what} row(s) invalid; nothing was imported",
            code="invalid_rows",
            details=errors,
        )


def import_contractors(session: Session, rows: Rows) -> dict[str, Any]:
    """Upsert contractors: columns ``code``, ``name``, ``unit`` (the city they work for)."""
    rows = list(rows)
    units = _unit_codes(session, {str(r.get("unit") or "").strip() for _, r in rows})
    existing = {
        c.code: c
        for c in session.exec(
            select(PayrollContractor).where(
                PayrollContractor.code.in_([str(r.get("code") or "").strip() for _, r in rows])  # type: ignore[attr-defined]
            )
        )
    }
    errors, plan = [], []
    seen: set[str] = set()
    for row_no, raw in rows:
        row_errors: list[dict[str, Any]] = []
        code = _text(raw, "code", row_errors, max_length=40)
        name = _text(raw, "name", row_errors)
        unit = _text(raw, "unit", row_errors, max_length=200)
        if unit and unit not in units:
            row_errors.append({"field": "unit", "message": "unknown unit or outside your scope"})
        if code and code in seen:
            row_errors.append({"field": "code", "message": "appears twice in this file"})
        seen.add(code or "")
        if row_errors:
            errors.append({"row": row_no, "errors": row_errors})
        else:
            plan.append((row_no, code, name, unit))
    _raise_if(errors, "contractor")
    results = []
    for row_no, code, name, unit in plan:
        current = existing.get(code)
        if current is None:
            session.add(PayrollContractor(code=code, name=name, tenant_code=unit))
            status = "created"
        elif (current.name, current.tenant_code) == (name, unit):
            status = "unchanged"
        else:
            current.name, current.tenant_code = name, unit
            session.add(current)
            status = "updated"
        results.append({"row": row_no, "status": status, "key": code})
    session.flush()
    return _report(results)


def import_couriers(session: Session, rows: Rows) -> dict[str, Any]:
    """Upsert couriers by ``code``.

    Columns: ``code``, ``name``, ``kind`` (own | outsourced), ``station`` (unit code), and for own
    staff ``grade`` and ``base_pay``; for outsourced couriers ``contractor`` (its code).
    Optional ``username`` links the courier's portal login.
    """
    rows = list(rows)
    units = _unit_codes(session, {str(r.get("station") or "").strip() for _, r in rows})
    contractors = {c.code: c for c in session.exec(select(PayrollContractor))}
    codes = [str(r.get("code") or "").strip() for _, r in rows]
    existing: dict[str, PayrollCourier] = {}
    for start in range(0, len(codes), 500):
        chunk = codes[start : start + 500]
        for courier in session.exec(select(PayrollCourier).where(PayrollCourier.code.in_(chunk))):  # type: ignore[attr-defined]
            existing[courier.code] = courier
    errors, plan = [], []
    seen: set[str] = set()
    for row_no, raw in rows:
        row_errors: list[dict[str, Any]] = []
        code = _text(raw, "code", row_errors, max_length=40)
        name = _text(raw, "name", row_errors)
        station = _text(raw, "station", row_errors, max_length=200)
        kind = (_text(raw, "kind", row_errors, max_length=12) or "").lower()
        username = _text(raw, "username", row_errors, required=False, max_length=80)
        values: dict[str, Any] = {}
        if station and station not in units:
            row_errors.append({"field": "station", "message": "unknown unit or outside your scope"})
        if kind == OWN:
            values["grade"] = _text(raw, "grade", row_errors, max_length=20)
            values["base_pay"] = _money(raw, "base_pay", row_errors)
            values["contractor_id"] = None
        elif kind == OUTSOURCED:
            contractor_code = _text(raw, "contractor", row_errors, max_length=40)
            contractor = contractors.get(contractor_code or "")
            if contractor_code and contractor is None:
                row_errors.append({"field": "contractor", "message": "unknown contractor"})
            values.update(
                grade=None, base_pay=None, contractor_id=contractor.id if contractor else None
            )
        elif kind:
            row_errors.append({"field": "kind", "message": "own or outsourced"})
        if code and code in seen:
            row_errors.append({"field": "code", "message": "appears twice in this file"})
        seen.add(code or "")
        if code in existing and not scope_of(session).allows(existing[code].tenant_code):
            row_errors.append({"field": "code", "message": "taken by a courier outside your scope"})
        if row_errors:
            errors.append({"row": row_no, "errors": row_errors})
            continue
        values.update(code=code, name=name, kind=kind, tenant_code=station, username=username)
        plan.append((row_no, values))
    _raise_if(errors, "courier")
    results = []
    for row_no, values in plan:
        current = existing.get(values["code"])
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
        results.append({"row": row_no, "status": status, "key": values["code"]})
    session.flush()
    return _report(results)


def import_contract_terms(session: Session, rows: Rows) -> dict[str, Any]:
    """Upsert contract terms: ``code``, ``contractor``, ``start``, ``end``, ``unit_price``.

    Terms cover whole months (start on a 1st, end on a month's last day) so every month of an
    outsourced courier is priced at one unit price; terms of a contractor may not overlap, and a
    price above the city's cap in any budgeted month is refused.
    """
    rows = list(rows)
    contractors = {c.code: c for c in session.exec(select(PayrollContractor))}
    errors, plan = [], []
    for row_no, raw in rows:
        row_errors: list[dict[str, Any]] = []
        code = _text(raw, "code", row_errors, max_length=60)
        contractor = contractors.get(_text(raw, "contractor", row_errors, max_length=40) or "")
        if raw.get("contractor") and contractor is None:
            row_errors.append({"field": "contractor", "message": "unknown contractor"})
        dates = {}
        for name in ("start", "end"):
            try:
                value = raw.get(name)
                dates[name] = (
                    value
                    if isinstance(value, dt.date)
                    else dt.date.fromisoformat(str(value).strip()[:10])
                )
            except ValueError:
                row_errors.append({"field": name, "message": "a date like 2022-01-01"})
        if "start" in dates and dates["start"].day != 1:
            row_errors.append({"field": "start", "message": "terms start on the 1st of a month"})
        if "end" in dates and dates["end"] != Month.parse(dates["end"]).last_day:
            row_errors.append({"field": "end", "message": "terms end on a month's last day"})
        price = _money(raw, "unit_price", row_errors)
        if row_errors:
            errors.append({"row": row_no, "errors": row_errors})
            continue
        assert contractor is not None and price is not None and code
        plan.append(
            (
                row_no,
                ContractTerm(code, contractor.code, dates["start"], dates["end"], price),
                contractor,
            )
        )
    _raise_if(errors, "contract term")
    incoming = {term.code for _, term, _ in plan}
    stored = [
        ContractTerm(
            t.code, contractors_by_id(contractors)[t.contractor_id], t.start, t.end, t.unit_price
        )
        for t in session.exec(select(PayrollContractTerm))
        if t.code not in incoming and t.contractor_id in contractors_by_id(contractors)
    ]
    try:
        validate_terms(stored + [term for _, term, _ in plan])
    except ValidationError as error:
        raise ValidationError(error.message, code=error.code, details=error.details) from None
    cap_problems = _cap_problems(session, plan)
    if cap_problems:
        raise ValidationError(
            "unit price above the city's cap", code="above_price_cap", details=cap_problems
        )
    existing = {
        t.code: t
        for t in session.exec(
            select(PayrollContractTerm).where(PayrollContractTerm.code.in_(sorted(incoming)))
        )
    }  # type: ignore[attr-defined]
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
