"""Loan products: stored rows <-> the rules' ``ProductTerms`` and ``TaxModePolicy``."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from postalops import audit
from postalops.context import Principal
from postalops.errors import Conflict, ValidationError
from sqlmodel import Session, select

from postalops_lending.accounting import AccountingTerms
from postalops_lending.credit_line import TaxModePolicy
from postalops_lending.models import Product
from postalops_lending.product import DayCount, ProductTerms, RepaymentMethod


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


def terms_of(product: Product) -> ProductTerms:
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


EDITABLE = (
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
        for f in EDITABLE
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
