"""The application flow: submit -> automated pre-check -> review -> approval -> contract ->
disbursement, each step stamped, every decision audited, maker-checker enforced."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from postalops import audit
from postalops.context import Principal
from postalops.errors import Forbidden, ValidationError
from sqlmodel import Session

from postalops_lending import application_flow as flow
from postalops_lending.accounting import AccountingTerms, arrangement_fee
from postalops_lending.credit_line import pre_check
from postalops_lending.models import Application, Borrower, Loan, Product
from postalops_lending.services import loans
from postalops_lending.services.borrowers import months_in_business, tax_record
from postalops_lending.services.common import get_or_404, utcnow
from postalops_lending.services.products import policy_of, terms_of

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
REVIEW_PERMISSION = "lending.review"

AUDITED = (
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
    return {f: getattr(app, f) for f in AUDITED}


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


def submit(
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


def review(
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


def decide(
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
    terms = terms_of(product)
    on = at.astimezone(SHANGHAI).date()
    assert app.granted_amount is not None
    loan = loans.create_loan(
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
