"""Portal pages under /p/payroll (Jinja, zh_CN first, English via Flask-Babel).

Each workflow has a page: runs (start, progress, approve, reopen), payslips (a courier sees only
their own), rate cards (publish a version; errors name each cell), imports (per-row reports),
costs and budgets. Pages call the same services as the API.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from postalops import context
from postalops.auth import check_permission
from postalops.db import in_scope_clause
from postalops.errors import PostalOpsError
from postalops.imports import parse_csv, parse_xlsx
from postalops.jobs import submit
from postalops.models import Job
from sqlmodel import select

from . import reports
from .ingest import ingest
from .models import PayrollPayslip, PayrollRateCard, PayrollRun
from .payroll_run import approve, check_can_run, payslip_lines, reopen
from .period import Month
from .permissions import APPROVE, INGEST, MANAGE, OWN_PAYSLIP, REOPEN, RUN, VIEW
from .rate_card import market_gap_report
from .rate_card_store import publish_rate_card, to_card
from .roster import import_couriers
from .run_inputs import changes_since_run
from .work_events import COLLECTION, DELIVERY

bp = Blueprint("payroll", __name__, template_folder="templates")


def _unit() -> str:
    return context.tenant()


def _month_label(key: int) -> str:
    return str(Month(key // 100, key % 100))


@bp.app_template_filter("payroll_month")
def payroll_month(key: int) -> str:
    return _month_label(key)


@bp.route("/")
def index() -> Any:
    check_permission(VIEW)
    session = context.session()
    unit = _unit()
    runs = session.exec(
        select(PayrollRun)
        .where(in_scope_clause(PayrollRun.tenant_code, unit))
        .order_by(PayrollRun.month.desc(), PayrollRun.tenant_code)  # type: ignore[attr-defined]
    ).all()
    return render_template(
        "payroll/index.html", runs=runs, unit=unit, can_run=context.principal().can(RUN)
    )


@bp.route("/runs", methods=["POST"])
def start_run() -> Any:
    check_permission(RUN)
    unit = request.form.get("unit") or _unit()
    try:
        month = Month.parse(request.form.get("month", ""))
        if not context.current().scope.allows(unit):
            abort(403)
        check_can_run(context.session(), unit, month)
        job = submit(
            "payroll.run",
            {"unit": unit, "month": str(month), "actor": context.principal().name},
            tenant=unit,
        )
    except PostalOpsError as error:
        flash(error.message, "error")
        return redirect(url_for("payroll.index"))
    return redirect(url_for("payroll.job_progress", job_id=job.id))


@bp.route("/jobs/<job_id>")
def job_progress(job_id: str) -> Any:
    check_permission(VIEW)
    job = context.session().get(Job, job_id)
    if job is None or not context.current().scope.allows(job.tenant_code):
        abort(404)
    return render_template("payroll/job.html", job=job)


@bp.route("/runs/<int:run_id>")
def run_detail(run_id: int) -> Any:
    check_permission(VIEW)
    session = context.session()
    run = session.get(PayrollRun, run_id)
    if run is None:
        abort(404)
    slips = session.exec(
        select(PayrollPayslip)
        .where(PayrollPayslip.run_id == run.id)
        .order_by(PayrollPayslip.courier_code)
        .limit(500)
    ).all()
    who = context.principal()
    changes = changes_since_run(session, run)
    return render_template(
        "payroll/run.html",
        run=run,
        slips=slips,
        changes=[(_part_label(c["field"]), c["message"]) for c in changes],
        can_approve=who.can(APPROVE),
        can_reopen=who.can(REOPEN),
    )


@bp.route("/runs/<int:run_id>/approve", methods=["POST"])
def approve_run(run_id: int) -> Any:
    check_permission(APPROVE)
    session = context.session()
    run = session.get(PayrollRun, run_id)
    if run is None:
        abort(404)
    try:
        approve(
            session,
            run.tenant_code or "",
            Month(run.month // 100, run.month % 100),
            context.principal().name,
        )
        session.commit()
        flash(_("Approved; the month is locked."), "ok")
    except PostalOpsError as error:
        session.rollback()
        if error.code == "maker_cannot_check":
            flash(
                _(
                    "Maker-checker: the approver must not be whoever ran the month's last "
                    "draft. Ask another user holding the approval permission to approve it."
                ),
                "error",
            )
        elif error.code == "draft_stale":
            flash(
                _(
                    "The draft changed since its run (%(what)s). Run the month again before "
                    "approving it.",
                    what=_("; ").join(_part_label(d.get("field", "")) for d in error.details),
                ),
                "error",
            )
        else:
            flash(error.message, "error")
    return redirect(url_for("payroll.run_detail", run_id=run_id))


def _part_label(part: str) -> str:
    """What changed since a run, in the reader's language (``run_inputs.PARTS``)."""
    labels = {
        "deliveries": _("delivery scans"),
        "collections": _("collection records"),
        "adjustments": _("adjustments"),
        "couriers": _("couriers"),
        "rate_cards": _("rate cards"),
        "contract_terms": _("contract terms"),
    }
    return labels.get(part, _("the run predates the record of its inputs"))


@bp.route("/runs/<int:run_id>/reopen", methods=["POST"])
def reopen_run(run_id: int) -> Any:
    check_permission(REOPEN)
    session = context.session()
    run = session.get(PayrollRun, run_id)
    if run is None:
        abort(404)
    try:
        reopen(
            session,
            run.tenant_code or "",
            Month(run.month // 100, run.month % 100),
            context.principal().name,
            request.form.get("reason", ""),
        )
        session.commit()
        flash(_("Reopened."), "ok")
    except PostalOpsError as error:
        session.rollback()
        flash(error.message, "error")
    return redirect(url_for("payroll.run_detail", run_id=run_id))


def _visible_slip(slip_id: int) -> PayrollPayslip:
    from .api import own_courier_ids

    only = own_courier_ids()
    slip = context.session().get(PayrollPayslip, slip_id)
    if slip is None or (only is not None and slip.courier_id not in only):
        abort(404)
    return slip


@bp.route("/payslips/<int:slip_id>")
def payslip(slip_id: int) -> Any:
    slip = _visible_slip(slip_id)
    return render_template("payroll/payslip.html", slip=slip, lines=payslip_lines(slip))


@bp.route("/my")
def my_payslips() -> Any:
    from .api import own_courier_ids

    check_permission(OWN_PAYSLIP)
    only = own_courier_ids()
    statement = select(PayrollPayslip).order_by(PayrollPayslip.month.desc())  # type: ignore[attr-defined]
    if only is not None:
        statement = statement.where(PayrollPayslip.courier_id.in_(only))  # type: ignore[attr-defined]
    return render_template(
        "payroll/my.html", slips=context.session().exec(statement.limit(120)).all()
    )


@bp.route("/rate-cards", methods=["GET", "POST"])
def rate_cards() -> Any:
    check_permission(VIEW)
    session = context.session()
    unit = _unit()
    errors: list[dict[str, Any]] = []
    text = request.form.get("card", "")
    if request.method == "POST":
        check_permission(MANAGE)
        try:
            body = json.loads(text)
            row = publish_rate_card(
                session, request.form.get("unit") or unit, body, context.principal().name
            )
            session.commit()
            flash(_("Published version %(version)s.", version=row.version), "ok")
            return redirect(url_for("payroll.rate_cards"))
        except ValueError as error:
            errors = [{"field": "card", "message": str(error)}]
        except PostalOpsError as error:
            session.rollback()
            errors = error.details or [{"field": "card", "message": error.message}]
    cards = session.exec(
        select(PayrollRateCard)
        .where(in_scope_clause(PayrollRateCard.tenant_code, unit))
        .order_by(PayrollRateCard.tenant_code, PayrollRateCard.version.desc())  # type: ignore[attr-defined]
    ).all()
    latest = cards[0] if cards else None
    gap = market_gap_report(to_card(latest)) if latest else []
    if not text and latest:
        text = json.dumps(latest.body, ensure_ascii=False, indent=1)
    return render_template(
        "payroll/rate_cards.html",
        cards=cards,
        errors=errors,
        text=text,
        unit=unit,
        gap=gap,
        latest=latest,
        can_manage=context.principal().can(MANAGE),
    )


@bp.route("/import", methods=["GET", "POST"])
def import_page() -> Any:
    check_permission(VIEW)
    report = None
    errors: list[dict[str, Any]] = []
    if request.method == "POST":
        kind = request.form.get("kind", "")
        upload = request.files.get("file")
        session = context.session()
        try:
            check_permission(MANAGE if kind == "couriers" else INGEST)
            if upload is None or not upload.filename:
                raise PostalOpsError(_("Choose a file."))
            data = upload.read()
            rows = (
                parse_xlsx(data) if upload.filename.lower().endswith(".xlsx") else parse_csv(data)
            )
            if kind == "couriers":
                report = import_couriers(session, rows)
            elif kind in (DELIVERY, COLLECTION):
                report = ingest(session, kind, rows)
            else:
                raise PostalOpsError(_("Unknown import."))
            session.commit()
        except PostalOpsError as error:
            session.rollback()
            errors = error.details or [{"message": error.message}]
            flash(error.message, "error")
    return render_template("payroll/import.html", report=report, errors=errors)


@bp.route("/costs")
def costs() -> Any:
    check_permission(VIEW)
    from postalops.api import query_period

    date_from, date_to = query_period(default_days=365)
    session = context.session()
    unit = _unit()
    rows = reports.unit_cost_report(session, unit, date_from, date_to)
    budgets = reports.budget_report(session, unit, date_from, date_to)
    return render_template(
        "payroll/costs.html", rows=rows, budgets=budgets, date_from=date_from, date_to=date_to
    )
