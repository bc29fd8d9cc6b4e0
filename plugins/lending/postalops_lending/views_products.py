"""Portal pages for loan products (``/p/lending/products``), built on the core UI kit.

The list is for every lending viewer (the products offered in the caller's units, paged,
filtered, exported). Creating and editing a product, its terms and its tax-mode credit policy,
need ``lending.configure``: the loan product manager's role (贷款产品管理员), or an admin. A bad
form is shown again with HTTP 422 and each error beside its field; nothing is written.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from postalops import context, formatting, ui
from postalops.auth import check_permission
from postalops.errors import PostalOpsError
from postalops.listing import Column, Listing
from sqlmodel import select

from postalops_lending import permissions as perm
from postalops_lending import service
from postalops_lending.accounting import PBOC_GENERAL, PBOC_SPECIAL, AccountingTerms, ProvisionRates
from postalops_lending.credit_line import TaxModePolicy
from postalops_lending.models import Product
from postalops_lending.product import DayCount, ProductTerms, RepaymentMethod
from postalops_lending.service import get_or_404
from postalops_lending.views import bp

GRADES = ("A", "B", "M")  # the tax grades a policy lends to (C and D are always declined)
BANDS = 3  # tenure band rows on the form; blank rows are ignored
HUNDRED = Decimal(100)
# the five-category rates on the form, in percent: the general rate on every balance, then the
# special rate of each class above 正常
PROVISION_CLASSES = ("special_mention", "substandard", "doubtful", "loss")
PROVISION_FIELDS = ("provision_general", *(f"provision_{c}" for c in PROVISION_CLASSES))


def _name(p: Product) -> str:
    return p.name_zh if formatting.is_zh(ui.locale()) else p.name_en


def _edit_url(p: Product) -> str | None:
    ctx = context.current_or_none()
    if ctx is None or not ctx.principal.can(perm.CONFIGURE):
        return None
    return url_for("lending.product_edit", product_id=p.id)


PRODUCTS = Listing(
    select(Product),
    [
        Column("code", "产品代码", "Code", sortable=True, filter="text", href=_edit_url),
        Column(
            "name",
            "产品名称",
            "Name",
            value=_name,
            expr=Product.name_zh,
            filter="text",
            sortable=True,
        ),
        Column("tenant_code", "开办单位", "Offered by", kind="unit", filter="unit", sortable=True),
        Column(
            "annual_rate",
            "年利率",
            "Annual rate",
            value=lambda p: formatting.percent(p.annual_rate, places=2),
            sortable=True,
        ),
        Column("term_months", "期限（月）", "Term (months)", kind="number", sortable=True),
        Column(
            "method",
            "还款方式",
            "Repayment",
            kind="status",
            domain="lending.method",
            filter="choice",
            choices=tuple(m.value for m in RepaymentMethod),
        ),
        Column("day_count", "计息基准", "Day count", kind="status", domain="lending.day_count"),
        Column(
            "cap",
            "单户最高额度",
            "Line cap",
            kind="money",
            value=lambda p: service.policy_of(p).cap,
            export=True,
        ),
        Column("allow_prepayment", "可提前还款", "Prepayment", kind="status", domain="bool"),
        Column(
            "active",
            "状态",
            "Status",
            kind="status",
            domain="lending.product",
            filter="choice",
            choices=("true", "false"),
            expr=Product.active,
        ),
    ],
    default_sort="code",
    filename="loan-products",
)


@bp.route("/products")
def product_list() -> Any:
    check_permission(perm.VIEW)
    page = PRODUCTS.run(context.session(), request.args)
    if page.export:
        return page.export_response()
    return render_template("lending/products.html", page=page)


# --- the form ------------------------------------------------------------------------------------


def _values(p: Product | None) -> dict[str, Any]:
    """The form's fields for ``p`` (a new product: the demo tax-mode defaults)."""
    policy = service.policy_of(p) if p is not None else TaxModePolicy()
    books = AccountingTerms.from_json(p.accounting if p is not None else None)
    out: dict[str, Any] = {
        "code": p.code if p else "",
        "name_zh": p.name_zh if p else "",
        "name_en": p.name_en if p else "",
        "tenant_code": p.tenant_code if p else context.current().principal.home_unit,
        "annual_rate": _plain(p.annual_rate * HUNDRED) if p else "",
        "term_months": str(p.term_months) if p else "12",
        "day_count": p.day_count if p else DayCount.ACT_360.value,
        "method": p.method if p else RepaymentMethod.EQUAL_INSTALMENTS.value,
        "allow_prepayment": p.allow_prepayment if p else False,
        "active": p.active if p else True,
        "penalty_surcharge": _plain(books.penalty_surcharge * HUNDRED),
        "compound_overdue_interest": books.compound_overdue_interest,
        "allocation_order": ",".join(books.allocation_order),
        "arrangement_fee_rate": _plain(books.arrangement_fee_rate * HUNDRED),
        # the product's own provision rates, else the PBoC guideline shown (1/2/25/50/100 %)
        "provision_own": books.provision is not None,
        "provision_general": _plain(
            (books.provision.general if books.provision else PBOC_GENERAL) * HUNDRED
        ),
        "cap": _plain(policy.cap),
        "factor": _plain(policy.factor),
        "min_tax_paid": _plain(policy.min_tax_paid),
        "min_line": _plain(policy.min_line),
        "line_unit": _plain(policy.line_unit),
    }
    special = books.provision.special if books.provision else PBOC_SPECIAL
    for c in PROVISION_CLASSES:
        out[f"provision_{c}"] = _plain(special.get(c, PBOC_SPECIAL[c]) * HUNDRED)
    for g in GRADES:
        value = policy.grade_multipliers.get(g)
        out[f"grade_{g}"] = _plain(value) if value is not None else ""
    for i in range(BANDS):
        band = policy.tenure_bands[i] if i < len(policy.tenure_bands) else None
        out[f"band{i + 1}_months"] = str(band[0]) if band else ""
        out[f"band{i + 1}_multiplier"] = _plain(band[1]) if band else ""
    return out


def _plain(value: Decimal) -> str:
    """A Decimal as typed by a person: ``4.350000`` -> ``4.35``, ``1000000`` stays."""
    return format(value.normalize(), "f")


def _decimal(form: Mapping[str, str], name: str, errors: dict[str, str]) -> Decimal | None:
    raw = (form.get(name) or "").strip().replace(",", "")
    if not raw:
        errors[name] = _("Required.")
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        errors[name] = _("Enter a number, e.g. 4.35.")
        return None
    if not value.is_finite():
        errors[name] = _("Enter a number, e.g. 4.35.")
        return None
    return value


def _int(form: Mapping[str, str], name: str, errors: dict[str, str]) -> int | None:
    raw = (form.get(name) or "").strip()
    if not raw.isdigit():
        errors[name] = _("Enter a whole number.")
        return None
    return int(raw)


ORDERS = tuple(",".join(o) for o in itertools.permutations(("penalty", "interest", "principal")))


def _read_accounting(form: Mapping[str, str], got: dict[str, Any], errors: dict[str, str]) -> None:
    """Penalty surcharge and fee in percent, compound interest, allocation order; a field left
    blank (or absent) takes the default: 50 %, no fee, penalty → interest → principal."""
    defaults = {"penalty_surcharge": "50", "arrangement_fee_rate": "0"}
    rates = {}
    for name, top in (
        ("penalty_surcharge", Decimal("200")),
        ("arrangement_fee_rate", Decimal("10")),
    ):
        if not (form.get(name) or "").strip():
            rates[name] = Decimal(defaults[name]) / HUNDRED
            continue
        value = _decimal(form, name, errors)
        if value is not None:
            if not (0 <= value <= top) or (name == "arrangement_fee_rate" and value == top):
                errors[name] = _("A percentage from 0 to %(top)s.", top=_plain(top))
            else:
                rates[name] = value / HUNDRED
    order = form.get("allocation_order") or ORDERS[0]
    if order not in ORDERS:
        errors["allocation_order"] = _("Choose the order repayments are applied in.")
    provision = _read_provision(form, errors)
    if not any(
        k in errors
        for k in (
            "penalty_surcharge",
            "arrangement_fee_rate",
            "allocation_order",
            *PROVISION_FIELDS,
        )
    ):
        got["accounting"] = dict(
            penalty_surcharge=rates["penalty_surcharge"],
            compound_overdue_interest=form.get("compound_overdue_interest") == "1",
            allocation_order=tuple(order.split(",")),
            arrangement_fee_rate=rates["arrangement_fee_rate"],
            provision=provision,
        )


def _read_provision(form: Mapping[str, str], errors: dict[str, str]) -> ProvisionRates | None:
    """The product's own five-category provision rates (percent, 0 to 100, at most two
    decimals) when ``provision_own`` is ticked; None (the unit's settings) otherwise. A rate left
    blank takes the PBoC guideline's."""
    if form.get("provision_own") != "1":
        return None
    read: dict[str, Decimal] = {}
    defaults = {"provision_general": PBOC_GENERAL}
    defaults.update({f"provision_{c}": PBOC_SPECIAL[c] for c in PROVISION_CLASSES})
    for name in PROVISION_FIELDS:
        if not (form.get(name) or "").strip():
            read[name] = defaults[name]
            continue
        value = _decimal(form, name, errors)
        if value is None:
            continue
        if not (0 <= value <= HUNDRED) or value != value.quantize(Decimal("0.01")):
            errors[name] = _("A percentage from 0 to 100, at most two decimals.")
        else:
            read[name] = value / HUNDRED
    if any(name in errors for name in PROVISION_FIELDS):
        return None
    special = dict(PBOC_SPECIAL)
    special.update({c: read[f"provision_{c}"] for c in PROVISION_CLASSES})
    return ProvisionRates(read["provision_general"], special)


def _read(form: Mapping[str, str], code: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The product's terms and policy from the form, and ``{field: message}`` for each bad one."""
    errors: dict[str, str] = {}
    got: dict[str, Any] = {}
    for name in ("name_zh", "name_en"):
        got[name] = (form.get(name) or "").strip()
        if not got[name]:
            errors[name] = _("Required.")
        elif len(got[name]) > 100:
            errors[name] = _("At most 100 characters.")
    rate = _decimal(form, "annual_rate", errors)
    if rate is not None:
        if not (0 <= rate < 100) or rate != rate.quantize(Decimal("0.0001")):
            errors["annual_rate"] = _("A yearly rate in percent, 0 to 100, e.g. 4.35.")
        else:
            got["annual_rate"] = rate / HUNDRED
    term = _int(form, "term_months", errors)
    if term is not None and not (1 <= term <= 60):
        errors["term_months"] = _("Between 1 and 60 months.")
    got["term_months"] = term
    try:
        got["day_count"] = DayCount(form.get("day_count"))
    except ValueError:
        errors["day_count"] = _("Choose a day count.")
    try:
        got["method"] = RepaymentMethod(form.get("method"))
    except ValueError:
        errors["method"] = _("Choose a repayment method.")
    got["allow_prepayment"] = form.get("allow_prepayment") == "1"
    got["active"] = form.get("active") == "1"
    _read_accounting(form, got, errors)

    amounts = {}
    for name in service.POLICY_FIELDS:
        value = _decimal(form, name, errors)
        if value is not None:
            if value <= 0 or value != value.quantize(Decimal("0.01")):
                errors[name] = _("Above zero, at most two decimals.")
            else:
                amounts[name] = value
    if "min_line" in amounts and "cap" in amounts and amounts["min_line"] > amounts["cap"]:
        errors["min_line"] = _("The smallest line cannot be above the cap.")
    grades = {}
    for g in GRADES:
        if not (form.get(f"grade_{g}") or "").strip():
            continue  # a grade left blank is not lent to
        value = _decimal(form, f"grade_{g}", errors)
        if value is not None:
            if not (0 < value <= 2):
                errors[f"grade_{g}"] = _("A multiplier above 0 and at most 2, e.g. 0.8.")
            else:
                grades[g] = value
    if not grades and not any(f"grade_{g}" in errors for g in GRADES):
        errors["grade_A"] = _("Lend to at least one tax grade.")
    bands = []
    for i in range(1, BANDS + 1):
        m_name, x_name = f"band{i}_months", f"band{i}_multiplier"
        if not (form.get(m_name) or "").strip() and not (form.get(x_name) or "").strip():
            continue
        months = _int(form, m_name, errors)
        if months is not None and months > 600:
            errors[m_name] = _("At most 600 months.")
            months = None
        value = _decimal(form, x_name, errors)
        if value is not None and not (0 < value <= 2):
            errors[x_name] = _("A multiplier above 0 and at most 2, e.g. 0.8.")
        elif months is not None and value is not None:
            if bands and months <= bands[-1][0]:
                errors[m_name] = _("Each band starts at more months than the one before.")
            else:
                bands.append((months, value))
    if not bands and not any(k.startswith("band") for k in errors):
        errors["band1_months"] = _("At least one band: the months in business it starts at.")
    if errors:
        return got, errors
    got["terms"] = ProductTerms(
        code,
        got["annual_rate"],
        got["term_months"],
        got["day_count"],
        got["method"],
        got["allow_prepayment"],
    )
    got["policy"] = TaxModePolicy(
        cap=amounts["cap"],
        factor=amounts["factor"],
        grade_multipliers=grades,
        tenure_bands=tuple(bands),
        min_tax_paid=amounts["min_tax_paid"],
        min_line=amounts["min_line"],
        line_unit=amounts["line_unit"],
    )
    return got, errors


# service errors name fields as the API does; the form's names for them
FORM_NAMES = {
    "policy.cap": "cap",
    "policy.factor": "factor",
    "policy.min_tax_paid": "min_tax_paid",
    "policy.min_line": "min_line",
    "policy.line_unit": "line_unit",
    "policy.tenure_bands": "band1_months",
    "policy.grade_multipliers": "grade_A",
    **{f"policy.grade.{g}": f"grade_{g}" for g in GRADES},
}


def _service_errors(exc: PostalOpsError) -> dict[str, str]:
    """The service's refusal beside the form's field, in the page's language (the form checks
    every rule first, so this is mostly a product code already used at the unit)."""
    out = {}
    for field in ui.field_errors(exc.details):
        if field == "code" and exc.code == "duplicate_product":
            out["code"] = _("This product code is already used in your units.")
        else:
            out[FORM_NAMES.get(field, field)] = _("Not accepted by the product rules.")
    return out


def _form_page(product: Product | None, values: dict[str, Any], errors: dict[str, str]) -> Any:
    units = [(code, "\u3000" * depth + name) for code, name, depth in ui.visible_units()]
    return render_template(
        "lending/product_form.html",
        product=product,
        v=values,
        errors=errors,
        unit_options=units,
        grades=GRADES,
        bands=BANDS,
        methods=[(m.value, ui.status_label(m.value, "lending.method")[0]) for m in RepaymentMethod],
        day_counts=[(d.value, ui.status_label(d.value, "lending.day_count")[0]) for d in DayCount],
        orders=[
            (o, " → ".join(ui.status_label(b, "lending.bucket")[0] for b in o.split(",")))
            for o in ORDERS
        ],
    ), (422 if errors else 200)


def _submitted(form: Mapping[str, str], base: dict[str, Any]) -> dict[str, Any]:
    """What the user typed, to show again on a refused form."""
    out = dict(base)
    for key in base:
        if key in ("allow_prepayment", "active", "compound_overdue_interest", "provision_own"):
            out[key] = form.get(key) == "1"
        elif key in form:
            out[key] = form.get(key)
    return out


@bp.route("/products/new", methods=["GET", "POST"])
def product_new() -> Any:
    who = check_permission(perm.CONFIGURE)
    values = _values(None)
    if request.method == "GET":
        return _form_page(None, values, {})
    f = request.form
    values = _submitted(f, values)
    code = (f.get("code") or "").strip().upper()
    got, errors = _read(f, code)
    if not code:
        errors["code"] = _("Required.")
    elif len(code) > 40 or not all(c.isalnum() or c in "-_" for c in code):
        errors["code"] = _("Up to 40 letters, digits, - or _.")
    unit = f.get("tenant_code") or who.home_unit
    if unit not in {c for c, _n, _d in ui.visible_units()}:
        errors["tenant_code"] = _("Choose one of your units.")
    s = context.session()
    if not errors:
        try:
            row = service.create_product(
                s,
                who,
                code=code,
                name_zh=got["name_zh"],
                name_en=got["name_en"],
                terms=got["terms"],
                policy=got["policy"],
                tenant_code=unit,
                accounting=AccountingTerms(**got["accounting"]),
            )
            s.commit()
        except PostalOpsError as exc:
            s.rollback()
            errors = _service_errors(exc) or {"code": exc.message}
        else:
            flash(_("Product %(code)s created.", code=row.code), "success")
            return redirect(url_for("lending.product_list"))
    return _form_page(None, values, errors)


@bp.route("/products/<int:product_id>/edit", methods=["GET", "POST"])
def product_edit(product_id: int) -> Any:
    who = check_permission(perm.CONFIGURE)
    s = context.session()
    row = get_or_404(s, Product, product_id, "product_id")
    values = _values(row)
    if request.method == "GET":
        return _form_page(row, values, {})
    f = request.form
    values = _submitted(f, values)
    got, errors = _read(f, row.code)
    if not errors:
        try:
            changed = service.update_product(
                s,
                who,
                row,
                name_zh=got["name_zh"],
                name_en=got["name_en"],
                terms=got["terms"],
                policy=got["policy"],
                active=got["active"],
            )
            if service.set_accounting(s, who, row, AccountingTerms(**got["accounting"])):
                changed = [*changed, "accounting"]
            s.commit()
        except PostalOpsError as exc:
            s.rollback()
            errors = _service_errors(exc) or {"name_zh": exc.message}
        else:
            if changed:
                flash(_("Product %(code)s saved.", code=row.code), "success")
            else:
                flash(_("Nothing changed."), "info")
            return redirect(url_for("lending.product_list"))
    return _form_page(row, values, errors)
