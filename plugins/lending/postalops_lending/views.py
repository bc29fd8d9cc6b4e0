"""Portal pages under ``/p/lending``: borrowers, applications, loans, relief, phone-back.

Forms post to the same services the API uses; a refused action is shown with its reason and
nothing is written (the transaction is rolled back).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from postalops import clock, context, ui
from postalops.auth import check_permission
from postalops.errors import PostalOpsError, ValidationError
from postalops.listing import Column, Listing
from sqlmodel import select

from postalops_lending import permissions as perm
from postalops_lending.classification import CATEGORY_ZH, Category
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
from postalops_lending.money import parse_amount
from postalops_lending.services import applications, borrowers, loans, outreach, relief
from postalops_lending.services.common import get_or_404

bp = Blueprint("lending", __name__, url_prefix="/p/lending", template_folder="templates")

SHANGHAI = dt.timezone(dt.timedelta(hours=8))


@bp.app_template_filter("lending_category")
def category_label(value: str) -> str:
    from postalops.builtin.portal import is_zh

    return CATEGORY_ZH[Category(value)] if is_zh() else value.replace("_", " ")


@bp.app_template_filter("local_time")
def local_time(value: dt.datetime | None) -> str:
    return value.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") if value else ""


def _act(action: Callable[[], Any], ok: str, back: str) -> Any:
    """Run a form action in the request's transaction; show a refusal instead of a 500."""
    s = context.session()
    try:
        action()
        s.commit()
        flash(ok, "success")
    except PostalOpsError as exc:
        s.rollback()
        reasons = "; ".join(
            f"{d.get('field', d.get('row', ''))}: {d.get('message', d.get('errors', ''))}"
            for d in exc.details
            if isinstance(d, dict)
        )
        flash(f"{exc.message}" + (f" ({reasons})" if reasons else ""), "error")
    return redirect(back)


@bp.route("/")
def home() -> Any:
    check_permission(perm.VIEW)
    s = context.session()
    unit = context.tenant()
    year = request.args.get("year", type=int) or clock.today().year
    kpis = compute(s, unit, dt.date(year, 1, 1), dt.date(year, 12, 31))
    offered = s.exec(select(Product).order_by(Product.code)).all()
    return render_template("lending/home.html", kpis=kpis, year=year, unit=unit, products=offered)


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
            row = borrowers.register_borrower(
                s,
                who,
                borrowers.BorrowerData(
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


@bp.route("/applications", methods=["GET", "POST"])
def application_list() -> Any:
    check_permission(perm.VIEW)
    s = context.session()
    if request.method == "POST":
        who = check_permission(perm.APPLY)
        f = request.form

        def submit() -> None:
            app = applications.submit(
                s,
                who,
                borrower_id=int(f.get("borrower_id") or 0),
                product_id=int(f.get("product_id") or 0),
                requested_amount=parse_amount(f.get("requested_amount", ""), "requested_amount"),
                channel="portal",
            )
            flash(_("Pre-check: %(status)s", status=app.status), "info")

        return _act(submit, _("Application submitted"), url_for("lending.application_list"))
    rows = s.exec(
        select(Application, Borrower)
        .join(Borrower, Borrower.id == Application.borrower_id)
        .order_by(Application.id.desc())
        .limit(500)
    ).all()
    return render_template(
        "lending/applications.html",
        rows=rows,
        borrowers=s.exec(select(Borrower).order_by(Borrower.name)).all(),
        products=s.exec(select(Product).where(Product.active)).all(),
    )


@bp.route("/applications/<int:app_id>", methods=["GET", "POST"])
def application_detail(app_id: int) -> Any:
    check_permission(perm.VIEW)
    s = context.session()
    app = get_or_404(s, Application, app_id, "application_id")
    if request.method == "POST":
        step = request.form.get("step")
        back = url_for("lending.application_detail", app_id=app_id)
        note = request.form.get("note", "")
        steps: dict[str, tuple[str, Callable[[Any], Any]]] = {
            "review": (
                perm.REVIEW,
                lambda w: applications.review(s, w, app_id, accept=True, note=note),
            ),
            "review_reject": (
                perm.REVIEW,
                lambda w: applications.review(s, w, app_id, accept=False, note=note),
            ),
            "approve": (
                perm.APPROVE,
                lambda w: applications.decide(s, w, app_id, approve=True, note=note),
            ),
            "reject": (
                perm.APPROVE,
                lambda w: applications.decide(s, w, app_id, approve=False, note=note),
            ),
            "contract": (perm.APPLY, lambda w: applications.sign_contract(s, w, app_id)),
            "disburse": (perm.SERVICE, lambda w: applications.disburse(s, w, app_id)),
        }
        if step not in steps:
            flash(_("Unknown step"), "error")
            return redirect(back)
        permission, fn = steps[step]
        who = check_permission(permission)
        return _act(lambda: fn(who), _("Done"), back)
    borrower = s.get(Borrower, app.borrower_id)
    return render_template(
        "lending/application.html",
        app=app,
        borrower=borrower,
        hours=applications.hours_to_disbursement(app),
    )


@bp.route("/loans")
def loan_list() -> Any:
    check_permission(perm.VIEW)
    s = context.session()
    status = request.args.get("status") or "active"
    rows = s.exec(
        select(Loan, Borrower)
        .join(Borrower, Borrower.id == Loan.borrower_id)
        .where(Loan.status == status)
        .order_by(Loan.id.desc())
        .limit(500)
    ).all()
    return render_template("lending/loans.html", rows=rows, status=status)


@bp.route("/loans/<int:loan_id>", methods=["GET", "POST"])
def loan_detail(loan_id: int) -> Any:
    check_permission(perm.VIEW)
    s = context.session()
    loan = get_or_404(s, Loan, loan_id, "loan_id")
    back = url_for("lending.loan_detail", loan_id=loan_id)
    if request.method == "POST":
        f = request.form
        if f.get("form") == "repayment":
            who = check_permission(perm.SERVICE)
            return _act(
                lambda: loans.record_repayment(
                    s,
                    who,
                    loan_id,
                    parse_amount(f.get("amount", ""), "amount"),
                    _form_date(f.get("paid_on"), "paid_on"),
                    f.get("reference", ""),
                ),
                _("Repayment recorded"),
                back,
            )
        if f.get("form") == "relief":
            who = check_permission(perm.RELIEF)
            payload = {
                k: v
                for k, v in {
                    "kind": f.get("kind"),
                    "relief_date": f.get("relief_date"),
                    "term_months": _int_or_none(f.get("term_months")),
                    "extension_months": _int_or_none(f.get("extension_months")),
                    "annual_rate": f.get("annual_rate") or None,
                    "reason": f.get("reason", ""),
                }.items()
                if v is not None
            }
            return _act(
                lambda: relief.request_relief(s, who, loan_id, payload),
                _("Relief requested; it awaits approval"),
                back,
            )
    lines = s.exec(
        select(Instalment)
        .where(Instalment.loan_id == loan.id)
        .order_by(Instalment.version.desc(), Instalment.number)
    ).all()
    versions: dict[int, list[Instalment]] = {}
    for x in lines:
        versions.setdefault(x.version, []).append(x)
    return render_template(
        "lending/loan.html",
        loan=loan,
        borrower=s.get(Borrower, loan.borrower_id),
        versions=versions,
        quote=loans.quote(s, loan, clock.today()) if loan.status == "active" else {},
        repayments=s.exec(
            select(Repayment).where(Repayment.loan_id == loan.id).order_by(Repayment.paid_on)
        ).all(),
        reliefs=s.exec(select(Relief).where(Relief.loan_id == loan.id)).all(),
        today=clock.today(),
    )


@bp.route("/reliefs", methods=["GET", "POST"])
def relief_list() -> Any:
    check_permission(perm.VIEW)
    s = context.session()
    if request.method == "POST":
        who = check_permission(perm.APPROVE)
        rid = int(request.form.get("relief_id") or 0)
        approve = request.form.get("decision") == "approve"
        return _act(
            lambda: relief.decide_relief(
                s, who, rid, approve=approve, note=request.form.get("note", "")
            ),
            _("Decision recorded"),
            url_for("lending.relief_list"),
        )
    rows = s.exec(
        select(Relief, Loan)
        .join(Loan, Loan.id == Relief.loan_id)
        .order_by(Relief.id.desc())
        .limit(500)
    ).all()
    return render_template("lending/reliefs.html", rows=rows)


@bp.route("/outreach", methods=["GET", "POST"])
def outreach_list() -> Any:
    check_permission(perm.VIEW)
    s = context.session()
    on = _form_date(request.args.get("on"), "on") if request.args.get("on") else clock.today()
    if request.method == "POST":
        who = check_permission(perm.RELIEF)
        f = request.form
        return _act(
            lambda: outreach.record_call(
                s,
                who,
                borrower_id=int(f.get("borrower_id") or 0),
                outcome=f.get("outcome", ""),
                note=f.get("note", ""),
                loan_id=_int_or_none(f.get("loan_id")),
                reasons=[r for r in f.get("reasons", "").split(",") if r],
            ),
            _("Call recorded"),
            url_for("lending.outreach_list", on=on.isoformat()),
        )
    calls = s.exec(select(OutreachCall).order_by(OutreachCall.called_at.desc()).limit(50)).all()
    return render_template(
        "lending/outreach.html", rows=outreach.phone_back_list(s, on), on=on, calls=calls
    )


def _form_date(value: str | None, field: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value or "")
    except ValueError:
        raise ValidationError(
            f"{field} must be a date", details=[{"field": field, "message": "YYYY-MM-DD"}]
        ) from None


def _int_or_none(value: str | None) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError:
        raise ValidationError(
            "not a whole number", details=[{"field": "months", "message": value}]
        ) from None


def money(value: Decimal | None) -> str:
    return "" if value is None else f"{value:,.2f}"


bp.add_app_template_filter(money, "lending_money")


# the product pages live on this blueprint too (their own module, built on the UI kit)
from postalops_lending import views_products  # noqa: E402, F401
