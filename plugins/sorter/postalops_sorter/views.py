"""Portal pages under ``/p/sorter/``: overview (station, city or province), live device view,
device registry, waves, alerts. Forms post back here; the live view polls the JSON API."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from postalops import context, ui
from postalops.api import query_period
from postalops.auth import require_permission
from postalops.db import in_scope_clause, utcnow
from postalops.errors import NotFound, ValidationError
from postalops.listing import Column, Listing, ListPage
from postalops.models import OrgUnit
from sqlmodel import select

from . import alerting, live, registry
from .alerts import AlertKind, AlertStatus, message_in
from .models import Alert, Device
from .waves import Wave

bp = Blueprint("sorter", __name__, template_folder="templates")


def _unit() -> OrgUnit | None:
    return context.session().exec(select(OrgUnit).where(OrgUnit.code == context.tenant())).first()


def _device(device_id: int) -> Device:
    device = context.session().get(Device, device_id)
    if device is None or not context.current().scope.allows(device.tenant_code):
        raise NotFound(f"no sorter {device_id}")
    return device


@bp.route("/")
@require_permission("sorter.view")
def index() -> Any:
    """A station sees its machines; a city or province compares the units below it."""
    s = context.session()
    unit = _unit()
    frm, to = query_period(default_days=7)
    devices = s.exec(
        select(Device)
        .where(in_scope_clause(Device.tenant_code, context.tenant()))
        .order_by(Device.tenant_code, Device.code)
    ).all()
    rows = ListPage(live.unit_table(s, context.tenant(), frm, to), request.args)
    return render_template(
        "sorter/index.html",
        unit=unit,
        devices=devices,
        rows=rows,
        date_from=frm,
        date_to=to,
        is_station=unit is not None and unit.level == "station",
    )


@bp.route("/devices/<int:device_id>")
@require_permission("sorter.view")
def device_page(device_id: int) -> Any:
    device = _device(device_id)
    return render_template(
        "sorter/device.html", device=device, data=live.live(context.session(), device, utcnow())
    )


DEVICES = Listing(
    select(Device),
    [
        Column("tenant_code", "网点", "Station", kind="unit", filter="unit", sortable=True),
        Column(
            "code",
            "编号",
            "Code",
            sortable=True,
            filter="text",
            href=lambda d: url_for("sorter.device_page", device_id=d.id),
        ),
        Column("name", "名称", "Name", filter="text"),
        Column("model", "型号", "Model", sortable=True, filter="text"),
        Column("chutes", "格口数", "Chutes", kind="count", sortable=True),
        Column("commissioned_on", "投产日期", "Commissioned", kind="date", sortable=True),
        Column(
            "rated_per_hour", "额定能力（件/小时）", "Rated items/h", kind="count", sortable=True
        ),
        Column(
            "token",
            "接入令牌",
            "Token",
            kind="status",
            domain="sorter.token",
            value=lambda d: "issued" if d.token_id else "none",
        ),
    ],
    default_sort="tenant_code",
    tiebreak=(Device.code, Device.id),
    filename="sorter-devices",
)


def _devices_page(
    secret: str | None = None, errors: dict[str, str] | None = None, form: Any = None
) -> Any:
    page = DEVICES.run(context.session(), request.args)
    if page.export:
        return page.export_response()
    return render_template(
        "sorter/devices.html",
        page=page,
        secret=secret,
        unit=_unit(),
        errors=errors or {},
        form=form or {},
    ), (422 if errors else 200)


@bp.route("/devices", methods=["GET", "POST"])
@require_permission("sorter.view")
def devices() -> Any:
    s = context.session()
    secret = None
    if request.method == "POST":
        from postalops import ui
        from postalops.auth import check_permission

        check_permission("sorter.manage")
        action = request.form.get("action")
        if action == "token":
            device = _device(int(request.form["device_id"]))
            if device.token_id:
                message = _(
                    "A new token replaces %(code)s's token: the machine stops sending until the "
                    "new token is set on it.",
                    code=device.code,
                )
                label = _("Replace the token")
            else:
                message = _(
                    "A token for %(code)s is issued and shown once: copy it to the machine.",
                    code=device.code,
                )
                label = _("Issue a token")
            confirm = ui.confirm_first(message, label)
            if confirm is not None:
                return confirm
            _token, secret = registry.issue_token(
                s, current_app.extensions["postalops.plugins"], device, context.principal().name
            )
            s.commit()
            flash(_("New token issued; copy it now, it is shown only once."), "ok")
        else:
            unit = _unit()
            if unit is None or unit.level != "station":
                return _devices_page(
                    errors={"code": _("Switch to a station to add a sorter.")}, form=request.form
                )
            try:
                values = _device_form(request.form)
            except ValidationError as exc:
                return _devices_page(errors=ui.field_errors(exc.details), form=request.form)
            registry.upsert_device(s, unit.code, values.pop("code"), values)
            s.commit()
            flash(_("Sorter saved."), "ok")
            return redirect(url_for("sorter.devices"))
    return _devices_page(secret)


def _device_form(form: Any) -> dict[str, Any]:
    details = []
    values: dict[str, Any] = {
        "code": (form.get("code") or "").strip(),
        "name": form.get("name", "").strip(),
        "model": (form.get("model") or "").strip(),
    }
    if not values["code"]:
        details.append({"field": "code", "message": _("Enter the sorter's code, e.g. DS01.")})
    if not values["model"]:
        details.append({"field": "model", "message": _("Enter the model, e.g. YP-DS24.")})
    for field in ("chutes", "rated_per_hour"):
        try:
            values[field] = int(form.get(field, ""))
            if values[field] < 1:
                raise ValueError
        except ValueError:
            details.append({"field": field, "message": _("Enter a whole number above zero.")})
    try:
        values["commissioned_on"] = dt.date.fromisoformat(form.get("commissioned_on", ""))
    except ValueError:
        details.append(
            {"field": "commissioned_on", "message": _("Choose the date it went into service.")}
        )
    if details:
        raise ValidationError(_("The sorter form has errors."), details=details)
    return values


@bp.route("/waves", methods=["GET", "POST"])
@require_permission("sorter.view")
def waves() -> Any:
    s = context.session()
    unit = _unit()
    if request.method == "POST":
        from postalops.auth import check_permission

        check_permission("sorter.manage")
        if unit is None or unit.level != "station":
            raise ValidationError(
                _("Switch to a station to set its waves."), details=[{"field": "unit"}]
            )
        new, errors = _wave_form(request.form)
        if not errors:
            try:
                registry.replace_waves(s, unit.code, new)
            except ValidationError as exc:
                s.rollback()
                errors = _wave_errors(new, exc.details)
        if errors:
            return render_template(
                "sorter/waves.html", waves={}, unit=unit, errors=errors, form=request.form
            ), 422
        marked = registry.mark_wave_days(s, unit.code)
        s.commit()
        registry.start_recompute(unit.code, marked)
        flash(_("Waves saved."), "ok")
        return redirect(url_for("sorter.waves"))
    current = {w["number"]: w for w in registry.wave_list(s, context.tenant())}
    return render_template("sorter/waves.html", waves=current, unit=unit, errors={}, form={})


def _wave_form(form: Any) -> tuple[list[Wave], dict[str, str]]:
    """The three wave rows of the form; errors by field name (``start2``, ``end3``)."""
    new: list[Wave] = []
    errors: dict[str, str] = {}
    for n in range(1, 4):
        raw = {k: (form.get(f"{k}{n}") or "").strip() for k in ("start", "end")}
        if not raw["start"] and not raw["end"]:
            continue
        times = {}
        for k, value in raw.items():
            if not value:
                errors[f"{k}{n}"] = _("Enter both the start and the end, or neither.")
                continue
            try:
                times[k] = dt.time.fromisoformat(value)
            except ValueError:
                errors[f"{k}{n}"] = _("Enter a time as HH:MM, e.g. 06:30.")
        if len(times) == 2:
            new.append(Wave(n, times["start"], times["end"]))
    return new, errors


def _wave_errors(new: list[Wave], details: Any) -> dict[str, str]:
    """``check_waves``' details (row = index in ``new``) as errors beside the form's fields."""
    errors: dict[str, str] = {}
    for d in details or []:
        if not isinstance(d, dict) or not isinstance(d.get("row"), int) or d["row"] >= len(new):
            continue
        n = new[d["row"]].number
        if d.get("field") == "end":
            errors.setdefault(f"end{n}", _("The end must be after the start."))
        elif "overlaps" in str(d.get("message", "")):
            errors.setdefault(f"start{n}", _("This wave overlaps another wave."))
        else:
            errors.setdefault(f"start{n}", _("Enter whole minutes, as HH:MM."))
    return errors or {"start1": _("The waves could not be saved; check the times.")}


ALERTS = Listing(
    select(
        Alert.id,
        Alert.raised_at,
        Alert.tenant_code,
        Device.code.label("device"),
        Alert.kind,
        Alert.message,
        Alert.status,
        Alert.acknowledged_by,
        Alert.severity,
        Alert.escalate_to,
    ).join(Device, Device.id == Alert.device_id),
    [
        Column(
            "raised_at",
            "告警时间",
            "Raised",
            kind="datetime",
            sortable=True,
            filter="date_range",
            expr=Alert.raised_at,
        ),
        Column(
            "tenant_code",
            "网点",
            "Station",
            kind="unit",
            filter="unit",
            sortable=True,
            expr=Alert.tenant_code,
        ),
        Column("device", "设备", "Device", sortable=True, filter="text", expr=Device.code),
        Column(
            "kind",
            "类型",
            "Kind",
            kind="status",
            domain="sorter.alert_kind",
            filter="choice",
            choices=[k.value for k in AlertKind],
            expr=Alert.kind,
        ),
        Column(
            "message",
            "说明",
            "Message",
            value=lambda a: message_in(a.message, ui.locale()),
        ),
        Column(
            "status",
            "状态",
            "Status",
            kind="status",
            domain="sorter.alert",
            filter="choice",
            choices=[k.value for k in AlertStatus],
            expr=Alert.status,
        ),
        Column(
            "severity",
            "级别",
            "Severity",
            kind="status",
            domain="sorter.severity",
            filter="choice",
            choices=["info", "warning", "critical"],
            expr=Alert.severity,
        ),
        Column("acknowledged_by", "确认人", "Acknowledged by", show=False),
        Column("escalate_to", "升级联系人", "Escalated to", show=False),
    ],
    default_sort="-raised_at",
    tiebreak=(Alert.id,),
    filename="sorter-alerts",
)


@bp.route("/alerts", methods=["GET", "POST"])
@require_permission("sorter.view")
def alerts() -> Any:
    s = context.session()
    if request.method == "POST":
        from postalops import audit
        from postalops.auth import check_permission

        check_permission("sorter.operate")
        target = AlertStatus(request.form["action"])
        alert_id = int(request.form["alert_id"])
        alert = s.get(Alert, alert_id)
        if alert is None or not context.current().scope.allows(alert.tenant_code):
            raise NotFound(f"no alert {alert_id}")
        before = alert.status
        from postalops import clock

        minutes = request.form.get("minutes", type=int) if target is AlertStatus.SNOOZED else None
        if target is AlertStatus.RESOLVED:
            page = ui.confirm_first(
                _("The alert will be closed; its kind stays quiet on this machine for an hour."),
                _("Resolve"),
            )
            if page is not None:
                return page
        alerting.move(
            s,
            alert_id,
            target,
            context.principal().name,
            clock.now().astimezone(dt.UTC),
            snooze_minutes=minutes,
        )
        audit.record(
            f"sorter.alert.{target.value}",
            target_type="sorter_alert",
            target_id=alert_id,
            tenant=alert.tenant_code,
            before={"status": before},
            after={"status": target.value},
        )
        s.commit()
        return redirect(url_for("sorter.alerts"))
    page = ALERTS.run(s, request.args)
    if page.export:
        return page.export_response()
    return render_template("sorter/alerts.html", page=page)


from . import views_losses  # noqa: E402,F401  (issue 20 pages on the same blueprint)
