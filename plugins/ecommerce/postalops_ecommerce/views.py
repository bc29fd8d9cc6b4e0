"""Portal pages under ``/p/ecommerce/``: overview + leaderboard, campaign targets, catalogue and
三有, group-buy leaders, order import. Chinese first, English through Flask-Babel."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from postalops import clock, context, ui
from postalops.auth import check_permission
from postalops.errors import PostalOpsError
from postalops.imports import parse_csv, parse_xlsx
from postalops.listing import Column, Listing, ListPage
from postalops.ui import status_label
from sqlmodel import select

from . import board_cache, campaigns, community, import_labels, settlement
from . import metrics as figures
from .catalogue import CATEGORIES, readiness
from .ingest import ingest_orders
from .models import CommissionRate, Leader, Order, Pickup, Product
from .order_rows import group_line_rows, parse_numbered, parse_order
from .pickup import PointDirectory
from .statement_listing import STATEMENTS

bp = Blueprint("ecommerce", __name__, template_folder="templates")


def _period(campaign) -> tuple[dt.date, dt.date]:
    def day(name: str, default: dt.date) -> dt.date:
        try:
            return dt.date.fromisoformat(request.args.get(name) or "")
        except ValueError:
            return default

    start = campaign.starts_on if campaign else clock.today() - dt.timedelta(days=29)
    end = campaign.ends_on if campaign else clock.today()
    return day("from", start), day("to", end)


def _campaigns() -> list[Any]:
    return figures.campaigns_for(
        context.session(), context.tenant(), dt.date(1900, 1, 1), dt.date(9999, 12, 31)
    )


def _chosen(items: list[Any]):
    wanted = request.args.get("campaign", type=int)
    for c in items:
        if c.id == wanted:
            return c
    return items[-1] if items else None


@bp.route("/")
def index() -> Any:
    check_permission("ecommerce.view")
    session, tenant = context.session(), context.tenant()
    items = _campaigns()
    campaign = _chosen(items)
    frm, to = _period(campaign)
    level = request.args.get("level", "city")
    if level not in figures.LEVELS:
        level = "city"
    kpis = figures.metrics(session, tenant, frm, to)
    board = ListPage(
        figures.leaderboard(session, tenant, level, frm, to, board_cache.for_app(current_app)),
        request.args,
    )
    return render_template(
        "ecommerce/index.html",
        campaigns=items,
        campaign=campaign,
        frm=frm,
        to=to,
        level=level,
        kpis=kpis,
        board=board,
        tenant=tenant,
    )


@bp.route("/campaigns/<int:campaign_id>", methods=["GET", "POST"])
def campaign_page(campaign_id: int) -> Any:
    check_permission("ecommerce.view")
    session = context.session()
    campaign = campaigns.get_campaign(session, campaign_id)

    def page(form, errors, dform, derrors, status=200):
        return render_template(
            "ecommerce/campaign.html",
            campaign=campaign,
            rows=campaigns.history(session, campaign_id),
            tenant=context.tenant(),
            unit_options=_unit_options(),
            form=form,
            errors=errors,
            dform=dform,
            derrors=derrors,
        ), status

    blank = {"unit": context.tenant(), "parent": context.tenant()}
    if request.method == "POST":
        check_permission("ecommerce.plan")
        distributing = request.form.get("action") == "distribute"
        try:
            if distributing:
                shares = {}
                for line in (request.form.get("shares") or "").splitlines():
                    if "=" in line:
                        unit, value = line.split("=", 1)
                        shares[unit.strip()] = value.strip()
                campaigns.distribute(
                    session,
                    campaign,
                    parent_code=request.form.get("parent", ""),
                    kind=request.form.get("kind", ""),
                    shares=shares,
                )
            else:
                campaigns.set_target(
                    session,
                    campaign,
                    unit_code=request.form.get("unit", ""),
                    kind=request.form.get("kind", ""),
                    value=request.form.get("value", ""),
                )
            session.commit()
            flash(_("Saved."), "info")
        except PostalOpsError as exc:
            session.rollback()  # each form's errors beside its own fields, what was typed kept
            if distributing:
                return page(blank, {}, request.form, _distribute_errors(exc), 422)
            return page(request.form, _target_errors(exc), blank, {}, 422)
        return redirect(url_for("ecommerce.campaign_page", campaign_id=campaign_id))
    return page(blank, {}, blank, {})


def _unit_options() -> list[tuple[str, str]]:
    """The caller's units by name, indented by depth: the unit pickers of the target forms."""
    return [(code, ("\u3000" * depth) + name) for code, name, depth in ui.visible_units()]


def _target_errors(exc: PostalOpsError) -> dict[str, str]:
    """The set-target form's errors in the user's words, beside each field."""
    words = {
        "unit": _("Choose a unit of yours; its parent must have a target covering it."),
        "kind": _("Choose what the target measures."),
        "value": _("Enter the target as a number (a whole number for counts)."),
    }
    fields = ui.field_errors(exc.details) or {"value": ""}
    return {name: words.get(name, exc.message) for name in fields}


def _distribute_errors(exc: PostalOpsError) -> dict[str, str]:
    """The distribute form's errors in the user's words, beside its parent, kind or shares."""
    if exc.code == "no_parent_target":
        return {"parent": _("This unit has no target of this kind in force to hand down.")}
    if exc.code == "target_kind_unknown":
        return {"kind": _("Choose what the target measures.")}
    if exc.code == "distribution_empty":
        return {"shares": _("Enter at least one share, one 'unit=value' per line.")}
    detail = exc.details[0] if exc.details else {}
    if exc.code == "distribution_mismatch":
        return {
            "shares": _(
                "The shares add up to %(sum)s; the parent's target is %(parent)s "
                "(difference %(difference)s).",
                sum=detail.get("sum"),
                parent=detail.get("parent"),
                difference=detail.get("difference"),
            )
        }
    if exc.code in ("exceeds_parent_target", "below_children_targets"):
        return {
            "shares": _(
                "The units below %(unit)s would add up to %(sum)s, above its target %(target)s.",
                unit=ui.unit_name(str(detail.get("parent", ""))),
                sum=detail.get("children_sum"),
                target=detail.get("parent_target"),
            )
        }
    problems = []
    for d in exc.details:
        child = str(d.get("field", "")).removeprefix("children.")
        if str(d.get("message", "")).startswith("not a child"):
            problems.append(_("%(unit)s is not directly below the parent unit.", unit=child))
        else:
            problems.append(_("%(unit)s: enter a number (a whole number for counts).", unit=child))
    return {"shares": "; ".join(problems) or exc.message}


PRODUCTS = Listing(
    select(Product),
    [
        Column("sku", "商品编码", "SKU", sortable=True, filter="text"),
        Column("name", "商品名称", "Product", sortable=True, filter="text"),
        Column(
            "category",
            "品类",
            "Category",
            kind="status",
            domain="ecommerce.category",
            sortable=True,
            filter="choice",
            choices=CATEGORIES,
        ),
        Column("tenant_code", "单位", "Unit", kind="unit", filter="unit"),
        Column("agreed_price", "议定价格", "Agreed price", kind="money", sortable=True),
        Column(
            "featured",
            "特色商品",
            "Featured",
            kind="status",
            domain="bool",
            filter="choice",
            choices=("true", "false"),
        ),
    ],
    default_sort="sku",
    tiebreak=(Product.id,),
    prefix="p_",
    filename="ecommerce-products",
)

LEADERS = Listing(
    select(Leader),
    [
        Column("code", "团长编码", "Leader code", sortable=True, filter="text"),
        Column("name", "姓名", "Name", sortable=True, filter="text"),
        Column("tenant_code", "所属网点", "Branch", kind="unit", filter="unit", sortable=True),
        Column("pickup_point", "提货自提点", "Pickup point", filter="text"),
    ],
    default_sort="code",
    tiebreak=(Leader.id,),
    filename="group-buy-leaders",
)


@bp.route("/catalogue")
def catalogue_page() -> Any:
    check_permission("ecommerce.view")
    session, tenant = context.session(), context.tenant()
    campaign = _chosen(_campaigns())
    frm, to = _period(campaign)
    page = PRODUCTS.run(session, request.args)
    if page.export:
        return page.export_response()
    featured = session.exec(
        select(sa.func.count()).select_from(Product).where(Product.featured.is_(True))
    ).one()
    return render_template(
        "ecommerce/catalogue.html",
        ready=readiness(session, tenant, frm, to),
        page=page,
        featured=featured,
        frm=frm,
        to=to,
    )


def _leader_errors(exc: PostalOpsError) -> dict[str, str]:
    """The add-leader form's errors in the user's words, beside each field."""
    if exc.code == "pickup_points_disabled":
        return {"branch": _("Pickup points are not enabled for this branch: no leaders here.")}
    words = {
        "branch": _("Choose a unit of yours as the leader's branch."),
        "code": _("Enter the leader's code.")
        if exc.status != 409
        else _("A leader with this code already exists."),
        "name": _("Enter the leader's name."),
        "pickup_point": _("No active pickup point with this code at that branch.")
        if exc.code == "unknown_pickup_point"
        else _("Enter the code of the pickup point where the leader's group collects."),
    }
    fields = ui.field_errors(exc.details) or {"code": ""}
    return {name: words.get(name, exc.message) for name in fields}


@bp.route("/groupbuy", methods=["GET", "POST"])
def groupbuy_page() -> Any:
    check_permission("ecommerce.view")
    session = context.session()
    errors: dict[str, str] = {}
    status = 422
    form = request.form if request.method == "POST" else {"branch": context.tenant()}
    points = PointDirectory(session, current_app.extensions["postalops.plugins"])
    groupbuy_on = points.uses_plugin(context.tenant())
    if request.method == "POST":
        check_permission("ecommerce.groupbuy")
        values = {k: (request.form.get(k) or "").strip() for k in FIELDS_LEADER}
        errors = {k: _("Required.") for k in ("code", "name") if not values[k]}
        if not errors:
            try:
                community.add_leader(
                    session,
                    branch=values["branch"],
                    code=values["code"],
                    name=values["name"],
                    pickup_point=values["pickup_point"],
                    points=points,
                )
                session.commit()
                flash(_("Leader %(name)s added.", name=values["name"]), "success")
                return redirect(url_for("ecommerce.groupbuy_page"))
            except PostalOpsError as exc:
                session.rollback()
                errors = _leader_errors(exc)
                status = 409 if exc.code == "pickup_points_disabled" else 422
    page = LEADERS.run(session, request.args)
    if page.export:
        return page.export_response()
    return render_template(
        "ecommerce/groupbuy.html",
        page=page,
        form=form,
        errors=errors,
        branches=[(code, ("\u3000" * depth) + name) for code, name, depth in ui.visible_units()],
        groupbuy_on=groupbuy_on,
    ), (status if errors else 200)


FIELDS_LEADER = ("branch", "code", "name", "pickup_point")


def _reference_errors(valid: list) -> list[dict]:
    """The reference errors of order rows, shape-valid or the readable part of shape-failed
    ones, in row order (checked only, nothing written)."""
    session = context.session()
    points = PointDirectory(session, current_app.extensions["postalops.plugins"])
    try:
        ingest_orders(session, valid, point_check=points.known, write=False)
    except PostalOpsError as exc:
        if exc.code != "invalid_rows":
            raise
        return list(exc.details)
    return []


@bp.route("/import", methods=["GET", "POST"])
def import_page() -> Any:
    check_permission("ecommerce.view")
    jobs = current_app.extensions["postalops.jobs"]
    if request.method == "POST":
        if request.form.get("action") in ("refresh", "recompute"):
            check_permission("ecommerce.refresh")
            jobs.submit(f"ecommerce.{request.form['action']}", {})
            flash(_("Job queued; follow it on the Jobs page."), "info")
            return redirect(url_for("portal.jobs"))
        check_permission("ecommerce.ingest")
        upload = request.files.get("file")
        try:
            if upload is None or not upload.filename:  # named beside the file field
                return render_template(
                    "ecommerce/import.html",
                    errors=[],
                    file_error=_("Choose a CSV or XLSX file."),
                ), 422
            data = upload.read()
            rows = (
                parse_xlsx(data) if upload.filename.lower().endswith(".xlsx") else parse_csv(data)
            )
            objects, errors = group_line_rows(rows)
            partial: list = []
            valid, shape = parse_numbered(objects, parse_order, partial=partial)
            errors += shape
            if errors:  # with every row's unknown leaders, sessions, branches: one pass
                errors += _reference_errors(sorted(valid + partial, key=lambda item: item[0]))
                errors.sort(key=lambda e: e["row"])
                return render_template(
                    "ecommerce/import.html", errors=import_labels.problems(errors)
                ), 422
            jobs.submit(
                "ecommerce.import_orders", {"orders": [o for _, o in objects], "first_row": 2}
            )
            flash(_("Import queued; follow it on the Jobs page."), "info")
            return redirect(url_for("portal.jobs"))
        except PostalOpsError as exc:
            return render_template(
                "ecommerce/import.html",
                errors=import_labels.problems(exc.details),
                file_error=None
                if exc.details
                else _("This file could not be read as an order file (CSV or XLSX)."),
            ), exc.status
    return render_template("ecommerce/import.html", errors=[])


# --- pickup verification, commission rates, statements (issue 19 §3) ------------------------

PICKUPS = Listing(
    select(
        Pickup.id,
        Pickup.day,
        Pickup.verified_at,
        Pickup.pickup_point,
        Pickup.tenant_code,
        Order.order_no,
        Order.amount,
    ).join(Order, Order.id == Pickup.order_id),
    [
        Column("verified_at", "核销时间", "Verified at", kind="datetime", sortable=True,
               expr=Pickup.verified_at),
        Column("day", "提货日", "Pickup day", kind="date", filter="date_range", expr=Pickup.day),
        Column("order_no", "订单号", "Order", filter="text", expr=Order.order_no),
        Column("pickup_point", "自提点", "Pickup point", filter="text", expr=Pickup.pickup_point),
        Column("tenant_code", "网点", "Branch", kind="unit", filter="unit", expr=Pickup.tenant_code),
        Column("amount", "订单金额", "Amount", kind="money"),
    ],
    default_sort="-verified_at",
    filename="pickups",
)  # fmt: skip

RATES = Listing(
    select(CommissionRate),
    [
        Column("effective_from", "生效日", "Effective from", kind="date", sortable=True),
        Column("sku", "商品编码", "SKU", filter="text", value=lambda r: r.sku or "—"),
        Column("category", "品类", "Category", kind="status", domain="ecommerce.category",
               value=lambda r: r.category or None),
        Column("rate", "佣金比例", "Rate", kind="percent", value=lambda r: Decimal(r.rate)),
        Column("unit_code", "设置单位", "Set at", kind="unit"),
        Column("set_by", "设置人", "Set by", value=lambda r: r.set_by.split(":", 1)[-1]),
    ],
    default_sort="-effective_from",
    tiebreak=(CommissionRate.id,),
    filename="commission-rates",
)  # fmt: skip


def _pickup_errors(exc: PostalOpsError) -> dict[str, str]:
    words = {
        "pickup_code_invalid": ("code", _("This is not a valid pickup code here. Check the digits.")),
        "already_picked_up": ("code", _("This code was already verified: the order was picked up.")),
        "order_cancelled": ("code", _("This order was cancelled or refunded: nothing to hand over.")),
        "wrong_pickup_point": ("pickup_point", _("This order is collected at another pickup point.")),
        "verified_before_paid": ("code", _("This order was paid after that time.")),
    }  # fmt: skip
    field, text = words.get(exc.code, ("code", exc.message))
    if exc.code == "wrong_pickup_point" and exc.details and exc.details[0].get("expected"):
        text = _(
            "This order is collected at %(point)s, not here.", point=exc.details[0]["expected"]
        )
    return {field: text}


@bp.route("/pickup", methods=["GET", "POST"])
def pickup_page() -> Any:
    """The pickup point's phone page: type the customer's code, hand over the parcel."""
    check_permission("ecommerce.pickup")
    session = context.session()
    errors: dict[str, str] = {}
    status = 200
    form = (
        dict(request.form)
        if request.method == "POST"
        else {"pickup_point": request.args.get("point", "")}
    )
    if request.method == "POST":
        point = (request.form.get("pickup_point") or "").strip()
        code = (request.form.get("code") or "").strip()
        if not point:
            errors["pickup_point"] = _("Enter your pickup point's code.")
        if not code:
            errors["code"] = _("Enter the customer's pickup code.")
        if not errors:
            try:
                done = settlement.verify_pickup(
                    session, current_app.config["SECRET_KEY"], code=code, point=point,
                    by=context.principal().name,
                )  # fmt: skip
                session.commit()
                flash(
                    _("Order %(no)s picked up: hand over the parcel.", no=done["order_no"]),
                    "success",
                )
                return redirect(url_for("ecommerce.pickup_page", point=point))
            except PostalOpsError as exc:
                session.rollback()
                errors = _pickup_errors(exc)
                status = exc.status
        else:
            status = 422
    page = PICKUPS.run(session, request.args)
    if page.export:
        return page.export_response()
    return render_template("ecommerce/pickup.html", form=form, errors=errors, page=page), status


@bp.route("/commission", methods=["GET", "POST"])
def commission_page() -> Any:
    check_permission("ecommerce.view")
    session = context.session()
    errors: dict[str, str] = {}
    form = dict(request.form) if request.method == "POST" else {"target": "category"}
    if request.method == "POST":
        check_permission("ecommerce.settle")
        target = request.form.get("target", "category")
        value = (
            (request.form.get("sku") or "").strip()
            if target == "sku"
            else request.form.get("category", "")
        )
        try:
            day = dt.date.fromisoformat(request.form.get("effective_from") or "")
        except ValueError:
            errors["effective_from"] = _("Enter the first day the rate applies, e.g. 2022-09-01.")
            day = None
        if not value:
            errors["sku" if target == "sku" else "category"] = _("Choose the product or category.")
        rate = (request.form.get("rate_percent") or "").strip().rstrip("%")
        try:
            fraction = (Decimal(rate) / 100) if rate else None
        except InvalidOperation:
            fraction = None
        if fraction is None:
            errors["rate_percent"] = _("Enter the rate in percent, e.g. 8 or 7.5.")
        if not errors:
            try:
                settlement.set_rate(
                    session, unit=context.tenant(), rate=fraction.normalize(), effective_from=day,
                    sku=value if target == "sku" else "", category=value if target != "sku" else "",
                    by=context.principal().name,
                )  # fmt: skip
                session.commit()
                flash(_("Commission rate saved."), "success")
                return redirect(url_for("ecommerce.commission_page"))
            except PostalOpsError:
                session.rollback()
                errors["rate_percent"] = _(
                    "A rate is from 0 to 50 percent, with at most two decimals."
                )
    page = RATES.run(session, request.args)
    if page.export:
        return page.export_response()
    return render_template(
        "ecommerce/commission.html",
        page=page,
        form=form,
        errors=errors,
        categories=[(c, status_label(c, "ecommerce.category")[0]) for c in CATEGORIES],
    ), (422 if errors else 200)


@bp.route("/statements", methods=["GET", "POST"])
def statements_page() -> Any:
    check_permission("ecommerce.view")
    session = context.session()
    errors: dict[str, str] = {}
    last_month = clock.today().replace(day=1) - dt.timedelta(days=1)
    form = (
        dict(request.form) if request.method == "POST" else {"period": last_month.strftime("%Y-%m")}
    )
    if request.method == "POST":
        check_permission("ecommerce.settle")
        try:
            made = settlement.generate(
                session, context.tenant(), (request.form.get("period") or "").strip(),
                by=context.principal().name,
            )  # fmt: skip
            session.commit()
            flash(
                _("%(n)s statements drawn up; %(m)s already existed.",
                  n=len(made["created"]), m=len(made["existing"])),
                "success" if made["created"] else "info",
            )  # fmt: skip
            return redirect(url_for("ecommerce.statements_page", period=request.form["period"]))
        except PostalOpsError:
            session.rollback()
            errors["period"] = _("Enter a month as YYYY-MM, e.g. 2022-09.")
    page = STATEMENTS.run(session, request.args)
    if page.export:
        return page.export_response()
    return render_template("ecommerce/statements.html", page=page, form=form, errors=errors), (
        422 if errors else 200
    )


@bp.route("/statements/<int:statement_id>", methods=["GET", "POST"])
def statement_page(statement_id: int) -> Any:
    check_permission("ecommerce.view")
    session = context.session()
    st = settlement.get(session, statement_id)
    errors: dict[str, str] = {}
    if request.method == "POST":
        action = request.form.get("action")
        check_permission("ecommerce.settle" if action == "pay" else "ecommerce.settle_approve")
        if action in ("approve", "reject"):  # asked first, also without JavaScript
            ask = ui.confirm_first(
                _("The statement will be approved and its commission booked as payable.")
                if action == "approve"
                else _("The statement will be rejected; its orders can go on a new statement."),
                _("Approve the statement") if action == "approve" else _("Reject"),
            )
            if ask is not None:
                return ask
        try:
            if action == "pay":
                try:
                    paid_on = dt.date.fromisoformat(request.form.get("paid_on") or "")
                except ValueError:
                    errors["paid_on"] = _("Enter the payment date, e.g. 2022-10-08.")
                    raise
                settlement.pay(session, st.id, by=context.principal().name, on=paid_on)
                flash(_("Payout recorded."), "success")
            else:
                settlement.decide(
                    session, st.id, approve=action == "approve", by=context.principal().name,
                    on=clock.today(),
                )  # fmt: skip
                flash(_("Statement approved.") if action == "approve" else _("Statement rejected."),
                      "success" if action == "approve" else "info")  # fmt: skip
            session.commit()
            return redirect(url_for("ecommerce.statement_page", statement_id=st.id))
        except ValueError:
            session.rollback()
        except PostalOpsError as exc:
            session.rollback()
            if exc.code == "maker_checker":
                flash(_("You prepared this statement; someone else must approve it."), "error")
            elif exc.code == "nothing_to_pay":
                flash(
                    _("Nothing to pay: the negative balance is carried into the next statement."),
                    "error",
                )
            elif exc.code == "statement_carried":
                flash(
                    _("Its negative balance was carried into a later statement: reject that "
                      "one first."),
                    "error",
                )  # fmt: skip
            else:
                flash(_("This statement can no longer be changed this way."), "error")
            return redirect(url_for("ecommerce.statement_page", statement_id=st.id))
        st = settlement.get(session, statement_id)
    leader = session.exec(select(Leader).where(Leader.id == st.leader_id)).first()
    return render_template(
        "ecommerce/statement.html",
        st=st,
        leader=leader,
        lines=ListPage(settlement.lines_of(session, st.id), request.args),
        errors=errors,
        today=clock.today(),
        own=st.prepared_by == context.principal().name,
    ), (422 if errors else 200)
