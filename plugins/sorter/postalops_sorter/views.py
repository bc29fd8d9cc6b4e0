"""Portal pages under ``/p/sorter/``: overview (station, city or province), live device view,
device registry, waves, alerts. Forms post back here; the live view polls the JSON API."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from postalops import context
from postalops.api import query_period
from postalops.auth import require_permission
from postalops.db import in_scope_clause, utcnow
from postalops.errors import NotFound, ValidationError
from postalops.listing import Column, Listing
from postalops.models import OrgUnit
from sqlmodel import select

from . import alerting, live, registry
from .alerts import AlertKind, AlertStatus
from .models import Alert, Device, UnitSetting
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
    rows = live.unit_table(s, context.tenant(), frm, to)
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


@bp.route("/devices", methods=["GET", "POST"])
@require_permission("sorter.view")
def devices() -> Any:
    s = context.session()
    secret = None
    if request.method == "POST":
        from postalops.auth import check_permission

        check_permission("sorter.manage")
        action = request.form.get("action")
        if action == "token":
            device = _device(int(request.form["device_id"]))
            _token, secret = registry.issue_token(
                s, current_app.extensions["postalops.plugins"], device, context.principal().name
            )
            s.commit()
            flash(_("New token issued; copy it now, it is shown only once."), "ok")
        else:
            values = _device_form(request.form)
            unit = context.tenant()
            if (_unit() or OrgUnit(code="", name_zh="", name_en="", level="")).level != "station":
                raise ValidationError(
                    _("Switch to a station to add a sorter."), details=[{"field": "unit"}]
                )
            registry.upsert_device(s, unit, values.pop("code"), values)
            s.commit()
            flash(_("Sorter saved."), "ok")
            return redirect(url_for("sorter.devices"))
    rows = s.exec(
        select(Device)
        .where(in_scope_clause(Device.tenant_code, context.tenant()))
        .order_by(Device.tenant_code, Device.code)
    ).all()
    return render_template("sorter/devices.html", devices=rows, secret=secret, unit=_unit())


def _device_form(form: Any) -> dict[str, Any]:
    details = []
    values: dict[str, Any] = {
        "code": (form.get("code") or "").strip(),
        "name": form.get("name", "").strip(),
        "model": (form.get("model") or "").strip(),
    }
    if not values["code"]:
        details.append({"field": "code", "message": _("required")})
    if not values["model"]:
        details.append({"field": "model", "message": _("required")})
    for field in ("chutes", "rated_per_hour"):
        try:
            values[field] = int(form.get(field, ""))
            if values[field] < 1:
                raise ValueError
        except ValueError:
            details.append({"field": field, "message": _("a positive whole number")})
    try:
        values["commissioned_on"] = dt.date.fromisoformat(form.get("commissioned_on", ""))
    except ValueError:
        details.append({"field": "commissioned_on", "message": _("a date (YYYY-MM-DD)")})
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
        new = []
        for n in range(1, 4):
            start, end = request.form.get(f"start{n}"), request.form.get(f"end{n}")
            if start and end:
                try:
                    new.append(Wave(n, dt.time.fromisoformat(start), dt.time.fromisoformat(end)))
                except ValueError as exc:
                    raise ValidationError(
                        _("Times are HH:MM."), details=[{"row": n, "field": "start"}]
                    ) from exc
        registry.replace_waves(s, unit.code, new)
        marked = registry.mark_wave_days(s, unit.code)
        s.commit()
        registry.start_recompute(unit.code, marked)
        flash(_("Waves saved."), "ok")
        return redirect(url_for("sorter.waves"))
    current = {w["number"]: w for w in registry.wave_list(s, context.tenant())}
    return render_template("sorter/waves.html", waves=current, unit=unit)


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
        Column("message", "说明", "Message"),
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
        Column("acknowledged_by", "确认人", "Acknowledged by", show=False),
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

        if request.form.get("action") == "webhook":
            check_permission("sorter.manage")
            url = (request.form.get("webhook_url") or "").strip() or None
            if url and not url.startswith(("http://", "https://")):
                raise ValidationError(
                    _("The webhook must be an http(s) URL."), details=[{"field": "webhook_url"}]
                )
            row = s.exec(
                select(UnitSetting).where(UnitSetting.tenant_code == context.tenant())
            ).first()
            before = {"webhook_url": row.webhook_url} if row else None
            row = row or UnitSetting(tenant_code=context.tenant())
            row.webhook_url = url
            s.add(row)
            audit.record(
                "sorter.settings.update",
                target_type="sorter_unit_setting",
                target_id=context.tenant(),
                before=before,
                after={"webhook_url": url},
            )
        else:
            check_permission("sorter.operate")
            target = AlertStatus(request.form["action"])
            alert_id = int(request.form["alert_id"])
            alert = s.get(Alert, alert_id)
            if alert is None or not context.current().scope.allows(alert.tenant_code):
                raise NotFound(f"no alert {alert_id}")
            before = alert.status
            alerting.move(s, alert_id, target, context.principal().name, utcnow())
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
    setting = s.exec(select(UnitSetting).where(UnitSetting.tenant_code == context.tenant())).first()
    return render_template("sorter/alerts.html", page=page, setting=setting)
