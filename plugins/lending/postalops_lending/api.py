"""The lending API under ``/api/v1/lending`` (listed in ``/api/v1/openapi.json``).

Money travels as decimal strings; a float amount is refused. Each request is one transaction:
a refused request (4xx) rolls back and leaves nothing written.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, Literal

from postalops import clock, context
from postalops.api import ApiBlueprint, paginate, query_period
from postalops.errors import ValidationError
from postalops.fields import parse_money
from postalops.imports import check_rows, read_upload, row_report
from postalops.money import ZERO, parse_amount
from pydantic import BaseModel, BeforeValidator, Field
from sqlmodel import select

from postalops_lending import permissions as perm
from postalops_lending import service
from postalops_lending.accounting import PBOC_SPECIAL, AccountingTerms, ProvisionRates
from postalops_lending.classification import Bands
from postalops_lending.credit_line import TaxModePolicy
from postalops_lending.models import (
    Application,
    Borrower,
    Instalment,
    Loan,
    LoanEvent,
    Product,
    Relief,
    WriteOff,
)
from postalops_lending.product import DayCount, ProductTerms, RepaymentMethod
from postalops_lending.service import get_or_404

api = ApiBlueprint("lending_api", __name__)


def _amount(value: Any) -> Decimal:
    # ValueError lets pydantic name the field (e.g. "requested_amount") in the 422 details.
    # The core's money check bounds the digits to the NUMERIC(18, 2) column ("1e30").
    try:
        return parse_money(parse_amount(value, "amount", minimum=ZERO, allow_zero=False))
    except ValidationError as exc:
        raise ValueError(exc.details[0]["message"]) from None
    except ArithmeticError:  # more digits than a Decimal context holds
        return parse_money(value)


Amount = Annotated[Decimal, BeforeValidator(_amount)]


def _rate(value: Any) -> Any:
    # A JSON number (0.0435) is a binary float: rates, like money, travel as decimal strings.
    if not isinstance(value, str | Decimal):
        raise ValueError('a decimal string fraction, e.g. "0.0435"')
    return value


Rate = Annotated[Decimal, BeforeValidator(_rate)]


def _blank(value: Any) -> Any:
    return "" if value is None else value  # an empty cell of an optional column


OptionalText = Annotated[str, BeforeValidator(_blank)]


def _ctx():
    ctx = context.current()
    return ctx.session, ctx.principal


# --- products ----------------------------------------------------------------------------------


Factor = Annotated[Decimal, BeforeValidator(_rate)]  # a multiplier: a decimal string too


class PolicyIn(BaseModel):
    """The tax-mode credit policy of a product (README, "Tax mode credit line"); amounts in
    yuan and multipliers as decimal strings. Omitted figures take the demo product's."""

    cap: Amount = Decimal("1000000")
    factor: Factor = Field(default=Decimal("5"), gt=0, max_digits=9, decimal_places=4)
    grade_multipliers: dict[Literal["A", "B", "M"], Factor] = Field(
        default_factory=lambda: {"A": Decimal("1.0"), "B": Decimal("0.8"), "M": Decimal("0.6")},
        description='tax grade -> multiplier, e.g. {"A": "1.0", "B": "0.8"}; a grade left out '
        "is declined (C and D always are)",
    )
    tenure_bands: list[tuple[int, Factor]] = Field(
        default_factory=lambda: [(24, Decimal("0.8")), (36, Decimal("1.0"))],
        min_length=1,
        max_length=10,
        description='[[minimum months in business, multiplier], ...] ascending, e.g. [[24, "0.8"]]',
    )
    min_tax_paid: Amount = Decimal("10000")
    min_line: Amount = Decimal("50000")
    line_unit: Amount = Decimal("1000")

    def policy(self) -> TaxModePolicy:
        return TaxModePolicy(
            cap=self.cap,
            factor=self.factor,
            grade_multipliers=dict(self.grade_multipliers),
            tenure_bands=tuple((m, x) for m, x in self.tenure_bands),
            min_tax_paid=self.min_tax_paid,
            min_line=self.min_line,
            line_unit=self.line_unit,
        )


class ProvisionIn(BaseModel):
    general: Rate = Field(default=Decimal("0.01"), ge=0, le=1)
    special: dict[Literal["normal", "special_mention", "substandard", "doubtful", "loss"], Rate] = (
        Field(default_factory=dict, description='class -> rate, e.g. {"loss": "1.00"}')
    )


class AccountingIn(BaseModel):
    """A product's accounting settings (README, "Loan accounting"). Omitted: the defaults."""

    penalty_surcharge: Rate = Field(
        default=Decimal("0.5"), ge=0, le=2, description='penalty rate = rate × (1 + this), "0.5"'
    )
    compound_overdue_interest: bool = Field(
        default=False, description="overdue interest earns the penalty rate too (复利)"
    )
    allocation_order: list[Literal["penalty", "interest", "principal"]] = Field(
        default_factory=lambda: ["penalty", "interest", "principal"], min_length=3, max_length=3
    )
    arrangement_fee_rate: Rate = Field(
        default=Decimal("0"), ge=0, lt=Decimal("0.1"), description='fee / principal, "0.01"'
    )
    provision: ProvisionIn | None = Field(
        default=None, description="the product's own provision rates; none: the unit's"
    )

    def terms(self) -> AccountingTerms:
        provision = None
        if self.provision is not None:
            special = dict(PBOC_SPECIAL)
            special.update(self.provision.special)
            provision = ProvisionRates(self.provision.general, special)
        return AccountingTerms(
            penalty_surcharge=self.penalty_surcharge,
            compound_overdue_interest=self.compound_overdue_interest,
            allocation_order=tuple(self.allocation_order),
            arrangement_fee_rate=self.arrangement_fee_rate,
            provision=provision,
        )


class ProductIn(BaseModel):
    code: str = Field(min_length=1, max_length=40)
    name_zh: str = Field(min_length=1, max_length=100)
    name_en: str = Field(min_length=1, max_length=100)
    annual_rate: Rate = Field(
        ge=0, lt=1, max_digits=9, decimal_places=6, description='decimal string fraction, "0.0435"'
    )
    term_months: int = Field(ge=1, le=60)
    day_count: DayCount = DayCount.ACT_360
    method: RepaymentMethod = RepaymentMethod.EQUAL_INSTALMENTS
    allow_prepayment: bool = False
    tenant_code: str | None = Field(
        default=None, description="unit that offers it (in your scope); default: your unit"
    )
    policy: PolicyIn = Field(default_factory=PolicyIn)
    accounting: AccountingIn = Field(default_factory=AccountingIn)


class ProductPatch(BaseModel):
    """Only the fields given change; ``policy`` is replaced whole when given."""

    name_zh: str | None = Field(default=None, min_length=1, max_length=100)
    name_en: str | None = Field(default=None, min_length=1, max_length=100)
    annual_rate: Rate | None = Field(default=None, ge=0, lt=1, max_digits=9, decimal_places=6)
    term_months: int | None = Field(default=None, ge=1, le=60)
    day_count: DayCount | None = None
    method: RepaymentMethod | None = None
    allow_prepayment: bool | None = None
    active: bool | None = Field(default=None, description="false: withdrawn, no new application")
    policy: PolicyIn | None = None
    accounting: AccountingIn | None = None


@api.operation("/products", summary="List loan products", permission=perm.VIEW, tags=["lending"])
def list_products():
    s, _ = _ctx()
    return {"items": [service.product_json(p) for p in s.exec(select(Product)).all()]}


@api.operation(
    "/products",
    methods=["POST"],
    body=ProductIn,
    permission=perm.CONFIGURE,
    status=201,
    summary="Add a loan product (audited)",
    tags=["lending"],
)
def create_product(body: ProductIn):
    s, who = _ctx()
    terms = ProductTerms(
        body.code,
        body.annual_rate,
        body.term_months,
        body.day_count,
        body.method,
        body.allow_prepayment,
    )
    row = service.create_product(
        s,
        who,
        code=body.code,
        name_zh=body.name_zh,
        name_en=body.name_en,
        terms=terms,
        policy=body.policy.policy(),
        tenant_code=body.tenant_code,
        accounting=body.accounting.terms(),
    )
    s.commit()
    return service.product_json(row), 201


@api.operation(
    "/products/<int:product_id>",
    methods=["PATCH"],
    body=ProductPatch,
    permission=perm.CONFIGURE,
    summary="Change a product's names, terms, credit policy or whether it is offered (audited)",
    tags=["lending"],
)
def patch_product(product_id: int, body: ProductPatch):
    s, who = _ctx()
    row = get_or_404(s, Product, product_id, "product_id")
    given = body.model_dump(exclude_none=True)
    current = service.product_terms(row)
    terms = ProductTerms(
        row.code,
        body.annual_rate if body.annual_rate is not None else current.annual_rate,
        body.term_months or current.term_months,
        body.day_count or current.day_count,
        body.method or current.method,
        body.allow_prepayment if body.allow_prepayment is not None else current.allow_prepayment,
    )
    service.update_product(
        s,
        who,
        row,
        name_zh=given.get("name_zh", row.name_zh),
        name_en=given.get("name_en", row.name_en),
        terms=terms,
        policy=body.policy.policy() if body.policy is not None else service.policy_of(row),
        active=row.active if body.active is None else body.active,
    )
    if body.accounting is not None:
        service.set_accounting(s, who, row, body.accounting.terms())
    s.commit()
    return service.product_json(row)


# --- borrowers and tax data ----------------------------------------------------------------------


class BorrowerIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    credit_code: str = Field(description="unified social credit code, 18 characters (GB 32100)")
    legal_rep_name: str = Field(min_length=1, max_length=60)
    legal_rep_id_number: str = Field(description="resident ID number (GB 11643)")
    industry: str = Field(min_length=1, max_length=60)
    established_on: dt.date
    customer_manager: str = Field(min_length=1, max_length=80)
    phone: OptionalText = Field(default="", max_length=30)


def _borrower_data(b: BorrowerIn) -> service.BorrowerData:
    return service.BorrowerData(**b.model_dump())


@api.operation(
    "/borrowers",
    summary="List borrowers (ID numbers masked)",
    permission=perm.VIEW,
    tags=["lending"],
)
def list_borrowers():
    s, _ = _ctx()
    return paginate(s, select(Borrower).order_by(Borrower.id), service.public_borrower)


@api.operation(
    "/borrowers",
    methods=["POST"],
    body=BorrowerIn,
    permission=perm.APPLY,
    status=201,
    summary="Register a borrower",
    tags=["lending"],
)
def create_borrower(body: BorrowerIn):
    s, who = _ctx()
    row = service.register_borrower(s, who, _borrower_data(body))
    s.commit()
    return service.public_borrower(row), 201


@api.operation(
    "/borrowers/import",
    methods=["POST"],
    body=list[BorrowerIn],
    files=True,
    permission=perm.APPLY,
    summary="Import borrowers (CSV, XLSX or JSON); all or nothing, reported per row",
    tags=["lending"],
)
def import_borrowers():
    """All or nothing, in one pass: each row's shape errors (types, dates), checksum and date
    checks, and duplicates within the file are all reported together. A credit code already
    registered in your units updates that borrower (audited, reported "updated") when the row
    differs, else "unchanged"; a new one is registered ("created")."""
    s, who = _ctx()
    rows, errors = check_rows(read_upload(), BorrowerIn)
    today = clock.today()
    checked: list[tuple[int, service.BorrowerData | None, str]] = []
    for row_no, item in rows:
        try:
            clean = service.check_borrower(_borrower_data(item), today)
            checked.append((row_no, clean, clean.credit_code))
        except ValidationError as exc:
            errors.extend(row_no, exc.details)
            checked.append((row_no, None, str(item.credit_code).strip().upper()))
    for row_no, raw in errors.raw_rows():  # rows of the wrong shape: check what can be read
        found = service.check_raw_borrower(raw, today)
        errors.extend(row_no, [d for d in found if not _named(errors, row_no, d["field"])])
        checked.append((row_no, None, str(raw.get("credit_code") or "").strip().upper()))
    seen: dict[str, int] = {}
    for row_no, _clean, code in sorted(checked, key=lambda c: c[0]):
        if not code:
            continue
        if code in seen:
            errors.add(row_no, "credit_code", f"same as row {seen[code]}")
        else:
            seen[code] = row_no
    errors.raise_if_any()
    existing = {b.credit_code: b for b in s.exec(select(Borrower)).all()}
    results = []
    for row_no, clean, _code in checked:
        assert clean is not None
        row = existing.get(clean.credit_code)
        if row is None:
            row = service.register_borrower(s, who, clean, today=today)
            results.append((row_no, "created", row.id))
        elif service.update_borrower(s, who, row, clean):
            results.append((row_no, "updated", row.id))
        else:
            results.append((row_no, "unchanged", row.id))
    s.commit()
    return row_report(results)


def _named(errors: Any, row_no: int, field: str) -> bool:
    """Whether ``row_no`` already carries an error on ``field`` (pydantic's loc is the field)."""
    return any(
        d.get("field") == field for x in errors.details() if x["row"] == row_no for d in x["errors"]
    )


class TaxMonthIn(BaseModel):
    period: str = Field(pattern=r"^\d{4}-\d{2}$", description="YYYY-MM")
    tax_paid: Amount
    sales: Amount
    grade: Literal["A", "B", "M", "C", "D"]


def _tax_data(item: TaxMonthIn) -> service.TaxMonthData:
    try:
        period = dt.date.fromisoformat(item.period + "-01")
    except ValueError as exc:
        raise ValidationError(
            "bad period", details=[{"field": "period", "message": str(exc)}]
        ) from exc
    return service.TaxMonthData(period, item.tax_paid, item.sales, item.grade)


@api.operation(
    "/borrowers/<int:borrower_id>/tax-months",
    methods=["PUT"],
    body=list[TaxMonthIn],
    permission=perm.TAX_DATA,
    summary="Push a borrower's monthly tax record (idempotent)",
    tags=["lending"],
)
def push_tax_months(borrower_id: int, body: list[TaxMonthIn]):
    s, _ = _ctx()
    b = get_or_404(s, Borrower, borrower_id, "borrower_id")
    counts = service.store_tax_months(s, b, [_tax_data(x) for x in body], "push")
    s.commit()
    return counts


class TaxRowIn(TaxMonthIn):
    credit_code: str


@api.operation(
    "/tax-months/import",
    methods=["POST"],
    body=list[TaxRowIn],
    files=True,
    permission=perm.TAX_DATA,
    summary="Import tax months for many borrowers (CSV, "
    "XLSX or JSON); all or nothing, reported per row",
    tags=["lending"],
)
def import_tax_months():
    """All or nothing, in one pass: shape errors, unknown credit codes (also on rows of the
    wrong shape), impossible months and a month given twice for one borrower, every row's every
    error reported together."""
    s, _ = _ctx()
    rows, errors = check_rows(read_upload(), TaxRowIn)
    by_code = {b.credit_code: b for b in s.exec(select(Borrower)).all()}
    unknown = "no such borrower in your units"
    for row_no, raw in errors.raw_rows():
        code = raw.get("credit_code")
        if isinstance(code, str) and code.strip() and code.strip().upper() not in by_code:
            if not _named(errors, row_no, "credit_code"):
                errors.add(row_no, "credit_code", unknown)
    grouped: dict[int, list[tuple[int, service.TaxMonthData]]] = {}
    seen: dict[tuple[str, str], int] = {}
    for row_no, item in rows:
        code = item.credit_code.strip().upper()
        b = by_code.get(code)
        if b is None:
            errors.add(row_no, "credit_code", unknown)
        try:
            data = _tax_data(item)
            service.check_tax_months([data])
        except ValidationError as exc:
            errors.extend(
                row_no, [{"field": d["field"], "message": d["message"]} for d in exc.details]
            )
            continue
        if (code, item.period) in seen:
            errors.add(
                row_no, "period", f"{item.period} given twice (row {seen[code, item.period]})"
            )
            continue
        seen[code, item.period] = row_no
        if b is not None:
            grouped.setdefault(b.id, []).append((row_no, data))
    errors.raise_if_any()
    results = []
    by_id = {b.id: b for b in by_code.values()}
    for borrower_id, items in grouped.items():
        b = by_id[borrower_id]
        counts = service.store_tax_months(s, b, [d for _, d in items], "import")
        status = "created" if counts["created"] else "updated" if counts["updated"] else "unchanged"
        results += [(row_no, status, b.credit_code) for row_no, _ in items]
    s.commit()
    return row_report(sorted(results))


# --- applications ------------------------------------------------------------------------------


class ApplicationIn(BaseModel):
    borrower_id: int
    product_id: int
    requested_amount: Amount
    term_months: int | None = Field(default=None, ge=1, le=60)


class DecisionIn(BaseModel):
    approve: bool
    note: str = Field(default="", max_length=500)


class ReviewIn(BaseModel):
    accept: bool
    note: str = Field(default="", max_length=500)


def application_json(a: Application) -> dict[str, Any]:
    out = a.model_dump(mode="json")
    out["hours_to_disbursement"] = service.hours_to_disbursement(a)
    return out


@api.operation("/applications", summary="List applications", permission=perm.VIEW, tags=["lending"])
def list_applications():
    s, _ = _ctx()
    return paginate(s, select(Application).order_by(Application.id.desc()), application_json)


@api.operation(
    "/applications",
    methods=["POST"],
    body=ApplicationIn,
    permission=perm.APPLY,
    status=201,
    summary="Apply online; the tax pre-check runs at once",
    tags=["lending"],
)
def create_application(body: ApplicationIn):
    s, who = _ctx()
    app = service.submit_application(
        s,
        who,
        borrower_id=body.borrower_id,
        product_id=body.product_id,
        requested_amount=body.requested_amount,
        term_months=body.term_months,
        channel="api",
    )
    s.commit()
    return application_json(app), 201


@api.operation(
    "/applications/<int:application_id>",
    summary="One application with its pre-check outcomes and timestamps",
    permission=perm.VIEW,
    tags=["lending"],
)
def get_application(application_id: int):
    s, _ = _ctx()
    return application_json(get_or_404(s, Application, application_id, "application_id"))


@api.operation(
    "/applications/<int:application_id>/review",
    methods=["POST"],
    body=ReviewIn,
    permission=perm.REVIEW,
    summary="Customer manager's review",
    tags=["lending"],
)
def review_application(application_id: int, body: ReviewIn):
    s, who = _ctx()
    app = service.review_application(s, who, application_id, accept=body.accept, note=body.note)
    s.commit()
    return application_json(app)


@api.operation(
    "/applications/<int:application_id>/decision",
    methods=["POST"],
    body=DecisionIn,
    permission=perm.APPROVE,
    summary="Approve or reject (maker-checker: not by whoever prepared the case)",
    tags=["lending"],
)
def decide_application(application_id: int, body: DecisionIn):
    s, who = _ctx()
    app = service.decide_application(s, who, application_id, approve=body.approve, note=body.note)
    s.commit()
    return application_json(app)


@api.operation(
    "/applications/<int:application_id>/contract",
    methods=["POST"],
    permission=perm.APPLY,
    summary="Sign the contract",
    tags=["lending"],
)
def contract_application(application_id: int):
    s, who = _ctx()
    app = service.sign_contract(s, who, application_id)
    s.commit()
    return application_json(app)


@api.operation(
    "/applications/<int:application_id>/disbursement",
    methods=["POST"],
    permission=perm.SERVICE,
    status=201,
    summary="Disburse: creates the loan and its schedule",
    tags=["lending"],
)
def disburse_application(application_id: int):
    s, who = _ctx()
    loan = service.disburse(s, who, application_id)
    s.commit()
    return loan_json(loan), 201


# --- loans, repayments -------------------------------------------------------------------------


def loan_json(loan: Loan) -> dict[str, Any]:
    return loan.model_dump(mode="json")


def line_json(x: Instalment) -> dict[str, Any]:
    return {
        k: getattr(x, k)
        for k in (
            "version",
            "active",
            "number",
            "period_start",
            "due_date",
            "days",
            "opening_principal",
            "principal",
            "interest",
            "principal_paid",
            "interest_paid",
            "paid_off",
        )
    }


@api.operation(
    "/loans", summary="List loans (?status=active)", permission=perm.VIEW, tags=["lending"]
)
def list_loans():
    from flask import request

    s, _ = _ctx()
    stmt = select(Loan).order_by(Loan.id)
    if request.args.get("status"):
        stmt = stmt.where(Loan.status == request.args["status"])
    return paginate(s, stmt, loan_json)


@api.operation(
    "/loans/<int:loan_id>",
    summary="A loan with every schedule version",
    permission=perm.VIEW,
    tags=["lending"],
)
def get_loan(loan_id: int):
    s, _ = _ctx()
    loan = get_or_404(s, Loan, loan_id, "loan_id")
    lines = s.exec(
        select(Instalment)
        .where(Instalment.loan_id == loan.id)
        .order_by(Instalment.version, Instalment.number)
    ).all()
    out = loan_json(loan)
    out["schedule"] = [line_json(x) for x in lines]
    return out


@api.operation(
    "/loans/<int:loan_id>/quote",
    summary="Amount due and payoff on ?on=YYYY-MM-DD",
    permission=perm.VIEW,
    tags=["lending"],
)
def quote_loan(loan_id: int):
    from flask import request

    s, _ = _ctx()
    loan = get_or_404(s, Loan, loan_id, "loan_id")
    on = _date_arg(request.args.get("on"), "on") or clock.today()
    return service.quote(s, loan, on)


class RepaymentIn(BaseModel):
    amount: Amount
    paid_on: dt.date
    reference: str = Field(
        min_length=1,
        max_length=60,
        description="payer's reference; a retry with the same reference is recognised",
    )


@api.operation(
    "/loans/<int:loan_id>/repayments",
    methods=["POST"],
    body=RepaymentIn,
    permission=perm.SERVICE,
    status=201,
    summary="Record a repayment (interest first, then principal)",
    tags=["lending"],
)
def record_repayment(loan_id: int, body: RepaymentIn):
    s, who = _ctx()
    rep = service.record_repayment(s, who, loan_id, body.amount, body.paid_on, body.reference)
    s.commit()
    return rep.model_dump(mode="json"), 201


# --- loan accounting: reversals, write-off, recovery, events ---------------------------------


class ReasonIn(BaseModel):
    reason: str = Field(min_length=1, max_length=200)


@api.operation(
    "/loans/<int:loan_id>/repayments/<int:repayment_id>/reversal",
    methods=["POST"],
    body=ReasonIn,
    permission=perm.APPROVE,
    status=201,
    summary="Reverse a repayment entered by mistake (a compensating row; latest first)",
    tags=["lending"],
)
def reverse_repayment(loan_id: int, repayment_id: int, body: ReasonIn):
    s, who = _ctx()
    row = service.reverse_repayment(s, who, loan_id, repayment_id, body.reason)
    s.commit()
    return row.model_dump(mode="json"), 201


@api.operation(
    "/loans/<int:loan_id>/disbursement-reversal",
    methods=["POST"],
    body=ReasonIn,
    permission=perm.APPROVE,
    status=201,
    summary="Reverse a disbursement entered by mistake (no repayment may stand)",
    tags=["lending"],
)
def reverse_disbursement(loan_id: int, body: ReasonIn):
    s, who = _ctx()
    event = service.reverse_disbursement(s, who, loan_id, body.reason)
    s.commit()
    return event.model_dump(mode="json"), 201


@api.operation(
    "/loans/<int:loan_id>/write-offs",
    methods=["POST"],
    body=ReasonIn,
    permission=perm.SERVICE,
    status=201,
    summary="Request the write-off (核销) of a loan classified 损失 (maker)",
    tags=["lending"],
)
def request_write_off(loan_id: int, body: ReasonIn):
    s, who = _ctx()
    row = service.request_write_off(s, who, loan_id, body.reason)
    s.commit()
    return row.model_dump(mode="json"), 201


@api.operation(
    "/write-offs", summary="List write-off requests", permission=perm.VIEW, tags=["lending"]
)
def list_write_offs():
    s, _ = _ctx()
    return paginate(
        s, select(WriteOff).order_by(WriteOff.id.desc()), lambda r: r.model_dump(mode="json")
    )


@api.operation(
    "/write-offs/<int:write_off_id>/decision",
    methods=["POST"],
    body=DecisionIn,
    permission=perm.APPROVE,
    summary="Approve (write the loan off against its provision) or reject (checker)",
    tags=["lending"],
)
def decide_write_off(write_off_id: int, body: DecisionIn):
    s, who = _ctx()
    row = service.decide_write_off(s, who, write_off_id, approve=body.approve, note=body.note)
    s.commit()
    return row.model_dump(mode="json")


class RecoveryIn(BaseModel):
    amount: Amount
    recovered_on: dt.date
    reference: str = Field(min_length=1, max_length=60)


@api.operation(
    "/loans/<int:loan_id>/recoveries",
    methods=["POST"],
    body=RecoveryIn,
    permission=perm.SERVICE,
    status=201,
    summary="Record money recovered on a written-off loan",
    tags=["lending"],
)
def record_recovery(loan_id: int, body: RecoveryIn):
    s, who = _ctx()
    event = service.record_recovery(s, who, loan_id, body.amount, body.recovered_on, body.reference)
    s.commit()
    return event.model_dump(mode="json"), 201


@api.operation(
    "/loans/<int:loan_id>/events",
    summary="A loan's accounting events: accruals, provisions, write-off, recoveries, reversal",
    permission=perm.VIEW,
    tags=["lending"],
)
def loan_events(loan_id: int):
    s, _ = _ctx()
    loan = get_or_404(s, Loan, loan_id, "loan_id")
    rows = s.exec(
        select(LoanEvent).where(LoanEvent.loan_id == loan.id).order_by(LoanEvent.id)
    ).all()
    return {"items": [r.model_dump(mode="json") for r in rows]}


# --- relief ------------------------------------------------------------------------------------


class ReliefIn(BaseModel):
    """One relief operation, either flat or as ``{"operations": [<one>]}``."""

    kind: str | None = None
    relief_date: str | None = None
    term_months: int | None = None
    extension_months: int | None = None
    annual_rate: str | None = None
    reason: str = ""
    operations: list[dict[str, Any]] | None = None


@api.operation(
    "/loans/<int:loan_id>/reliefs",
    methods=["POST"],
    body=ReliefIn,
    permission=perm.RELIEF,
    status=201,
    summary="Request one relief operation (refinancing, extension or renewal); eligibility checked",
    tags=["lending"],
)
def request_relief(loan_id: int, body: ReliefIn):
    s, who = _ctx()
    payload = body.model_dump(exclude_none=True)
    row = service.request_relief(s, who, loan_id, payload)
    s.commit()
    return row.model_dump(mode="json"), 201


@api.operation("/reliefs", summary="List relief requests", permission=perm.VIEW, tags=["lending"])
def list_reliefs():
    s, _ = _ctx()
    return paginate(
        s, select(Relief).order_by(Relief.id.desc()), lambda r: r.model_dump(mode="json")
    )


@api.operation(
    "/reliefs/<int:relief_id>/decision",
    methods=["POST"],
    body=DecisionIn,
    permission=perm.APPROVE,
    summary="Approve (apply) or reject a relief (maker-checker)",
    tags=["lending"],
)
def decide_relief(relief_id: int, body: DecisionIn):
    s, who = _ctx()
    row = service.decide_relief(s, who, relief_id, approve=body.approve, note=body.note)
    s.commit()
    return row.model_dump(mode="json")


# --- close of business, outreach, reports ------------------------------------------------------


class CloseIn(BaseModel):
    as_of: dt.date
    bands: list[int] | None = Field(
        default=None,
        min_length=4,
        max_length=4,
        description="lower DPD edges of 关注, 次级, 可疑, 损失; default [1, 91, 181, 361]",
    )


@api.operation(
    "/close-of-business",
    methods=["POST"],
    body=CloseIn,
    permission=perm.SERVICE,
    status=202,
    summary="Run the close of business for your unit as a tracked job",
    tags=["lending"],
)
def run_close(body: CloseIn):
    from postalops import jobs

    params: dict[str, Any] = {"as_of": body.as_of.isoformat()}
    if body.bands is not None:
        Bands(*body.bands)  # 422 now, not a failed job later
        params["bands"] = body.bands
    job = jobs.submit("lending.close_of_business", params)
    return {"job_id": job.id, "status": job.status}, 202


@api.operation(
    "/outreach", summary="Phone-back list on ?on=YYYY-MM-DD", permission=perm.VIEW, tags=["lending"]
)
def phone_back():
    from flask import request

    s, _ = _ctx()
    on = _date_arg(request.args.get("on"), "on") or clock.today()
    return {"on": on, "items": service.phone_back_list(s, on, manager=request.args.get("manager"))}


class CallIn(BaseModel):
    borrower_id: int
    outcome: str
    note: str = Field(default="", max_length=500)
    loan_id: int | None = None
    reasons: list[str] = []


@api.operation(
    "/outreach/calls",
    methods=["POST"],
    body=CallIn,
    permission=perm.RELIEF,
    status=201,
    summary="Record a phone-back call's outcome",
    tags=["lending"],
)
def record_call(body: CallIn):
    s, who = _ctx()
    row = service.record_call(
        s,
        who,
        borrower_id=body.borrower_id,
        outcome=body.outcome,
        note=body.note,
        loan_id=body.loan_id,
        reasons=body.reasons,
    )
    s.commit()
    return row.model_dump(mode="json"), 201


@api.operation(
    "/reports/time-to-disbursement",
    summary="Hours from application to disbursement per loan disbursed in ?from=&to=",
    permission=perm.VIEW,
    tags=["lending"],
)
def time_to_disbursement():
    from postalops_lending.metrics import day_bounds
    from postalops_lending.portfolio import median

    s, _ = _ctx()
    frm, to = query_period(365)
    start, end = day_bounds(frm, to)
    rows = s.exec(
        select(Application)
        .where(Application.disbursed_at >= start, Application.disbursed_at < end)
        .order_by(Application.disbursed_at)
    ).all()
    items = [
        {
            "application_id": a.id,
            "loan_id": a.loan_id,
            "submitted_at": a.submitted_at,
            "disbursed_at": a.disbursed_at,
            "hours": service.hours_to_disbursement(a),
        }
        for a in rows
    ]
    return {
        "from": frm,
        "to": to,
        "items": items,
        "median_hours": median(x["hours"] for x in items),
    }


def _date_arg(value: str | None, field: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise ValidationError(
            f"{field} must be YYYY-MM-DD",
            details=[{"field": f"query.{field}", "message": "not a date"}],
        ) from exc
