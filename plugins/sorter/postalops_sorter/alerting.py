"""Alerts in the database: evaluate the rules for every device, move alerts through their life
cycle, and emit ``sorter.alert.raised`` through the core's webhooks for each new alert.

The rules themselves are in :mod:`postalops_sorter.alerts` (pure); this module feeds them from
minute rollups and the device's last event, and records what they decide.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
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
    Severity,
    escalation_due,
    evaluate,
    is_escalation_due,
    reconcile,
    snooze_end,
    suppression_end,
    transition,
)
from .live import current_state
from .models import AlarmRule, Alert, AlertEvent, Device, Rollup
from .recompute import device_day_totals, last_seen
from .timeline import LOCAL_TZ, MINUTE_MS, to_ms

ALERT_RAISED = "sorter.alert.raised"
ALERT_ACKNOWLEDGED = "sorter.alert.acknowledged"
ALERT_ESCALATED = "sorter.alert.escalated"
ALERT_SNOOZED = "sorter.alert.snoozed"
ALERT_RESOLVED = "sorter.alert.resolved"
EVENT_OF = {
    AlertStatus.ACKNOWLEDGED: ALERT_ACKNOWLEDGED,
    AlertStatus.ESCALATED: ALERT_ESCALATED,
    AlertStatus.SNOOZED: ALERT_SNOOZED,
    AlertStatus.RESOLVED: ALERT_RESOLVED,
}
SYSTEM = "system"
DEFAULT_OEE_TARGET = Decimal("0.60")


@dataclass(frozen=True, slots=True)
class UnitRule:
    """The rule in force for one kind on one device (a unit's row, or the defaults)."""

    kind: AlertKind
    enabled: bool = True
    severity: Severity = Severity.WARNING
    threshold: Decimal | None = None
    minutes: int | None = None
    escalate_after_minutes: int | None = None
    escalate_to: str | None = None


def _chain(code: str) -> list[str]:
    parts = code.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def unit_rules(session: Session, station: str) -> dict[AlertKind, UnitRule]:
    """Each kind's rule for a station's devices: the nearest unit's row (station, city,
    province, group) among those the session can see, else the defaults."""
    chain = _chain(station)
    rows = session.exec(
        select(AlarmRule).where(AlarmRule.unit_code.in_(chain))  # type: ignore[attr-defined]
    ).all()
    depth = {code: i for i, code in enumerate(chain)}
    best: dict[str, AlarmRule] = {}
    for r in rows:
        if r.kind not in best or depth[r.unit_code] > depth[best[r.kind].unit_code]:
            best[r.kind] = r
    out = {}
    for kind in AlertKind:
        r = best.get(kind.value)
        if r is None:
            out[kind] = UnitRule(kind, enabled=kind is not AlertKind.OEE_BELOW_TARGET)
        else:
            out[kind] = UnitRule(
                kind,
                r.enabled,
                Severity(r.severity),
                r.threshold,
                r.minutes,
                r.escalate_after_minutes,
                r.escalate_to,
            )
    return out


def rules_of(device: Device, rules: dict[AlertKind, UnitRule] | None = None) -> AlertRules:
    """The device's thresholds, overridden by the unit rules that set them."""
    rules = rules or {}
    low, silent, jam = (
        rules.get(AlertKind.LOW_THROUGHPUT),
        rules.get(AlertKind.SILENT),
        rules.get(AlertKind.JAM_SPIKE),
    )
    return AlertRules(
        min_items_per_hour=int(low.threshold)
        if low and low.threshold is not None
        else device.min_items_per_hour,
        low_minutes=low.minutes if low and low.minutes else device.low_minutes,
        silent_minutes=silent.minutes if silent and silent.minutes else device.silent_minutes,
        jam_window_minutes=jam.minutes if jam and jam.minutes else device.jam_window_minutes,
        jam_max=int(jam.threshold) if jam and jam.threshold is not None else device.jam_max,
    )


def record(session: Session, alert: Alert, who: str, action: str, at: dt.datetime, note="") -> None:
    """One timeline line."""
    session.add(
        AlertEvent(
            tenant_code=alert.tenant_code,
            alert_id=alert.id,
            at=at,
            who=who,
            action=action,
            note=note,
        )
    )


def raise_alert(
    session: Session,
    device: Device,
    kind: AlertKind,
    message: str,
    now: dt.datetime,
    rule: UnitRule | None = None,
    subject: str | None = None,
) -> Alert:
    """Store a new alert with its rule's severity and escalation, its first timeline line, and
    emit ``sorter.alert.raised`` in the same transaction."""
    rule = rule or UnitRule(kind)
    alert = Alert(
        tenant_code=device.tenant_code,
        device_id=device.id,
        kind=kind.value,
        message=message,
        raised_at=now,
        severity=rule.severity.value,
        escalate_due_at=escalation_due(now, rule.escalate_after_minutes),
        escalate_to=rule.escalate_to,
        subject=subject,
    )
    session.add(alert)
    session.flush()
    record(session, alert, SYSTEM, "raised", now, message)
    # The outbox row is written with the alert; the core sends it after the commit.
    webhooks.emit(session, device.tenant_code, ALERT_RAISED, payload(alert, device))
    return alert


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
    unit = unit_rules(session, device.tenant_code)
    rules = rules_of(device, unit)
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
    held = {k: m for k, m in held.items() if unit[k].enabled}
    open_alerts = {
        AlertKind(a.kind): a
        for a in session.exec(
            select(Alert).where(
                Alert.device_id == device.id,
                Alert.status.in_([s.value for s in OPEN]),
                Alert.kind != AlertKind.OEE_BELOW_TARGET.value,
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
    raised = []
    for kind, message in actions.raise_.items():
        raise_alert(session, device, kind, message, now, unit[kind])
        raised.append(kind.value)
    for kind in actions.resolve:
        a = open_alerts[kind]
        a.status, a.resolved_at, a.resolved_by = AlertStatus.RESOLVED.value, now, "auto"
        session.add(a)
        record(session, a, SYSTEM, "resolved", now, "condition cleared")
        webhooks.emit(session, a.tenant_code, ALERT_RESOLVED, payload(a, device))
    raised += evaluate_shift_oee(session, device, now, unit[AlertKind.OEE_BELOW_TARGET])
    session.flush()
    return {
        "raised": raised,
        "resolved": [k.value for k in actions.resolve],
    }


def evaluate_shift_oee(
    session: Session, device: Device, now: dt.datetime, rule: UnitRule
) -> list[str]:
    """``oee_below_target``: each of the device's planned shifts that ended in the last 24
    hours (and at least 5 minutes ago, so late telemetry is in), once per shift. A night shift
    (22:00-06:00) is the shift of the day it started on and is checked after it ends, at 06:05
    the next morning."""
    if not rule.enabled:
        return []
    from .shifts import shift_results

    target = rule.threshold if rule.threshold is not None else DEFAULT_OEE_TARGET
    today = now.astimezone(LOCAL_TZ).date()
    settled = now - dt.timedelta(minutes=5)
    out = []
    results = shift_results(
        session, device.tenant_code, today - dt.timedelta(days=1), today, settled, device.id
    )
    from .recompute import station_shifts
    from .timeline import from_ms

    by_number = {s.number: s for s in station_shifts(session, device.tenant_code)}
    for r in results:
        # a night shift ends the next morning: it is checked then
        end = from_ms(by_number[r.shift].window(r.day)[1])
        if end > settled or end < now - dt.timedelta(hours=24):
            continue
        oee = r.kpis()["oee"]
        if oee is None or oee >= target:
            continue
        subject = f"{r.day.isoformat()}#{r.shift}"
        if session.exec(
            select(Alert.id).where(
                Alert.device_id == device.id,
                Alert.kind == AlertKind.OEE_BELOW_TARGET.value,
                Alert.subject == subject,
            )
        ).first():
            continue
        message = f"shift {r.shift} of {r.day.isoformat()}: OEE {oee} under target {target}"
        raise_alert(session, device, AlertKind.OEE_BELOW_TARGET, message, now, rule, subject)
        out.append(AlertKind.OEE_BELOW_TARGET.value)
    return out


def escalate_due(session: Session, now: dt.datetime) -> dict[str, int]:
    """The escalation job: wake snoozed alerts whose snooze ended (their escalation clock
    restarts from the wake-up), then pass every alert still unacknowledged at its due time to
    the rule's second contact (``sorter.alert.escalated``). Idempotent: an escalated alert is
    not escalated again."""
    woke = escalated = 0
    for a in session.exec(
        select(Alert).where(
            Alert.status == AlertStatus.SNOOZED.value,
            Alert.snoozed_until <= now,  # type: ignore[operator]
        )
    ).all():
        rule = unit_rules(session, a.tenant_code)[AlertKind(a.kind)]
        a.status = AlertStatus.RAISED.value
        a.escalate_due_at = escalation_due(a.snoozed_until, rule.escalate_after_minutes)
        a.snoozed_until = None
        session.add(a)
        record(session, a, SYSTEM, "woke", now)
        woke += 1
    session.flush()
    for a in session.exec(
        select(Alert).where(
            Alert.status == AlertStatus.RAISED.value,
            Alert.escalate_due_at <= now,  # type: ignore[operator]
        )
    ).all():
        if not is_escalation_due(AlertStatus(a.status), a.escalate_due_at, now):
            continue
        escalate(session, a, now)
        escalated += 1
    session.flush()
    return {"woke": woke, "escalated": escalated}


def escalate(session: Session, a: Alert, now: dt.datetime) -> None:
    """Pass one alert to its second contact: state, timeline, ``sorter.alert.escalated``."""
    a.status, a.escalated_at = AlertStatus.ESCALATED.value, now
    session.add(a)
    record(session, a, SYSTEM, "escalated", now, a.escalate_to or "")
    webhooks.emit(
        session, a.tenant_code, ALERT_ESCALATED, payload(a, session.get(Device, a.device_id))
    )


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
    snooze_minutes: int | None = None,
    comment: str = "",
) -> Alert:
    """Acknowledge, snooze or resolve an alert by hand (409 on an impossible move). A resolve suppresses
    the same kind on the same device until ``suppress_until`` (default: an hour from now)."""
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise NotFound(
            f"no alert {alert_id}", details=[{"field": "alert_id", "message": "unknown"}]
        )
    transition(AlertStatus(alert.status), target)
    note = ""
    if target is AlertStatus.ACKNOWLEDGED:
        alert.acknowledged_at, alert.acknowledged_by = now, who
        alert.snoozed_until = None
    elif target is AlertStatus.SNOOZED:
        alert.snoozed_until = snooze_end(now, snooze_minutes)
        note = f"{snooze_minutes} min"
    else:
        alert.suppressed_until = suppression_end(now, suppress_until)
        alert.resolved_at, alert.resolved_by = now, who
        alert.snoozed_until = None
    alert.status = target.value
    session.add(alert)
    session.flush()
    record(session, alert, who, target.value, now, comment or note)
    webhooks.emit(
        session,
        alert.tenant_code,
        EVENT_OF[target],
        payload(alert, session.get(Device, alert.device_id)) | {"by": who},
    )
    session.flush()
    return alert


def comment(session: Session, alert_id: int, who: str, text: str, now: dt.datetime) -> AlertEvent:
    """Add a comment to an alert's timeline (any state, resolved included)."""
    from postalops.errors import ValidationError

    alert = session.get(Alert, alert_id)
    if alert is None:
        raise NotFound(
            f"no alert {alert_id}", details=[{"field": "alert_id", "message": "unknown"}]
        )
    text = (text or "").strip()
    if not text or len(text) > 1000:
        raise ValidationError(
            "a comment needs 1 to 1,000 characters",
            code="invalid_comment",
            details=[{"field": "text", "message": "1..1000 characters"}],
        )
    ev = AlertEvent(
        tenant_code=alert.tenant_code,
        alert_id=alert.id,
        at=now,
        who=who,
        action="commented",
        note=text,
    )
    session.add(ev)
    session.flush()
    return ev


def timeline(session: Session, alert_id: int) -> list[AlertEvent]:
    return list(
        session.exec(
            select(AlertEvent)
            .where(AlertEvent.alert_id == alert_id)
            .order_by(AlertEvent.at, AlertEvent.id)
        ).all()
    )


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
        "severity": alert.severity,
        "escalate_to": alert.escalate_to,
    }


def open_alert_count(session: Session, tenant: str) -> int:
    from postalops.db import in_scope_clause

    return session.exec(
        select(sa.func.count())
        .select_from(Alert)
        .where(Alert.status != "resolved", in_scope_clause(Alert.tenant_code, tenant))
    ).one()
