"""Portal pages of issue 20 §1 under ``/p/sorter/``: losses (Pareto and stops, with reason
correction), the station's production calendar with OEE per shift, an alert's timeline,
alarm rules, and the maintenance log with MTBF / MTTR per device. Forms post back here and go
through the same functions as the API."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from postalops import clock, context, ui
from postalops.api import query_period
from postalops.auth import check_permission, require_permission
from postalops.db import in_scope_clause
from postalops.errors import NotFound, ValidationError
from postalops.listing import Column, Listing
from postalops.models import OrgUnit
from pydantic import ValidationError as PydanticError
from sqlmodel import select

from . import alerting, maintenance, reasons
from .alerts import AlertKind, message_in
from .api_losses import (
    MaintenanceIn,
    RuleIn,
    calendar_json,
    pareto_json,
    remove_entry,
    save_rules,
    save_shifts,
    set_stop_reason,
    shift_oee_json,
    write_maintenance,
)
from .calendar import Shift
from .losses import DEFAULT_REASONS, Loss
from .models import Alert, Device, Maintenance, Stop
from .models import Shift as ShiftRow
from .views import bp

WEEKDAYS = "1234567"


def _unit() -> OrgUnit | None:
    return context.session().exec(select(OrgUnit).where(OrgUnit.code == context.tenant())).first()


def _is_station() -> bool:
    unit = _unit()
    return unit is not None and unit.level == "station"


def _devices() -> list[Device]:
    return list(
        context.session()
        .exec(
            select(Device)
            .where(in_scope_clause(Device.tenant_code, context.tenant()))
            .order_by(Device.tenant_code, Device.code)
        )
        .all()
    )


def station_catalogue(station: str) -> dict[str, reasons.CatalogueEntry]:
    """The station's catalogue (built-in, inherited, own), read once per request."""
    cache = g.setdefault("sorter_catalogues", {})
    if station not in cache:
        cache[station] = reasons.catalogue(context.session(), station)
    return cache[station]


def _reason_name(row: Any) -> str:
    """The stop's reason in the reader's language: the name its station's catalogue gives it
    (its own, or inherited from the city or province), else the built-in one, else the code (a
    reason since removed from the catalogue)."""
    stop = row[0]
    entry = station_catalogue(stop.tenant_code).get(stop.reason_code)
    if entry is not None:
        zh, en = entry.name_zh, entry.name_en
    else:
        zh, en, _loss = DEFAULT_REASONS.get(stop.reason_code, (stop.reason_code,) * 3)
    return zh if ui.locale() == "zh" else en


STOPS = Listing(
    select(Stop, Device.code.label("device")).join(Device, Device.id == Stop.device_id),
    [
        Column(
            "started_at",
            "开始",
            "Started",
            kind="datetime",
            sortable=True,
            expr=Stop.started_at,
            value=lambda r: r[0].started_at,
        ),
        Column(
            "tenant_code",
            "网点",
            "Station",
            kind="unit",
            filter="unit",
            expr=Stop.tenant_code,
            value=lambda r: r[0].tenant_code,
        ),
        Column("device", "设备", "Device", filter="text", expr=Device.code, value=lambda r: r[1]),
        Column(
            "minutes",
            "时长(分)",
            "Minutes",
            kind="number",
            sortable=True,
            expr=Stop.duration_ms,
            value=lambda r: round(r[0].duration_ms / 60000, 1),
        ),
        Column(
            "state",
            "停机状态",
            "State",
            kind="status",
            domain="sorter.state",
            expr=Stop.state,
            value=lambda r: r[0].state,
        ),
        Column(
            "reason_code",
            "原因",
            "Reason",
            filter="text",
            expr=Stop.reason_code,
            value=_reason_name,
        ),
        Column(
            "loss",
            "损失类别",
            "Loss",
            kind="status",
            domain="sorter.loss",
            filter="choice",
            choices=[
                "breakdown",
                "setup",
                "small_stops",
                "startup_rejects",
                "unassigned",
            ],
            expr=Stop.loss,
            value=lambda r: r[0].loss,
        ),
        Column(
            "reason_by",
            "归因人",
            "Assigned by",
            expr=Stop.reason_by,
            value=lambda r: r[0].reason_by or "—",
        ),
    ],
    default_sort="-started_at",
    tiebreak=(Stop.id,),
    filename="sorter-stops",
    prefix="s_",
)


@bp.route("/losses", methods=["GET", "POST"])
@require_permission("sorter.view")
def losses() -> Any:
    """The loss Pareto of the active unit (or one device) and its stops; a station head
    corrects a stop's reason here."""
    s = context.session()
    if request.method == "POST":
        check_permission("sorter.operate")
        try:
            set_stop_reason(int(request.form["stop_id"]), request.form.get("reason_code", ""))
        except ValidationError:
            flash(_("That reason is not in the station's catalogue."), "danger")
            s.rollback()
            return redirect(request.full_path if request.referrer is None else request.referrer)
        s.commit()
        flash(_("Reason saved; the Pareto follows."), "success")
        return redirect(request.referrer or url_for("sorter.losses"))
    frm, to = query_period(default_days=30)
    device_id = request.args.get("device_id", type=int)
    data = pareto_json(context.tenant(), frm, to, device_id)
    cats = {}
    for d in _devices():
        if d.tenant_code not in cats:
            cats[d.tenant_code] = station_catalogue(d.tenant_code)
    stmt_page = STOPS.run(s, request.args)
    if stmt_page.export:
        return stmt_page.export_response()
    names = {}
    for cat in cats.values():
        for code, e in cat.items():
            names.setdefault(code, e.name_zh if ui.locale() == "zh" else e.name_en)
    return render_template(
        "sorter/losses.html",
        data=data,
        date_from=frm,
        date_to=to,
        device_id=device_id,
        devices=_devices(),
        stops=stmt_page,
        catalogues=cats,
        names=names,
    )


def shift_window(start: dt.time | str, end: dt.time | str) -> str:
    """``08:00–12:00``, or for a night shift ``22:00–次日06:00`` (en: ``22:00–06:00 next day``)."""
    a = start if isinstance(start, str) else start.isoformat("minutes")
    b = end if isinstance(end, str) else end.isoformat("minutes")
    if b <= a:
        return _("%(start)s–%(end)s next day", start=a, end=b)
    return f"{a}–{b}"


@bp.route("/calendar", methods=["GET", "POST"])
@require_permission("sorter.view")
def calendar_page() -> Any:
    """A station's shifts, holidays and planned maintenance; OEE per shift for the period."""
    s = context.session()
    errors: dict[str, str] = {}
    form: dict[str, str] = {}
    status = 200
    station = context.tenant() if _is_station() else None
    if request.method == "POST" and station:
        check_permission("sorter.manage")
        action = request.form.get("action")
        form = request.form.to_dict()
        try:
            if action == "shifts":
                shift_list = []
                for n in (1, 2, 3):
                    start, end = form.get(f"start{n}", ""), form.get(f"end{n}", "")
                    if not start and not end:
                        continue
                    try:
                        st, en = dt.time.fromisoformat(start), dt.time.fromisoformat(end)
                    except ValueError:
                        errors[f"start{n}"] = _("Enter times as HH:MM.")
                        continue
                    days = "".join(d for d in WEEKDAYS if form.get(f"wd{n}_{d}"))
                    shift_list.append(Shift(n, form.get(f"name{n}", ""), st, en, days))
                if not errors:
                    out = save_shifts(station, shift_list)
                    s.commit()
                    from .registry import start_recompute

                    start_recompute(station, out["marked"])
                    flash(_("Shifts saved; their days are being rolled up again."), "success")
                    return redirect(url_for("sorter.calendar_page"))
            elif action == "entry":
                from .shifts import add_entry

                kind = form.get("kind", "holiday")
                day = dt.date.fromisoformat(form["day"]) if form.get("day") else None
                starts = ends = None
                if kind == "maintenance":
                    from .timeline import LOCAL_TZ

                    if day and form.get("from_time") and form.get("to_time"):
                        starts = dt.datetime.combine(
                            day, dt.time.fromisoformat(form["from_time"]), LOCAL_TZ
                        )
                        ends = dt.datetime.combine(
                            day, dt.time.fromisoformat(form["to_time"]), LOCAL_TZ
                        )
                add_entry(
                    s,
                    station,
                    kind,
                    day=day,
                    starts_at=starts,
                    ends_at=ends,
                    note=form.get("note", "")[:200],
                )
                s.commit()
                flash(_("Calendar entry added."), "success")
                return redirect(url_for("sorter.calendar_page"))
            elif action == "delete":
                page = ui.confirm_first(
                    _("The entry will be removed; planned time of its day changes."), _("Remove")
                )
                if page is not None:
                    return page
                remove_entry(int(form["entry_id"]))
                s.commit()
                flash(_("Calendar entry removed."), "success")
                return redirect(url_for("sorter.calendar_page"))
        except ValidationError as exc:
            s.rollback()
            errors.update(ui.field_errors(exc.details))
        except ValueError:
            s.rollback()
            errors["day"] = _("Enter a date and times.")
        status = 422 if errors else 200
    frm, to = query_period(default_days=7)
    return (
        render_template(
            "sorter/calendar.html",
            cal=calendar_json(station) if station else None,
            oee=shift_oee_json(context.tenant(), frm, to),
            devices={d.id: d for d in _devices()},
            shift_names={
                (sh.tenant_code, sh.number): " ".join(
                    (sh.name or _("Shift %(n)s", n=sh.number), shift_window(sh.start, sh.end))
                )
                for sh in s.exec(
                    select(ShiftRow).where(in_scope_clause(ShiftRow.tenant_code, context.tenant()))
                ).all()
            },
            shift_window=shift_window,
            date_from=frm,
            date_to=to,
            errors=errors,
            form=form,
            weekdays=WEEKDAYS,
        ),
        status,
    )


@bp.route("/alerts/<int:alert_id>", methods=["GET", "POST"])
@require_permission("sorter.view")
def alert_page(alert_id: int) -> Any:
    """One alert: its state, severity, escalation, and the timeline of who did what; a comment
    form for those who handle alerts."""
    s = context.session()
    alert = s.get(Alert, alert_id)
    if alert is None or not context.current().scope.allows(alert.tenant_code):
        raise NotFound(f"no alert {alert_id}")
    errors = {}
    if request.method == "POST":
        check_permission("sorter.operate")
        try:
            alerting.comment(
                s,
                alert_id,
                context.principal().name,
                request.form.get("text", ""),
                clock.now().astimezone(dt.UTC),
            )
            s.commit()
            return redirect(url_for("sorter.alert_page", alert_id=alert_id))
        except ValidationError as exc:
            s.rollback()
            errors = ui.field_errors(exc.details)
    device = s.get(Device, alert.device_id)
    return (
        render_template(
            "sorter/alert.html",
            alert=alert,
            device=device,
            message=message_in(alert.message, ui.locale()),
            timeline=alerting.timeline(s, alert_id),
            system_note=lambda note: message_in(note, ui.locale()),
            errors=errors,
        ),
        422 if errors else 200,
    )


@bp.route("/alarm-rules", methods=["GET", "POST"])
@require_permission("sorter.view")
def alarm_rules() -> Any:
    """The active unit's alarm rules, one row per kind; the units below inherit them."""
    s = context.session()
    errors: dict[str, str] = {}
    if request.method == "POST":
        check_permission("sorter.manage")
        body = []
        try:
            for kind in AlertKind:
                k = kind.value
                body.append(
                    RuleIn(
                        kind=kind,
                        enabled=bool(request.form.get(f"{k}_enabled")),
                        severity=request.form.get(f"{k}_severity") or "warning",
                        threshold=request.form.get(f"{k}_threshold") or None,
                        minutes=request.form.get(f"{k}_minutes") or None,
                        escalate_after_minutes=request.form.get(f"{k}_escalate") or None,
                        escalate_to=request.form.get(f"{k}_contact") or None,
                    )
                )
            save_rules(context.tenant(), body)
            s.commit()
            flash(_("Alarm rules saved."), "success")
            return redirect(url_for("sorter.alarm_rules"))
        except PydanticError as exc:
            s.rollback()
            for e in exc.errors():
                errors[str(e["loc"][-1])] = _("Check this value.")
        except ValidationError as exc:
            s.rollback()
            for d in exc.details or []:
                kind = list(AlertKind)[d.get("row", 0)].value if "row" in d else ""
                errors[f"{kind}_{d['field']}"] = d.get("message", "")
    rules = alerting.unit_rules(s, context.tenant())
    return (
        render_template(
            "sorter/alarm_rules.html", rules=rules, errors=errors, kinds=list(AlertKind)
        ),
        422 if errors else 200,
    )


MAINTENANCE = Listing(
    select(Maintenance, Device.code.label("device")).join(
        Device, Device.id == Maintenance.device_id
    ),
    [
        Column(
            "started_at",
            "开始",
            "Started",
            kind="datetime",
            sortable=True,
            filter="date_range",
            expr=Maintenance.started_at,
            value=lambda r: r[0].started_at,
        ),
        Column("device", "设备", "Device", filter="text", expr=Device.code, value=lambda r: r[1]),
        Column(
            "kind",
            "类型",
            "Kind",
            kind="status",
            domain="sorter.maintenance",
            filter="choice",
            choices=["planned", "corrective"],
            expr=Maintenance.kind,
            value=lambda r: r[0].kind,
        ),
        Column(
            "duration_minutes",
            "时长(分)",
            "Minutes",
            kind="count",
            sortable=True,
            expr=Maintenance.duration_minutes,
            value=lambda r: r[0].duration_minutes,
        ),
        Column("parts", "更换部件", "Parts", expr=Maintenance.parts, value=lambda r: r[0].parts),
        Column("note", "说明", "Note", expr=Maintenance.note, value=lambda r: r[0].note),
        Column("done_by", "记录人", "By", expr=Maintenance.done_by, value=lambda r: r[0].done_by),
    ],
    default_sort="-started_at",
    tiebreak=(Maintenance.id,),
    filename="sorter-maintenance",
    prefix="m_",
)


@bp.route("/maintenance", methods=["GET", "POST"])
@require_permission("sorter.view")
def maintenance_page() -> Any:
    """The maintenance log, a form to log work (linked to stops), MTBF / MTTR per device."""
    s = context.session()
    errors: dict[str, str] = {}
    form: dict[str, str] = {}
    if request.method == "POST":
        check_permission("sorter.operate")
        form = request.form.to_dict()
        try:
            from .timeline import LOCAL_TZ

            start = dt.datetime.fromisoformat(form.get("started_at", "")).replace(tzinfo=LOCAL_TZ)
            stop_ids = [
                int(x) for x in form.get("stop_ids", "").replace("，", ",").split(",") if x.strip()
            ]
            body = MaintenanceIn(
                device_id=int(form.get("device_id") or 0),
                kind=form.get("kind", ""),
                started_at=start,
                duration_minutes=int(form.get("duration_minutes") or 0),
                parts=form.get("parts", ""),
                note=form.get("note", ""),
                stop_ids=stop_ids,
            )
            write_maintenance(body)
            s.commit()
            flash(_("Maintenance logged."), "success")
            return redirect(url_for("sorter.maintenance_page"))
        except PydanticError as exc:
            s.rollback()
            for e in exc.errors():
                errors[str(e["loc"][0])] = _("Check this value.")
        except (ValidationError, NotFound) as exc:
            s.rollback()
            for d in exc.details or []:
                errors[str(d.get("field", "")).split("[")[0]] = d.get("message", "")
        except ValueError:
            s.rollback()
            errors["started_at"] = _("Enter a date and time.")
    frm, to = query_period(default_days=30)
    page = MAINTENANCE.run(s, request.args)
    if page.export:
        return page.export_response()
    return (
        render_template(
            "sorter/maintenance.html",
            page=page,
            rows=maintenance.reliability(s, context.tenant(), frm, to),
            devices=_devices(),
            date_from=frm,
            date_to=to,
            errors=errors,
            form=form,
        ),
        422 if errors else 200,
    )


@bp.route("/reasons", methods=["GET", "POST"])
@require_permission("sorter.view")
def reasons_page() -> Any:
    """The active unit's reason catalogue: built-in reasons, those inherited from the units
    above (marked, read-only here) and the unit's own, which those who manage it add or change
    (a code inherited from above is overridden for this unit and below)."""
    from .api_losses import ReasonIn, write_reasons

    s = context.session()
    unit = context.tenant()
    errors: dict[str, str] = {}
    form: dict[str, str] = {}
    if request.method == "POST":
        check_permission("sorter.manage")
        form = request.form.to_dict()
        try:
            body = ReasonIn(
                code=form.get("code", "").strip(),
                name_zh=form.get("name_zh", "").strip(),
                name_en=form.get("name_en", "").strip() or None,
                loss=form.get("loss", ""),
                active=bool(form.get("active")),
            )
            write_reasons(unit, [body.model_dump(mode="json")])
            s.commit()
            flash(_("Reason saved; the stations below use it."), "success")
            return redirect(url_for("sorter.reasons_page"))
        except PydanticError as exc:
            s.rollback()
            for e in exc.errors():
                errors[str(e["loc"][0])] = _("Check this value.")
        except ValidationError as exc:
            s.rollback()
            for d in exc.details or []:
                errors[str(d.get("field", ""))] = d.get("message", "")
    cat = reasons.catalogue(s, unit)
    edit = form.get("code") or request.args.get("edit", "")
    current = cat.get(edit) if edit else None
    return (
        render_template(
            "sorter/reasons.html",
            unit=unit,
            entries=sorted(cat.values(), key=lambda e: (e.builtin, e.inherited, e.loss, e.code)),
            loss_options=[(x.value, ui.status_label(x.value, "sorter.loss")[0]) for x in Loss],
            errors=errors,
            form=form,
            current=current if current is not None and current.unit == unit else None,
        ),
        422 if errors else 200,
    )
