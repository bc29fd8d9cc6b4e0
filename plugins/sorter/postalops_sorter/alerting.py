"""Alerts in the database: evaluate the rules for every device, move alerts through their life
cycle, and emit ``sorter.alert.raised`` through the core's webhooks for each new alert.

The rules themselves are in :mod:`postalops_sorter.alerts` (pure); this module feeds them from
minute rollups and the device's last event, and records what they decide.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from postalops import webhooks
from postalops.errors import NotFound
from sqlmodel import Session, select

from .alerts import (
    OPEN,
    AlertKind,
    AlertRules,
    AlertStatus,
    MinuteSample,
    evaluate,
    reconcile,
    suppression_end,
    transition,
)
from .live import current_state
from .models import Alert, Device, Rollup
from .recompute import device_day_totals, last_seen
from .timeline import LOCAL_TZ, MINUTE_MS, to_ms

ALERT_RAISED = "sorter.alert.raised"


def rules_of(device: Device) -> AlertRules:
    return AlertRules(
        min_items_per_hour=device.min_items_per_hour,
        low_minutes=device.low_minutes,
        silent_minutes=device.silent_minutes,
        jam_window_minutes=device.jam_window_minutes,
        jam_max=device.jam_max,
    )


def recent_minutes(
    session: Session, device: Device, now: dt.datetime, span_minutes: int
) -> list[MinuteSample]:
    """Minute samples for the last ``span_minutes``, straight from raw events (fresher than the
    rollup job), falling back to stored minute rollups when raw events are gone."""
    conn = session.connection()
    day = now.astimezone(LOCAL_TZ).date()
    days = {day, (now - dt.timedelta(minutes=span_minutes)).astimezone(LOCAL_TZ).date()}
    since = to_ms(now) - span_minutes * MINUTE_MS
    samples = []
    for d in sorted(days):
        for m, t in device_day_totals(conn, device, d).items():
            if m >= since:
                samples.append(MinuteSample(m, t.running_ms, t.inducted, t.jams))
    if samples:
        return samples
    rows = session.exec(
        select(Rollup).where(
            Rollup.device_id == device.id,
            Rollup.grain == "minute",
            Rollup.bucket_start >= now - dt.timedelta(minutes=span_minutes),
        )
    ).all()
    return [
        MinuteSample(to_ms(r.bucket_start), r.running_ms, r.sorted + r.rejected + r.no_read, r.jams)
        for r in rows
    ]


def evaluate_device(session: Session, device: Device, now: dt.datetime) -> dict[str, list[str]]:
    """Run the rules for one device; raise new alerts, auto-resolve cleared ones."""
    rules = rules_of(device)
    span = max(rules.low_minutes, rules.jam_window_minutes) + 1
    conn = session.connection()
    seen = last_seen(conn, device.id)
    state, _ = current_state(conn, device.id)
    held = evaluate(
        rules,
        recent_minutes(session, device, now, span),
        now=to_ms(now),
        last_seen=to_ms(seen) if seen else None,
        switched_off=state == "planned_stop",
    )
    open_alerts = {
        AlertKind(a.kind): a
        for a in session.exec(
            select(Alert).where(
                Alert.device_id == device.id, Alert.status.in_([s.value for s in OPEN])
            )
        ).all()
    }
    suppressed = session.exec(
        select(Alert.kind).where(
            Alert.device_id == device.id,
            Alert.status == AlertStatus.RESOLVED.value,
            Alert.suppressed_until > now,
        )
    ).all()
    actions = reconcile(held, open_alerts, [AlertKind(k) for k in suppressed])
    for kind, message in actions.raise_.items():
        alert = Alert(
            tenant_code=device.tenant_code,
            device_id=device.id,
            kind=kind.value,
            message=message,
            raised_at=now,
        )
        session.add(alert)
        session.flush()
        # The outbox row is written with the alert; the core sends it after the commit.
        webhooks.emit(session, device.tenant_code, ALERT_RAISED, payload(alert, device))
    for kind in actions.resolve:
        a = open_alerts[kind]
        a.status, a.resolved_at, a.resolved_by = AlertStatus.RESOLVED.value, now, "auto"
        session.add(a)
    session.flush()
    return {
        "raised": [k.value for k in actions.raise_],
        "resolved": [k.value for k in actions.resolve],
    }


def evaluate_all(
    session: Session, now: dt.datetime, progress: Callable[[int, int, str], None] | None = None
) -> dict[str, int]:
    """Evaluate every active device in scope that was commissioned by ``now``.

    A device that has never sent anything is not "silent": it may not be installed yet.
    """
    devices = session.exec(
        select(Device).where(
            Device.active, Device.commissioned_on <= now.astimezone(LOCAL_TZ).date()
        )
    ).all()
    raised = resolved = 0
    for i, d in enumerate(devices, 1):
        if last_seen(session.connection(), d.id) is None:
            continue
        out = evaluate_device(session, d, now)
        raised += len(out["raised"])
        resolved += len(out["resolved"])
        if progress:
            progress(i, len(devices), d.code)
    return {"devices": len(devices), "raised": raised, "resolved": resolved}


def move(
    session: Session,
    alert_id: int,
    target: AlertStatus,
    who: str,
    now: dt.datetime,
    suppress_until: dt.datetime | None = None,
) -> Alert:
    """Acknowledge or resolve an alert by hand (409 on an impossible move). A resolve suppresses
    the same kind on the same device until ``suppress_until`` (default: an hour from now)."""
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise NotFound(
            f"no alert {alert_id}", details=[{"field": "alert_id", "message": "unknown"}]
        )
    transition(AlertStatus(alert.status), target)
    if target is AlertStatus.ACKNOWLEDGED:
        alert.acknowledged_at, alert.acknowledged_by = now, who
    else:
        alert.suppressed_until = suppression_end(now, suppress_until)
        alert.resolved_at, alert.resolved_by = now, who
    alert.status = target.value
    session.add(alert)
    session.flush()
    return alert


def payload(alert: Alert, device: Device | None) -> dict[str, Any]:
    """What webhook receivers get for ``sorter.alert.raised`` (the message in English)."""
    return {
        "alert_id": alert.id,
        "kind": alert.kind,
        "status": alert.status,
        "message": alert.message,
        "unit": alert.tenant_code,
        "device": device.code if device else None,
        "raised_at": alert.raised_at.isoformat(),
    }


def open_alert_count(session: Session, tenant: str) -> int:
    from postalops.db import in_scope_clause

    return session.exec(
        select(sa.func.count())
        .select_from(Alert)
        .where(Alert.status != "resolved", in_scope_clause(Alert.tenant_code, tenant))
    ).one()
