"""lending's database operations (no Flask): the rules live in the domain modules
(``credit_line``, ``schedule``, ``servicing``, ``classification``, ``accounting``, ``relief``,
``outreach``, ``application_flow``); this module feeds them from the database and stores their
results, audited. Sections, in order: shared helpers; borrowers and tax records; products; the
application flow; loans and repayments; the loan book in accounting terms (accrual, provision,
write-off, recovery, reversals, journal); relief; the close of business; outreach.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

import sqlalchemy as sa
from postalops import audit, clock, plugin_settings
from postalops.context import Principal
from postalops.db import in_scope_clause
from postalops.errors import Conflict, Forbidden, NotFound, ValidationError
from postalops.journal import JournalLine
from postalops.money import ZERO, to_fen
from sqlmodel import Session, select

from postalops_lending import accounting as accounting_rules
from postalops_lending import application_flow as flow
from postalops_lending import credit_line
from postalops_lending import outreach as outreach_rules
from postalops_lending import relief as relief_rules
from postalops_lending import schedule as schedule_rules
from postalops_lending.accounting import AccountingTerms, arrangement_fee
from postalops_lending.classification import Bands, classify, sql_case
from postalops_lending.credit_line import TAX_GRADES, TaxModePolicy, pre_check
from postalops_lending.identity import mask_id_number, validate_credit_code, validate_id_number
from postalops_lending.models import (
    Application,
    Borrower,
    Instalment,
    Loan,
    LoanEvent,
    OutreachCall,
    Product,
    Relief,
    Repayment,
    TaxMonth,
    WriteOff,
)
from postalops_lending.product import DayCount, ProductTerms, RepaymentMethod
from postalops_lending.servicing import (
    Allocation,
    OpenInstalment,
    accrued_interest,
    allocate_repayment,
    amount_due,
    days_past_due,
    payoff_amount,
)
from postalops_lending.settings import ProvisionSettings

# =================================================================================================
# shared helpers: rows in scope, actor names
# =================================================================================================


T = TypeVar("T")


def get_or_404(
    session: Session, model: type[T], row_id: int, field: str, *, for_update: bool = False
) -> T:
    """Load ``model`` by id through the scoped session: a row outside scope is simply absent."""
    stmt = select(model).where(model.id == row_id)  # type: ignore[attr-defined]
    if for_update:
        stmt = stmt.with_for_update()
    row = session.exec(stmt).first()
    if row is None:
        raise NotFound(
            f"no {model.__name__.lower()} {row_id}",
            details=[{"field": field, "message": f"{row_id} not found"}],
        )
    return row


def utcnow() -> dt.datetime:
    """Now in UTC from the network's clock (``postalops.clock``, which tests can freeze): a
    step stamped without an explicit time is stamped on the same day ``clock.today()`` sees."""
    return clock.now().astimezone(dt.UTC)


def actor_name(actor: Principal) -> str:
    return actor.name


def snapshot(row: Any, *fields: str) -> dict[str, Any]:
    """The named fields of ``row`` for an audit before/after."""
    return {f: getattr(row, f) for f in fields}


# =================================================================================================
# borrowers: borrowers and their tax records
# =================================================================================================


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


BORROWER_UPDATABLE = (
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
    changed = [f for f in BORROWER_UPDATABLE if getattr(row, f) != getattr(clean, f)]
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


# =================================================================================================
# products: stored rows <-> the rules' ProductTerms and TaxModePolicy
# =================================================================================================


def policy_to_json(policy: TaxModePolicy) -> dict[str, Any]:
    return {
        "cap": str(policy.cap),
        "factor": str(policy.factor),
        "grade_multipliers": {k: str(v) for k, v in policy.grade_multipliers.items()},
        "tenure_bands": [[m, str(x)] for m, x in policy.tenure_bands],
        "min_tax_paid": str(policy.min_tax_paid),
        "min_line": str(policy.min_line),
        "line_unit": str(policy.line_unit),
    }


def policy_of(product: Product) -> TaxModePolicy:
    p = product.policy or {}
    default = TaxModePolicy()
    return TaxModePolicy(
        cap=Decimal(p.get("cap", default.cap)),
        factor=Decimal(p.get("factor", default.factor)),
        grade_multipliers={
            k: Decimal(v) for k, v in p.get("grade_multipliers", default.grade_multipliers).items()
        },
        tenure_bands=tuple(
            (int(m), Decimal(x)) for m, x in p.get("tenure_bands", default.tenure_bands)
        ),
        min_tax_paid=Decimal(p.get("min_tax_paid", default.min_tax_paid)),
        min_line=Decimal(p.get("min_line", default.min_line)),
        line_unit=Decimal(p.get("line_unit", default.line_unit)),
    )


def product_terms(product: Product) -> ProductTerms:
    return ProductTerms(
        code=product.code,
        annual_rate=product.annual_rate,
        term_months=product.term_months,
        day_count=DayCount(product.day_count),
        method=RepaymentMethod(product.method),
        allow_prepayment=product.allow_prepayment,
    )


def create_product(
    session: Session,
    actor: Principal,
    *,
    code: str,
    name_zh: str,
    name_en: str,
    terms: ProductTerms,
    policy: TaxModePolicy | None = None,
    tenant_code: str | None = None,
    accounting: AccountingTerms | None = None,
) -> Product:
    """Add a product at the caller's unit (or ``tenant_code`` in scope); audited."""
    if not code or len(code) > 40:
        raise ValidationError(
            "product code is required", details=[{"field": "code", "message": "1-40 characters"}]
        )
    if session.exec(select(Product).where(Product.code == code)).first() is not None:
        raise Conflict(
            f"product {code} exists",
            code="duplicate_product",
            details=[{"field": "code", "message": "already used"}],
        )
    check_policy(policy or TaxModePolicy())
    row = Product(
        tenant_code=tenant_code,
        code=code,
        name_zh=name_zh,
        name_en=name_en,
        annual_rate=terms.annual_rate,
        term_months=terms.term_months,
        day_count=terms.day_count.value,
        method=terms.method.value,
        allow_prepayment=terms.allow_prepayment,
        policy=policy_to_json(policy or TaxModePolicy()),
        accounting=(accounting or AccountingTerms()).to_json(),
    )
    session.add(row)
    session.flush()
    audit.record(
        "lending.product.create",
        target_type="lending_product",
        target_id=row.id,
        tenant=row.tenant_code,
        after=product_json(row),
        session=session,
        actor=actor.name,
    )
    return row


def product_json(row: Product) -> dict[str, Any]:
    return {
        "id": row.id,
        "code": row.code,
        "name_zh": row.name_zh,
        "name_en": row.name_en,
        "tenant_code": row.tenant_code,
        "mode": row.mode,
        "annual_rate": str(row.annual_rate),
        "term_months": row.term_months,
        "day_count": row.day_count,
        "method": row.method,
        "allow_prepayment": row.allow_prepayment,
        "policy": row.policy,
        "accounting": AccountingTerms.from_json(row.accounting).to_json(),
        "active": row.active,
    }


def set_accounting(
    session: Session, actor: Principal, row: Product, accounting: AccountingTerms
) -> bool:
    """Change a product's accounting settings (penalty surcharge, compound interest, allocation
    order, fee, provision rates); audited. Loans disbursed before keep the fee they were charged;
    accrual, penalty and allocation follow the product's settings from now on."""
    before = AccountingTerms.from_json(row.accounting).to_json()
    after = accounting.to_json()
    if before == after:
        return False
    row.accounting = after
    session.add(row)
    session.flush()
    audit.record(
        "lending.product.update",
        target_type="lending_product",
        target_id=row.id,
        tenant=row.tenant_code,
        before={"accounting": before},
        after={"accounting": after},
        session=session,
        actor=actor.name,
    )
    return True


POLICY_FIELDS = ("cap", "factor", "min_tax_paid", "min_line", "line_unit")


def check_policy(policy: TaxModePolicy) -> None:
    """A policy the pre-check can run: positive amounts in yuan, at least one tax grade lent to,
    multipliers in (0, 2], tenure bands ascending in months (0 to 600); one 422 naming every bad
    figure (``policy.<name>``)."""
    details = []
    for name in POLICY_FIELDS:
        value = getattr(policy, name)
        if value <= 0 or value != value.quantize(Decimal("0.01")):
            details.append({"field": f"policy.{name}", "message": "> 0, at most 2 decimals"})
    if policy.min_line > policy.cap:
        details.append({"field": "policy.min_line", "message": "above the cap"})
    if not policy.grade_multipliers:
        details.append({"field": "policy.grade_multipliers", "message": "at least one grade"})
    for grade, value in policy.grade_multipliers.items():
        if not (0 < value <= 2):
            details.append({"field": f"policy.grade.{grade}", "message": "in (0, 2]"})
    if not policy.tenure_bands:
        details.append({"field": "policy.tenure_bands", "message": "at least one band"})
    months = [m for m, _ in policy.tenure_bands]
    if months != sorted(set(months)) or any(not 0 <= m <= 600 for m in months):
        details.append({"field": "policy.tenure_bands", "message": "months ascending, each once"})
    for m, value in policy.tenure_bands:
        if not (0 < value <= 2):
            details.append({"field": f"policy.tenure.{m}", "message": "in (0, 2]"})
    if details:
        raise ValidationError("invalid credit policy", code="invalid_policy", details=details)


PRODUCT_EDITABLE = (
    "name_zh",
    "name_en",
    "annual_rate",
    "term_months",
    "day_count",
    "method",
    "allow_prepayment",
    "policy",
    "active",
)


def update_product(
    session: Session,
    actor: Principal,
    row: Product,
    *,
    name_zh: str,
    name_en: str,
    terms: ProductTerms,
    policy: TaxModePolicy,
    active: bool,
) -> list[str]:
    """Change a product's names, terms, credit policy or whether it is offered; audited with
    the changed fields before and after. Loans already disbursed keep the terms they were
    disbursed on (each loan copies them); applications submitted from now on use the new ones.
    Returns the changed fields (none: nothing written)."""
    check_policy(policy)
    new = {
        "name_zh": name_zh.strip(),
        "name_en": name_en.strip(),
        "annual_rate": terms.annual_rate,
        "term_months": terms.term_months,
        "day_count": terms.day_count.value,
        "method": terms.method.value,
        "allow_prepayment": terms.allow_prepayment,
        "policy": policy_to_json(policy),
        "active": active,
    }
    changed = [
        f
        for f in PRODUCT_EDITABLE
        if (policy_of(row) != policy if f == "policy" else getattr(row, f) != new[f])
    ]
    if not changed:
        return []
    before = {f: _shown(getattr(row, f)) for f in changed}
    for f in changed:
        setattr(row, f, new[f])
    session.add(row)
    session.flush()
    audit.record(
        "lending.product.update",
        target_type="lending_product",
        target_id=row.id,
        tenant=row.tenant_code,
        before=before,
        after={f: _shown(getattr(row, f)) for f in changed},
        session=session,
        actor=actor.name,
    )
    return changed


def _shown(value: Any) -> Any:
    return str(value) if isinstance(value, Decimal) else value


# =================================================================================================
# applications: the application flow: submit -> automated pre-check -> review -> approval ->
# contract -> disbursement, each step stamped, every decision audited, maker-checker enforced
# =================================================================================================


SHANGHAI = dt.timezone(dt.timedelta(hours=8))
REVIEW_PERMISSION = "lending.review"

APPLICATION_AUDITED = (
    "status",
    "requested_amount",
    "credit_line",
    "granted_amount",
    "reviewed_by_name",
    "decided_by_name",
    "contract_no",
    "loan_id",
)


def _state(app: Application) -> dict:
    return {f: getattr(app, f) for f in APPLICATION_AUDITED}


def _step(
    session: Session,
    actor: Principal,
    app: Application,
    action: str,
    at: dt.datetime,
    **changes: object,
) -> None:
    """Move ``app`` through ``action`` (order checked), stamp it and write the audit record."""
    before = _state(app)
    app.status = flow.next_status(app.status, action).value
    setattr(app, flow.STAMP[action], at)
    for name, value in changes.items():
        setattr(app, name, value)
    session.add(app)
    session.flush()
    audit.record(
        f"lending.application.{action}",
        target_type="lending_application",
        target_id=app.id,
        tenant=app.tenant_code,
        before=before,
        after=_state(app),
        session=session,
        actor=actor.name,
    )


def submit_application(
    session: Session,
    actor: Principal,
    *,
    borrower_id: int,
    product_id: int,
    requested_amount: Decimal,
    term_months: int | None = None,
    channel: str = "portal",
    at: dt.datetime | None = None,
) -> Application:
    """Create an application and run the automated pre-check at once (both recorded)."""
    at = at or utcnow()
    borrower = get_or_404(session, Borrower, borrower_id, "borrower_id")
    product = get_or_404(session, Product, product_id, "product_id")
    if not product.active:
        raise ValidationError(
            "product is not offered",
            code="product_inactive",
            details=[{"field": "product_id", "message": "inactive"}],
        )
    if product.tenant_code != borrower.tenant_code and not borrower.tenant_code.startswith(
        product.tenant_code + "."
    ):
        raise ValidationError(
            "product is not offered at the borrower's unit",
            details=[{"field": "product_id", "message": "other unit"}],
        )
    term = term_months or product.term_months
    if not 1 <= term <= 60:
        raise ValidationError(
            "term out of range", details=[{"field": "term_months", "message": "1..60"}]
        )
    if requested_amount <= 0 or requested_amount != requested_amount.quantize(Decimal("0.01")):
        raise ValidationError(
            "requested amount must be positive, in fen",
            details=[{"field": "requested_amount", "message": "> 0"}],
        )
    app = Application(
        tenant_code=borrower.tenant_code,
        borrower_id=borrower.id,
        product_id=product.id,
        requested_amount=requested_amount,
        term_months=term,
        channel=channel,
        submitted_by=_id(actor),
        submitted_by_name=actor.name,
        submitted_at=at,
    )
    session.add(app)
    session.flush()
    audit.record(
        "lending.application.submit",
        target_type="lending_application",
        target_id=app.id,
        tenant=app.tenant_code,
        after=_state(app),
        session=session,
        actor=actor.name,
    )
    run_precheck(session, actor, app, borrower, product, at)
    return app


def run_precheck(
    session: Session,
    actor: Principal,
    app: Application,
    borrower: Borrower,
    product: Product,
    at: dt.datetime,
) -> None:
    as_of = at.astimezone(SHANGHAI).date()
    result = pre_check(
        policy_of(product),
        tax_months=tax_record(session, [borrower.id])[borrower.id],
        months_in_business=months_in_business(borrower.established_on, as_of),
        business_operating=borrower.operating,
        requested_amount=app.requested_amount,
        as_of=as_of,
    )
    _step(
        session,
        actor,
        app,
        "precheck_pass" if result.approved else "precheck_decline",
        at,
        precheck=[o.as_dict() for o in result.outcomes],
        tax_paid_12m=result.tax_paid_12m,
        credit_line=result.credit_line,
        granted_amount=result.granted_amount,
    )


def review_application(
    session: Session,
    actor: Principal,
    application_id: int,
    *,
    accept: bool,
    note: str = "",
    at: dt.datetime | None = None,
) -> Application:
    """The customer manager's review: accept for approval, or reject."""
    if not actor.can(REVIEW_PERMISSION):
        raise Forbidden(
            f"reviewing needs {REVIEW_PERMISSION}",
            code="missing_permission",
            details=[{"field": "reviewer", "message": f"lacks {REVIEW_PERMISSION}"}],
        )
    app = get_or_404(session, Application, application_id, "application_id", for_update=True)
    _step(
        session,
        actor,
        app,
        "review" if accept else "reject",
        at or utcnow(),
        reviewed_by=_id(actor),
        reviewed_by_name=actor.name,
        review_note=note[:500],
    )
    return app


def decide_application(
    session: Session,
    actor: Principal,
    application_id: int,
    *,
    approve: bool,
    note: str = "",
    at: dt.datetime | None = None,
) -> Application:
    """The checker's decision. Refused (403, nothing written) for whoever prepared the case."""
    app = get_or_404(session, Application, application_id, "application_id", for_update=True)
    flow.next_status(app.status, "approve" if approve else "reject")  # order first: 409
    flow.check_maker_checker(
        _id(actor), actor_permissions(actor), makers=[app.submitted_by, app.reviewed_by]
    )
    _step(
        session,
        actor,
        app,
        "approve" if approve else "reject",
        at or utcnow(),
        decided_by=_id(actor),
        decided_by_name=actor.name,
        decision_note=note[:500],
    )
    return app


def sign_contract(
    session: Session, actor: Principal, application_id: int, *, at: dt.datetime | None = None
) -> Application:
    app = get_or_404(session, Application, application_id, "application_id", for_update=True)
    at = at or utcnow()
    _step(
        session,
        actor,
        app,
        "contract",
        at,
        contract_no=f"HT{at.astimezone(SHANGHAI):%Y%m%d}{app.id:07d}",
    )
    return app


def disburse(
    session: Session, actor: Principal, application_id: int, *, at: dt.datetime | None = None
) -> Loan:
    """Pay out the granted amount: the loan and its schedule are created in the same step."""
    app = get_or_404(session, Application, application_id, "application_id", for_update=True)
    at = at or utcnow()
    flow.next_status(app.status, "disburse")
    product = get_or_404(session, Product, app.product_id, "product_id")
    terms = product_terms(product)
    on = at.astimezone(SHANGHAI).date()
    assert app.granted_amount is not None
    loan = create_loan(
        session,
        tenant_code=app.tenant_code,
        loan_no=f"XW{on:%Y%m%d}{app.id:07d}",
        borrower_id=app.borrower_id,
        product_id=product.id,
        principal=app.granted_amount,
        annual_rate=terms.annual_rate,
        term_months=app.term_months,
        method=terms.method,
        day_count=terms.day_count,
        allow_prepayment=terms.allow_prepayment,
        disbursed_at=at,
        disbursed_on=on,
        application_id=app.id,
        fee=arrangement_fee(app.granted_amount, AccountingTerms.from_json(product.accounting)),
    )
    _step(session, actor, app, "disburse", at, loan_id=loan.id)
    return loan


def _id(actor: Principal) -> int:
    # a token has no user id; use a negative token id so it can never equal a user's id
    if actor.user_id is not None:
        return actor.user_id
    return -(actor.token_id or 0) - 1


def actor_permissions(actor: Principal) -> set[str]:
    """Concrete permissions; the wildcard of admins and jobs counts as every permission."""
    perms = set(actor.permissions)
    if "*" in perms:
        perms.add(flow.APPROVE_PERMISSION)
    return perms


def hours_to_disbursement(app: Application) -> Decimal | None:
    if app.disbursed_at is None:
        return None
    return flow.hours_between(app.submitted_at, app.disbursed_at)


# =================================================================================================
# loans: disbursement with its schedule, stored schedule versions, repayments
# =================================================================================================


def create_loan(
    session: Session,
    *,
    tenant_code: str,
    loan_no: str,
    borrower_id: int,
    product_id: int,
    principal: Decimal,
    annual_rate: Decimal,
    term_months: int,
    method: RepaymentMethod,
    day_count: DayCount,
    allow_prepayment: bool,
    disbursed_at: dt.datetime,
    disbursed_on: dt.date,
    origin: str = "application",
    application_id: int | None = None,
    renewed_from_id: int | None = None,
    lines: Sequence[schedule_rules.Instalment] | None = None,
    fee: Decimal = ZERO,
) -> Loan:
    """Store a loan and its first schedule (generated here unless ``lines`` is given);
    ``fee`` is the arrangement fee withheld from the amount paid out."""
    if lines is None:
        lines = schedule_rules.generate_schedule(
            principal, annual_rate, disbursed_on, term_months, method, day_count
        )
    loan = Loan(
        tenant_code=tenant_code,
        loan_no=loan_no,
        borrower_id=borrower_id,
        application_id=application_id,
        product_id=product_id,
        origin=origin,
        principal=principal,
        annual_rate=annual_rate,
        term_months=len(lines),
        day_count=day_count.value,
        method=method.value,
        allow_prepayment=allow_prepayment,
        disbursed_on=disbursed_on,
        disbursed_at=disbursed_at,
        maturity_date=lines[-1].due_date,
        anchor_day=disbursed_on.day,
        renewed_from_id=renewed_from_id,
        outstanding_principal=principal,
        fee=fee,
    )
    session.add(loan)
    session.flush()
    store_schedule(session, loan, lines, version=1)
    return loan


def store_schedule(
    session: Session, loan: Loan, lines: Sequence[schedule_rules.Instalment], version: int
) -> None:
    """Insert one schedule version in a single batch."""
    session.execute(
        sa.insert(Instalment),
        [
            {
                "tenant_code": loan.tenant_code,
                "loan_id": loan.id,
                "version": version,
                "active": True,
                "number": x.number,
                "period_start": x.period_start,
                "due_date": x.due_date,
                "days": x.days,
                "opening_principal": x.opening_principal,
                "principal": x.principal,
                "interest": x.interest,
                "carried_interest": x.carried_interest,
                "principal_paid": ZERO,
                "interest_paid": ZERO,
                "paid_off": False,
            }
            for x in lines
        ],
    )


def replace_schedule(
    session: Session, loan: Loan, lines: Sequence[schedule_rules.Instalment]
) -> int:
    """Retire the active schedule (kept, ``active = False``) and store ``lines`` as the next."""
    session.execute(
        sa.update(Instalment)
        .where(Instalment.loan_id == loan.id, Instalment.active.is_(True))  # type: ignore[attr-defined]
        .values(active=False)
    )
    loan.schedule_version += 1
    store_schedule(session, loan, lines, loan.schedule_version)
    loan.maturity_date = lines[-1].due_date
    loan.outstanding_principal = sum((x.principal for x in lines), ZERO)
    session.add(loan)
    return loan.schedule_version


def active_lines(session: Session, loan_id: int) -> list[Instalment]:
    return list(
        session.exec(
            select(Instalment)
            .where(Instalment.loan_id == loan_id, Instalment.active.is_(True))  # type: ignore[attr-defined]
            .order_by(Instalment.number)
        ).all()
    )


def open_view(lines: Sequence[Instalment]) -> list[OpenInstalment]:
    """Active lines with what is still unpaid, as the servicing rules take them (interest paid
    on a line goes to the interest a relief carried onto it first)."""
    return [
        OpenInstalment(
            x.number,
            x.period_start,
            x.due_date,
            x.principal - x.principal_paid,
            x.interest - x.interest_paid,
            carried_due=max(x.carried_interest - x.interest_paid, ZERO),
            own_paid=max(x.interest_paid - x.carried_interest, ZERO),
        )
        for x in lines
        if not x.paid_off
    ]


def quote(session: Session, loan: Loan, as_of: dt.date) -> dict[str, Any]:
    """What is due and what settles ``loan`` on ``as_of``: billed interest and principal, the
    penalty interest (罚息, with compound interest where the product sets it), the payoff, and
    the order a repayment is allocated in."""
    view = open_view(active_lines(session, loan.id))
    dc = DayCount(loan.day_count)
    terms = loan_terms(session, loan)
    penalty = penalty_due(session, loan, as_of, terms) if loan.status == "active" else ZERO
    billed = [x for x in view if x.due_date <= as_of]
    return {
        "amount_due": amount_due(view, as_of) + penalty,
        "billed_interest": sum((x.interest_due for x in billed), ZERO),
        "billed_principal": sum((x.principal_due for x in billed), ZERO),
        "penalty_interest": penalty,
        "accrued_interest": accrued_interest(view, as_of, loan.annual_rate, dc, loan.anchor_day),
        "payoff": payoff_amount(view, as_of, loan.annual_rate, dc, loan.anchor_day) + penalty,
        "outstanding_principal": loan.outstanding_principal,
        "allocation_order": list(terms.allocation_order),
    }


def record_repayment(
    session: Session,
    actor: Principal,
    loan_id: int,
    amount: Decimal,
    paid_on: dt.date,
    reference: str,
) -> Repayment:
    """Record money received and allocate it in the product's order (penalty, interest, then
    principal by default; then any prepayment).

    Idempotent on ``reference``: the same reference and amount again returns the first record;
    the same reference with another amount is a 409. Nothing is written when a rule refuses.
    """
    _refuse_future_payment(paid_on)
    loan = get_or_404(session, Loan, loan_id, "loan_id", for_update=True)
    prior = _earlier_repayment(session, loan, reference, amount, paid_on)
    if prior is not None:
        return prior
    _refuse_before_disbursement(loan, paid_on)
    lines = active_lines(session, loan.id)
    result = _allocate(session, loan, lines, amount, paid_on)
    before_status = loan.status
    snapshot = _reversal_snapshot(loan, lines)  # taken before the lines change
    loan.penalty_paid += result.penalty
    if result.prepaid_principal > 0 and not result.closes_loan:
        # the schedule is regenerated from paid_on: the old one is accrued up to that day
        # first, once (penalty up to the day before, on the balances before this payment)
        accrue_loan(
            session, loan, paid_on, actor.name, penalty_through=paid_on - dt.timedelta(days=1)
        )
    _apply_allocation(session, loan, lines, result, paid_on)
    repayment = _repayment_record(actor, loan, amount, paid_on, reference, result)
    repayment.allocation = {**repayment.allocation, **snapshot}
    session.add(repayment)
    session.add(loan)
    session.flush()
    if result.closes_loan or result.prepaid_principal > 0:
        _audit_prepayment_or_close(session, actor, loan, repayment, result, before_status)
    return repayment


def _refuse_before_disbursement(loan: Loan, paid_on: dt.date) -> None:
    if paid_on < loan.disbursed_on:
        raise Conflict(
            "repayment dated before disbursement",
            code="before_disbursement",
            details=[{"field": "paid_on", "message": f"disbursed {loan.disbursed_on}"}],
        )


def _allocate(
    session: Session, loan: Loan, lines: Sequence[Instalment], amount: Decimal, paid_on: dt.date
) -> Allocation:
    """How ``amount`` paid on ``paid_on`` splits over the penalty due, the open lines and a
    prepayment, in the product's allocation order (the servicing rules decide; nothing is
    written here)."""
    terms = loan_terms(session, loan)
    penalty = penalty_due(session, loan, paid_on, terms) if loan.status == "active" else ZERO
    return allocate_repayment(
        amount,
        open_view(lines),
        paid_on,
        annual_rate=loan.annual_rate,
        day_count=DayCount(loan.day_count),
        anchor_day=loan.anchor_day,
        allow_prepayment=loan.allow_prepayment,
        loan_status=loan.status,
        penalty_due=penalty,
        order=terms.allocation_order,
    )


def _reversal_snapshot(loan: Loan, lines: Sequence[Instalment]) -> dict[str, Any]:
    """What a reversal restores: the schedule version and each line's paid figures before."""
    return {
        "version": loan.schedule_version,
        "before": [
            [x.number, str(x.principal_paid), str(x.interest_paid), x.paid_off] for x in lines
        ],
    }


def _refuse_future_payment(paid_on: dt.date) -> None:
    """A repayment cannot be dated after today (the network's day)."""
    today = clock.today()
    if paid_on > today:
        raise ValidationError(
            "repayment dated in the future",
            code="paid_on_in_future",
            details=[{"field": "paid_on", "message": f"after today ({today.isoformat()})"}],
        )


def _earlier_repayment(
    session: Session, loan: Loan, reference: str, amount: Decimal, paid_on: dt.date
) -> Repayment | None:
    """The repayment already recorded under ``reference`` (a replay), or None; the same
    reference for another amount or day is a 409."""
    prior = session.exec(
        select(Repayment).where(Repayment.loan_id == loan.id, Repayment.reference == reference)
    ).first()
    if prior is not None and (prior.amount != amount or prior.paid_on != paid_on):
        raise Conflict(
            "reference already used for a different repayment",
            code="duplicate_reference",
            details=[{"field": "reference", "message": f"repayment {prior.id}"}],
        )
    return prior


def _apply_allocation(
    session: Session,
    loan: Loan,
    lines: Sequence[Instalment],
    result: Allocation,
    paid_on: dt.date,
) -> None:
    """Book the allocation on the instalments and the loan: each line's share, the outstanding
    principal, then the payoff (closing the loan) or the reschedule after a prepayment."""
    by_number = {x.number: x for x in lines}
    for part in result.lines:
        line = by_number[part.number]
        line.interest_paid += part.interest
        line.principal_paid += part.principal
        line.paid_off = (
            line.interest_paid == line.interest and line.principal_paid == line.principal
        )
        session.add(line)
    loan.outstanding_principal -= result.principal
    if result.closes_loan:
        loan.status, loan.closed_on = "closed", paid_on
        for line in lines:
            # the payoff settles every open line: billed ones above, the current period's
            # accrued interest and all unbilled principal here
            if not line.paid_off:
                line.principal_paid = line.principal
                line.interest_paid = line.interest_paid + (
                    result.accrued_interest
                    if line.period_start <= paid_on < line.due_date
                    else ZERO
                )
                line.paid_off = True
                session.add(line)
    elif result.prepaid_principal > 0:
        _reschedule_after_prepayment(session, loan, lines, paid_on)
    elif result.accrued_interest > 0:
        # interest of the current period paid early, no principal: the line bills the rest
        current = [x for x in lines if x.period_start <= paid_on < x.due_date and not x.paid_off]
        if current:
            line = min(current, key=lambda x: x.due_date)
            line.interest_paid += result.accrued_interest
            session.add(line)


def _repayment_record(
    actor: Principal,
    loan: Loan,
    amount: Decimal,
    paid_on: dt.date,
    reference: str,
    result: Allocation,
) -> Repayment:
    """The repayment row, with how it was allocated line by line."""
    return Repayment(
        tenant_code=loan.tenant_code,
        loan_id=loan.id,
        paid_on=paid_on,
        amount=amount,
        interest=result.interest,
        principal=result.principal,
        penalty=result.penalty,
        reference=reference,
        allocation={
            "penalty": str(result.penalty),
            "lines": [[x.number, str(x.interest), str(x.principal)] for x in result.lines],
            "accrued_interest": str(result.accrued_interest),
            "prepaid_principal": str(result.prepaid_principal),
        },
        recorded_by=actor.name,
    )


def _audit_prepayment_or_close(
    session: Session,
    actor: Principal,
    loan: Loan,
    repayment: Repayment,
    result: Allocation,
    before_status: str,
) -> None:
    audit.record(
        "lending.loan.prepayment" if not result.closes_loan else "lending.loan.close",
        target_type="lending_loan",
        target_id=loan.id,
        tenant=loan.tenant_code,
        before={"status": before_status},
        after={
            "status": loan.status,
            "repayment_id": repayment.id,
            "outstanding_principal": loan.outstanding_principal,
        },
        session=session,
        actor=actor.name,
    )


def _reschedule_after_prepayment(
    session: Session, loan: Loan, lines: Sequence[Instalment], paid_on: dt.date
) -> None:
    """Same due dates, lower payments: the rest is re-amortised from the payment date.

    Interest accrued before the payment (with any interest a relief carried onto the current
    line) was paid with it, so the first new line charges only from ``paid_on`` (the old
    schedule was accrued up to that day before the payment, see ``record_repayment``).
    """
    remaining_dates = [x.due_date for x in lines if x.due_date > paid_on and not x.paid_off]
    first_number = min(x.number for x in lines if x.due_date > paid_on)
    new_lines = schedule_rules.build_schedule(
        loan.outstanding_principal,
        loan.annual_rate,
        paid_on,
        remaining_dates,
        RepaymentMethod(loan.method),
        DayCount(loan.day_count),
        first_number=first_number,
        anchor_day=loan.anchor_day,
    )
    replace_schedule(session, loan, new_lines)


def now() -> dt.datetime:
    return utcnow()


# =================================================================================================
# accounting: the loan book in accounting terms: accrual, provision, write-off, recovery,
# reversals, journal
# =================================================================================================


# --- reading ---------------------------------------------------------------------------------


def accounting_terms(product: Product | None) -> accounting_rules.AccountingTerms:
    return accounting_rules.AccountingTerms.from_json(product.accounting if product else None)


def loan_terms(session: Session, loan: Loan) -> accounting_rules.AccountingTerms:
    return accounting_terms(session.get(Product, loan.product_id))


def provision_rates(
    session: Session, loan: Loan, terms: accounting_rules.AccountingTerms
) -> accounting_rules.ProvisionRates:
    """The product's rates when it sets them, otherwise the unit's settings (PBoC default)."""
    if terms.provision is not None:
        return terms.provision
    return plugin_settings.values(session, "lending", loan.tenant_code, ProvisionSettings).rates()


def accrual_lines(session: Session, loan_id: int) -> list[accounting_rules.Line]:
    rows = session.exec(
        select(Instalment)
        .where(Instalment.loan_id == loan_id, Instalment.active.is_(True))  # type: ignore[attr-defined]
        .order_by(Instalment.number)
    ).all()
    return [
        accounting_rules.Line(
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
    session: Session,
    loan: Loan,
    as_of: dt.date,
    terms: accounting_rules.AccountingTerms | None = None,
) -> Decimal:
    """Penalty interest owed on ``as_of``: what the close of business accrued and was not paid,
    plus the days after it last accrued up to the day before ``as_of`` (that day's own penalty
    is charged at its close of business on the balance left after the day's repayments)."""
    terms = terms or loan_terms(session, loan)
    since = loan.accrued_through or loan.disbursed_on
    pending = accounting_rules.penalty_accrual(
        accrual_lines(session, loan.id),
        since,
        as_of - dt.timedelta(days=1),
        loan.annual_rate,
        DayCount(loan.day_count),
        terms,
    )
    return max(loan.penalty_accrued - loan.penalty_paid + pending, ZERO)


def interest_receivable(session: Session, loan: Loan) -> tuple[Decimal, Decimal]:
    """(interest, penalty) accrued and not yet paid on ``loan``. A renewed loan also owes the
    interest its renewal carried over: accrued on the old loan, whose settlement moved it to
    this loan's receivable (paid here, not there)."""
    paid = session.exec(
        select(sa.func.coalesce(sa.func.sum(Repayment.interest), 0)).where(
            Repayment.loan_id == loan.id
        )
    ).one()
    interest_paid = Decimal(str(paid[0] if isinstance(paid, tuple | sa.Row) else paid))
    carried_in = ZERO
    if loan.renewed_from_id is not None:
        moved = session.exec(
            select(sa.func.coalesce(sa.func.sum(Repayment.interest), 0)).where(
                Repayment.loan_id == loan.renewed_from_id,
                Repayment.kind == "renewal_settlement",
                Repayment.reference == f"renewal:{loan.id}",
            )
        ).one()
        carried_in = Decimal(str(moved[0] if isinstance(moved, tuple | sa.Row) else moved))
    return (
        max(to_fen(loan.interest_accrued + carried_in - interest_paid), ZERO),
        max(loan.penalty_accrued - loan.penalty_paid, ZERO),
    )


def accrue_loan(
    session: Session,
    loan: Loan,
    through: dt.date,
    recorded_by: str,
    penalty_through: dt.date | None = None,
) -> Decimal:
    """Book what ``loan`` earned on its active schedule after its ``accrued_through`` up to the
    end of ``through`` (interest and penalty, one accrual event), as the close of business
    would; before a relief replaces the schedule, so the interest it carries over is accrued on
    the old schedule, once, and before a prepayment regenerates it. ``penalty_through`` (default
    ``through``) stops the penalty a day earlier when a repayment will pay what is overdue on
    ``through`` (that day's penalty is on the balance left after it, which is nil). Returns the
    amount booked (nothing if already accrued through)."""
    start = loan.accrued_through or loan.disbursed_on
    if loan.status != "active" or through <= start:
        return ZERO
    terms = loan_terms(session, loan)
    mine = accrual_lines(session, loan.id)
    dc = DayCount(loan.day_count)
    interest = accounting_rules.interest_accrual(
        mine, start, through, loan.annual_rate, dc, loan.anchor_day
    )
    penalty = accounting_rules.penalty_accrual(
        mine, start, penalty_through or through, loan.annual_rate, dc, terms
    )
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
    loans = _loans_to_close(session, unit, as_of)
    if not loans:
        return _books_result(0, ZERO, ZERO, ZERO)
    lines = _lines_that_earn(session, unit, loans, as_of)
    products = {p.id: accounting_terms(p) for p in session.exec(select(Product)).all()}
    taken = _provisions_booked(session, unit, as_of)
    rates: dict[tuple[int, str], accounting_rules.ProvisionRates] = {}
    events: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    interest_total = penalty_total = provision_total = ZERO
    accrued = 0
    now = utcnow()
    for loan in loans:
        terms = products.get(loan.product_id) or accounting_rules.AccountingTerms()
        change: dict[str, Any] = {}
        accrual = _accrual(loan, lines.get(loan.id, []), terms, as_of, change, now)
        if accrual is not None:
            accrued += 1
            interest_total += accrual["interest"]
            penalty_total += accrual["penalty"]
            events.append(accrual)
        key = (loan.product_id, loan.tenant_code)
        if key not in rates:
            rates[key] = terms.provision or provision_rates(session, loan, terms)
        provision = _provision(loan, rates[key], as_of, int(taken.get(loan.id, 0)), change, now)
        if provision is not None:
            provision_total += provision["amount"]
            events.append(provision)
        if change:
            updates.append({"b_id": loan.id, **_full(loan, change)})
    _write_books(session, events, updates)
    session.expire_all()  # loans updated in Core are read afresh by the ORM
    return _books_result(accrued, interest_total, penalty_total, provision_total)


def _accrual(
    loan: Any,
    lines: list[accounting_rules.Line],
    terms: accounting_rules.AccountingTerms,
    as_of: dt.date,
    change: dict[str, Any],
    now: dt.datetime,
) -> dict[str, Any] | None:
    """The accrual event of ``loan`` for the days after it last accrued up to ``as_of`` (a
    closed or renewed loan up to its closing day), or None; ``change`` gets its new figures."""
    start = loan.accrued_through or loan.disbursed_on
    end = as_of if loan.status == "active" else min(as_of, loan.closed_on or start)
    if loan.status not in ("active", "closed", "renewed") or end <= start:
        return None
    dc = DayCount(loan.day_count)
    interest = accounting_rules.interest_accrual(
        lines, start, end, loan.annual_rate, dc, loan.anchor_day
    )
    penalty = accounting_rules.penalty_accrual(lines, start, end, loan.annual_rate, dc, terms)
    change["accrued_through"] = end
    if not (interest or penalty):
        return None
    change["interest_accrued"] = loan.interest_accrued + interest
    change["penalty_accrued"] = loan.penalty_accrued + penalty
    return _event_row(
        loan, "accrual", end, now,
        amount=interest + penalty, interest=interest, penalty=penalty,
        reference=f"accrual:{end.isoformat()}",
        memo=f"计提利息 {start.isoformat()}~{end.isoformat()}",
    )  # fmt: skip


def _provision(
    loan: Any,
    rates: accounting_rules.ProvisionRates,
    as_of: dt.date,
    booked: int,
    change: dict[str, Any],
    now: dt.datetime,
) -> dict[str, Any] | None:
    """The provision event moving what ``loan`` holds to what its class requires on ``as_of``
    (none for a loan no longer active), or None when it holds that already."""
    required = (
        accounting_rules.required_provision(loan.outstanding_principal, loan.category, rates)
        if loan.status == "active"
        else ZERO
    )
    delta = required - loan.provision
    if delta == 0:
        return None
    change["provision"] = required
    return _event_row(
        loan, "provision", as_of, now,
        amount=delta,
        principal=loan.outstanding_principal if loan.status == "active" else ZERO,
        reference=f"provision:{as_of.isoformat()}" + (f":{booked + 1}" if booked else ""),
        memo="计提贷款损失准备" if delta > 0 else "转回贷款损失准备",
    )  # fmt: skip


def _loans_to_close(session: Session, unit: str, as_of: dt.date) -> list[Any]:
    """The loans of ``unit``'s subtree a close on ``as_of`` concerns: active ones, closed or
    renewed ones not yet accrued up to their closing day, and any still holding a provision."""
    loan_t = Loan.__table__  # type: ignore[attr-defined]
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
    return list(loans)


def _lines_that_earn(
    session: Session, unit: str, loans: Sequence[Any], as_of: dt.date
) -> dict[int, list[accounting_rules.Line]]:
    """Per loan, the schedule lines that can still earn something: a period not over at the
    loan's last accrual, or a line overdue and unpaid; read without a join (the lines' own
    subtree filter and index), then kept for the loans that accrue."""
    line_t = Instalment.__table__  # type: ignore[attr-defined]
    want = {
        row.id: row.accrued_through or row.disbursed_on
        for row in loans
        if row.status == "active"
        or (row.closed_on is not None and (row.accrued_through or row.disbursed_on) < row.closed_on)
    }
    lines: dict[int, list[accounting_rules.Line]] = defaultdict(list)
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
                accounting_rules.Line(
                    row.period_start,
                    row.due_date,
                    row.opening_principal,
                    row.interest,
                    row.principal - row.principal_paid,
                    row.interest - row.interest_paid,
                    row.carried_interest,
                )
            )
    return lines


def _provisions_booked(session: Session, unit: str, as_of: dt.date) -> dict[int, int]:
    """How many provision events each loan already has on ``as_of`` (a re-run's reference)."""
    return dict(
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


def _write_books(session: Session, events: list[dict], updates: list[dict]) -> None:
    """The night's events and the loans' new figures, in one statement each."""
    loan_t = Loan.__table__  # type: ignore[attr-defined]
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
    snapshot = _reversible_snapshot(session, loan, original, ref)
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


def _reversible_snapshot(session: Session, loan: Loan, original: Repayment, ref: str) -> list:
    """The lines' paid figures before ``original``, if it may be reversed: not reversed yet
    (409 ``already_reversed``), the loan's latest standing repayment, on an active or closed
    loan, recorded with its snapshot (else 409 ``not_reversible``)."""
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
    return snapshot


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
    return [
        *_disbursement_vouchers(session, tenant, date_from, date_to),
        *_repayment_vouchers(session, tenant, date_from, date_to),
        *_event_vouchers(session, tenant, date_from, date_to),
    ]


def _disbursement_vouchers(
    session: Session, tenant: str, date_from: dt.date, date_to: dt.date
) -> list[JournalLine]:
    """Dr loans / Cr bank and fee income, per loan disbursed on the dates."""
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
    return out


def _repayment_vouchers(
    session: Session, tenant: str, date_from: dt.date, date_to: dt.date
) -> list[JournalLine]:
    """Dr bank / Cr interest receivable and loans, per repayment (a reversal: sides swapped; a
    renewal's settlement: the carried interest stays receivable, on the new loan)."""
    out: list[JournalLine] = []
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
    return out


def _event_vouchers(
    session: Session, tenant: str, date_from: dt.date, date_to: dt.date
) -> list[JournalLine]:
    """Per write-off, recovery and disbursement reversal one voucher; per unit and day one for
    the accruals and one for the net provision change."""
    out: list[JournalLine] = []
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


# =================================================================================================
# relief: requests: eligibility on request and again on approval, maker-checker,
# regeneration from the relief date (old schedule kept), renewal as a linked new loan
# =================================================================================================


RELIEF_PERMISSION = "lending.relief"


def _open_on(
    session: Session, loan: Loan, lines: list[Instalment], on: dt.date
) -> list[OpenInstalment]:
    """What was unpaid on each active line at the end of ``on``: today's unpaid amounts plus what
    repayments dated after ``on`` paid on that line (their stored allocation). Days past due are
    counted from this, as of the relief date, not from the last close of business nor from
    payments the borrower made only later."""
    later: dict[int, list[Decimal]] = {}
    for rep in session.exec(
        select(Repayment).where(Repayment.loan_id == loan.id, Repayment.paid_on > on)
    ).all():
        for number, interest, principal in (rep.allocation or {}).get("lines", []):
            back = later.setdefault(int(number), [ZERO, ZERO])
            back[0] += Decimal(interest)
            back[1] += Decimal(principal)
    out = []
    for x in lines:
        interest, principal = later.get(x.number, (ZERO, ZERO))
        unpaid_p = min(x.principal, x.principal - x.principal_paid + principal)
        unpaid_i = min(x.interest, x.interest - x.interest_paid + interest)
        if unpaid_p + unpaid_i > 0:
            out.append(OpenInstalment(x.number, x.period_start, x.due_date, unpaid_p, unpaid_i))
    return out


def relief_position(session: Session, loan: Loan, on: dt.date) -> relief_rules.LoanPosition:
    """The loan as relief sees it on ``on``."""
    borrower = get_or_404(session, Borrower, loan.borrower_id, "borrower_id")
    lines = active_lines(session, loan.id)
    view = open_view(lines)
    dc = DayCount(loan.day_count)
    billed_interest = sum((x.interest_due for x in view if x.due_date <= on), ZERO)
    unbilled = [x for x in view if x.due_date > on]
    return relief_rules.LoanPosition(
        status=loan.status,
        days_past_due=days_past_due(_open_on(session, loan, lines, on), on),
        business_operating=borrower.operating,
        maturity_date=loan.maturity_date,
        outstanding_principal=sum((x.principal_due for x in view), ZERO),
        carried_interest=billed_interest
        + accrued_interest(view, on, loan.annual_rate, dc, loan.anchor_day),
        annual_rate=loan.annual_rate,
        day_count=dc,
        method=RepaymentMethod(loan.method),
        remaining_due_dates=[x.due_date for x in unbilled],
        next_number=min((x.number for x in unbilled), default=len(view) + 1),
        anchor_day=loan.anchor_day,
    )


def request_relief(
    session: Session,
    actor: Principal,
    loan_id: int,
    payload: Mapping[str, Any],
    *,
    at: dt.datetime | None = None,
) -> Relief:
    """Record one relief operation for approval; an ineligible loan is refused (422)."""
    request = relief_rules.parse_request(payload)  # one operation, well-formed: else 400/422
    loan = get_or_404(session, Loan, loan_id, "loan_id", for_update=True)
    if request.relief_date < loan.disbursed_on:
        raise Conflict(
            "relief date before disbursement",
            details=[{"field": "relief_date", "message": "before disbursement"}],
        )
    pending = session.exec(
        select(Relief).where(Relief.loan_id == loan.id, Relief.status == "requested")
    ).first()
    if pending is not None:
        raise Conflict(
            "this loan already has a relief request awaiting approval",
            code="relief_pending",
            details=[{"field": "loan_id", "message": f"relief {pending.id}"}],
        )
    outcomes = relief_rules.ensure_eligible(
        request, relief_position(session, loan, request.relief_date)
    )
    row = Relief(
        tenant_code=loan.tenant_code,
        loan_id=loan.id,
        kind=request.kind.value,
        relief_date=request.relief_date,
        params={
            "term_months": request.term_months,
            "extension_months": request.extension_months,
            "annual_rate": str(request.annual_rate) if request.annual_rate is not None else None,
        },
        reason=request.reason[:500],
        eligibility=[o.as_dict() for o in outcomes],
        requested_by=_id(actor),
        requested_by_name=actor.name,
        requested_at=at or utcnow(),
    )
    session.add(row)
    session.flush()
    audit.record(
        f"lending.relief.request.{row.kind}",
        target_type="lending_relief",
        target_id=row.id,
        tenant=row.tenant_code,
        after={
            "loan_id": loan.id,
            "kind": row.kind,
            "params": row.params,
            "relief_date": row.relief_date,
            "eligibility": row.eligibility,
        },
        session=session,
        actor=actor.name,
    )
    return row


def decide_relief(
    session: Session,
    actor: Principal,
    relief_id: int,
    *,
    approve: bool,
    note: str = "",
    at: dt.datetime | None = None,
) -> Relief:
    """Approve (apply) or reject a relief; the requester may not decide it."""
    row = get_or_404(session, Relief, relief_id, "relief_id", for_update=True)
    if row.status != "requested":
        raise Conflict(
            f"relief is already {row.status}",
            code="invalid_transition",
            details=[{"field": "relief_id", "message": row.status}],
        )
    flow.check_maker_checker(_id(actor), actor_permissions(actor), makers=[row.requested_by])
    at = at or utcnow()
    loan = get_or_404(session, Loan, row.loan_id, "loan_id", for_update=True)
    before = {
        "status": row.status,
        "loan_status": loan.status,
        "schedule_version": loan.schedule_version,
        "maturity_date": loan.maturity_date,
        "outstanding_principal": loan.outstanding_principal,
    }
    row.decided_by, row.decided_by_name, row.decided_at = _id(actor), actor.name, at
    if not approve:
        row.status = "rejected"
        session.add(row)
        audit.record(
            "lending.relief.reject",
            target_type="lending_relief",
            target_id=row.id,
            tenant=row.tenant_code,
            before=before,
            after={"status": "rejected", "note": note[:500]},
            session=session,
            actor=actor.name,
        )
        return row
    request = relief_rules.ReliefRequest(
        kind=relief_rules.ReliefKind(row.kind),
        relief_date=row.relief_date,
        term_months=row.params.get("term_months"),
        extension_months=row.params.get("extension_months"),
        annual_rate=None
        if row.params.get("annual_rate") is None
        else Decimal(row.params["annual_rate"]),
    )
    if not plan_renews(row):
        # the interest carried onto the new schedule is accrued on the old one, up to the
        # relief date, once (the close of business may not have reached that day yet)
        accrue_loan(session, loan, row.relief_date, actor.name)
    pos = relief_position(session, loan, row.relief_date)
    plan = relief_rules.plan(request, pos)  # eligibility checked again: the loan may have moved on
    row.outstanding_principal, row.carried_interest = plan.principal, plan.carried_interest
    row.old_schedule_version = loan.schedule_version
    if plan.new_loan:
        new = _renew(session, actor, loan, plan, at)
        row.new_loan_id, row.new_schedule_version = new.id, 1
    else:
        row.new_schedule_version = replace_schedule(session, loan, plan.schedule)
        loan.annual_rate = plan.annual_rate
        if request.kind is relief_rules.ReliefKind.EXTENSION:
            loan.term_months += request.extension_months or 0
        else:
            loan.term_months = len(plan.schedule)
        loan.days_past_due, loan.category = 0, "normal"
        session.add(loan)
    row.status = "approved"
    session.add(row)
    session.flush()
    audit.record(
        f"lending.relief.approve.{row.kind}",
        target_type="lending_relief",
        target_id=row.id,
        tenant=row.tenant_code,
        before=before,
        after={
            "status": "approved",
            "loan_status": loan.status,
            "schedule_version": loan.schedule_version,
            "maturity_date": plan.maturity_date,
            "new_loan_id": row.new_loan_id,
            "outstanding_principal": plan.principal,
            "carried_interest": plan.carried_interest,
            "note": note[:500],
        },
        session=session,
        actor=actor.name,
    )
    return row


def plan_renews(row: Relief) -> bool:
    """A renewal settles the old loan (its closes accrue it up to the relief date)."""
    return row.kind == relief_rules.ReliefKind.RENEWAL.value


def _renew(
    session: Session, actor: Principal, old: Loan, plan: relief_rules.ReliefPlan, at: dt.datetime
) -> Loan:
    """无还本续贷: a new loan for the outstanding principal settles the old one; both linked."""
    new = create_loan(
        session,
        tenant_code=old.tenant_code,
        loan_no=f"XR{plan.relief_date:%Y%m%d}{old.id:07d}",
        borrower_id=old.borrower_id,
        product_id=old.product_id,
        principal=plan.principal,
        annual_rate=plan.annual_rate,
        term_months=len(plan.schedule),
        method=RepaymentMethod(old.method),
        day_count=DayCount(old.day_count),
        allow_prepayment=old.allow_prepayment,
        disbursed_at=at,
        disbursed_on=plan.relief_date,
        origin="renewal",
        renewed_from_id=old.id,
        lines=plan.schedule,
    )
    settlement = Repayment(
        tenant_code=old.tenant_code,
        loan_id=old.id,
        paid_on=plan.relief_date,
        amount=plan.principal + plan.carried_interest,
        interest=plan.carried_interest,
        principal=plan.principal,
        kind="renewal_settlement",
        reference=f"renewal:{new.id}",
        allocation={"settled_by_loan": new.id, "carried_interest": str(plan.carried_interest)},
        recorded_by=actor.name,
    )
    session.add(settlement)
    old.status, old.closed_on, old.renewed_to_id = "renewed", plan.relief_date, new.id
    old.outstanding_principal = ZERO
    session.add(old)
    session.flush()
    return new


# =================================================================================================
# close_of_business: the nightly close of business (日终): days past due, classification, snapshot,
# then the books
# =================================================================================================


def _subtree(column: str) -> str:
    return f"({column} = :unit OR {column} LIKE :unit_prefix)"


def _days_between(dialect: str, later: str, earlier: str) -> str:
    if dialect == "postgresql":
        return f"({later} - {earlier})"
    return f"CAST(julianday({later}) - julianday({earlier}) AS INTEGER)"


def close_statements(dialect: str, bands: Bands = Bands()) -> list[str]:
    """The SQL of one close of business, in order (parameters :as_of, :unit, :unit_prefix)."""
    as_of = "CAST(:as_of AS DATE)" if dialect == "postgresql" else ":as_of"
    oldest_unpaid = (
        "SELECT loan_id, MIN(due_date) AS oldest FROM lending_instalment "
        f"WHERE active AND NOT paid_off AND due_date < {as_of} AND {_subtree('tenant_code')} "
        "GROUP BY loan_id"
    )
    in_scope = f"status = 'active' AND disbursed_on <= {as_of} AND {_subtree('tenant_code')}"
    dpd = (
        f"SELECT l.id AS id, COALESCE({_days_between(dialect, as_of, 'o.oldest')}, 0) AS dpd "
        f"FROM lending_loan l LEFT JOIN ({oldest_unpaid}) o ON o.loan_id = l.id "
        f"WHERE l.status = 'active' AND l.disbursed_on <= {as_of} "
        f"AND {_subtree('l.tenant_code')}"
    )
    classified = f"SELECT id, dpd, {sql_case('dpd', bands)} AS category FROM ({dpd}) d"
    if dialect == "postgresql":
        total = "SUM(outstanding_principal)"
    else:
        # SQLite keeps money as exact text; sum whole fen as integers, print back to 2 places
        total = "printf('%.2f', SUM(CAST(ROUND(outstanding_principal * 100) AS INTEGER)) / 100.0)"
    return [
        # 1. days past due from the oldest unpaid billed line of the active schedule, and the
        #    five-category class from the bands (the same CASE the rules test); only loans
        #    whose figures change are written, so a quiet night writes almost nothing
        "UPDATE lending_loan SET days_past_due = n.dpd, category = n.category "
        f"FROM ({classified}) n WHERE lending_loan.id = n.id "
        "AND (lending_loan.days_past_due <> n.dpd OR lending_loan.category <> n.category)",
        # 2. the snapshot of the date, replaced whole
        f"DELETE FROM lending_portfolio_snapshot WHERE as_of = {as_of} AND {_subtree('tenant_code')}",
        "INSERT INTO lending_portfolio_snapshot (tenant_code, as_of, category, loans, outstanding) "
        f"SELECT tenant_code, {as_of}, category, COUNT(*), {total} "
        f"FROM lending_loan WHERE {in_scope} GROUP BY tenant_code, category",
    ]


def close_of_business(
    session: Session, unit: str, as_of: dt.date, bands: Bands = Bands()
) -> dict[str, Any]:
    """Close business for ``unit``'s subtree on ``as_of``; returns loans classified, how many
    changed, and the loans per category."""
    session.flush()  # the statements below read what the ORM has pending
    dialect = session.get_bind().dialect.name
    params = {
        "as_of": as_of.isoformat() if dialect != "postgresql" else as_of,
        "unit": unit,
        "unit_prefix": unit + ".%",
    }
    changed = 0
    for i, sql in enumerate(close_statements(dialect, bands)):
        result = session.execute(sa.text(sql), params)
        if i == 0:
            changed = result.rowcount
    counts = dict(
        session.execute(
            sa.text(
                "SELECT category, SUM(loans) FROM lending_portfolio_snapshot "
                f"WHERE as_of = :as_of AND {_subtree('tenant_code')} GROUP BY category"
            ),
            params,
        ).all()
    )
    categories = {k: int(v) for k, v in counts.items()}
    session.expire_all()  # loans just reclassified in SQL are read afresh by the ORM
    books = close_accounts(session, unit, as_of)
    return {
        "as_of": as_of.isoformat(),
        "loans": sum(categories.values()),
        "changed": changed,
        "categories": categories,
        **books,
    }


# =================================================================================================
# outreach: the phone-back list and recorded calls
# =================================================================================================


def phone_back_list(
    session: Session,
    as_of: dt.date,
    policy: outreach_rules.OutreachPolicy = outreach_rules.OutreachPolicy(),
    manager: str | None = None,
) -> list[dict[str, Any]]:
    """Borrowers with an active loan whose sales slowed or whose loan matures soon."""
    stmt = (
        select(Loan, Borrower)
        .join(Borrower, Borrower.id == Loan.borrower_id)
        .where(Loan.status == "active")
    )
    if manager:
        stmt = stmt.where(Borrower.customer_manager == manager)
    pairs = session.exec(stmt.order_by(Loan.maturity_date, Loan.id)).all()
    taxes = tax_record(session, {b.id for _, b in pairs})
    last_calls = _last_calls(session, [b.id for _, b in pairs])
    out = []
    for loan, borrower in pairs:
        reasons = outreach_rules.reasons_to_call(
            taxes[borrower.id], loan.maturity_date, as_of, policy
        )
        if not reasons:
            continue
        drop = outreach_rules.sales_drop(taxes[borrower.id], as_of, policy.window_months)
        out.append(
            {
                "borrower_id": borrower.id,
                "borrower": borrower.name,
                "phone": borrower.phone,
                "tenant_code": borrower.tenant_code,
                "customer_manager": borrower.customer_manager,
                "loan_id": loan.id,
                "loan_no": loan.loan_no,
                "maturity_date": loan.maturity_date,
                "outstanding_principal": loan.outstanding_principal,
                "days_past_due": loan.days_past_due,
                "reasons": [r.value for r in reasons],
                "sales_drop": None if drop is None else str(drop.quantize(Decimal("0.0001"))),
                "last_call": last_calls.get(borrower.id),
            }
        )
    return out


def _last_calls(session: Session, borrower_ids: list[int]) -> dict[int, dict[str, Any]]:
    if not borrower_ids:
        return {}
    rows = session.exec(
        select(OutreachCall)
        .where(OutreachCall.borrower_id.in_(borrower_ids))  # type: ignore[attr-defined]
        .order_by(OutreachCall.called_at)
    ).all()
    return {
        r.borrower_id: {"outcome": r.outcome, "called_at": r.called_at, "note": r.note}
        for r in rows
    }


def record_call(
    session: Session,
    actor: Principal,
    *,
    borrower_id: int,
    outcome: str,
    note: str = "",
    loan_id: int | None = None,
    reasons: list[str] | None = None,
    at: dt.datetime | None = None,
) -> OutreachCall:
    borrower = get_or_404(session, Borrower, borrower_id, "borrower_id")
    parsed = outreach_rules.parse_outcome(outcome)
    if loan_id is not None:
        loan = get_or_404(session, Loan, loan_id, "loan_id")
        if loan.borrower_id != borrower.id:
            raise ValidationError(
                "loan belongs to another borrower",
                details=[{"field": "loan_id", "message": "other borrower"}],
            )
    known = {r.value for r in outreach_rules.Reason}
    bad = [r for r in (reasons or []) if r not in known]
    if bad:
        raise ValidationError(
            "unknown call reason",
            code="invalid_reason",
            details=[{"field": "reasons", "message": f"one of {sorted(known)}"}],
        )
    row = OutreachCall(
        tenant_code=borrower.tenant_code,
        borrower_id=borrower.id,
        loan_id=loan_id,
        reasons=list(reasons or []),
        outcome=parsed.value,
        note=note[:500],
        called_by=actor.name,
    )
    if at is not None:
        row.called_at = at
    session.add(row)
    session.flush()
    return row
