"""Portal pages of issue 20 §2 on outcall's blueprint (``/p/outcall``): the supervisor's live
view, handle-time statistics, the do-not-call list, the disposition catalogue, the telephony
provider, and the workbench's agent-state and call buttons."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import flash, redirect, request, url_for
from flask_babel import gettext as _
from postalops import context, ui
from postalops.api import parse_date
from postalops.auth import check_permission, require_permission
from postalops.db import utcnow
from postalops.errors import PostalOpsError
from postalops.listing import Column, Listing
from sqlmodel import select

from . import call_flow, cti, dispositions, dnc, handle_time, live
from . import service as services
from .masking import mask_phone
from .models import OutcallDoNotCall
from .views import LOCAL, _fail, _render, bp

# --- the supervisor's live view -------------------------------------------------------------------


def _named(s: Any, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each row's agent by the name people know (``user:gz_agent_01`` → 陈晓燕)."""
    names = agent_names_of(s, [r["agent"] for r in rows])
    return [{**r, "name": n} for r, n in zip(rows, names, strict=True)]


def _snapshot() -> dict[str, Any]:
    s, tenant = context.session(), context.tenant()
    hours = services.get_settings(s, tenant).service_level_hours
    snap = live.snapshot(s, tenant, utcnow(), hours=hours)
    snap["agents"] = _named(s, snap["agents"])
    snap["callbacks_next_hour"] = [
        {**c, "agent_name": n}
        for c, n in zip(
            snap["callbacks_next_hour"],
            agent_names_of(s, [c["agent"] or "" for c in snap["callbacks_next_hour"]]),
            strict=True,
        )
    ]
    return snap


def agent_names_of(s: Any, agents: list[str]) -> list[str]:
    from .dashboards import agent_names

    return agent_names(s, agents) if agents else []


@bp.route("/live")
@require_permission("outcall.supervise")
def live_view() -> Any:
    return _render("live.html", snap=_snapshot(), poll_seconds=15)


@bp.route("/live/panel")
@require_permission("outcall.supervise")
def live_panel() -> Any:
    """The live panel alone: the page swaps it in every few seconds without a reload."""
    return _render("_live_panel.html", snap=_snapshot())


# --- handle-time statistics ------------------------------------------------------------------------


@bp.route("/stats")
@require_permission("outcall.view")
def stats() -> Any:
    s, tenant = context.session(), context.tenant()
    today = utcnow().astimezone(LOCAL).date()
    try:
        to = parse_date(request.args.get("to"), "to") or today
        frm = parse_date(request.args.get("from"), "from") or to - dt.timedelta(days=29)
    except PostalOpsError:
        to, frm = today, today - dt.timedelta(days=29)
    figures = handle_time.period_stats(s, tenant, frm, to)
    figures["agents"] = _named(s, figures["agents"])
    return _render("stats.html", figures=figures, frm=frm, to=to)


# --- do-not-call ----------------------------------------------------------------------------------

DNC = Listing(
    select(OutcallDoNotCall),
    [
        Column("phone", "号码", "Number", filter="text", value=lambda r: mask_phone(r.phone)),
        Column(
            "reason",
            "原因",
            "Reason",
            kind="status",
            domain="outcall.dnc_reason",
            filter="choice",
            choices=list(dnc.REASONS),
        ),
        Column("note", "备注", "Note"),
        Column("expires_at", "到期", "Expires", kind="datetime", sortable=True),
        Column("created_by", "登记人", "Added by"),
        Column("created_at", "登记时间", "Added", kind="datetime", sortable=True),
        Column("tenant_code", "单位", "Unit", kind="unit", filter="unit", show=False),
    ],
    default_sort="-created_at",
    tiebreak=(OutcallDoNotCall.id,),
    filename="outcall-do-not-call",
)


@bp.route("/dnc", methods=["GET", "POST"])
@require_permission("outcall.view")
def dnc_page() -> Any:
    s, tenant = context.session(), context.tenant()
    errors: dict[str, str] = {}
    if request.method == "POST":
        check_permission("outcall.manage")
        f = request.form
        expires = None
        if f.get("expires_on"):
            try:
                day = dt.date.fromisoformat(f["expires_on"])
                expires = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), LOCAL)
            except ValueError:
                errors["expires_on"] = _("Enter a date, e.g. 2026-12-31.")
        if not errors:
            try:
                dnc.add(
                    s,
                    tenant,
                    {
                        "phone": f.get("phone", ""),
                        "reason": f.get("reason", ""),
                        "note": f.get("note", ""),
                        "expires_at": expires,
                    },
                    actor=context.principal().name,
                    now=utcnow(),
                )
                s.commit()
                flash(_("The number is on the do-not-call list."), "success")
                return redirect(url_for("outcall.dnc_page"))
            except PostalOpsError as exc:
                s.rollback()
                words = {
                    "phone": _(
                        "Enter a mobile number (11 digits) or a landline with its area code."
                    ),
                    "reason": _("Choose the reason."),
                    "expires_at": _("The expiry must be a future date."),
                }
                for field in ui.field_errors(exc.details):
                    key = "expires_on" if field == "expires_at" else field
                    errors[key] = words.get(field, _("Check this value."))
    page = DNC.run(s, request.args)
    if page.export:
        return page.export_response()
    reasons = [(r, ui.status_label(r, "outcall.dnc_reason")[0]) for r in dnc.REASONS]
    return _render("dnc.html", page=page, errors=errors, form=request.form, reasons=reasons), (
        422 if errors else 200
    )


@bp.route("/dnc/<int:entry_id>/remove", methods=["POST"])
@require_permission("outcall.manage")
def dnc_remove(entry_id: int) -> Any:
    confirm = ui.confirm_first(
        _("The number will be called again when one of its cases is due."),
        _("Remove from the list"),
    )
    if confirm is not None:
        return confirm
    s = context.session()
    try:
        dnc.remove(s, context.tenant(), entry_id, actor=context.principal().name)
        s.commit()
        flash(_("The number was taken off the do-not-call list."), "info")
    except PostalOpsError as exc:
        _fail(exc)
    return redirect(url_for("outcall.dnc_page"))


# --- dispositions and the telephony provider ----------------------------------------------------------


@bp.route("/dispositions", methods=["GET", "POST"])
@require_permission("outcall.view")
def dispositions_page() -> Any:
    s, tenant = context.session(), context.tenant()
    errors: dict[str, str] = {}
    if request.method == "POST":
        check_permission("outcall.manage")
        f = request.form
        try:
            dispositions.save(
                s,
                tenant,
                [
                    {
                        "code": f.get("code", "").strip(),
                        "label": f.get("label", ""),
                        "outcome": f.get("outcome", ""),
                        "active": f.get("active", "1") == "1",
                    }
                ],
                actor=context.principal().name,
            )
            s.commit()
            flash(_("Disposition saved."), "success")
            return redirect(url_for("outcall.dispositions_page"))
        except PostalOpsError as exc:
            s.rollback()
            words = {
                "code": _("Use lower-case letters, digits and _ (at most 40)."),
                "label": _("Enter the wording agents see (at most 100 characters)."),
                "outcome": _("Choose the outcome it counts as."),
            }
            errors = {k: words.get(k, _("Check this value.")) for k in ui.field_errors(exc.details)}
    rows = dispositions.catalogue(s, tenant)
    return _render("dispositions.html", rows=rows, errors=errors, form=request.form), (
        422 if errors else 200
    )


@bp.route("/cti", methods=["GET", "POST"])
@require_permission("outcall.manage")
def cti_page() -> Any:
    s, tenant = context.session(), context.tenant()
    errors: dict[str, str] = {}
    if request.method == "POST":
        f = request.form
        try:
            cti.save_config(
                s,
                tenant,
                {
                    "url": f.get("url", "").strip(),
                    "auth": f.get("auth", "token"),
                    "secret": f.get("secret", ""),
                    "caller_id": f.get("caller_id", ""),
                    "enabled": f.get("enabled") == "1",
                },
                actor=context.principal().name,
                now=utcnow(),
            )
            s.commit()
            flash(_("Telephony provider saved."), "success")
            return redirect(url_for("outcall.cti_page"))
        except PostalOpsError as exc:
            s.rollback()
            words = {
                "url": _("Enter the provider's http(s) address."),
                "secret": _("Enter the token or key, 8 to 200 characters."),
            }
            errors = {k: words.get(k, _("Check this value.")) for k in ui.field_errors(exc.details)}
    config = cti.config_for(s, tenant)
    return _render("cti.html", config=config, errors=errors, form=request.form), (
        422 if errors else 200
    )


# --- the workbench's agent state, call buttons and opt-out ----------------------------------------------


@bp.route("/work/state", methods=["POST"])
@require_permission("outcall.call")
def work_state() -> Any:
    s = context.session()
    f = request.form
    try:
        live.set_state(
            s,
            context.tenant(),
            context.principal().name,
            f.get("state", ""),
            pause_code=f.get("pause_code") or None,
            now=utcnow(),
        )
        s.commit()
    except PostalOpsError as exc:
        _fail(exc)
    return redirect(url_for("outcall.work"))


@bp.route("/work/<int:case_id>/call", methods=["POST"])
@require_permission("outcall.call")
def work_call(case_id: int) -> Any:
    """Start or end the call (the handle time), or have the provider dial it."""
    s, tenant, agent = context.session(), context.tenant(), context.principal().name
    action = request.form.get("action")
    now = utcnow()
    try:
        case = services._claimed_case(s, tenant, case_id, agent, now)
        if action == "dial":
            cti.place_call(
                s,
                tenant,
                case,
                agent,
                callback_url=request.host_url.rstrip("/") + "/api/v1/outcall/cti/events",
                now=now,
            )
            flash(_("The provider is calling the applicant."), "info")
        elif action == "end":
            live.call_ended(s, tenant, agent, case.id, now)
        else:
            live.call_started(s, tenant, agent, case.id, now)
        s.commit()
    except PostalOpsError as exc:
        _fail(exc)
    return redirect(url_for("outcall.work"))


@bp.route("/work/<int:case_id>/opt-out", methods=["POST"])
@require_permission("outcall.call")
def work_opt_out(case_id: int) -> Any:
    s = context.session()
    try:
        call_flow.opt_out(
            s, context.tenant(), case_id, actor=context.principal().name, now=utcnow()
        )
        s.commit()
        flash(_("The applicant will not be called again."), "success")
    except PostalOpsError as exc:
        _fail(exc)
    return redirect(url_for("outcall.work"))


def workbench_context(s: Any, tenant: str, agent: str, case: Any, now: dt.datetime) -> dict:
    """What the workbench shows of the agent's state, the call buttons and the dispositions."""
    state = live.state_of(s, tenant, agent, now)
    return {
        "agent_state": state,
        "pause_options": [
            (p, ui.status_label(p, "outcall.pause_code")[0]) for p in live.PAUSE_CODES
        ],
        "disposition_options": [("", _("(none)"))]
        + [
            (d.code, f"{d.label}（{ui.status_label(d.outcome, 'outcall.outcome')[0]}）")
            for d in dispositions.catalogue(s, tenant, only_active=True)
        ],
        "cti_enabled": cti.config_for(s, tenant) is not None,
        "on_this_call": case is not None and state.case_id == case["id"],
    }
