"""The sorter's HTTP API, mounted at ``/api/v1/sorter``.

Machines post telemetry with their own token; people manage devices, waves, the departure log,
alerts and webhooks, and read live data, rollups and unit tables. Errors follow the core format
and name the field or row; a rejected request changes nothing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from flask import current_app, request
from postalops import audit, clock, context, webhooks
from postalops.api import ApiBlueprint, paginate, query_period, query_tenant
from postalops.db import in_scope_clause, utcnow
from postalops.errors import Forbidden, NotFound, ValidationError
from postalops.imports import check_rows, read_upload, row_report
from postalops.models import OrgUnit
from pydantic import AwareDatetime, BaseModel, Field, HttpUrl
from sqlmodel import select

from . import alerting, live, registry
from .alerts import AlertRules, AlertStatus
from .events import decode_payload
from .ingest import ingest
from .models import Alert, Departure, Device, Rollup
from .timeline import LOCAL_TZ
from .waves import Wave

api = ApiBlueprint("sorter_api", __name__)

TAGS = ["sorter"]


# --- request and response bodies ---------------------------------------------------------------


class EventIn(BaseModel):
    """One telemetry event (documentation of the batch format; validated event by event)."""

    seq: int = Field(ge=0, description="per-device sequence number; (device, seq) is unique")
    ts: str = Field(description="ISO 8601 time with UTC offset, e.g. 2020-10-05T08:01:02.345+08:00")
    type: str = Field(description="item | state | heartbeat")
    barcode: str | None = Field(default=None, max_length=64)
    chute: int | None = Field(default=None, ge=0, description="0 = reject chute")
    result: str | None = Field(
        default=None, description="sorted | rejected | no_read | recirculated"
    )
    state: str | None = Field(
        default=None, description="running | idle | jammed | fault | emergency_stop | planned_stop"
    )


class IngestOut(BaseModel):
    received: int
    accepted: int
    duplicates: int
    rejected: list[dict[str, Any]]


class DeviceRow(BaseModel):
    """One row of a device import (CSV / XLSX / JSON)."""

    unit: str = Field(description="station unit code, e.g. cn.henan.zhengzhou.jinshui")
    code: str = Field(min_length=1, max_length=60)
    name: str | None = Field(default=None, max_length=100, description="empty cell = no name")
    model: str = Field(min_length=1, max_length=60)
    chutes: int = Field(ge=1, le=500)
    commissioned_on: dt.date
    rated_per_hour: int = Field(ge=1, le=100_000)


class DevicePatch(BaseModel):
    name: str | None = Field(default=None, max_length=100)
    model: str | None = Field(default=None, max_length=60)
    chutes: int | None = Field(default=None, ge=1, le=500)
    commissioned_on: dt.date | None = None
    rated_per_hour: int | None = Field(default=None, ge=1, le=100_000)
    active: bool | None = None
    min_items_per_hour: int | None = Field(default=None, ge=1)
    low_minutes: int | None = Field(default=None, ge=1, le=1440)
    silent_minutes: int | None = Field(default=None, ge=1, le=1440)
    jam_window_minutes: int | None = Field(default=None, ge=1, le=1440)
    jam_max: int | None = Field(default=None, ge=1)


class WaveIn(BaseModel):
    number: int = Field(ge=1, le=9, description="1 = 一频")
    start: dt.time
    end: dt.time


class DepartureRow(BaseModel):
    """One row of the manual departure log (before commissioning)."""

    unit: str | None = Field(default=None, description="station; defaults to the active unit")
    day: dt.date
    wave: int = Field(ge=1, le=9)
    departed_at: dt.time = Field(description="local time couriers left, HH:MM[:SS]")


class SettingsIn(BaseModel):
    webhook_url: HttpUrl | None = None


def get_device(device_id: int) -> Device:
    device = context.session().get(Device, device_id)
    if device is None or not context.current().scope.allows(device.tenant_code):
        raise NotFound(
            f"no sorter {device_id}", details=[{"field": "device_id", "message": "unknown"}]
        )
    return device


# --- telemetry ----------------------------------------------------------------------------------


@api.operation(
    "/devices/<int:device_id>/events",
    methods=["POST"],
    permission="sorter.ingest",
    response=IngestOut,
    tags=TAGS,
    summary="Post a batch of up to 10,000 telemetry events (JSON array or NDJSON)",
)
def post_events(device_id: int) -> Any:
    """Idempotent on (device, seq); late and out-of-order events are accepted; each malformed
    event is rejected alone and listed with its index and reason. Only the device's own token
    may post: any other caller gets 403."""
    who = context.principal()
    if who.subject != f"sorter:{device_id}":
        raise Forbidden(
            "this token may not post telemetry for this device",
            code="wrong_device",
            details=[
                {"field": "device_id", "message": f"token is bound to {who.subject or 'no device'}"}
            ],
        )
    device = get_device(device_id)
    if not device.active:
        raise Forbidden(
            "device is deactivated", code="device_inactive", details=[{"field": "device_id"}]
        )
    raw = decode_payload(request.get_data(), request.mimetype or "application/json")
    s = context.session()
    report = ingest(
        s,
        device_id=device.id,
        tenant_code=device.tenant_code,
        chutes=device.chutes,
        raw_events=raw,
        now=utcnow(),
    )
    if raw and len(report.rejected) == len(raw):
        s.rollback()
        raise ValidationError(
            "every event in the batch was rejected", code="invalid_events", details=report.rejected
        )
    s.commit()
    return report.as_dict()


# the batch is parsed event by event (one bad event must not spoil the rest), so the body model
# is attached for the OpenAPI document only
api.operations[-1].body = list[EventIn]


# --- device registry ----------------------------------------------------------------------------


@api.operation(
    "/devices", permission="sorter.view", tags=TAGS, summary="List sorters in the unit's subtree"
)
def list_devices() -> Any:
    tenant = query_tenant()
    stmt = (
        select(Device)
        .where(in_scope_clause(Device.tenant_code, tenant))
        .order_by(Device.tenant_code, Device.code)
    )
    return paginate(context.session(), stmt, registry.device_dict)


@api.operation(
    "/devices",
    methods=["POST"],
    permission="sorter.manage",
    body=list[DeviceRow],
    files=True,
    status=200,
    tags=TAGS,
    summary="Import sorters (CSV, XLSX or JSON): every row validated, a report per row",
)
def import_devices() -> Any:
    """All-or-nothing: any bad row (unknown or out-of-scope station, bad number) fails the whole
    import with 422 naming each row and each of its errors, shape and reference alike, in one
    pass; otherwise rows are created or updated by (unit, code)."""
    rows, errors = check_rows(read_upload(), DeviceRow)
    s = context.session()
    scope = context.current().scope
    # the unit and code of rows that failed shape validation are still checked when readable
    keyed = [(n, r.unit, r.code) for n, r in rows] + [
        (n, raw.get("unit"), raw.get("code")) for n, raw in errors.raw_rows()
    ]
    named = {u for _, u, _ in keyed if isinstance(u, str)}
    stations = {u.code: u for u in s.exec(select(OrgUnit).where(OrgUnit.code.in_(named))).all()}
    seen = set()
    for row_no, unit, code in sorted(keyed, key=lambda k: k[0]):
        if not isinstance(unit, str):
            continue
        if not isinstance(code, str):
            code = None  # its shape error names it; a non-text code is no duplicate
        if unit not in stations:
            errors.add(row_no, "unit", f"unknown unit {unit!r}")
        elif not scope.allows(unit):
            errors.add(row_no, "unit", "outside your scope")
        elif stations[unit].level != "station":
            errors.add(row_no, "unit", "sorters stand in stations")
        if code is not None and (unit, code) in seen:
            errors.add(row_no, "code", "appears twice in this file")
        seen.add((unit, code))
    errors.raise_if_any()
    results = []
    for row_no, r in rows:
        status, device = registry.upsert_device(s, r.unit, r.code, r.model_dump())
        results.append((row_no, status, f"{r.unit}/{r.code}#{device.id}"))
    s.commit()
    return row_report(results)


@api.operation(
    "/devices/<int:device_id>", permission="sorter.view", tags=TAGS, summary="One sorter"
)
def show_device(device_id: int) -> Any:
    return registry.device_dict(get_device(device_id))


@api.operation(
    "/devices/<int:device_id>",
    methods=["PATCH"],
    permission="sorter.manage",
    body=DevicePatch,
    tags=TAGS,
    summary="Change a sorter's data or alert thresholds",
)
def patch_device(device_id: int, body: DevicePatch) -> Any:
    device = get_device(device_id)
    before = registry.device_dict(device)
    for k, v in body.model_dump(exclude_none=True).items():
        setattr(device, k, v)
    AlertRules(
        device.min_items_per_hour,
        device.low_minutes,
        device.silent_minutes,
        device.jam_window_minutes,
        device.jam_max,
    ).check()
    s = context.session()
    s.add(device)
    audit.record(
        "sorter.device.update",
        target_type="sorter_device",
        target_id=device.id,
        tenant=device.tenant_code,
        before=before,
        after=registry.device_dict(device),
    )
    s.commit()
    return registry.device_dict(device)


@api.operation(
    "/devices/<int:device_id>/token",
    methods=["POST"],
    permission="sorter.manage",
    tags=TAGS,
    status=201,
    summary="Issue the device's telemetry token (shown once; replaces and revokes the old one)",
)
def issue_token(device_id: int) -> Any:
    device = get_device(device_id)
    s = context.session()
    token, secret = registry.issue_token(
        s, current_app.extensions["postalops.plugins"], device, context.principal().name
    )
    s.commit()
    return {"device_id": device.id, "token_id": token.id, "token": secret}


# --- live data, rollups, unit tables -------------------------------------------------------------


@api.operation(
    "/devices/<int:device_id>/live",
    permission="sorter.view",
    tags=TAGS,
    summary="Live data of one sorter: state, items this hour, today's chart",
)
def device_live(device_id: int) -> Any:
    return live.live(context.session(), get_device(device_id), utcnow())


class RollupQuery(BaseModel):
    device_id: int | None = None
    grain: str = Field(default="day", pattern="^(minute|hour|wave|day)$")


def rollup_dict(r: Rollup) -> dict[str, Any]:
    from .oee import kpis

    return {
        "device_id": r.device_id,
        "unit": r.tenant_code,
        "grain": r.grain,
        "bucket_start": r.bucket_start.isoformat(),
        "day": r.day.isoformat(),
        "wave": r.wave or None,
        "totals": {f: getattr(r, f) for f in r.totals().__dataclass_fields__},
        "kpis": kpis(r.totals()),
    }


@api.operation(
    "/rollups",
    permission="sorter.view",
    query=RollupQuery,
    tags=TAGS,
    summary="Rollups by device and grain over ?from=&to= (local days)",
)
def list_rollups(query: RollupQuery) -> Any:
    tenant = query_tenant()
    frm, to = query_period()
    stmt = select(Rollup).where(
        Rollup.grain == query.grain,
        Rollup.day >= frm,
        Rollup.day <= to,
        in_scope_clause(Rollup.tenant_code, tenant),
    )
    if query.device_id is not None:
        stmt = stmt.where(Rollup.device_id == query.device_id)
    return paginate(
        context.session(), stmt.order_by(Rollup.device_id, Rollup.bucket_start), rollup_dict
    )


@api.operation(
    "/units",
    permission="sorter.view",
    tags=TAGS,
    summary="One row per unit below ?tenant= (cities of a province, stations of a city)",
)
def unit_rows() -> Any:
    tenant = query_tenant()
    frm, to = query_period()
    return {
        "tenant": tenant,
        "from": frm.isoformat(),
        "to": to.isoformat(),
        "rows": live.unit_table(context.session(), tenant, frm, to),
    }


# --- waves and departures -----------------------------------------------------------------------


def _station() -> str:
    unit = context.tenant()
    level = context.session().exec(select(OrgUnit.level).where(OrgUnit.code == unit)).first()
    if level != "station":
        raise ValidationError(
            "switch to a station first",
            code="not_a_station",
            details=[{"field": "unit", "message": f"{unit} is not a station"}],
        )
    return unit


@api.operation(
    "/waves", permission="sorter.view", tags=TAGS, summary="The active station's wave windows"
)
def get_waves() -> Any:
    return {
        "unit": context.tenant(),
        "waves": registry.wave_list(context.session(), context.tenant()),
    }


@api.operation(
    "/waves",
    methods=["PUT"],
    permission="sorter.manage",
    body=list[WaveIn],
    tags=TAGS,
    summary="Replace the active station's wave windows",
)
def put_waves(body: list[WaveIn]) -> Any:
    """Wave windows decide the wave rollups and the departures of every day, so each day the
    station has rollups for (inside raw-event retention) is marked for recompute and the rollup
    job is started at once; the response names that job."""
    station = _station()
    s = context.session()
    after = registry.replace_waves(s, station, [Wave(w.number, w.start, w.end) for w in body])
    marked = registry.mark_wave_days(s, station)
    s.commit()
    return {"unit": station, "waves": after, "recompute": registry.start_recompute(station, marked)}


@api.operation(
    "/departures",
    methods=["POST"],
    permission="sorter.manage",
    body=list[DepartureRow],
    files=True,
    tags=TAGS,
    summary="Import the manual departure log (CSV, XLSX or JSON), a report per row",
)
def import_departures() -> Any:
    """The baseline for ``departure_advance_minutes``: when couriers left before the sorter.
    All-or-nothing; rows are upserted by (station, day, wave)."""
    rows, errors = check_rows(read_upload(), DepartureRow)
    s = context.session()
    scope = context.current().scope
    default = context.tenant()
    keyed = [(n, r.unit or default) for n, r in rows] + [
        (n, raw.get("unit") or default) for n, raw in errors.raw_rows()
    ]
    keyed = [(n, u) for n, u in keyed if isinstance(u, str)]
    units = {r.unit or default for _, r in rows}
    known = set(
        s.exec(
            select(OrgUnit.code).where(
                OrgUnit.code.in_({u for _, u in keyed}), OrgUnit.level == "station"
            )
        ).all()
    )
    for row_no, unit in sorted(keyed):
        if unit not in known:
            errors.add(row_no, "unit", f"{unit!r} is not a known station")
        elif not scope.allows(unit):
            errors.add(row_no, "unit", "outside your scope")
    errors.raise_if_any()
    results = []
    for row_no, r in rows:
        unit = r.unit or default
        at = dt.datetime.combine(r.day, r.departed_at, tzinfo=LOCAL_TZ)
        row = s.exec(
            select(Departure).where(
                Departure.tenant_code == unit,
                Departure.day == r.day,
                Departure.wave == r.wave,
                Departure.source == "log",
            )
        ).first()
        status = "updated" if row else "created"
        row = row or Departure(
            tenant_code=unit, day=r.day, wave=r.wave, source="log", departed_at=at
        )
        row.departed_at = at
        s.add(row)
        results.append((row_no, status, f"{unit}/{r.day}/{r.wave}"))
    audit.record(
        "sorter.departures.import",
        target_type="sorter_departure",
        target_id=default,
        after={"rows": len(results), "units": sorted(units)},
    )
    s.commit()
    return row_report(results)


# --- alerts and settings ------------------------------------------------------------------------


class AlertQuery(BaseModel):
    status: str | None = Field(
        default=None, pattern="^(raised|acknowledged|escalated|snoozed|resolved|open)$"
    )
    severity: str | None = Field(default=None, pattern="^(info|warning|critical)$")


def alert_dict(a: Alert) -> dict[str, Any]:
    return {
        "id": a.id,
        "device_id": a.device_id,
        "unit": a.tenant_code,
        "kind": a.kind,
        "status": a.status,
        "message": a.message,
        "raised_at": a.raised_at,
        "acknowledged_at": a.acknowledged_at,
        "acknowledged_by": a.acknowledged_by,
        "resolved_at": a.resolved_at,
        "resolved_by": a.resolved_by,
        "suppressed_until": a.suppressed_until,
        "severity": a.severity,
        "escalate_due_at": a.escalate_due_at,
        "escalate_to": a.escalate_to,
        "escalated_at": a.escalated_at,
        "snoozed_until": a.snoozed_until,
        "subject": a.subject,
    }


@api.operation(
    "/alerts",
    permission="sorter.view",
    query=AlertQuery,
    tags=TAGS,
    summary="Alerts in the unit's subtree, newest first",
)
def list_alerts(query: AlertQuery) -> Any:
    tenant = query_tenant()
    stmt = select(Alert).where(in_scope_clause(Alert.tenant_code, tenant))
    if query.status == "open":
        stmt = stmt.where(Alert.status != "resolved")
    elif query.status:
        stmt = stmt.where(Alert.status == query.status)
    if query.severity:
        stmt = stmt.where(Alert.severity == query.severity)
    return paginate(
        context.session(), stmt.order_by(Alert.raised_at.desc(), Alert.id.desc()), alert_dict
    )


class ResolveQuery(BaseModel):
    suppress_until: AwareDatetime | None = Field(
        default=None,
        description="raise nothing of this kind on this device before this time (ISO 8601 with "
        "offset; after now, at most 7 days ahead). Default: 60 minutes from now.",
    )


def _move(
    alert_id: int,
    target: AlertStatus,
    suppress_until: dt.datetime | None = None,
    snooze_minutes: int | None = None,
    comment: str = "",
) -> Any:
    s = context.session()
    alert = s.get(Alert, alert_id)
    if alert is None or not context.current().scope.allows(alert.tenant_code):
        raise NotFound(
            f"no alert {alert_id}", details=[{"field": "alert_id", "message": "unknown"}]
        )
    before = alert.status
    alerting.move(
        s,
        alert_id,
        target,
        context.principal().name,
        clock.now().astimezone(dt.UTC),  # the network clock (frozen in tests)
        suppress_until,
        snooze_minutes=snooze_minutes,
        comment=comment,
    )
    after: dict[str, Any] = {"status": alert.status}
    if alert.snoozed_until is not None:
        after["snoozed_until"] = alert.snoozed_until.isoformat()
    if alert.suppressed_until is not None:
        after["suppressed_until"] = alert.suppressed_until.isoformat()
    audit.record(
        f"sorter.alert.{target.value}",
        target_type="sorter_alert",
        target_id=alert_id,
        tenant=alert.tenant_code,
        before={"status": before},
        after=after,
    )
    s.commit()
    return alert_dict(alert)


@api.operation(
    "/alerts/<int:alert_id>/acknowledge",
    methods=["POST"],
    permission="sorter.operate",
    tags=TAGS,
    summary="Acknowledge a raised alert",
)
def acknowledge_alert(alert_id: int) -> Any:
    return _move(alert_id, AlertStatus.ACKNOWLEDGED)


@api.operation(
    "/alerts/<int:alert_id>/resolve",
    methods=["POST"],
    permission="sorter.operate",
    query=ResolveQuery,
    tags=TAGS,
    summary="Resolve an alert; its kind stays quiet on the device until suppress_until",
)
def resolve_alert(alert_id: int, query: ResolveQuery) -> Any:
    return _move(alert_id, AlertStatus.RESOLVED, query.suppress_until)


# Deprecated (one release): the alert webhook is a core endpoint subscribed to sorter.* at
# the unit (/api/v1/webhooks/endpoints, /admin/webhooks); these paths read and set its URL.
WEBHOOK_TYPES = ["sorter.*"]


def _deprecated(body: dict[str, Any]) -> Any:
    from flask import jsonify

    resp = jsonify(body)
    resp.headers["Deprecation"] = "true"
    resp.headers["Link"] = '</api/v1/webhooks/endpoints>; rel="successor-version"'
    return resp


@api.operation(
    "/settings",
    permission="sorter.view",
    tags=TAGS,
    summary="Deprecated: the unit's alert webhook URL (use /api/v1/webhooks/endpoints)",
)
def get_settings() -> Any:
    row = webhooks.plugin_endpoint(context.session(), context.tenant(), WEBHOOK_TYPES)
    return _deprecated({"unit": context.tenant(), "webhook_url": row.url if row else None})


@api.operation(
    "/settings",
    methods=["PUT"],
    permission="sorter.manage",
    body=SettingsIn,
    tags=TAGS,
    summary="Deprecated: set the unit's alert webhook URL, a core endpoint taking sorter.* "
    "(use /api/v1/webhooks/endpoints)",
)
def put_settings(body: SettingsIn) -> Any:
    s = context.session()
    unit = context.tenant()
    url = str(body.webhook_url) if body.webhook_url else None
    row = webhooks.set_plugin_endpoint(s, unit, WEBHOOK_TYPES, url, actor=context.principal().name)
    s.commit()
    out: dict[str, Any] = {"unit": unit, "webhook_url": row.url if row else None}
    if row is not None:
        out["secret_hint"] = "the signing secret is shown on /admin/webhooks (rotate it there)"
    return _deprecated(out)


JOB_KINDS = {
    "rollup": "sorter.rollup",
    "alerts": "sorter.alerts",
    "retention": "sorter.retention",
    "escalation": "sorter.escalation",
}


@api.operation(
    "/jobs/<kind>",
    methods=["POST"],
    permission="sorter.manage",
    tags=TAGS,
    status=202,
    summary="Start a sorter job now (rollup, alerts, retention); returns the job id",
)
def start_job(kind: str) -> Any:
    from postalops.jobs import submit

    if kind not in JOB_KINDS:
        raise NotFound(
            f"no sorter job {kind!r}",
            details=[{"field": "kind", "message": "rollup | alerts | retention"}],
        )
    job_row = submit(JOB_KINDS[kind], {})
    return {"job_id": job_row.id, "status": job_row.status, "url": f"/api/v1/jobs/{job_row.id}"}


def open_alert_total(tenant: str) -> int:
    return (
        context.session()
        .exec(
            select(sa.func.count())
            .select_from(Alert)
            .where(Alert.status != "resolved", in_scope_clause(Alert.tenant_code, tenant))
        )
        .one()
    )


from . import api_losses  # noqa: E402,F401  (issue 20 routes on the same blueprint)
