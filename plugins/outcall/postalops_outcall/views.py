"""Portal pages under ``/p/outcall`` (Jinja, zh_CN first, English via Flask-Babel)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from postalops import context, ui, webhooks
from postalops import jobs as core_jobs
from postalops.api import parse_date
from postalops.auth import check_permission, require_permission
from postalops.db import in_scope_clause, utcnow
from postalops.errors import PostalOpsError
from postalops.listing import Column, Listing
from postalops.models import WebhookDelivery
from sqlmodel import select

from . import call_script, masking, rules
from . import service as services
from .call_policy import Outcome
from .eligibility import RULE_LABELS
from .jobs import IMPORT
from .metrics import outcall_metrics
from .models import (
    OutcallAttempt,
    OutcallCase,
    OutcallCatalogueItem,
    OutcallOrder,
)

bp = Blueprint("outcall", __name__, template_folder="templates")
LOCAL = ZoneInfo("Asia/Shanghai")
PAGE = 50

STATUS_LABELS = {
    "queued": ("待外呼", "Queued"),
    "ineligible": ("不符合条件", "Ineligible"),
    "converted": ("已改邮寄", "Converted to mail"),
    "declined": ("拒绝", "Declined"),
    "wrong_number": ("号码错误", "Wrong number"),
    "exhausted": ("多次未接通", "Retries used up"),
    "collected": ("已窗口领取", "Collected at window"),
    "expired": ("超期出队", "Expired"),
}
OUTCOME_LABELS = {
    "accepted": ("同意邮寄", "Accepted"),
    "declined": ("拒绝", "Declined"),
    "no_answer": ("无人接听", "No answer"),
    "busy": ("占线", "Busy"),
    "wrong_number": ("号码错误", "Wrong number"),
    "callback": ("预约回拨", "Call back later"),
}
# The case's facts from the platform, in words (labelled through postalops_status_labels).
FACT_LABELS = {
    "outcall.applicant_type": {
        "personal": ("个人", "Individual"),
        "enterprise": ("企业", "Business"),
    },
    "outcall.approval_level": {
        "municipal": ("市级", "Municipal"),
        "district": ("区级", "District"),
    },
    "outcall.issuing_method": {
        "window": ("窗口领取", "At the window"),
        "mail": ("邮寄", "By mail"),
    },
}


@bp.app_template_filter("outcall_local")
def local_time(value: dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return value.astimezone(LOCAL).strftime(fmt) if value else ""


@bp.app_template_filter("outcall_mask_phone")
def mask_phone_filter(value: str | None) -> str:
    """Labels are privacy waybills (隐私面单): the courier sees 138****5678."""
    from .masking import mask_phone

    return mask_phone(value)


def _labels() -> dict[str, Any]:
    from postalops.builtin.portal import is_zh

    zh = is_zh()
    pick = (lambda pair: pair[0]) if zh else (lambda pair: pair[1])
    return {
        "status_label": lambda s: pick(STATUS_LABELS.get(s, (s, s))),
        "outcome_label": lambda o: pick(OUTCOME_LABELS.get(o, (o, o))),
        "rule_label": lambda r: pick(RULE_LABELS.get(r, (r, r))),
        "fact_label": lambda value, domain: ui.status_label(value, domain)[0],
        "outcomes": [o.value for o in Outcome],
        "outcome_options": [
            (o.value, pick(OUTCOME_LABELS.get(o.value, (o.value,) * 2))) for o in Outcome
        ],
    }


def _render(template: str, **kw: Any) -> str:
    return render_template(f"outcall/{template}", **_labels(), **kw)


def _page() -> int:
    try:
        return max(int(request.args.get("page", 1) or 1), 1)
    except ValueError:
        return 1


def _fail(exc: PostalOpsError) -> None:
    context.session().rollback()
    fields = ", ".join(
        str(d.get("field", d.get("row", ""))) for d in exc.details if isinstance(d, dict)
    )
    flash(f"{exc.message}" + (f" ({fields})" if fields else ""), "error")


@bp.route("/")
@require_permission("outcall.view")
def index() -> Any:
    s, tenant = context.session(), context.tenant()
    today = utcnow().astimezone(LOCAL).date()
    frm = parse_date(request.args.get("from"), "from") or today - dt.timedelta(days=29)
    to = parse_date(request.args.get("to"), "to") or today
    kpis = outcall_metrics(s, tenant, frm, to)
    by_status = dict(
        s.execute(
            sa.select(OutcallCase.status, sa.func.count())
            .where(in_scope_clause(OutcallCase.tenant_code, tenant))
            .group_by(OutcallCase.status)
        ).all()
    )
    return _render("index.html", kpis=kpis, by_status=by_status, frm=frm, to=to)


def _mask(kind: str) -> Any:
    from .masking import mask_id_number, mask_phone

    return (
        (lambda c: mask_phone(c.phone))
        if kind == "phone"
        else (lambda c: mask_id_number(c.id_number))
    )


CASES = Listing(
    select(OutcallCase),
    [
        Column(
            "case_no",
            "办件编号",
            "Case number",
            sortable=True,
            filter="text",
            href=lambda c: url_for("outcall.case_detail", case_id=c.id),
        ),
        Column("department", "审批部门", "Department", filter="text"),
        Column("service_item", "办理事项", "Service item", filter="text"),
        Column("applicant_name", "申请人", "Applicant", filter="text"),
        Column("phone", "电话（脱敏）", "Phone (masked)", value=_mask("phone")),
        Column("id_number", "证件号（脱敏）", "ID number (masked)", value=_mask("id")),
        Column(
            "approved_at",
            "办结时间",
            "Approved",
            kind="datetime",
            sortable=True,
            filter="date_range",
        ),
        Column(
            "eligible",
            "可改邮寄",
            "Eligible",
            kind="status",
            domain="bool",
            filter="choice",
            choices=("true", "false"),
        ),
        Column(
            "status",
            "状态",
            "Status",
            kind="status",
            domain="outcall.case",
            filter="choice",
            choices=list(STATUS_LABELS),
        ),
        Column("attempts", "外呼次数", "Calls", kind="count", unit="calls", sortable=True),
        Column("tenant_code", "单位", "Unit", kind="unit", filter="unit", show=False),
    ],
    default_sort="-approved_at",
    tiebreak=(OutcallCase.id,),
    filename="outcall-cases",
)


@bp.route("/cases")
@require_permission("outcall.view")
def cases() -> Any:
    page = CASES.run(context.session(), request.args)
    if page.export:
        return page.export_response()
    return _render("cases.html", page=page)


@bp.route("/cases/<int:case_id>")
@require_permission("outcall.view")
def case_detail(case_id: int) -> Any:
    s, tenant = context.session(), context.tenant()
    case = services.get_case(s, tenant, case_id)
    attempts = s.exec(
        select(OutcallAttempt).where(OutcallAttempt.case_id == case.id).order_by(OutcallAttempt.at)
    ).all()
    order = s.exec(select(OutcallOrder).where(OutcallOrder.case_id == case.id)).first()
    return _render(
        "case.html", case=masking.masked_case(case), attempts=attempts, order=order, revealed=None
    )


@bp.route("/cases/<int:case_id>/reveal", methods=["POST"])
@require_permission("outcall.reveal")
def case_reveal(case_id: int) -> Any:
    s, tenant = context.session(), context.tenant()
    revealed = services.reveal(
        s, tenant, case_id, actor=context.principal().name, reason=request.form.get("reason", "")
    )
    s.commit()
    case = services.get_case(s, tenant, case_id)
    attempts = s.exec(
        select(OutcallAttempt).where(OutcallAttempt.case_id == case.id).order_by(OutcallAttempt.at)
    ).all()
    order = s.exec(select(OutcallOrder).where(OutcallOrder.case_id == case.id)).first()
    return _render(
        "case.html",
        case=masking.masked_case(case),
        attempts=attempts,
        order=order,
        revealed=revealed,
    )


@bp.route("/work", methods=["GET", "POST"])
@require_permission("outcall.call")
def work() -> Any:
    """The agent's workbench: claim the next case, see script and details, record the call."""
    s, tenant, agent = context.session(), context.tenant(), context.principal().name
    now = utcnow()
    if request.method == "POST" and request.form.get("action") == "claim":
        case = services.claim_next(s, tenant, agent, now=now)
        s.commit()
        if case is None:
            flash(_("No case can be called now (queue empty or outside calling hours)."), "info")
        return redirect(url_for("outcall.work"))
    return _render_work(s, tenant, agent, now)


def _render_work(
    s: Any, tenant: str, agent: str, now: dt.datetime, form: Any = None, errors: Any = None
) -> Any:
    from .views_ops import workbench_context

    case = services.active_claim(s, tenant, agent, now)
    script = call_script.for_case(s, case) if case is not None else None
    policy = rules.policy_of(services.get_settings(s, tenant))
    shown = masking.masked_case(case, full=True) if case else None
    extra = workbench_context(s, tenant, agent, shown, now)
    s.commit()  # a new agent's state row
    opt_out = request.args.get("opt_out", type=int)
    return _render(
        "work.html",
        case=shown,
        script=script,
        open_now=policy.calling_hours.contains(now),
        policy=policy,
        form=form or {},
        errors=errors or {},
        opt_out_case=opt_out,
        **extra,
    )


def _outcome_errors(exc: PostalOpsError) -> dict[str, str]:
    """The outcome form's field errors in the user's words (address fields by their name)."""
    words = {
        "phone": _("Enter a mobile number (11 digits) or a landline with its area code."),
        "callback_at": _("Enter the call-back date and time."),
        "outcome": _("Choose the outcome of the call."),
        "disposition": _("Choose a disposition of the list, matching the outcome."),
    }
    out: dict[str, str] = {}
    for field, message in ui.field_errors(exc.details).items():
        name = field.split(".", 1)[1] if field.startswith("address.") else field
        if field == "address":  # the whole address is missing: name its first fields
            out.update({"district": _("Required."), "detail": _("Required.")})
        elif "required" in message or "必填" in message:
            out[name] = _("Required.")
        else:
            out[name] = words.get(name, _("Check this value."))
    return out


def _accepting(code: str | None) -> bool:
    """The chosen disposition counts as accepted (the address is then required)."""
    if not code:
        return False
    from .dispositions import catalogue

    s, tenant = context.session(), context.tenant()
    return any(d.code == code and d.outcome == Outcome.ACCEPTED.value for d in catalogue(s, tenant))


@bp.route("/work/<int:case_id>/outcome", methods=["POST"])
@require_permission("outcall.call")
def work_outcome(case_id: int) -> Any:
    s, tenant, agent = context.session(), context.tenant(), context.principal().name
    f = request.form
    callback_at = None
    if f.get("callback_at"):
        try:
            callback_at = dt.datetime.fromisoformat(f["callback_at"]).replace(tzinfo=LOCAL)
        except ValueError:
            errors = {"callback_at": _("Call-back time is not a valid date and time.")}
            return _render_work(s, tenant, agent, utcnow(), form=f, errors=errors), 422
    address = None
    if f.get("outcome") == Outcome.ACCEPTED.value or _accepting(f.get("disposition")):
        address = {
            k: f.get(k, "")
            for k in ("province", "city", "district", "detail", "recipient", "phone")
        }
    from .call_flow import record_call

    try:
        done = record_call(
            s,
            tenant,
            case_id,
            agent,
            outcome=f.get("outcome") or None,
            disposition=f.get("disposition") or None,
            callback_at=callback_at,
            address=address,
            note=f.get("note", ""),
            now=utcnow(),
        )
        s.commit()
        order = done.order
    except PostalOpsError as exc:
        errors = _outcome_errors(exc)
        if not errors or exc.status != 422:  # not about a field: say it above the page
            _fail(exc)
            return redirect(url_for("outcall.work"))
        s.rollback()
        return _render_work(s, tenant, agent, utcnow(), form=f, errors=errors), 422
    if order is not None:
        flash(_("Converted to mail: waybill %(no)s", no=order.waybill_no), "info")
        return redirect(url_for("outcall.order_label", order_id=order.id))
    flash(_("Call recorded."), "info")
    if done.offer_opt_out:
        return redirect(url_for("outcall.work", opt_out=case_id))
    return redirect(url_for("outcall.work"))


@bp.route("/upload", methods=["GET", "POST"])
@require_permission("outcall.intake")
def upload() -> Any:
    if request.method == "POST":
        from postalops.imports import read_upload

        if not (request.files.get("file") and request.files["file"].filename):
            return _render("upload.html", file_error=_("Choose a CSV or XLSX file.")), 422
        try:
            rows = read_upload()
        except PostalOpsError as exc:
            _fail(exc)
            return redirect(url_for("outcall.upload"))
        row = core_jobs.submit(IMPORT, {"rows": [[n, r] for n, r in rows]}, tenant=context.tenant())
        flash(_("Import started as a job: %(id)s", id=row.id), "info")
        return redirect("/jobs")
    return _render("upload.html")


@bp.route("/catalogue", methods=["GET", "POST"])
@require_permission("outcall.view")
def catalogue() -> Any:
    s, tenant = context.session(), context.tenant()
    if request.method == "POST":
        check_permission("outcall.manage")
        entries = []
        rows = s.exec(
            select(OutcallCatalogueItem).where(OutcallCatalogueItem.tenant_code == tenant)
        ).all()
        on = set(request.form.getlist("participating"))
        for r in rows:
            entries.append(
                {"department": r.department, "item": r.item, "participating": str(r.id) in on}
            )
        if request.form.get("new_department") or request.form.get("new_item"):
            entries.append(
                {
                    "department": request.form.get("new_department", ""),
                    "item": request.form.get("new_item", ""),
                    "participating": True,
                    "script": request.form.get("new_script") or None,
                }
            )
        try:
            services.save_catalogue_entries(s, tenant, entries, actor=context.principal().name)
            s.commit()
            flash(_("Catalogue saved."), "info")
        except PostalOpsError as exc:
            _fail(exc)
        return redirect(url_for("outcall.catalogue"))
    rows = s.exec(
        select(OutcallCatalogueItem)
        .where(OutcallCatalogueItem.tenant_code == tenant)
        .order_by(OutcallCatalogueItem.department, OutcallCatalogueItem.item)
    ).all()
    return _render("catalogue.html", rows=rows)


@bp.route("/settings", methods=["GET", "POST"])
@require_permission("outcall.manage")
def settings() -> Any:
    """Deprecated (one release): the queue settings are edited on the core's settings page;
    the platform webhook on /admin/webhooks."""
    return redirect("/admin/settings/outcall", code=302 if request.method == "GET" else 307)


ORDERS = Listing(
    select(OutcallOrder),
    [
        Column(
            "waybill_no",
            "邮件号",
            "Waybill",
            sortable=True,
            filter="text",
            href=lambda o: url_for("outcall.order_label", order_id=o.id),
        ),
        Column(
            "source",
            "来源",
            "Source",
            kind="status",
            domain="outcall.order_source",
            filter="choice",
            choices=["outcall", "hall"],
        ),
        Column("source_ref", "办件编号/大厅单号", "Reference", filter="text"),
        Column("item", "寄递物品", "Item", filter="text"),
        Column(
            "destination",
            "寄达地",
            "Destination",
            value=lambda o: f"{o.province}{o.city}{o.district}",
        ),
        Column(
            "created_at", "下单时间", "Created", kind="datetime", sortable=True, filter="date_range"
        ),
        Column("tenant_code", "单位", "Unit", kind="unit", filter="unit", show=False),
    ],
    default_sort="-created_at",
    tiebreak=(OutcallOrder.id,),
    filename="outcall-orders",
)


@bp.route("/orders")
@require_permission("outcall.view")
def orders() -> Any:
    page = ORDERS.run(context.session(), request.args)
    if page.export:
        return page.export_response()
    return _render("orders.html", page=page)


@bp.route("/orders/<int:order_id>/label")
@require_permission("outcall.view")
def order_label(order_id: int) -> Any:
    s, tenant = context.session(), context.tenant()
    order = s.exec(
        select(OutcallOrder).where(
            OutcallOrder.id == order_id, in_scope_clause(OutcallOrder.tenant_code, tenant)
        )
    ).first()
    if order is None:
        abort(404)
    return _render("label.html", order=order)


def _case_no(d: Any) -> str:
    return str(webhooks.payload_of(context.session(), d).get("case_no") or "")


NOTIFICATIONS = Listing(
    webhooks.deliveries_of("outcall."),
    [
        Column("case_no", "办件编号", "Case number", value=_case_no),
        Column(
            "status",
            "状态",
            "Status",
            kind="status",
            domain="core.webhook.delivery",
            filter="choice",
            choices=["pending", "retrying", "delivered", "failed"],
        ),
        Column("attempts", "推送次数", "Tries", kind="count", sortable=True),
        Column("last_status_code", "应答", "Response", kind="text"),
        Column("last_error", "最近错误", "Last error"),
        Column(
            "created_at", "生成时间", "Created", kind="datetime", sortable=True, filter="date_range"
        ),
        Column("delivered_at", "送达时间", "Delivered", kind="datetime", sortable=True),
    ],
    default_sort="-created_at",
    tiebreak=(WebhookDelivery.id,),
    filename="outcall-notifications",
)


@bp.route("/notifications", methods=["GET", "POST"])
@require_permission("outcall.view")
def notifications() -> Any:
    """The platform notifications: the core's deliveries of outcall.* events (read only here;
    sending again is the core's replay)."""
    s = context.session()
    if request.method == "POST":
        check_permission("outcall.manage")
        d = s.get(WebhookDelivery, int(request.form["id"]))
        if d is not None and d.event_type.startswith("outcall.") and d.status == "failed":
            webhooks.replay(s, d.id, actor=context.principal().name)
            s.commit()
            flash(_("Notification sent again."), "info")
        return redirect(url_for("outcall.notifications"))
    page = NOTIFICATIONS.run(s, request.args)
    if page.export:
        return page.export_response()
    return _render("notifications.html", page=page)
