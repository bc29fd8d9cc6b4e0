"""Portal pages under /p/payroll (Jinja, zh_CN first, English via Flask-Babel).

Each workflow has a page: runs (start, progress, approve, reopen), payslips (a courier sees only
their own), rate cards (publish a version; errors name each cell), imports (per-row reports),
costs and budgets. Pages call the same services as the API.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from postalops import clock, context, formatting, ui
from postalops.auth import check_permission
from postalops.db import in_scope_clause
from postalops.errors import PostalOpsError
from postalops.i18n import row_problems
from postalops.imports import parse_csv, parse_xlsx
from postalops.jobs import submit
from postalops.listing import Column, Listing, ListPage
from postalops.models import Job
from sqlmodel import select

from . import import_labels, reports
from .controls import controls_for
from .ingest import ingest
from .models import PayrollDeductionRate, PayrollPayslip, PayrollRateCard, PayrollRun
from .net import publish_rates, rates_from_payload
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


def _month_text(key: int) -> str:
    """A month key (202209) as the reader reads it: 2022年9月 / Sep 2022."""
    return formatting.month((key // 100, key % 100), ui.locale())


@bp.app_template_filter("payroll_rate")
def payroll_rate(value: Any) -> str:
    """A per-item rate at its own precision (¥0.585, ¥1.20): at least 2 decimals, at most 4."""
    d = formatting.to_decimal(value)
    if d is None:
        return formatting.MISSING
    text = f"{abs(d):,.4f}".rstrip("0")
    if len(text.rsplit(".", 1)[-1]) < 2:
        text = f"{abs(d):,.2f}"
    return ("-" if d < 0 else "") + "¥" + text


def _run_state(run: PayrollRun) -> str:
    """``approved``, ``draft``, or ``stale`` for a draft whose inputs changed since it ran."""
    if run.status == "draft" and changes_since_run(context.session(), run):
        return "stale"
    return run.status


RUNS = Listing(
    select(PayrollRun),
    [
        Column(
            "month",
            "月份",
            "Month",
            sortable=True,
            value=lambda r: _month_text(r.month),
            href=lambda r: url_for("payroll.run_detail", run_id=r.id),
        ),
        Column("tenant_code", "单位", "Unit", kind="unit", filter="unit", sortable=True),
        Column(
            "status",
            "状态",
            "Status",
            kind="status",
            domain="payroll.run",
            filter="choice",
            choices=("draft", "approved"),
            value=_run_state,
        ),
        Column("couriers", "投递员", "Couriers", kind="count", sortable=True),
        Column("own_items", "自有投递量（件）", "Own items", kind="count", sortable=True),
        Column("outsourced_items", "外包投递量（件）", "Outsourced items", kind="count"),
        Column("payroll_total", "工资总额", "Payroll total", kind="money", sortable=True),
        Column("net_total", "实发工资", "Net pay", kind="money", sortable=True),
    ],
    default_sort="-month",
    tiebreak=(PayrollRun.tenant_code, PayrollRun.id),
    filename="payroll-runs",
)


def _index_page(errors: dict[str, str] | None = None, form: Any = None) -> Any:
    session = context.session()
    unit = _unit()
    page = RUNS.run(session, request.args)
    if page.export:
        return page.export_response()
    return render_template(
        "payroll/index.html",
        page=page,
        unit=unit,
        errors=errors or {},
        form=form or {},
        can_run=context.principal().can(RUN),
    ), (422 if errors else 200)


@bp.route("/")
def index() -> Any:
    check_permission(VIEW)
    return _index_page()


@bp.route("/runs", methods=["POST"])
def start_run() -> Any:
    check_permission(RUN)
    unit = request.form.get("unit") or _unit()
    errors: dict[str, str] = {}
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
        context.session().rollback()
        if error.code == "invalid_month":
            errors["month"] = _("Choose a month, e.g. 2022-09.")
        elif error.code == "month_locked":
            errors["month"] = _(
                "%(month)s is approved and locked; reopen it before running it again.",
                month=formatting.month(request.form.get("month", ""), ui.locale()),
            )
        elif error.code == "overlapping_run":
            errors["unit"] = _(
                "This month already has a run at another level; a month is run at one level."
            )
        elif error.code == "run_not_draft":
            errors["month"] = _("This month's run is approved; reopen it first.")
        else:
            errors["month"] = error.message
        return _index_page(errors, request.form)
    return redirect(url_for("payroll.job_progress", job_id=job.id))


def _job_message(message: str | None) -> str | None:
    """The run job's stage in the reader's language. The job record keeps the English the job
    reported (``payroll_run``, the job service); the states the badge already names (queued,
    done, failed, cancelled) show nothing more."""
    text = message or ""
    if text in ("", "queued", "done", "failed", "cancelled"):
        return None
    if m := re.fullmatch(r"retry (\d+)/(\d+)", text):
        return _("Retry %(n)s of %(max)s", n=m.group(1), max=m.group(2))
    if m := re.fullmatch(r"(\d+) payslips priced", text):
        return _("%(n)s payslips priced", n=formatting.number(int(m.group(1)), locale=ui.locale()))
    return {
        "reading the month's tallies": _("Reading the month's tallies"),
        "writing payslips": _("Writing the payslips"),
    }.get(text, text)


@bp.route("/jobs/<job_id>")
def job_progress(job_id: str) -> Any:
    check_permission(VIEW)
    job = context.session().get(Job, job_id)
    if job is None or not context.current().scope.allows(job.tenant_code):
        abort(404)
    return render_template("payroll/job.html", job=job, message=_job_message(job.message))


def _slips_listing(run_id: int) -> Listing:
    """The run's payslips, 50 a page (was up to 500 on one page)."""
    return Listing(
        select(PayrollPayslip).where(PayrollPayslip.run_id == run_id),
        [
            Column(
                "courier_code",
                "投递员",
                "Courier",
                sortable=True,
                filter="text",
                href=lambda s: url_for("payroll.payslip", slip_id=s.id),
            ),
            Column("tenant_code", "网点", "Station", kind="unit", filter="unit", sortable=True),
            Column(
                "kind",
                "类别",
                "Kind",
                kind="status",
                domain="payroll.courier_kind",
                filter="choice",
                choices=("own", "outsourced"),
            ),
            Column("delivered_items", "投递量（件）", "Items", kind="count", sortable=True),
            Column("quota_completion", "揽收任务完成率", "Quota completion", kind="percent"),
            Column("quota_multiplier", "系数", "Multiplier", kind="number"),
            Column("total", "应发合计", "Total", kind="money", sortable=True),
            Column("income_tax", "个人所得税", "Income tax", kind="money"),
            Column("net_pay", "实发工资", "Net pay", kind="money", sortable=True),
        ],
        default_sort="courier_code",
        tiebreak=(PayrollPayslip.id,),
        filename="payroll-payslips",
    )


def _run_page(run: PayrollRun, errors: dict[str, str] | None = None) -> Any:
    session = context.session()
    page = _slips_listing(run.id or 0).run(session, request.args)
    if page.export:
        return page.export_response()
    who = context.principal()
    changes = changes_since_run(session, run)
    # whoever ran the draft is told who approves it instead of offered a button that refuses
    maker = (
        run.status == "draft"
        and run.started_by == who.name
        and controls_for(session, run.tenant_code or "").maker_checker
    )
    return render_template(
        "payroll/run.html",
        run=run,
        page=page,
        state=_run_state(run),
        month_text=_month_text(run.month),
        changes=[(_part_label(c["field"]), c["message"]) for c in changes],
        can_approve=who.can(APPROVE) and not maker,
        maker_checker=who.can(APPROVE) and maker,
        can_reopen=who.can(REOPEN),
        can_pay=who.can(RUN) and run.status == "approved",
        recomputed=[
            formatting.month(tuple(int(p) for p in m.split("-")), ui.locale())
            for m in (run.net_notice or {}).get("months", [])
        ],
        errors=errors or {},
        form=request.form,
    ), (422 if errors else 200)


@bp.route("/runs/<int:run_id>")
def run_detail(run_id: int) -> Any:
    check_permission(VIEW)
    run = context.session().get(PayrollRun, run_id)
    if run is None:
        abort(404)
    return _run_page(run)


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
    if not request.form.get("reason", "").strip():
        return _run_page(run, {"reason": _("Say why the month is reopened.")})
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
    return render_template(
        "payroll/payslip.html",
        slip=slip,
        employee_deductions=sum(
            (v for v in (slip.pension, slip.medical, slip.unemployment, slip.housing_fund) if v),
            Decimal("0.00"),
        ),
        lines=payslip_lines(slip),
        month_text=_month_text(slip.month),
        staff=context.principal().can(VIEW),
    )


@bp.route("/my")
def my_payslips() -> Any:
    from .api import own_courier_ids

    check_permission(OWN_PAYSLIP)
    only = own_courier_ids()
    statement = select(PayrollPayslip)
    if only is not None:
        statement = statement.where(PayrollPayslip.courier_id.in_(only))  # type: ignore[attr-defined]
    listing = Listing(
        statement,
        [
            Column(
                "month",
                "月份",
                "Month",
                sortable=True,
                value=lambda s: _month_text(s.month),
                href=lambda s: url_for("payroll.payslip", slip_id=s.id),
            ),
            Column("courier_code", "投递员", "Courier", show=False),
            Column("delivered_items", "投递量（件）", "Items delivered", kind="count"),
            Column("total", "应发合计", "Gross pay", kind="money"),
            Column("net_pay", "实发工资", "Net pay", kind="money"),
            Column(
                "pdf",
                "PDF",
                "PDF",
                value=lambda s: _("Download PDF"),
                href=lambda s: f"/api/v1/payroll/payslips/{s.id}.pdf",
                export=False,
            ),
        ],
        default_sort="-month",
        tiebreak=(PayrollPayslip.id,),
        filename="my-payslips",
    )
    page = listing.run(context.session(), request.args)
    if page.export:
        return page.export_response()
    return render_template(
        "payroll/my.html",
        page=page,
        month_texts={slip.id: _month_text(slip.month) for slip in page.rows},
    )


@bp.route("/rate-cards", methods=["GET", "POST"])
def rate_cards() -> Any:
    check_permission(VIEW)
    session = context.session()
    unit = _unit()
    errors: dict[str, str] = {}
    cell_errors: list[dict[str, Any]] = []
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
            errors["card"] = _("The card is not valid JSON: %(error)s", error=str(error))
        except PostalOpsError as error:
            session.rollback()
            cell_errors = [d for d in error.details or [] if isinstance(d, dict)]
            if any(d.get("field") == "unit" for d in cell_errors):
                errors["unit"] = _("Choose a unit within your scope.")
            errors["card"] = (
                _(
                    "%(count)s cells of the card are refused; each is named below.",
                    count=len(cell_errors),
                )
                if cell_errors
                else error.message
            )
    page = RATE_CARDS.run(session, request.args)
    if page.export:
        return page.export_response()
    latest = session.exec(
        select(PayrollRateCard)
        .where(in_scope_clause(PayrollRateCard.tenant_code, unit))
        .order_by(PayrollRateCard.tenant_code, PayrollRateCard.version.desc())  # type: ignore[attr-defined]
        .limit(1)
    ).first()
    gap = market_gap_report(to_card(latest)) if latest else []
    if not text and latest:
        text = json.dumps(latest.body, ensure_ascii=False, indent=1)
    return render_template(
        "payroll/rate_cards.html",
        page=page,
        errors=errors,
        cell_errors=cell_errors,
        text=text,
        unit=request.form.get("unit") or unit,
        gap=gap,
        latest=latest,
        can_manage=context.principal().can(MANAGE),
    ), (422 if errors else 200)


RATE_CARDS = Listing(
    select(PayrollRateCard),
    [
        Column("tenant_code", "单位", "Unit", kind="unit", filter="unit", sortable=True),
        Column("version", "版本", "Version", sortable=True, value=lambda c: f"v{c.version}"),
        Column("effective_from", "生效日期", "Effective from", kind="date", sortable=True),
        Column("created_by", "发布人", "Published by"),
    ],
    default_sort="-effective_from",
    tiebreak=(PayrollRateCard.version, PayrollRateCard.id),
    filename="payroll-rate-cards",
)


IMPORT_KINDS = ("couriers", DELIVERY, COLLECTION)


@bp.route("/import", methods=["GET", "POST"])
def import_page() -> Any:
    check_permission(VIEW)
    report = None
    errors: list[dict[str, Any]] = []
    fields: dict[str, str] = {}
    kind = request.form.get("kind", "")
    if request.method == "POST":
        upload = request.files.get("file")
        session = context.session()
        if kind not in IMPORT_KINDS:
            fields["kind"] = _("Choose what the file holds.")
        if upload is None or not upload.filename:
            fields["file"] = _("Choose a CSV or XLSX file.")
        elif not upload.filename.lower().endswith((".csv", ".xlsx")):
            fields["file"] = _("The file must be CSV or XLSX.")
        if not fields:
            assert upload is not None and upload.filename
            try:
                check_permission(MANAGE if kind == "couriers" else INGEST)
                data = upload.read()
                rows = (
                    parse_xlsx(data)
                    if upload.filename.lower().endswith(".xlsx")
                    else parse_csv(data)
                )
                if kind == "couriers":
                    report = import_couriers(session, rows)
                else:
                    report = ingest(session, kind, rows)
                session.commit()
            except PostalOpsError as error:
                session.rollback()
                errors = error.details or [{"message": error.message}]
                fields["file"] = (
                    _(
                        "Nothing was imported: %(count)s rows are refused; each is listed below.",
                        count=len([e for e in errors if isinstance(e, dict) and e.get("row")]),
                    )
                    if any(isinstance(e, dict) and e.get("row") for e in errors)
                    else error.message
                )
    return render_template(
        "payroll/import.html",
        report=report,
        problems=row_problems(errors, import_labels.COLUMNS, import_labels.MESSAGES),
        count_labels=import_labels.COUNTS,
        fields=fields,
        kind=kind,
    ), (422 if fields else 200)


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
        "payroll/costs.html",
        rows=ListPage(rows, request.args),
        budgets=ListPage(budgets, request.args, prefix="b_"),
        date_from=date_from,
        date_to=date_to,
    )


# --- statutory rates (五险一金) --------------------------------------------------------------------

DEDUCTION_RATES = Listing(
    select(PayrollDeductionRate),
    [
        Column("tenant_code", "单位", "Unit", kind="unit", filter="unit", sortable=True),
        Column("effective_from", "生效日期", "Effective from", kind="date", sortable=True),
        Column("pension", "养老（个人）", "Pension (employee)", kind="percent"),
        Column("medical", "医疗（个人）", "Medical (employee)", kind="percent"),
        Column("unemployment", "失业（个人）", "Unemployment (employee)", kind="percent"),
        Column("housing_fund", "公积金（个人）", "Housing fund (employee)", kind="percent"),
        Column("employer_pension", "养老（单位）", "Pension (employer)", kind="percent"),
        Column("employer_medical", "医疗（单位）", "Medical (employer)", kind="percent"),
        Column("employer_unemployment", "失业（单位）", "Unemployment (employer)", kind="percent"),
        Column(
            "employer_housing_fund", "公积金（单位）", "Housing fund (employer)", kind="percent"
        ),
        Column("base_floor", "缴费基数下限", "Base floor", kind="money"),
        Column("base_ceiling", "缴费基数上限", "Base ceiling", kind="money"),
        Column("created_by", "保存人", "Saved by"),
    ],
    default_sort="-effective_from",
    tiebreak=(PayrollDeductionRate.tenant_code, PayrollDeductionRate.id),
    filename="payroll-deduction-rates",
)

RATE_LABELS = {
    "pension": ("养老保险（个人，比例）", "Pension, employee share"),
    "medical": ("医疗保险（个人，比例）", "Medical, employee share"),
    "unemployment": ("失业保险（个人，比例）", "Unemployment, employee share"),
    "housing_fund": ("住房公积金（个人，比例）", "Housing fund, employee share"),
    "employer_pension": ("养老保险（单位，比例）", "Pension, employer share"),
    "employer_medical": ("医疗保险（单位，比例）", "Medical, employer share"),
    "employer_unemployment": ("失业保险（单位，比例）", "Unemployment, employer share"),
    "employer_housing_fund": ("住房公积金（单位，比例）", "Housing fund, employer share"),
    "base_floor": ("缴费基数下限（元）", "Contribution base floor (yuan)"),
    "base_ceiling": ("缴费基数上限（元）", "Contribution base ceiling (yuan)"),
}


def _rate_problem(message: str) -> str:
    """A rates problem in the reader's language (the API keeps the English message)."""
    known = {
        "required": _("Required."),
        "not a number": _("Not a number."),
        "must be >= 0": _("Must not be negative."),
        "must be between 0 and 0.5": _("A fraction between 0 and 0.5."),
        "must be positive": _("Must be more than zero."),
        "must not be below base_floor": _("Must not be below the floor."),
        "must be the 1st of a month": _("The 1st of a month."),
        "a date, e.g. 2022-01-01": _("A date, e.g. 2022-01-01."),
        "whole fen only (two decimals)": _("At most two decimals."),
        "month already approved": _("That month is already approved; reopen it first."),
        "outside scope": _("Choose a unit within your scope."),
    }
    return known.get(message, message)


@bp.route("/deduction-rates", methods=["GET", "POST"])
def deduction_rates() -> Any:
    """HR keeps each city's statutory rates here; every bad field is named beside it."""
    check_permission(VIEW)
    session = context.session()
    errors: dict[str, str] = {}
    form: dict[str, Any] = dict(request.form)
    if request.method == "POST":
        check_permission(MANAGE)
        try:
            rates = rates_from_payload(form)
            publish_rates(session, form.get("unit") or _unit(), rates, context.principal().name)
            session.commit()
            flash(_("Rates saved."), "ok")
            return redirect(url_for("payroll.deduction_rates"))
        except PostalOpsError as error:
            session.rollback()
            for detail in error.details or []:
                if isinstance(detail, dict) and detail.get("field"):
                    errors.setdefault(detail["field"], _rate_problem(detail.get("message", "")))
            if not errors:
                errors["unit"] = error.message
    page = DEDUCTION_RATES.run(session, request.args)
    if page.export:
        return page.export_response()
    if not form:
        latest = session.exec(
            select(PayrollDeductionRate)
            .where(in_scope_clause(PayrollDeductionRate.tenant_code, _unit()))
            .order_by(PayrollDeductionRate.effective_from.desc())  # type: ignore[attr-defined]
            .limit(1)
        ).first()
        today = clock.today()
        form = {"unit": _unit(), "effective_from": today.replace(day=1).isoformat()}
        if latest is not None:
            form |= {name: str(getattr(latest, name)) for name in RATE_LABELS}
    zh = formatting.is_zh(ui.locale())
    fields = [(name, labels[0] if zh else labels[1]) for name, labels in RATE_LABELS.items()]
    return render_template(
        "payroll/deduction_rates.html",
        page=page,
        errors=errors,
        form=form,
        fields=fields,
        can_manage=context.principal().can(MANAGE),
    ), (422 if errors else 200)
