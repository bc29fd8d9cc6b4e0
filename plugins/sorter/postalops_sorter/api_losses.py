"""API of issue 20 §1, on the sorter's blueprint (``/api/v1/sorter``): downtime reasons and
stops, the loss Pareto, production calendars and OEE per shift, alarm rules, the alarm life
cycle beyond acknowledge/resolve (snooze, comments, timeline), the maintenance log and
reliability per device."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from postalops import audit, clock, context
from postalops.api import paginate, query_period, query_tenant
from postalops.db import in_scope_clause
from postalops.errors import NotFound, ValidationError
from pydantic import AwareDatetime, BaseModel, Field
from sqlmodel import select

from . import alerting, maintenance, reasons, registry, shifts
from .alerts import AlertKind, AlertStatus, Severity
from .api import TAGS, _move, _station, api, get_device
from .calendar import Shift, check_shifts
from .losses import Loss, by_loss
from .models import AlarmRule, Alert, CalendarEntry, Maintenance, Stop
from .models import Shift as ShiftRow
from .shifts import calendar_totals, shift_kpis

# --- reasons and stops ---------------------------------------------------------------------------


class ReasonIn(BaseModel):
    code: str = Field(min_length=1, max_length=30)
    name_zh: str = Field(min_length=1, max_length=60)
    name_en: str | None = Field(default=None, max_length=60)
    loss: Loss
    active: bool = True


def _reason_dict(e: reasons.CatalogueEntry) -> dict[str, Any]:
    return {
        "code": e.code,
        "name_zh": e.name_zh,
        "name_en": e.name_en,
        "loss": e.loss,
        "active": e.active,
        "builtin": e.builtin,
        "unit": e.unit,
        "inherited": e.inherited,
    }


@api.operation(
    "/reasons",
    permission="sorter.view",
    tags=TAGS,
    summary="The active unit's downtime reasons: built-in, inherited from the units above "
    "(`inherited`, `unit`) and its own, by big loss",
)
def get_reasons() -> Any:
    unit = context.tenant()
    cat = reasons.catalogue(context.session(), unit)
    return {"unit": unit, "reasons": [_reason_dict(e) for e in cat.values()]}


def write_reasons(unit: str, rows: list[dict[str, Any]]) -> None:
    """Shared by the API and the catalogue page: check, save, audit (not committed)."""
    s = context.session()
    before = [_reason_dict(e) for e in reasons.catalogue(s, unit).values() if e.unit == unit]
    reasons.save_reasons(s, unit, rows)
    audit.record(
        "sorter.reasons.save",
        target_type="sorter_reason",
        target_id=unit,
        tenant=unit,
        before=before,
        after=rows,
    )


@api.operation(
    "/reasons",
    methods=["PUT"],
    permission="sorter.manage",
    body=list[ReasonIn],
    tags=TAGS,
    summary="Add or change the active unit's own reasons (all rows or none); the units below "
    "inherit them, a station's own code overrides an inherited one",
)
def put_reasons(body: list[ReasonIn]) -> Any:
    write_reasons(context.tenant(), [r.model_dump(mode="json") for r in body])
    context.session().commit()
    return get_reasons()


def stop_dict(st: Stop) -> dict[str, Any]:
    return {
        "id": st.id,
        "device_id": st.device_id,
        "unit": st.tenant_code,
        "day": st.day.isoformat(),
        "started_at": st.started_at,
        "ended_at": st.ended_at,
        "minutes": (Decimal(st.duration_ms) / 60000).quantize(Decimal("0.1")),
        "state": st.state,
        "reason_code": st.reason_code,
        "loss": st.loss,
        "reason_by": st.reason_by,
        "maintenance_id": st.maintenance_id,
    }


class StopQuery(BaseModel):
    device_id: int | None = None
    reason_code: str | None = Field(default=None, max_length=30)
    loss: str | None = Field(default=None, max_length=20)


@api.operation(
    "/stops",
    permission="sorter.view",
    query=StopQuery,
    tags=TAGS,
    summary="Stops (jammed, fault, emergency stop) of the subtree over ?from=&to=, newest first",
)
def list_stops(query: StopQuery) -> Any:
    tenant = query_tenant()
    frm, to = query_period()
    stmt = select(Stop).where(
        Stop.day >= frm, Stop.day <= to, in_scope_clause(Stop.tenant_code, tenant)
    )
    if query.device_id is not None:
        stmt = stmt.where(Stop.device_id == query.device_id)
    if query.reason_code:
        stmt = stmt.where(Stop.reason_code == query.reason_code)
    if query.loss:
        stmt = stmt.where(Stop.loss == query.loss)
    return paginate(
        context.session(), stmt.order_by(Stop.started_at.desc(), Stop.id.desc()), stop_dict
    )


class StopPatch(BaseModel):
    reason_code: str = Field(min_length=1, max_length=30)


def set_stop_reason(stop_id: int, code: str) -> Stop:
    """Shared by the API and the losses page: check scope, assign, audit (not committed)."""
    s = context.session()
    stop = s.get(Stop, stop_id)
    if stop is None or not context.current().scope.allows(stop.tenant_code):
        raise NotFound(f"no stop {stop_id}", details=[{"field": "stop_id", "message": "unknown"}])
    before = {"reason_code": stop.reason_code, "loss": stop.loss}
    reasons.assign_reason(s, stop_id, code, context.principal().name)
    audit.record(
        "sorter.stop.reason",
        target_type="sorter_stop",
        target_id=stop_id,
        tenant=stop.tenant_code,
        before=before,
        after={"reason_code": stop.reason_code, "loss": stop.loss},
    )
    return stop


@api.operation(
    "/stops/<int:stop_id>",
    methods=["PATCH"],
    permission="sorter.operate",
    body=StopPatch,
    tags=TAGS,
    summary="Assign or correct the reason of a past stop (the Pareto follows at once)",
)
def patch_stop(stop_id: int, body: StopPatch) -> Any:
    stop = set_stop_reason(stop_id, body.reason_code)
    context.session().commit()
    return stop_dict(stop)


class ParetoQuery(BaseModel):
    device_id: int | None = None


def pareto_json(tenant: str, frm: dt.date, to: dt.date, device_id: int | None) -> dict[str, Any]:
    rows = reasons.pareto_for(context.session(), tenant, frm, to, device_id)
    return {
        "tenant": tenant,
        "device_id": device_id,
        "from": frm.isoformat(),
        "to": to.isoformat(),
        "rows": [
            {
                "key": r.key,
                "loss": r.loss,
                "minutes": r.minutes,
                "stops": r.stops,
                "share": r.share,
                "cumulative": r.cumulative,
            }
            for r in rows
        ],
        "by_loss": by_loss(rows),
        "total_minutes": sum((r.minutes for r in rows), Decimal("0.0")),
    }


@api.operation(
    "/pareto",
    permission="sorter.view",
    query=ParetoQuery,
    tags=TAGS,
    summary="Loss Pareto of a device (?device_id=), station, city or province (?tenant=)",
)
def get_pareto(query: ParetoQuery) -> Any:
    tenant = query_tenant()
    if query.device_id is not None:
        tenant = get_device(query.device_id).tenant_code if tenant == context.tenant() else tenant
    frm, to = query_period()
    return pareto_json(tenant, frm, to, query.device_id)


# --- calendar and OEE per shift ---------------------------------------------------------------


class ShiftIn(BaseModel):
    number: int = Field(ge=1, le=9)
    name: str = Field(default="", max_length=40)
    start: dt.time
    end: dt.time = Field(
        description="local time; at or before start: a night shift ending on the next day "
        "(22:00-06:00), counted on the day it starts; equal to start is refused"
    )
    weekdays: str = Field(
        default="1234567", max_length=7, description="ISO weekdays (1 = Mon) the shift starts on"
    )


class EntryIn(BaseModel):
    kind: str = Field(pattern="^(holiday|maintenance)$")
    day: dt.date | None = None
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    note: str = Field(default="", max_length=200)


def calendar_json(station: str) -> dict[str, Any]:
    s = context.session()
    rows = s.exec(
        select(ShiftRow).where(ShiftRow.tenant_code == station).order_by(ShiftRow.start)
    ).all()
    entries = s.exec(
        select(CalendarEntry)
        .where(CalendarEntry.tenant_code == station)
        .order_by(CalendarEntry.day.desc(), CalendarEntry.id.desc())
        .limit(200)
    ).all()
    return {
        "unit": station,
        "shifts": [
            {
                "number": r.number,
                "name": r.name,
                "start": r.start.isoformat("minutes"),
                "end": r.end.isoformat("minutes"),
                "weekdays": r.weekdays,
                # ends on the next day (22:00-06:00): the shift of the day it starts on
                "overnight": r.end <= r.start,
            }
            for r in rows
        ],
        "entries": [
            {
                "id": e.id,
                "kind": e.kind,
                "day": e.day.isoformat(),
                "starts_at": e.starts_at,
                "ends_at": e.ends_at,
                "note": e.note,
            }
            for e in entries
        ],
    }


@api.operation(
    "/calendar", permission="sorter.view", tags=TAGS, summary="The active station's calendar"
)
def get_calendar() -> Any:
    return calendar_json(_station())


def save_shifts(station: str, shift_list: list[Shift]) -> dict[str, Any]:
    """Validate, replace, audit and mark the station's days for recompute (shift buckets)."""
    s = context.session()
    ordered = check_shifts(shift_list)
    before = calendar_json(station)["shifts"]
    shifts.replace_shifts(s, station, ordered)
    audit.record(
        "sorter.shifts.replace",
        target_type="sorter_shift",
        target_id=station,
        tenant=station,
        before=before,
        after=[
            {"number": x.number, "start": str(x.start), "end": str(x.end), "weekdays": x.weekdays}
            for x in ordered
        ],
    )
    return {"marked": registry.mark_wave_days(s, station)}


@api.operation(
    "/calendar/shifts",
    methods=["PUT"],
    permission="sorter.manage",
    body=list[ShiftIn],
    tags=TAGS,
    summary="Replace the active station's shifts; its days are rolled up again (job id)",
)
def put_shifts(body: list[ShiftIn]) -> Any:
    station = _station()
    out = save_shifts(station, [Shift(b.number, b.name, b.start, b.end, b.weekdays) for b in body])
    context.session().commit()
    return calendar_json(station) | {"recompute": registry.start_recompute(station, out["marked"])}


@api.operation(
    "/calendar/entries",
    methods=["POST"],
    permission="sorter.manage",
    body=EntryIn,
    tags=TAGS,
    status=201,
    summary="Add a holiday (day) or a planned maintenance window (starts_at, ends_at)",
)
def post_entry(body: EntryIn) -> Any:
    station = _station()
    s = context.session()
    row = shifts.add_entry(
        s,
        station,
        body.kind,
        day=body.day,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        note=body.note,
    )
    audit.record(
        "sorter.calendar.add",
        target_type="sorter_calendar_entry",
        target_id=row.id,
        tenant=station,
        after=body.model_dump(mode="json"),
    )
    s.commit()
    return {"id": row.id, "kind": row.kind, "day": row.day.isoformat()}


def remove_entry(entry_id: int) -> None:
    s = context.session()
    row = s.get(CalendarEntry, entry_id)
    if row is None or not context.current().scope.allows(row.tenant_code):
        raise NotFound(
            f"no calendar entry {entry_id}", details=[{"field": "entry_id", "message": "unknown"}]
        )
    audit.record(
        "sorter.calendar.delete",
        target_type="sorter_calendar_entry",
        target_id=entry_id,
        tenant=row.tenant_code,
        before={"kind": row.kind, "day": row.day.isoformat(), "note": row.note},
    )
    shifts.delete_entry(s, entry_id)


@api.operation(
    "/calendar/entries/<int:entry_id>",
    methods=["DELETE"],
    permission="sorter.manage",
    tags=TAGS,
    summary="Remove a holiday or planned maintenance window",
)
def delete_entry(entry_id: int) -> Any:
    remove_entry(entry_id)
    context.session().commit()
    return {"deleted": entry_id}


class ShiftQuery(BaseModel):
    device_id: int | None = None


def shift_oee_json(
    tenant: str, frm: dt.date, to: dt.date, device_id: int | None = None
) -> dict[str, Any]:
    results = shifts.shift_results(
        context.session(), tenant, frm, to, clock.now().astimezone(dt.UTC), device_id
    )
    planned, totals = calendar_totals(results)
    return {
        "tenant": tenant,
        "from": frm.isoformat(),
        "to": to.isoformat(),
        "rows": [
            {
                "unit": r.station,
                "device_id": r.device_id,
                "day": r.day.isoformat(),
                "shift": r.shift,
                **r.kpis(),
            }
            for r in results
        ],
        "total": shift_kpis(planned, totals),
    }


@api.operation(
    "/shifts/oee",
    permission="sorter.view",
    query=ShiftQuery,
    tags=TAGS,
    summary="Availability under the calendar and OEE per device, day and shift",
)
def get_shift_oee(query: ShiftQuery) -> Any:
    tenant = query_tenant()
    frm, to = query_period(default_days=7)
    return shift_oee_json(tenant, frm, to, query.device_id)


# --- alarm rules and the alarm life cycle -------------------------------------------------------


class RuleIn(BaseModel):
    kind: AlertKind
    enabled: bool = True
    severity: Severity = Severity.WARNING
    threshold: Decimal | None = Field(
        default=None,
        ge=0,
        description="items/h (low_throughput), jams (jam_spike), OEE target 0..1 "
        "(oee_below_target); unused for silent",
    )
    minutes: int | None = Field(default=None, ge=1, le=1440)
    escalate_after_minutes: int | None = Field(default=None, ge=1, le=1440)
    escalate_to: str | None = Field(default=None, max_length=120)


def rule_dict(r: Any, unit: str | None = None) -> dict[str, Any]:
    return {
        "unit": unit or getattr(r, "unit_code", None),
        "kind": str(r.kind),
        "enabled": r.enabled,
        "severity": str(r.severity),
        "threshold": r.threshold,
        "minutes": r.minutes,
        "escalate_after_minutes": r.escalate_after_minutes,
        "escalate_to": r.escalate_to,
    }


@api.operation(
    "/alarm-rules",
    permission="sorter.view",
    tags=TAGS,
    summary="The active unit's own alarm rules and the rules in force there (nearest unit wins)",
)
def get_rules() -> Any:
    unit = context.tenant()
    s = context.session()
    own = s.exec(select(AlarmRule).where(AlarmRule.unit_code == unit)).all()
    return {
        "unit": unit,
        "rules": [rule_dict(r) for r in own],
        "effective": [rule_dict(r, unit) for r in alerting.unit_rules(s, unit).values()],
    }


def save_rules(unit: str, body: list[RuleIn]) -> None:
    s = context.session()
    kinds = [r.kind for r in body]
    details = [
        {"row": i, "field": "kind", "message": "given twice"}
        for i, k in enumerate(kinds)
        if kinds.count(k) > 1
    ]
    for i, r in enumerate(body):
        if r.kind is AlertKind.OEE_BELOW_TARGET and r.threshold is not None and r.threshold > 1:
            details.append({"row": i, "field": "threshold", "message": "an OEE target is 0..1"})
        if r.escalate_after_minutes and not (r.escalate_to or "").strip():
            details.append({"row": i, "field": "escalate_to", "message": "name the second contact"})
    if details:
        raise ValidationError("invalid alarm rules", code="invalid_alarm_rules", details=details)
    before = [rule_dict(r) for r in s.exec(select(AlarmRule).where(AlarmRule.unit_code == unit))]
    for r in body:
        row = s.exec(
            select(AlarmRule).where(AlarmRule.unit_code == unit, AlarmRule.kind == r.kind.value)
        ).first() or AlarmRule(unit_code=unit, kind=r.kind.value)
        row.enabled, row.severity = r.enabled, r.severity.value
        row.threshold, row.minutes = r.threshold, r.minutes
        row.escalate_after_minutes = r.escalate_after_minutes
        row.escalate_to = (r.escalate_to or "").strip() or None
        s.add(row)
    s.flush()
    audit.record(
        "sorter.alarm_rules.save",
        target_type="sorter_alarm_rule",
        target_id=unit,
        tenant=unit,
        before=before,
        after=[r.model_dump(mode="json") for r in body],
    )


@api.operation(
    "/alarm-rules",
    methods=["PUT"],
    permission="sorter.manage",
    body=list[RuleIn],
    tags=TAGS,
    summary="Set the active unit's alarm rules (kinds not given keep their rule)",
)
def put_rules(body: list[RuleIn]) -> Any:
    save_rules(context.tenant(), body)
    context.session().commit()
    return get_rules()


class SnoozeIn(BaseModel):
    minutes: int = Field(ge=1, le=1440)
    comment: str = Field(default="", max_length=1000)


@api.operation(
    "/alerts/<int:alert_id>/snooze",
    methods=["POST"],
    permission="sorter.operate",
    body=SnoozeIn,
    tags=TAGS,
    summary="Snooze an open or escalated alert for N minutes (no escalation meanwhile)",
)
def snooze_alert(alert_id: int, body: SnoozeIn) -> Any:
    return _move(alert_id, AlertStatus.SNOOZED, snooze_minutes=body.minutes, comment=body.comment)


class CommentIn(BaseModel):
    text: str = Field(min_length=1, max_length=1000)


def _alert_in_scope(alert_id: int) -> Alert:
    a = context.session().get(Alert, alert_id)
    if a is None or not context.current().scope.allows(a.tenant_code):
        raise NotFound(
            f"no alert {alert_id}", details=[{"field": "alert_id", "message": "unknown"}]
        )
    return a


def timeline_json(alert_id: int) -> list[dict[str, Any]]:
    return [
        {"at": e.at, "who": e.who, "action": e.action, "note": e.note}
        for e in alerting.timeline(context.session(), alert_id)
    ]


@api.operation(
    "/alerts/<int:alert_id>/comments",
    methods=["POST"],
    permission="sorter.operate",
    body=CommentIn,
    tags=TAGS,
    status=201,
    summary="Comment on an alert (its timeline)",
)
def comment_alert(alert_id: int, body: CommentIn) -> Any:
    _alert_in_scope(alert_id)
    alerting.comment(
        context.session(),
        alert_id,
        context.principal().name,
        body.text,
        clock.now().astimezone(dt.UTC),
    )
    context.session().commit()
    return {"alert_id": alert_id, "timeline": timeline_json(alert_id)}


@api.operation(
    "/alerts/<int:alert_id>/timeline",
    permission="sorter.view",
    tags=TAGS,
    summary="Who did what to an alert, oldest first",
)
def alert_timeline(alert_id: int) -> Any:
    _alert_in_scope(alert_id)
    return {"alert_id": alert_id, "timeline": timeline_json(alert_id)}


# --- maintenance -------------------------------------------------------------------------------


class MaintenanceIn(BaseModel):
    device_id: int
    kind: str = Field(pattern="^(planned|corrective)$")
    started_at: AwareDatetime
    duration_minutes: int = Field(ge=1, le=10080)
    parts: str = Field(default="", max_length=300)
    note: str = Field(default="", max_length=500)
    stop_ids: list[int] = Field(default_factory=list, max_length=200)


def maintenance_dict(m: Maintenance) -> dict[str, Any]:
    return {
        "id": m.id,
        "device_id": m.device_id,
        "unit": m.tenant_code,
        "kind": m.kind,
        "started_at": m.started_at,
        "duration_minutes": m.duration_minutes,
        "parts": m.parts,
        "note": m.note,
        "done_by": m.done_by,
    }


def write_maintenance(body: MaintenanceIn) -> Maintenance:
    s = context.session()
    device = get_device(body.device_id)
    row = maintenance.log_maintenance(
        s,
        device,
        kind=body.kind,
        started_at=body.started_at,
        duration_minutes=body.duration_minutes,
        parts=body.parts,
        note=body.note,
        who=context.principal().name,
        stop_ids=body.stop_ids,
    )
    audit.record(
        "sorter.maintenance.log",
        target_type="sorter_maintenance",
        target_id=row.id,
        tenant=device.tenant_code,
        after=body.model_dump(mode="json"),
    )
    return row


@api.operation(
    "/maintenance",
    methods=["POST"],
    permission="sorter.operate",
    body=MaintenanceIn,
    tags=TAGS,
    status=201,
    summary="Log maintenance of a device and link the stops it explains",
)
def post_maintenance(body: MaintenanceIn) -> Any:
    row = write_maintenance(body)
    context.session().commit()
    return maintenance_dict(row) | {"stop_ids": body.stop_ids}


@api.operation(
    "/maintenance", permission="sorter.view", tags=TAGS, summary="Maintenance log of the subtree"
)
def list_maintenance() -> Any:
    tenant = query_tenant()
    frm, to = query_period(default_days=90)
    from .timeline import LOCAL_TZ

    start = dt.datetime.combine(frm, dt.time(), tzinfo=LOCAL_TZ)
    end = dt.datetime.combine(to + dt.timedelta(days=1), dt.time(), tzinfo=LOCAL_TZ)
    stmt = select(Maintenance).where(
        in_scope_clause(Maintenance.tenant_code, tenant),
        Maintenance.started_at >= start,
        Maintenance.started_at < end,
    )
    return paginate(
        context.session(), stmt.order_by(Maintenance.started_at.desc()), maintenance_dict
    )


@api.operation(
    "/reliability",
    permission="sorter.view",
    tags=TAGS,
    summary="MTBF and MTTR per device over ?from=&to= (local days), with maintenance minutes",
)
def get_reliability() -> Any:
    tenant = query_tenant()
    frm, to = query_period()
    return {
        "tenant": tenant,
        "from": frm.isoformat(),
        "to": to.isoformat(),
        "rows": maintenance.reliability(context.session(), tenant, frm, to),
    }
