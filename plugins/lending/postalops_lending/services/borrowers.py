"""Borrowers and their tax records."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from postalops import audit, clock
from postalops.context import Principal
from postalops.errors import Conflict, ValidationError
from sqlmodel import Session, select

from postalops_lending import credit_line
from postalops_lending.credit_line import TAX_GRADES
from postalops_lending.identity import mask_id_number, validate_credit_code, validate_id_number
from postalops_lending.models import Borrower, TaxMonth
from postalops_lending.services.common import get_or_404


@dataclass(frozen=True)
class BorrowerData:
    name: str
    credit_code: str
    legal_rep_name: str
    legal_rep_id_number: str
    industry: str
    established_on: dt.date
    customer_manager: str
    phone: str = ""
    tenant_code: str | None = None  # defaults to the caller's unit


@dataclass(frozen=True)
class TaxMonthData:
    period: dt.date
    tax_paid: Decimal
    sales: Decimal
    grade: str


def months_in_business(established_on: dt.date, as_of: dt.date) -> int:
    """Whole months from ``established_on`` to ``as_of`` (a month counts once its day passes)."""
    months = (as_of.year - established_on.year) * 12 + as_of.month - established_on.month
    if as_of.day < established_on.day:
        months -= 1
    return max(months, 0)


def check_borrower(data: BorrowerData, today: dt.date) -> BorrowerData:
    """Validate every field; one 422 names all the bad ones."""
    details = []
    code = data.credit_code
    rep_id = data.legal_rep_id_number
    try:
        code = validate_credit_code(data.credit_code)
    except ValidationError as exc:
        details += exc.details
    try:
        rep_id = validate_id_number(data.legal_rep_id_number)
    except ValidationError as exc:
        details += exc.details
    for field in ("name", "legal_rep_name", "industry", "customer_manager"):
        if not str(getattr(data, field) or "").strip():
            details.append({"field": field, "message": "required"})
    if data.established_on > today:
        details.append({"field": "established_on", "message": "in the future"})
    if details:
        raise ValidationError("invalid borrower", code="invalid_borrower", details=details)
    return BorrowerData(
        name=data.name.strip(),
        credit_code=code,
        legal_rep_name=data.legal_rep_name.strip(),
        legal_rep_id_number=rep_id,
        industry=data.industry.strip(),
        established_on=data.established_on,
        customer_manager=data.customer_manager.strip(),
        phone=data.phone.strip(),
        tenant_code=data.tenant_code,
    )


def check_raw_borrower(raw: dict, today: dt.date) -> list[dict]:
    """The checks of :func:`check_borrower` that can run on an import row whose shape is wrong
    (a bad date, a missing column): checksums and dates, on whatever is readable."""
    details: list[dict] = []
    for field, check in (
        ("credit_code", validate_credit_code),
        ("legal_rep_id_number", validate_id_number),
    ):
        value = raw.get(field)
        if isinstance(value, str) and value.strip():
            try:
                check(value)
            except ValidationError as exc:
                details += exc.details
    established = raw.get("established_on")
    if isinstance(established, dt.datetime):
        established = established.date()
    if isinstance(established, str):
        try:
            established = dt.date.fromisoformat(established)
        except ValueError:
            established = None
    if isinstance(established, dt.date) and established > today:
        details.append({"field": "established_on", "message": "in the future"})
    return details


UPDATABLE = (
    "name",
    "legal_rep_name",
    "legal_rep_id_number",
    "industry",
    "established_on",
    "customer_manager",
    "phone",
)


def update_borrower(session: Session, actor: Principal, row: Borrower, clean: BorrowerData) -> bool:
    """Bring ``row`` to ``clean`` (a checked re-import of the same credit code); audited with the
    changed fields before and after (the ID number masked). False when nothing differs."""
    changed = [f for f in UPDATABLE if getattr(row, f) != getattr(clean, f)]
    if not changed:
        return False

    def shown(value, field):
        if field == "legal_rep_id_number":
            return mask_id_number(value)
        return value.isoformat() if isinstance(value, dt.date) else value

    before = {f: shown(getattr(row, f), f) for f in changed}
    for f in changed:
        setattr(row, f, getattr(clean, f))
    session.add(row)
    session.flush()
    audit.record(
        "lending.borrower.update",
        target_type="lending_borrower",
        target_id=row.id,
        tenant=row.tenant_code,
        before=before,
        after={f: shown(getattr(row, f), f) for f in changed},
        session=session,
        actor=actor.name,
    )
    return True


def register_borrower(
    session: Session, actor: Principal, data: BorrowerData, *, today: dt.date | None = None
) -> Borrower:
    """Create a borrower in the caller's unit (or ``data.tenant_code`` inside the scope)."""
    clean = check_borrower(data, today or clock.today())
    existing = session.exec(
        select(Borrower).where(Borrower.credit_code == clean.credit_code)
    ).first()
    if existing is not None:
        raise Conflict(
            "a borrower with this credit code exists",
            code="duplicate_borrower",
            details=[{"field": "credit_code", "message": f"borrower {existing.id}"}],
        )
    row = Borrower(
        tenant_code=clean.tenant_code,
        name=clean.name,
        credit_code=clean.credit_code,
        legal_rep_name=clean.legal_rep_name,
        legal_rep_id_number=clean.legal_rep_id_number,
        industry=clean.industry,
        established_on=clean.established_on,
        customer_manager=clean.customer_manager,
        phone=clean.phone,
    )
    session.add(row)
    session.flush()
    audit.record(
        "lending.borrower.create",
        target_type="lending_borrower",
        target_id=row.id,
        tenant=row.tenant_code,
        after=public_borrower(row),
        session=session,
        actor=actor.name,
    )
    return row


def public_borrower(row: Borrower) -> dict:
    """A borrower as lists and the API show it: the ID number masked."""
    return {
        "id": row.id,
        "tenant_code": row.tenant_code,
        "name": row.name,
        "credit_code": row.credit_code,
        "legal_rep_name": row.legal_rep_name,
        "legal_rep_id_number": mask_id_number(row.legal_rep_id_number),
        "industry": row.industry,
        "established_on": row.established_on.isoformat(),
        "customer_manager": row.customer_manager,
        "operating": row.operating,
    }


def check_tax_months(months: Sequence[TaxMonthData]) -> None:
    details = []
    seen = set()
    for i, m in enumerate(months):
        if m.period.day != 1:
            details.append({"row": i, "field": "period", "message": "first day of a month"})
        if m.period in seen:
            details.append({"row": i, "field": "period", "message": "month given twice"})
        seen.add(m.period)
        if m.grade not in TAX_GRADES:
            details.append({"row": i, "field": "grade", "message": f"one of {TAX_GRADES}"})
        for field in ("tax_paid", "sales"):
            value = getattr(m, field)
            if value < 0 or value != value.quantize(Decimal("0.01")):
                details.append({"row": i, "field": field, "message": ">= 0, at most 2 decimals"})
    if details:
        raise ValidationError("invalid tax data", code="invalid_tax_data", details=details)


def store_tax_months(
    session: Session, borrower: Borrower, months: Sequence[TaxMonthData], source: str
) -> dict[str, int]:
    """Insert or replace the given months of ``borrower``'s tax record (idempotent)."""
    check_tax_months(months)
    existing = {
        m.period: m
        for m in session.exec(select(TaxMonth).where(TaxMonth.borrower_id == borrower.id)).all()
    }
    created = updated = 0
    for m in months:
        row = existing.get(m.period)
        if row is None:
            session.add(
                TaxMonth(
                    tenant_code=borrower.tenant_code,
                    borrower_id=borrower.id,
                    period=m.period,
                    tax_paid=m.tax_paid,
                    sales=m.sales,
                    grade=m.grade,
                    source=source,
                )
            )
            created += 1
        elif (row.tax_paid, row.sales, row.grade) != (m.tax_paid, m.sales, m.grade):
            row.tax_paid, row.sales, row.grade, row.source = m.tax_paid, m.sales, m.grade, source
            session.add(row)
            updated += 1
    session.flush()
    return {"created": created, "updated": updated, "unchanged": len(months) - created - updated}


def tax_record(
    session: Session, borrower_ids: Iterable[int]
) -> dict[int, list[credit_line.TaxMonth]]:
    """Tax months per borrower as the rules' plain values (one query for many borrowers)."""
    ids = list(borrower_ids)
    out: dict[int, list[credit_line.TaxMonth]] = {i: [] for i in ids}
    if not ids:
        return out
    rows = session.exec(
        select(TaxMonth).where(TaxMonth.borrower_id.in_(ids)).order_by(TaxMonth.period)  # type: ignore[attr-defined]
    ).all()
    for r in rows:
        out[r.borrower_id].append(credit_line.TaxMonth(r.period, r.tax_paid, r.sales, r.grade))
    return out


def set_operating(
    session: Session, actor: Principal, borrower_id: int, operating: bool
) -> Borrower:
    row = get_or_404(session, Borrower, borrower_id, "borrower_id")
    before = {"operating": row.operating}
    row.operating = operating
    session.add(row)
    audit.record(
        "lending.borrower.operating",
        target_type="lending_borrower",
        target_id=row.id,
        tenant=row.tenant_code,
        before=before,
        after={"operating": operating},
        session=session,
        actor=actor.name,
    )
    return row
