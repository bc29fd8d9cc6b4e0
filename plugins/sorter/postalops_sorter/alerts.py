"""Alert rules and the alert life cycle (raised → acknowledged → resolved).

The rules look at a device's recent minute rollups and last sign of life:

- ``low_throughput``: for the last N whole minutes the device was running in every minute and
  each minute's rate (inducted per running hour) stayed under the device's threshold;
- ``silent``: no event of any kind for M minutes, unless the machine last reported a planned
  stop (switched off on purpose);
- ``jam_spike``: at least K jams within the last W minutes.

:func:`evaluate` says which conditions hold now; :func:`reconcile` turns that into actions on the
open alerts: raise what newly holds, resolve what no longer holds. People acknowledge and may
resolve by hand; :func:`transition` guards those moves. A manual resolve suppresses that kind on
that device until a chosen time (default 60 minutes, at most 7 days): resolving a condition
that still holds means "we know", so the next minute's evaluation must not raise it again.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from postalops.errors import Conflict, ValidationError

from .timeline import HOUR_MS, MINUTE_MS


class AlertKind(StrEnum):
    LOW_THROUGHPUT = "low_throughput"
    SILENT = "silent"
    JAM_SPIKE = "jam_spike"
    OEE_BELOW_TARGET = "oee_below_target"


class AlertStatus(StrEnum):
    RAISED = "raised"  # open, waiting for someone
    ACKNOWLEDGED = "acknowledged"
    ESCALATED = "escalated"  # unacknowledged past the rule's M minutes: the second contact has it
    SNOOZED = "snoozed"  # quiet until snoozed_until, then open again (escalation clock restarts)
    RESOLVED = "resolved"


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


OPEN = frozenset(
    {AlertStatus.RAISED, AlertStatus.ACKNOWLEDGED, AlertStatus.ESCALATED, AlertStatus.SNOOZED}
)
# waiting for a first response: the escalation clock runs only for these
UNACKNOWLEDGED = frozenset({AlertStatus.RAISED})

_ALLOWED = {
    AlertStatus.RAISED: {
        AlertStatus.ACKNOWLEDGED,
        AlertStatus.ESCALATED,
        AlertStatus.SNOOZED,
        AlertStatus.RESOLVED,
    },
    AlertStatus.ESCALATED: {AlertStatus.ACKNOWLEDGED, AlertStatus.SNOOZED, AlertStatus.RESOLVED},
    AlertStatus.SNOOZED: {AlertStatus.RAISED, AlertStatus.ACKNOWLEDGED, AlertStatus.RESOLVED},
    AlertStatus.ACKNOWLEDGED: {AlertStatus.RESOLVED},
    AlertStatus.RESOLVED: set(),
}

MAX_SNOOZE_HOURS = 24


def escalation_due(
    raised_at: dt.datetime, escalate_after_minutes: int | None
) -> dt.datetime | None:
    """When an unacknowledged alert passes to the second contact (None: the rule never
    escalates). Also used when a snooze ends: the clock restarts from the wake-up."""
    if not escalate_after_minutes:
        return None
    return raised_at + dt.timedelta(minutes=escalate_after_minutes)


def is_escalation_due(status: AlertStatus, due: dt.datetime | None, now: dt.datetime) -> bool:
    """An alert escalates when it is still unacknowledged (raised) at or after its due time."""
    return status in UNACKNOWLEDGED and due is not None and now >= due


def snooze_end(now: dt.datetime, minutes: int | None) -> dt.datetime:
    """When a snooze ends: 1 .. 24 h × 60 minutes from now."""
    if not isinstance(minutes, int) or not 1 <= minutes <= MAX_SNOOZE_HOURS * 60:
        raise ValidationError(
            "snooze for 1 to 1440 minutes",
            code="invalid_snooze",
            details=[{"field": "minutes", "message": "1..1440"}],
        )
    return now + dt.timedelta(minutes=minutes)


@dataclass(frozen=True, slots=True)
class AlertRules:
    """Per-device thresholds. Defaults suit a 3,000-3,500 items/h disc sorter."""

    min_items_per_hour: int = 2000
    low_minutes: int = 10
    silent_minutes: int = 5
    jam_window_minutes: int = 15
    jam_max: int = 3

    def check(self) -> AlertRules:
        details = [
            {"field": name, "message": "must be a positive integer"}
            for name in (
                "min_items_per_hour",
                "low_minutes",
                "silent_minutes",
                "jam_window_minutes",
                "jam_max",
            )
            if not isinstance(getattr(self, name), int) or getattr(self, name) <= 0
        ]
        if details:
            raise ValidationError(
                "invalid alert rules", code="invalid_alert_rules", details=details
            )
        return self


@dataclass(frozen=True, slots=True)
class MinuteSample:
    """One minute of a device: start (epoch ms), running ms, inducted items, jams entered."""

    minute: int
    running_ms: int
    inducted: int
    jams: int = 0


def evaluate(
    rules: AlertRules,
    minutes: Sequence[MinuteSample],
    *,
    now: int,
    last_seen: int | None,
    switched_off: bool = False,
) -> dict[AlertKind, str]:
    """Conditions that hold at ``now``, each with a human message.

    ``minutes`` are the device's minute rollups; only whole minutes before ``now`` count.
    ``switched_off``: the machine's last state was a planned stop, so its silence is expected
    (overnight, between waves) and raises nothing.
    """
    held: dict[AlertKind, str] = {}
    current_minute = now - now % MINUTE_MS
    by_minute = {m.minute: m for m in minutes}

    silent = last_seen is None or now - last_seen >= rules.silent_minutes * MINUTE_MS
    if silent and not switched_off:
        held[AlertKind.SILENT] = f"no telemetry for {rules.silent_minutes}+ minutes"

    window = [current_minute - (i + 1) * MINUTE_MS for i in range(rules.low_minutes)]
    samples = [by_minute.get(m) for m in window]
    if all(
        s is not None
        and s.running_ms > 0
        and s.inducted * HOUR_MS < rules.min_items_per_hour * s.running_ms
        for s in samples
    ):
        held[AlertKind.LOW_THROUGHPUT] = (
            f"under {rules.min_items_per_hour} items/h for {rules.low_minutes} running minutes"
        )

    jam_from = now - rules.jam_window_minutes * MINUTE_MS
    jams = sum(m.jams for m in minutes if jam_from <= m.minute < now)
    if jams >= rules.jam_max:
        held[AlertKind.JAM_SPIKE] = f"{jams} jams in {rules.jam_window_minutes} minutes"
    return held


@dataclass(frozen=True, slots=True)
class Actions:
    raise_: dict[AlertKind, str]
    resolve: list[AlertKind]


def reconcile(
    held: Mapping[AlertKind, str],
    open_kinds: Iterable[AlertKind],
    suppressed: Iterable[AlertKind] = (),
) -> Actions:
    """Raise conditions with no open alert and no suppression (a person resolved that kind by
    hand and asked for quiet until some time); auto-resolve open alerts whose condition cleared."""
    open_set = set(open_kinds)
    quiet = set(suppressed)
    return Actions(
        raise_={k: msg for k, msg in held.items() if k not in open_set and k not in quiet},
        resolve=sorted(k for k in open_set if k not in held),
    )


DEFAULT_SUPPRESS_MINUTES = 60
MAX_SUPPRESS_DAYS = 7


def suppression_end(now: dt.datetime, until: dt.datetime | None) -> dt.datetime:
    """When a manual resolve's quiet ends: ``until`` if given (after ``now``, at most
    :data:`MAX_SUPPRESS_DAYS` ahead), else :data:`DEFAULT_SUPPRESS_MINUTES` from ``now``."""
    if until is None:
        return now + dt.timedelta(minutes=DEFAULT_SUPPRESS_MINUTES)
    if until <= now or until > now + dt.timedelta(days=MAX_SUPPRESS_DAYS):
        raise ValidationError(
            f"suppress_until must be in the future and at most {MAX_SUPPRESS_DAYS} days ahead",
            code="invalid_suppression",
            details=[
                {"field": "suppress_until", "message": f"after now, ≤ {MAX_SUPPRESS_DAYS} days"}
            ],
        )
    return until


def transition(current: AlertStatus, target: AlertStatus) -> AlertStatus:
    """Check a manual move; a resolved alert is closed for good (Conflict)."""
    if target not in _ALLOWED[current]:
        raise Conflict(
            f"an alert that is {current} cannot become {target}",
            code="invalid_alert_transition",
            details=[{"field": "status", "message": f"{current} -> {target} not allowed"}],
        )
    return target


_MESSAGES = (
    (re.compile(r"no telemetry for (\d+)\+ minutes"), "{0} 分钟以上无数据上报"),
    (
        re.compile(r"under (\d+) items/h for (\d+) running minutes"),
        "连续运行 {1} 分钟处理量低于 {0} 件/小时",
    ),
    (re.compile(r"(\d+) jams in (\d+) minutes"), "{1} 分钟内卡件 {0} 次"),
    (re.compile(r"condition cleared"), "告警条件已消除"),
    (
        re.compile(r"shift (\d+) of (\S+): OEE (\S+) under target (\S+)"),
        "{1} 第 {0} 班 OEE {2} 低于目标 {3}",
    ),
)


def message_in(message: str, lang: str) -> str:
    """An alert's message (stored, and sent to webhooks, in the rules' English) in the reader's
    language; a message of another shape is shown as stored."""
    if lang != "zh":
        return message
    for pattern, zh in _MESSAGES:
        m = pattern.fullmatch(message or "")
        if m:
            return zh.format(*m.groups())
    return message
