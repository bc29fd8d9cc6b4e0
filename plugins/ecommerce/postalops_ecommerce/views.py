"""Portal pages under ``/p/ecommerce/``: overview + leaderboard, campaign targets, catalogue and
三有, group-buy leaders, order import. Chinese first, English through Flask-Babel."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from postalops import clock, context
from postalops.auth import check_permission
from postalops.errors import PostalOpsError
from postalops.imports import parse_csv, parse_xlsx
from sqlmodel import select

from . import board_cache, campaigns, community
from . import metrics as figures
from .catalogue import readiness
from .models import Leader, Product
from .order_rows import group_line_rows, parse_numbered, parse_order
from .pickup import PointDirectory

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
    board = figures.leaderboard(session, tenant, level, frm, to, board_cache.for_app(current_app))
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
    if request.method == "POST":
        check_permission("ecommerce.plan")
        try:
            if request.form.get("action") == "distribute":
                shares = {}
                for line in (request.form.get("shares") or "").splitlines():
                    if "=" in line:
                        unit, value = line.split("=", 1)
                        shares[unit.strip()] = value.strip()
                campaigns.distribute(
                    session,
                    campaign,
                    parent_code=request.form["parent"],
                    kind=request.form["kind"],
                    shares=shares,
                )
            else:
                campaigns.set_target(
                    session,
                    campaign,
                    unit_code=request.form["unit"],
                    kind=request.form["kind"],
                    value=request.form["value"],
                )
            session.commit()
            flash(_("Saved."), "info")
        except PostalOpsError as exc:
            session.rollback()
            detail = "; ".join(
                str(d.get("field", "")) + " " + str(d.get("message", d)) for d in exc.details
            )
            flash(f"{exc.message} {detail}", "error")
        return redirect(url_for("ecommerce.campaign_page", campaign_id=campaign_id))
    rows = campaigns.history(session, campaign_id)
    return render_template(
        "ecommerce/campaign.html", campaign=campaign, rows=rows, tenant=context.tenant()
    )


@bp.route("/catalogue")
def catalogue_page() -> Any:
    check_permission("ecommerce.view")
    session, tenant = context.session(), context.tenant()
    campaign = _chosen(_campaigns())
    frm, to = _period(campaign)
    products = session.exec(select(Product).order_by(Product.sku).limit(500)).all()
    return render_template(
        "ecommerce/catalogue.html",
        ready=readiness(session, tenant, frm, to),
        products=products,
        featured=sum(p.featured for p in products),
        frm=frm,
        to=to,
    )


@bp.route("/groupbuy", methods=["GET", "POST"])
def groupbuy_page() -> Any:
    check_permission("ecommerce.view")
    session = context.session()
    if request.method == "POST":
        check_permission("ecommerce.groupbuy")
        try:
            community.add_leader(
                session,
                branch=request.form["branch"],
                code=request.form["code"],
                name=request.form["name"],
                pickup_point=request.form["pickup_point"],
                points=PointDirectory(session, current_app.extensions["postalops.plugins"]),
            )
            session.commit()
            flash(_("Saved."), "info")
        except PostalOpsError as exc:
            session.rollback()
            flash(exc.message, "error")
        return redirect(url_for("ecommerce.groupbuy_page"))
    page = max(1, request.args.get("page", 1, type=int))
    leaders = session.exec(
        select(Leader).order_by(Leader.code).limit(100).offset((page - 1) * 100)
    ).all()
    return render_template(
        "ecommerce/groupbuy.html", leaders=leaders, page=page, tenant=context.tenant()
    )


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
            if upload is None or not upload.filename:
                raise PostalOpsError(_("Choose a CSV or XLSX file."))
            data = upload.read()
            rows = (
                parse_xlsx(data) if upload.filename.lower().endswith(".xlsx") else parse_csv(data)
            )
            objects, errors = group_line_rows(rows)
            errors += parse_numbered(objects, parse_order)[1]
            if errors:
                return render_template("ecommerce/import.html", errors=errors), 422
            jobs.submit(
                "ecommerce.import_orders", {"orders": [o for _, o in objects], "first_row": 2}
            )
            flash(_("Import queued; follow it on the Jobs page."), "info")
            return redirect(url_for("portal.jobs"))
        except PostalOpsError as exc:
            flash(exc.message, "error")
            return render_template("ecommerce/import.html", errors=exc.details), exc.status
    return render_template("ecommerce/import.html", errors=[])
