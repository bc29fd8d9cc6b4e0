"""Portal pages under ``/p/lending``: borrowers, applications, loans, relief, phone-back.

Forms post to the same services the API uses; a refused action is shown with its reason and
nothing is written (the transaction is rolled back).
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Callable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from postalops import clock, context, formatting, ui
from postalops.auth import check_permission
from postalops.errors import PostalOpsError
from postalops.listing import Column, Listing, ListPage
from postalops.money import ZERO, parse_amount
from sqlmodel import select

from postalops_lending import permissions as perm
from postalops_lending import service, views_accounting
from postalops_lending.application_flow import Status as AppStatus
from postalops_lending.classification import Category
from postalops_lending.identity import mask_id_number
from postalops_lending.metrics import compute
from postalops_lending.models import (
    Application,
    Borrower,
    Instalment,
    Loan,
    OutreachCall,
    Product,
    Relief,
    Repayment,
)
from postalops_lending.outreach import CallOutcome, Reason
from postalops_lending.relief import ReliefKind
from postalops_lending.service import get_or_404

bp = Blueprint("lending", __name__, url_prefix="/p/lending", template_folder="templates")


@bp.route("/")
def home() -> Any:
    check_permission(perm.VIEW)
    s = context.session()
    unit = context.tenant()
    this_year = clock.today().year
    year = request.args.get("year", type=int)
    if year is None or not 2000 <= year <= this_year + 1:
        # open on a year with loans: this one, or the last one with a disbursement
        last = _scalar_of(s.exec(select(sa.func.max(Loan.disbursed_on))).one())
        year = this_year if last is None or last.year >= this_year else last.year
    # the current year runs to today: balances and ratios are "as of" a day that has happened
    kpis = compute(s, unit, dt.date(year, 1, 1), min(dt.date(year, 12, 31), clock.today()))
    offered = s.exec(select(Product).order_by(Product.code).limit(HOME_PRODUCTS + 1)).all()
    earliest = _scalar_of(s.exec(select(sa.func.min(Loan.disbursed_on))).one())
    first = min(year, earliest.year if earliest is not None else this_year)
    return render_template(
        "lending/home.html",
        kpis=kpis,
        year=year,
        years=list(range(this_year, first - 1, -1)),
        unit=unit,
        products=offered[:HOME_PRODUCTS],
        more_products=len(offered) > HOME_PRODUCTS,
    )


def _scalar_of(value: Any) -> Any:
    return value[0] if isinstance(value, tuple | sa.Row) else value


HOME_PRODUCTS = 10  # the home page lists the first products; the products page has them all


BORROWERS = Listing(
    select(Borrower),
    [
        Column("name", "借款人", "Borrower", sortable=True, filter="text"),
        Column("credit_code", "统一社会信用代码", "Unified social credit code", filter="text"),
        Column("legal_rep_name", "法定代表人", "Legal representative", filter="text"),
        Column(
            "legal_rep_id_number",
            "身份证号",
            "ID number",
            value=lambda b: mask_id_number(b.legal_rep_id_number),
        ),
        Column("industry", "行业", "Industry", sortable=True, filter="text"),
        Column("established_on", "成立日期", "Established", kind="date", sortable=True),
        Column("customer_manager", "客户经理", "Customer manager", sortable=True, filter="text"),
        Column("phone", "电话", "Phone"),
        Column("tenant_code", "单位", "Unit", kind="unit", filter="unit", sortable=True),
        Column(
            "operating",
            "经营状态",
            "Operating",
            kind="status",
            domain="lending.operating",
            filter="choice",
            choices=("true", "false"),
            value=lambda b: "true" if b.operating else "false",
            expr=Borrower.operating,
        ),
        Column("created_at", "登记时间", "Registered", kind="datetime", sortable=True, show=False),
    ],
    default_sort="-created_at",
    tiebreak=(Borrower.id,),
    filename="lending-borrowers",
)

BORROWER_FIELDS = (
    "name",
    "credit_code",
    "legal_rep_name",
    "legal_rep_id_number",
    "industry",
    "established_on",
    "customer_manager",
    "phone",
)


def _borrower_errors(exc: PostalOpsError) -> dict[str, str]:
    """The service's refusal of a borrower, in the page's language, beside each field."""
    out: dict[str, str] = {}
    for field, message in ui.field_errors(exc.details).items():
        if field == "credit_code":
            out[field] = (
                _("A borrower with this credit code is already registered.")
                if exc.code == "duplicate_borrower"
                else _("Not a valid unified social credit code: check its 18 characters.")
            )
        elif field == "legal_rep_id_number":
            out[field] = _("Not a valid resident ID number: check its 18 characters.")
        elif field == "established_on":
            out[field] = (
                _("Cannot be in the future.")
                if message == "in the future"
                else _("Enter a date, e.g. 2015-06-18.")
            )
        elif message == "required":
            out[field] = _("Required.")
        else:
            out[field] = _("Not accepted: check this field.")
    return out


@bp.route("/borrowers", methods=["GET", "POST"])
def borrower_list() -> Any:
    check_permission(perm.VIEW)
    s = context.session()
    errors: dict[str, str] = {}
    form: Any = {"customer_manager": context.current().principal.name.removeprefix("user:")}
    if request.method == "POST":
        who = check_permission(perm.APPLY)
        form = {k: (request.form.get(k) or "").strip() for k in BORROWER_FIELDS}
        try:
            established = dt.date.fromisoformat(form["established_on"])
        except ValueError:
            errors["established_on"] = _("Enter a date, e.g. 2015-06-18.")
            established = clock.today()
        try:
            row = service.register_borrower(
                s,
                who,
                service.BorrowerData(
                    **{k: form[k] for k in BORROWER_FIELDS if k != "established_on"},
                    established_on=established,
                ),
            )
        except PostalOpsError as exc:
            s.rollback()
            errors = {**_borrower_errors(exc), **errors}
        else:
            if errors:
                s.rollback()
            else:
                s.commit()
                flash(_("Borrower %(name)s registered.", name=row.name), "success")
                return redirect(url_for("lending.borrower_list"))
    page = BORROWERS.run(s, request.args)
    if page.export:
        return page.export_response()
    return render_template("lending/borrowers.html", page=page, form=form, errors=errors), (
        422 if errors else 200
    )


def _is_zh() -> bool:
    return formatting.is_zh(ui.locale())


def _product_name(row: Any) -> str | None:
    return row.product_zh if _is_zh() else row.product_en


APPLICATIONS = Listing(
    select(
        Application.id,
        Application.submitted_at,
        Application.tenant_code,
        Application.requested_amount,
        Application.credit_line,
        Application.granted_amount,
        Application.status,
        Application.channel,
        Application.disbursed_at,
        Borrower.name.label("borrower"),
        Product.name_zh.label("product_zh"),
        Product.name_en.label("product_en"),
    )
    .join(Borrower, Borrower.id == Application.borrower_id)
    .outerjoin(Product, Product.id == Application.product_id),
    [
        Column(
            "id",
            "申请编号",
            "Application",
            sortable=True,
            expr=Application.id,
            value=lambda r: f"#{r.id}",
            href=lambda r: url_for("lending.application_detail", app_id=r.id),
        ),
        Column("borrower", "借款人", "Borrower", sortable=True, filter="text", expr=Borrower.name),
        Column(
            "status",
            "状态",
            "Status",
            kind="status",
            domain="lending.application",
            filter="choice",
            choices=tuple(st.value for st in AppStatus),
            expr=Application.status,
        ),
        Column(
            "requested_amount",
            "申请金额",
            "Requested",
            kind="money",
            sortable=True,
            expr=Application.requested_amount,
        ),
        Column(
            "credit_line",
            "授信额度",
            "Credit line",
            kind="money",
            sortable=True,
            expr=Application.credit_line,
        ),
        Column(
            "granted_amount",
            "核准金额",
            "Granted",
            kind="money",
            sortable=True,
            expr=Application.granted_amount,
            show=False,
        ),
        Column(
            "submitted_at",
            "提交时间",
            "Submitted",
            kind="datetime",
            sortable=True,
            filter="date_range",
            expr=Application.submitted_at,
        ),
        Column("product", "产品", "Product", value=_product_name),
        Column(
            "tenant_code",
            "单位",
            "Unit",
            kind="unit",
            filter="unit",
            sortable=True,
            expr=Application.tenant_code,
        ),
        Column(
            "channel",
            "渠道",
            "Channel",
            kind="status",
            domain="lending.channel",
            expr=Application.channel,
            show=False,
        ),
        Column(
            "disbursed_at",
            "放款日期",
            "Disbursed on",
            kind="date",
            sortable=True,
            expr=Application.disbursed_at,
        ),
    ],
    default_sort="-submitted_at",
    tiebreak=(Application.id,),
    filename="lending-applications",
)

APPLICATION_FIELDS = ("borrower_id", "product_id", "requested_amount")


def _application_errors(exc: PostalOpsError) -> dict[str, str]:
    out: dict[str, str] = {}
    for field, message in ui.field_errors(exc.details).items():
        if field == "requested_amount":
            out[field] = _("Enter an amount in yuan above zero, at most two decimals, e.g. 200000.")
        elif field == "borrower_id":
            out[field] = _("Choose a borrower of your units.")
        elif field == "product_id":
            out[field] = (
                _("This product is no longer offered.")
                if exc.code == "product_inactive"
                else _("This product is not offered at the borrower's unit.")
                if message == "other unit"
                else _("Choose a product offered in your units.")
            )
        else:
            out[field] = _("Not accepted: check this field.")
    return out or {"requested_amount": _("Not accepted: check this field.")}


def _id(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


@bp.route("/applications", methods=["GET", "POST"])
def application_list() -> Any:
    check_permission(perm.VIEW)
    s = context.session()
    errors: dict[str, str] = {}
    form: Any = {"borrower_id": request.args.get("borrower_id", "")}
    if request.method == "POST":
        who = check_permission(perm.APPLY)
        form = {k: (request.form.get(k) or "").strip() for k in APPLICATION_FIELDS}
        borrower_id, product_id = _id(form["borrower_id"]), _id(form["product_id"])
        if borrower_id is None:
            errors["borrower_id"] = _("Choose a borrower of your units.")
        if product_id is None:
            errors["product_id"] = _("Choose a product offered in your units.")
        try:
            amount = parse_amount(
                form["requested_amount"].replace(",", ""),
                "requested_amount",
                minimum=ZERO,
                allow_zero=False,
            )
        except PostalOpsError as exc:
            errors.update(_application_errors(exc))
        if not errors:
            try:
                app = service.submit_application(
                    s,
                    who,
                    borrower_id=borrower_id,
                    product_id=product_id,
                    requested_amount=amount,
                    channel="portal",
                )
                s.commit()
            except PostalOpsError as exc:
                s.rollback()
                errors = _application_errors(exc)
            else:
                flash(
                    _(
                        "Application #%(id)s submitted. Pre-check: %(status)s.",
                        id=app.id,
                        status=ui.status_label(app.status, "lending.application")[0],
                    ),
                    "success" if app.status == AppStatus.PRECHECKED else "warning",
                )
                return redirect(url_for("lending.application_detail", app_id=app.id))
    page = APPLICATIONS.run(s, request.args)
    if page.export:
        return page.export_response()
    offered = s.exec(select(Product).where(Product.active).order_by(Product.code)).all()
    people = s.exec(select(Borrower).order_by(Borrower.name, Borrower.id)).all()
    chosen = next((p for p in offered if str(p.id) == form.get("product_id")), None)
    hints = _eligibility(s, people, chosen or (offered[0] if offered else None))
    return render_template(
        "lending/applications.html",
        page=page,
        form=form,
        errors=errors,
        borrowers=[(str(b.id), f"{b.name} · {hints[b.id]['short']}") for b in people],
        hints=[(b, hints[b.id]) for b in people][:50],
        hint_product=(chosen or (offered[0] if offered else None)),
        is_zh=_is_zh(),
        products=[(str(p.id), p.name_zh if _is_zh() else p.name_en) for p in offered],
    ), (422 if errors else 200)


def _eligibility(s: Any, people: Sequence[Borrower], product: Product | None) -> dict[int, dict]:
    """Per borrower, today's pre-check against ``product``'s policy, in words: eligible with
    the credit line, or the rules that fail (so the officer picks an eligible borrower)."""
    from postalops_lending.credit_line import pre_check
    from postalops_lending.service import months_in_business, policy_of, tax_record

    out: dict[int, dict] = {}
    if product is None:
        return {b.id: {"ok": None, "short": _("no product to check against"), "rules": []}
                for b in people}  # fmt: skip
    today = clock.today()
    record = tax_record(s, [b.id for b in people])
    for b in people:
        result = pre_check(
            policy_of(product),
            tax_months=record[b.id],
            months_in_business=months_in_business(b.established_on, today),
            business_operating=b.operating,
            requested_amount=Decimal("1"),
            as_of=today,
        )
        failed = [
            rule_words(
                {"rule": o.rule, "passed": o.passed, "observed": o.observed,
                 "threshold": o.threshold}
            )
            for o in result.outcomes
            if not o.passed
        ]  # fmt: skip
        line = formatting.money(result.credit_line, ui.locale())
        out[b.id] = {
            "ok": result.approved,
            "line": result.credit_line,
            "rules": failed,
            "short": _("eligible, line %(line)s", line=line)
            if result.approved
            else _("not eligible: %(rules)s", rules="、".join(r["label"] for r in failed)),
        }
    return out


# --- rule outcomes (pre-check, relief eligibility) in words ---------------------------------

_MONEY_RULES = {"tax_paid_12m", "credit_line_minimum"}
_MONTH_RULES = {"tax_data_12_months", "months_in_business", "extension_months", "term_months"}


def _bound(text: str) -> tuple[str, str]:
    """``">= 12"`` -> ``("≥ ", "12")``; ``"1..6"`` -> ``("", "1..6")``."""
    for op, sign in ((">=", "≥ "), ("<=", "≤ ")):
        if text.startswith(op):
            return sign, text[len(op) :].strip()
    return "", text


def _figure(rule: str, value: str) -> str:
    """One observed value or threshold of ``rule`` as people read it."""
    zh = _is_zh()
    if value in ("True", "False"):
        return ui.status_label(value == "True", "bool")[0]
    if rule == "loan_active":
        return ui.status_label(value, "lending.loan")[0]
    if rule == "tax_grade_accepted":
        return _("none") if value == "none" else value.replace("/", "、" if zh else "/")
    if ".." in value:
        lo, hi = value.split("..", 1)
        unit = _("days") if rule in ("renewal_window", "days_past_due") else _("months")
        return f"{lo}–{hi} {unit}"
    if rule == "renewal_window":
        value = value.split(" ", 1)[0]
        return _("%(n)s days to maturity", n=value)
    if rule in _MONEY_RULES:
        return formatting.money(value, ui.locale())
    if rule in _MONTH_RULES:
        return _("%(n)s months", n=value)
    if rule == "days_past_due":
        return _("%(n)s days", n=value)
    return value


@bp.app_template_global("lending_rule")
def rule_words(outcome: dict[str, Any]) -> dict[str, Any]:
    """A recorded rule outcome (``{"rule", "passed", "observed", "threshold"}``) in words."""
    rule = str(outcome.get("rule", ""))
    sign, bound = _bound(str(outcome.get("threshold", "")))
    return {
        "rule": rule,
        "label": ui.status_label(rule, "lending.rule")[0],
        "passed": bool(outcome.get("passed")),
        "observed": _figure(rule, str(outcome.get("observed", ""))),
        "threshold": sign + _figure(rule, bound),
    }


# the steps of an application: (permission, confirm message or None, service call)
def _steps(s: Any, app: Application, note: str) -> dict[str, tuple[str, Callable[[Any], Any]]]:
    app_id = app.id
    return {
        "review": (
            perm.REVIEW,
            lambda w: service.review_application(s, w, app_id, accept=True, note=note),
        ),
        "review_reject": (
            perm.REVIEW,
            lambda w: service.review_application(s, w, app_id, accept=False, note=note),
        ),
        "approve": (
            perm.APPROVE,
            lambda w: service.decide_application(s, w, app_id, approve=True, note=note),
        ),
        "reject": (
            perm.APPROVE,
            lambda w: service.decide_application(s, w, app_id, approve=False, note=note),
        ),
        "contract": (perm.APPLY, lambda w: service.sign_contract(s, w, app_id)),
        "disburse": (perm.SERVICE, lambda w: service.disburse(s, w, app_id)),
    }


def _confirm_text(step: str, app: Application, borrower: Borrower | None) -> str | None:
    """What an irreversible step does, asked before it is done (None: no question)."""
    name = borrower.name if borrower else ""
    amount = formatting.money(app.granted_amount, ui.locale())
    if step in ("reject", "review_reject"):
        return _(
            "Application #%(id)s of %(name)s will be rejected; this cannot be undone.",
            id=app.id,
            name=name,
        )
    if step == "contract":
        return _(
            "The loan contract for %(amount)s with %(name)s will be signed.",
            amount=amount,
            name=name,
        )
    if step == "disburse":
        return _(
            "%(amount)s will be disbursed to %(name)s and the repayment schedule starts today.",
            amount=amount,
            name=name,
        )
    return None


STEPS = ("review", "review_reject", "approve", "reject", "contract", "disburse")


def _done(step: str) -> str:
    return {
        "review": _("Reviewed: passed to approval."),
        "review_reject": _("Application rejected."),
        "approve": _("Application approved."),
        "reject": _("Application rejected."),
        "contract": _("Contract signed."),
        "disburse": _("Loan disbursed."),
    }[step]


def _refusal(exc: PostalOpsError) -> str:
    """A refused step in the page's language."""
    if exc.code == "maker_cannot_check":
        return _("Refused: nobody approves an application they entered or reviewed.")
    if exc.code == "invalid_transition":
        return _("Refused: the application has moved on since this page was opened. Reload it.")
    if exc.status == 403:
        return _("Refused: your role may not take this step.")
    return _("Refused: the step could not be taken. Reload the page and try again.")


@bp.route("/applications/<int:app_id>", methods=["GET", "POST"])
def application_detail(app_id: int) -> Any:
    check_permission(perm.VIEW)
    s = context.session()
    app = get_or_404(s, Application, app_id, "application_id")
    borrower = s.get(Borrower, app.borrower_id)
    note = ""
    if request.method == "POST":
        step = request.form.get("step") or ""
        note = (request.form.get("note") or "").strip()
        back = url_for("lending.application_detail", app_id=app_id)
        steps = _steps(s, app, note)
        if step not in steps:
            flash(_("Unknown step"), "error")
            return redirect(back)
        permission, fn = steps[step]
        who = check_permission(permission)
        question = _confirm_text(step, app, borrower)
        if question is not None:
            page = ui.confirm_first(question, _step_label(step))
            if page is not None:
                return page
        try:
            fn(who)
            s.commit()
        except PostalOpsError as exc:
            s.rollback()
            flash(_refusal(exc), "error")
        else:
            flash(_done(step), "success")
        return redirect(back)
    product = s.get(Product, app.product_id)
    return render_template(
        "lending/application.html",
        app=app,
        borrower=borrower,
        product=product,
        hours=service.hours_to_disbursement(app),
        confirm={k: _confirm_text(k, app, borrower) for k in STEPS},
        step_label=_step_label,
    )


def _step_label(step: str) -> str:
    return {
        "review": _("Pass to approval"),
        "review_reject": _("Reject the application"),
        "approve": _("Approve the application"),
        "reject": _("Reject the application"),
        "contract": _("Sign the contract"),
        "disburse": _("Disburse the loan"),
    }[step]


def _rate(value: Any) -> str:
    return formatting.percent(value, ui.locale(), places=2)


LOANS = Listing(
    select(
        Loan.id,
        Loan.loan_no,
        Loan.tenant_code,
        Loan.principal,
        Loan.outstanding_principal,
        Loan.annual_rate,
        Loan.disbursed_on,
        Loan.maturity_date,
        Loan.days_past_due,
        Loan.category,
        Loan.status,
        Borrower.name.label("borrower"),
    ).join(Borrower, Borrower.id == Loan.borrower_id),
    [
        Column(
            "loan_no",
            "贷款编号",
            "Loan",
            sortable=True,
            filter="text",
            expr=Loan.loan_no,
            href=lambda r: url_for("lending.loan_detail", loan_id=r.id),
        ),
        Column("borrower", "借款人", "Borrower", sortable=True, filter="text", expr=Borrower.name),
        Column("tenant_code", "单位", "Unit", kind="unit", filter="unit", expr=Loan.tenant_code),
        Column("principal", "本金", "Principal", kind="money", sortable=True, expr=Loan.principal),
        Column(
            "outstanding_principal",
            "贷款余额",
            "Outstanding",
            kind="money",
            sortable=True,
            expr=Loan.outstanding_principal,
        ),
        Column("annual_rate", "年利率", "Rate", value=lambda r: _rate(r.annual_rate)),
        Column(
            "disbursed_on",
            "放款日",
            "Disbursed",
            kind="date",
            sortable=True,
            filter="date_range",
            expr=Loan.disbursed_on,
        ),
        Column(
            "maturity_date",
            "到期日",
            "Maturity",
            kind="date",
            sortable=True,
            filter="date_range",
            expr=Loan.maturity_date,
        ),
        Column(
            "days_past_due",
            "逾期天数",
            "Days past due",
            kind="count",
            sortable=True,
            expr=Loan.days_past_due,
        ),
        Column(
            "category",
            "五级分类",
            "Category",
            kind="status",
            domain="lending.category",
            filter="choice",
            choices=tuple(c.value for c in Category),
            expr=Loan.category,
        ),
        Column(
            "status",
            "状态",
            "Status",
            kind="status",
            domain="lending.loan",
            filter="choice",
            choices=("active", "closed", "renewed"),
            expr=Loan.status,
        ),
    ],
    default_sort="-disbursed_on",
    tiebreak=(Loan.id,),
    filename="lending-loans",
)


@bp.route("/loans")
def loan_list() -> Any:
    check_permission(perm.VIEW)
    args = request.args.copy()
    if "status" not in args:
        args["status"] = "active"  # the loans being serviced, unless asked otherwise
    page = LOANS.run(context.session(), args)
    if page.export:
        return page.export_response()
    return render_template("lending/loans.html", page=page)


REPAYMENT_FIELDS = ("amount", "paid_on", "reference")
RELIEF_FIELDS = ("kind", "relief_date", "term_months", "extension_months", "annual_rate", "reason")


def _repayment_errors(exc: PostalOpsError) -> dict[str, str]:
    words = {
        "paid_on_in_future": ("paid_on", _("Cannot be in the future.")),
        "before_disbursement": ("paid_on", _("The loan was not yet disbursed on that day.")),
        "duplicate_reference": (
            "reference",
            _("This reference was already used for another repayment of this loan."),
        ),
        "overpayment": ("amount", _("More than the payoff amount on that day.")),
        "prepayment_not_allowed": (
            "amount",
            _("More than the amount due: this product takes no early repayment."),
        ),
        "loan_not_active": ("amount", _("The loan is no longer active.")),
    }
    if exc.code in words:
        field, message = words[exc.code]
        return {field: message}
    fields = ui.field_errors(exc.details)
    if "amount" in fields:
        return {"amount": _("Enter an amount in yuan above zero, at most two decimals.")}
    return {"amount": _("Not accepted: check this field.")}


RELIEF_FORM_FIELD = {
    "extension_months": "extension_months",
    "term_months": "term_months",
    "renewal_window": "relief_date",
    "relief_date": "relief_date",
    "kind": "kind",
    "annual_rate": "annual_rate",
}


def _relief_errors(exc: PostalOpsError) -> dict[str, str]:
    if exc.code == "relief_pending":
        return {"kind": _("This loan already has a relief request awaiting approval.")}
    out: dict[str, str] = {}
    for d in exc.details:
        if not isinstance(d, dict) or not d.get("field"):
            continue
        rule, message = str(d["field"]), str(d.get("message") or "")
        found = re.match(r"observed (.*), needs (.*)$", message)
        if exc.code == "relief_ineligible" and found:
            words = rule_words({"rule": rule, "observed": found[1], "threshold": found[2]})
            text = _(
                "Not eligible: %(rule)s is %(observed)s, needs %(threshold)s.",
                rule=words["label"],
                observed=words["observed"],
                threshold=words["threshold"],
            )
        elif rule == "relief_date":
            text = (
                _("The loan was not yet disbursed on that day.")
                if message == "before disbursement"
                else _("Enter a date, e.g. 2015-06-18.")
            )
        elif rule in ("term_months", "extension_months"):
            text = _("Enter a whole number of months.")
        elif rule == "annual_rate":
            text = _("A yearly rate in percent, 0 to 100, e.g. 4.35.")
        else:
            text = _("Not accepted: check this field.")
        out.setdefault(RELIEF_FORM_FIELD.get(rule, "kind"), text)
    return out or {"kind": _("Not accepted: check this field.")}


def _months(raw: str, field: str, errors: dict[str, str]) -> int | None:
    if not raw:
        return None
    if not raw.isdigit():
        errors[field] = _("Enter a whole number of months.")
        return None
    return int(raw)


def _relief_payload(form: dict[str, str], errors: dict[str, str]) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "kind": form["kind"],
        "relief_date": form["relief_date"],
        "reason": form["reason"],
    }
    for name in ("term_months", "extension_months"):
        value = _months(form[name], name, errors)
        if value is not None:
            payload[name] = value
    if form["annual_rate"]:
        try:
            rate = Decimal(form["annual_rate"].rstrip("%").strip())
        except InvalidOperation:
            rate = Decimal(-1)
        if not (0 <= rate < 100) or rate != rate.quantize(Decimal("0.0001")):
            errors["annual_rate"] = _("A yearly rate in percent, 0 to 100, e.g. 4.35.")
        else:
            payload["annual_rate"] = str(rate / 100)
    return payload


@bp.route("/loans/<int:loan_id>", methods=["GET", "POST"])
def loan_detail(loan_id: int) -> Any:
    check_permission(perm.VIEW)
    s = context.session()
    loan = get_or_404(s, Loan, loan_id, "loan_id")
    back = url_for("lending.loan_detail", loan_id=loan_id)
    today = clock.today()
    errors: dict[str, str] = {}
    which = ""
    repay: dict[str, str] = {"paid_on": today.isoformat()}
    ask: dict[str, str] = {"relief_date": today.isoformat(), "kind": "refinancing"}
    if request.method == "POST":
        f = request.form
        which = f.get("form") or ""
        if which == "repayment":
            who = check_permission(perm.SERVICE)
            repay = {k: (f.get(k) or "").strip() for k in REPAYMENT_FIELDS}
            amount = paid_on = None
            try:
                amount = parse_amount(
                    repay["amount"].replace(",", ""), "amount", minimum=ZERO, allow_zero=False
                )
            except PostalOpsError:
                errors["amount"] = _("Enter an amount in yuan above zero, at most two decimals.")
            try:
                paid_on = dt.date.fromisoformat(repay["paid_on"])
            except ValueError:
                errors["paid_on"] = _("Enter a date, e.g. 2015-06-18.")
            if not repay["reference"]:
                errors["reference"] = _("Required.")
            if not errors:
                try:
                    row = service.record_repayment(
                        s, who, loan_id, amount, paid_on, repay["reference"]
                    )
                    s.commit()
                except PostalOpsError as exc:
                    s.rollback()
                    errors = _repayment_errors(exc)
                else:
                    flash(
                        _(
                            "Repayment of %(amount)s recorded: %(interest)s interest, "
                            "%(principal)s principal.",
                            amount=formatting.money(row.amount, ui.locale()),
                            interest=formatting.money(row.interest, ui.locale()),
                            principal=formatting.money(row.principal, ui.locale()),
                        ),
                        "success",
                    )
                    return redirect(back)
        elif which == "relief":
            who = check_permission(perm.RELIEF)
            ask = {k: (f.get(k) or "").strip() for k in RELIEF_FIELDS}
            payload = _relief_payload(ask, errors)
            if not errors:
                try:
                    service.request_relief(s, who, loan_id, payload)
                    s.commit()
                except PostalOpsError as exc:
                    s.rollback()
                    errors = _relief_errors(exc)
                else:
                    flash(_("Relief requested; it awaits approval"), "success")
                    return redirect(back)
        elif which in views_accounting.FORMS:
            errors, page = views_accounting.handle(s, loan, which, f)
            if page is True:
                return redirect(back)
            if page is not None:
                return page
            loan = get_or_404(s, Loan, loan_id, "loan_id")
        else:
            flash(_("Unknown step"), "error")
            return redirect(back)
    lines = s.exec(
        select(Instalment)
        .where(Instalment.loan_id == loan.id)
        .order_by(Instalment.version.desc(), Instalment.number)
    ).all()
    by_version: dict[int, list[Instalment]] = {}
    for x in lines:
        by_version.setdefault(x.version, []).append(x)
    # a schedule runs up to 360 lines: 50 a page, each version paged on its own (v3_page=2)
    versions = {v: ListPage(xs, request.args, prefix=f"v{v}_") for v, xs in by_version.items()}
    linked = {
        row.id: row.loan_no
        for row in s.exec(
            select(Loan).where(
                Loan.id.in_([i for i in (loan.renewed_from_id, loan.renewed_to_id) if i])  # type: ignore[union-attr]
            )
        ).all()
    }
    return render_template(
        "lending/loan.html",
        loan=loan,
        borrower=s.get(Borrower, loan.borrower_id),
        product=s.get(Product, loan.product_id),
        versions=versions,
        quote=service.quote(s, loan, today) if loan.status == "active" else {},
        repayments=ListPage(
            s.exec(
                select(Repayment)
                .where(Repayment.loan_id == loan.id)
                .order_by(Repayment.paid_on, Repayment.id)
            ).all(),
            request.args,
            prefix="r_",
        ),
        reliefs=s.exec(select(Relief).where(Relief.loan_id == loan.id).order_by(Relief.id)).all(),
        linked=linked,
        today=today,
        errors=errors,
        which=which,
        repay=repay,
        ask=ask,
        relief_kinds=[
            (k.value, ui.status_label(k.value, "lending.relief_kind")[0]) for k in ReliefKind
        ],
        form=request.form if errors else {},
        books=views_accounting.page_context(s, loan),
    ), (422 if errors else 200)


RELIEFS = Listing(
    select(
        Relief.id,
        Relief.requested_at,
        Relief.tenant_code,
        Relief.kind,
        Relief.relief_date,
        Relief.status,
        Relief.reason,
        Relief.requested_by,
        Relief.requested_by_name,
        Relief.decided_by_name,
        Relief.outstanding_principal,
        Relief.loan_id,
        Loan.loan_no,
        Borrower.name.label("borrower"),
    )
    .join(Loan, Loan.id == Relief.loan_id)
    .join(Borrower, Borrower.id == Loan.borrower_id),
    [
        Column(
            "requested_at",
            "申请时间",
            "Requested",
            kind="datetime",
            sortable=True,
            filter="date_range",
            expr=Relief.requested_at,
        ),
        Column(
            "loan_no",
            "贷款编号",
            "Loan",
            sortable=True,
            filter="text",
            expr=Loan.loan_no,
            href=lambda r: url_for("lending.loan_detail", loan_id=r.loan_id),
        ),
        Column("borrower", "借款人", "Borrower", sortable=True, filter="text", expr=Borrower.name),
        Column("tenant_code", "单位", "Unit", kind="unit", filter="unit", expr=Relief.tenant_code),
        Column(
            "kind",
            "纾困方式",
            "Kind",
            kind="status",
            domain="lending.relief_kind",
            filter="choice",
            choices=tuple(k.value for k in ReliefKind),
            expr=Relief.kind,
        ),
        Column(
            "relief_date",
            "纾困日期",
            "Relief date",
            kind="date",
            sortable=True,
            expr=Relief.relief_date,
        ),
        Column("reason", "原因", "Reason", expr=Relief.reason),
        Column(
            "requested_by_name",
            "申请人",
            "Requested by",
            value=lambda r: (r.requested_by_name or "").removeprefix("user:"),
        ),
        Column(
            "status",
            "状态",
            "Status",
            kind="status",
            domain="lending.relief",
            filter="choice",
            choices=("requested", "approved", "rejected"),
            expr=Relief.status,
        ),
        Column(
            "decided_by_name",
            "审批人",
            "Decided by",
            value=lambda r: (r.decided_by_name or "").removeprefix("user:"),
        ),
    ],
    default_sort="-requested_at",
    tiebreak=(Relief.id,),
    filename="lending-reliefs",
)


def _relief_refusal(exc: PostalOpsError) -> str:
    if exc.code == "maker_cannot_check":
        return _("Refused: nobody decides a relief they requested.")
    if exc.code == "invalid_transition":
        return _("Refused: this relief has already been decided.")
    if exc.code == "relief_ineligible":
        return _("Refused: the loan is no longer eligible for this relief.")
    if exc.status == 403:
        return _("Refused: your role may not take this step.")
    return _("Refused: the step could not be taken. Reload the page and try again.")


@bp.route("/reliefs", methods=["GET", "POST"])
def relief_list() -> Any:
    check_permission(perm.VIEW)
    s = context.session()
    if request.method == "POST":
        who = check_permission(perm.APPROVE)
        rid = _id(request.form.get("relief_id")) or 0
        approve = request.form.get("decision") == "approve"
        back = request.form.get("back") or url_for("lending.relief_list")
        if not back.startswith("/p/lending/reliefs"):
            back = url_for("lending.relief_list")
        page = ui.confirm_first(
            _("The relief will be applied: a new schedule replaces the current one.")
            if approve
            else _("The relief request will be rejected; this cannot be undone."),
            _("Approve the relief") if approve else _("Reject the relief"),
        )
        if page is not None:
            return page
        try:
            service.decide_relief(s, who, rid, approve=approve, note=request.form.get("note", ""))
            s.commit()
        except PostalOpsError as exc:
            s.rollback()
            flash(_relief_refusal(exc), "error")
        else:
            flash(
                _("Relief approved; the new schedule applies.")
                if approve
                else _("Relief rejected."),
                "success",
            )
        return redirect(back)
    page = RELIEFS.run(s, request.args)
    if page.export:
        return page.export_response()
    return render_template("lending/reliefs.html", page=page, me=context.current().principal)


# --- the phone-back list (computed from tax records, paged in Python) -----------------------

OUTREACH_PER_PAGE = 50
CALLS = Listing(
    select(
        OutreachCall.id,
        OutreachCall.called_at,
        OutreachCall.tenant_code,
        OutreachCall.outcome,
        OutreachCall.reasons,
        OutreachCall.note,
        OutreachCall.called_by,
        OutreachCall.loan_id,
        Borrower.name.label("borrower"),
    ).join(Borrower, Borrower.id == OutreachCall.borrower_id),
    [
        Column(
            "called_at",
            "回访时间",
            "Called",
            kind="datetime",
            sortable=True,
            filter="date_range",
            expr=OutreachCall.called_at,
        ),
        Column("borrower", "借款人", "Borrower", sortable=True, filter="text", expr=Borrower.name),
        Column(
            "tenant_code",
            "单位",
            "Unit",
            kind="unit",
            filter="unit",
            expr=OutreachCall.tenant_code,
        ),
        Column(
            "reasons",
            "回访原因",
            "Why",
            value=lambda r: "、".join(
                ui.status_label(x, "lending.call_reason")[0] for x in (r.reasons or [])
            ),
        ),
        Column(
            "outcome",
            "回访结果",
            "Outcome",
            kind="status",
            domain="lending.call_outcome",
            filter="choice",
            choices=tuple(o.value for o in CallOutcome),
            expr=OutreachCall.outcome,
        ),
        Column("note", "备注", "Note", expr=OutreachCall.note),
        Column(
            "called_by",
            "回访人",
            "Called by",
            value=lambda r: (r.called_by or "").removeprefix("user:"),
        ),
    ],
    default_sort="-called_at",
    tiebreak=(OutreachCall.id,),
    prefix="c_",
    filename="lending-calls",
)


def _phone_back_export(rows: list[dict[str, Any]], on: dt.date, fmt: str) -> Any:
    from flask import send_file
    from postalops.listing import to_csv, to_xlsx

    zh = _is_zh()
    header = (
        ["借款人", "电话", "贷款编号", "到期日", "贷款余额", "回访原因", "销售额降幅", "上次回访"]
        if zh
        else [
            "Borrower",
            "Phone",
            "Loan",
            "Maturity",
            "Outstanding",
            "Why",
            "Sales drop",
            "Last call",
        ]
    )
    kinds = ["text", "text", "text", "date", "money", "text", "percent", "text"]
    out = [
        [
            r["borrower"],
            r["phone"],
            r["loan_no"],
            r["maturity_date"],
            r["outstanding_principal"],
            "、".join(ui.status_label(x, "lending.call_reason")[0] for x in r["reasons"]),
            Decimal(r["sales_drop"]) if r["sales_drop"] is not None else None,
            ui.status_label(r["last_call"]["outcome"], "lending.call_outcome")[0]
            if r["last_call"]
            else None,
        ]
        for r in rows
    ]
    if fmt == "xlsx":
        data = to_xlsx(header, kinds, out)
        mime = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    else:
        data, mime, fmt = to_csv(header, kinds, out), "text/csv; charset=utf-8", "csv"
    return send_file(
        io.BytesIO(data),
        mimetype=mime,
        as_attachment=True,
        download_name=f"lending-phone-back-{on.isoformat()}.{fmt}",
    )


CALL_FIELDS = ("borrower_id", "loan_id", "reasons", "outcome", "note")


@bp.route("/outreach", methods=["GET", "POST"])
def outreach_list() -> Any:
    check_permission(perm.VIEW)
    s = context.session()
    problems: list[str] = []
    on = clock.today()
    if request.args.get("on"):
        try:
            on = dt.date.fromisoformat(request.args["on"])
        except ValueError:
            problems.append(
                _(
                    "“%(value)s” is not a date (YYYY-MM-DD); today is shown.",
                    value=request.args["on"],
                )
            )
    errors: dict[str, str] = {}
    failed: Any = {}
    if request.method == "POST":
        who = check_permission(perm.RELIEF)
        failed = {k: (request.form.get(k) or "").strip() for k in CALL_FIELDS}
        try:
            service.record_call(
                s,
                who,
                borrower_id=_id(failed["borrower_id"]) or 0,
                outcome=failed["outcome"],
                note=failed["note"],
                loan_id=_id(failed["loan_id"]),
                reasons=[r for r in failed["reasons"].split(",") if r],
            )
            s.commit()
        except PostalOpsError as exc:
            s.rollback()
            fields = ui.field_errors(exc.details)
            errors = {
                "outcome": _("Choose the outcome of the call.")
                if "outcome" in fields
                else _("This borrower or loan is not on your list any more. Reload the page.")
            }
        else:
            flash(_("Call recorded"), "success")
            return redirect(url_for("lending.outreach_list", **request.args))
    manager = request.args.get("manager", "").strip()
    reason = request.args.get("reason", "").strip()
    rows = service.phone_back_list(s, on, manager=manager or None)
    if reason in {r.value for r in Reason}:
        rows = [r for r in rows if reason in r["reasons"]]
    else:
        reason = ""
    fmt = request.args.get("export")
    if fmt in ("csv", "xlsx"):
        return _phone_back_export(rows, on, fmt)
    calls = CALLS.run(s, request.args)
    if calls.export:
        return calls.export_response()
    return render_template(
        "lending/outreach.html",
        listing=ListPage(rows, request.args, per_page=OUTREACH_PER_PAGE),
        on=on,
        today=clock.today(),
        manager=manager,
        reason=reason,
        problems=problems,
        calls=calls,
        errors=errors,
        failed=failed,
        outcomes=[
            (o.value, ui.status_label(o.value, "lending.call_outcome")[0]) for o in CallOutcome
        ],
        reasons=[(r.value, ui.status_label(r.value, "lending.call_reason")[0]) for r in Reason],
        query=lambda **kw: (
            "?"
            + urlencode(
                {**{k: v for k, v in request.args.items() if k not in ("page", "export")}, **kw}
            )
        ),
    ), (422 if errors else 200)


# the product pages live on this blueprint too (their own module, built on the UI kit)
from postalops_lending import views_products  # noqa: E402, F401
