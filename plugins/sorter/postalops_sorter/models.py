"""Sorter tables. Every row is tenant-scoped: ``tenant_code`` is the station's unit code.

``sorter_event`` is the big one (raw telemetry, kept N days); on PostgreSQL the migration creates
it partitioned by month on ``at``. Its primary key (device_id, seq, at) makes a replayed batch
insert nothing; ingest also skips a (device, seq) already stored under another time.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa
from postalops.db import SCOPE_INFO, UTCDateTime
from postalops.models import TenantScoped, ts_field
from sqlmodel import Column, Field, SQLModel

from .oee import Totals


class Device(TenantScoped, table=True):
    """One disc sorter at a station."""

    __tablename__ = "sorter_device"
    __table_args__ = (sa.UniqueConstraint("tenant_code", "code"),)
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=60)
    name: str = Field(default="", max_length=100)
    model: str = Field(max_length=60)
    chutes: int
    commissioned_on: dt.date
    rated_per_hour: int
    # alert thresholds, per device
    min_items_per_hour: int = 2000
    low_minutes: int = 10
    silent_minutes: int = 5
    jam_window_minutes: int = 15
    jam_max: int = 3
    token_id: int | None = None
    active: bool = True
    created_at: dt.datetime = ts_field()


class Event(TenantScoped, table=True):
    """One raw telemetry event (item, state change or heartbeat)."""

    __tablename__ = "sorter_event"
    __table_args__ = (sa.Index("ix_sorter_event_device_at", "device_id", "at"),)
    # Redeclared without the mixin's index: every lookup here goes by device, and one index
    # less is one write less per event.
    tenant_code: str | None = Field(default=None, max_length=200)
    device_id: int = Field(sa_column=Column(sa.Integer, primary_key=True, autoincrement=False))
    seq: int = Field(sa_column=Column(sa.BigInteger, primary_key=True, autoincrement=False))
    at: dt.datetime = Field(sa_column=Column(UTCDateTime(), primary_key=True))
    kind: str = Field(max_length=10)
    barcode: str | None = Field(default=None, max_length=64)
    chute: int | None = None
    result: str | None = Field(default=None, max_length=12)
    state: str | None = Field(default=None, max_length=16)


class DirtyDay(TenantScoped, table=True):
    """A device-day whose rollups must be recomputed (new, late or out-of-order events)."""

    __tablename__ = "sorter_dirty_day"
    device_id: int = Field(sa_column=Column(sa.Integer, primary_key=True, autoincrement=False))
    day: dt.date = Field(primary_key=True)
    marked_at: dt.datetime = ts_field()


_TOTAL_FIELDS = list(Totals.__dataclass_fields__)


class Rollup(TenantScoped, table=True):
    """Additive totals of one device for one bucket: minute, hour, wave or local day."""

    __tablename__ = "sorter_rollup"
    __table_args__ = (
        sa.UniqueConstraint("device_id", "grain", "bucket_start", name="uq_sorter_rollup_bucket"),
        sa.Index("ix_sorter_rollup_grain_day", "grain", "day"),
    )
    id: int | None = Field(default=None, primary_key=True)
    device_id: int = Field(index=True)
    grain: str = Field(max_length=6)  # minute | hour | wave | day
    bucket_start: dt.datetime = ts_field(default_now=False)
    day: dt.date  # the local day the bucket belongs to
    wave: int = 0  # wave number for grain "wave", else 0
    running_ms: int = Field(default=0, sa_column=Column(sa.BigInteger, nullable=False))
    idle_ms: int = Field(default=0, sa_column=Column(sa.BigInteger, nullable=False))
    jammed_ms: int = Field(default=0, sa_column=Column(sa.BigInteger, nullable=False))
    fault_ms: int = Field(default=0, sa_column=Column(sa.BigInteger, nullable=False))
    estop_ms: int = Field(default=0, sa_column=Column(sa.BigInteger, nullable=False))
    planned_stop_ms: int = Field(default=0, sa_column=Column(sa.BigInteger, nullable=False))
    capacity_item_ms: int = Field(default=0, sa_column=Column(sa.BigInteger, nullable=False))
    sorted: int = 0
    rejected: int = 0
    no_read: int = 0
    recirculated: int = 0
    jams: int = 0
    faults: int = 0
    computed_at: dt.datetime = ts_field()

    def totals(self) -> Totals:
        return Totals(**{f: getattr(self, f) for f in _TOTAL_FIELDS})


class WaveWindow(TenantScoped, table=True):
    """A station's delivery wave (频次) as a local-time window."""

    __tablename__ = "sorter_wave"
    __table_args__ = (sa.UniqueConstraint("tenant_code", "number"),)
    id: int | None = Field(default=None, primary_key=True)
    number: int
    start: dt.time
    end: dt.time


class Departure(TenantScoped, table=True):
    """When a station's couriers left for a wave: from the manual log (before commissioning)
    or from telemetry (the wave's last sorted item), with its advance over the baseline."""

    __tablename__ = "sorter_departure"
    __table_args__ = (sa.UniqueConstraint("tenant_code", "day", "wave", "source"),)
    id: int | None = Field(default=None, primary_key=True)
    day: dt.date = Field(index=True)
    wave: int
    departed_at: dt.datetime = ts_field(default_now=False)
    source: str = Field(max_length=10)  # log | telemetry
    advance_minutes: Decimal | None = Field(
        default=None, sa_column=Column(sa.Numeric(8, 2, asdecimal=True), nullable=True)
    )


class Alert(TenantScoped, table=True):
    """An alert on a device: raised -> acknowledged -> resolved."""

    __tablename__ = "sorter_alert"
    id: int | None = Field(default=None, primary_key=True)
    device_id: int = Field(index=True)
    kind: str = Field(max_length=20)
    status: str = Field(default="raised", max_length=12, index=True)
    message: str = Field(default="", max_length=300)
    raised_at: dt.datetime = ts_field()
    acknowledged_at: dt.datetime | None = ts_field(nullable=True, default_now=False, default=None)
    acknowledged_by: str | None = Field(default=None, max_length=120)
    resolved_at: dt.datetime | None = ts_field(nullable=True, default_now=False, default=None)
    resolved_by: str | None = Field(default=None, max_length=120)
    # set by a manual resolve: the rules raise nothing of this kind on this device before it
    suppressed_until: dt.datetime | None = ts_field(nullable=True, default_now=False, default=None)
    # issue 20: severity and escalation from the unit's rule; snooze; what the alert is about
    severity: str = Field(default="warning", max_length=10)
    escalate_due_at: dt.datetime | None = ts_field(nullable=True, default_now=False, default=None)
    escalate_to: str | None = Field(default=None, max_length=120)
    escalated_at: dt.datetime | None = ts_field(nullable=True, default_now=False, default=None)
    snoozed_until: dt.datetime | None = ts_field(nullable=True, default_now=False, default=None)
    subject: str | None = Field(default=None, max_length=40)  # e.g. "2025-03-12#1" (a shift)


class AlertEvent(TenantScoped, table=True):
    """One line of an alert's timeline: who did what, when (raised, acknowledged, escalated,
    snoozed, woke, commented, resolved), with an optional note."""

    __tablename__ = "sorter_alert_event"
    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(index=True)
    at: dt.datetime = ts_field()
    who: str = Field(max_length=120)
    action: str = Field(max_length=20)
    note: str = Field(default="", max_length=1000)


class AlarmRule(SQLModel, table=True):
    """A unit's rule for one alert kind; the nearest unit above a device wins, else the
    device's own thresholds. ``threshold``: items/h (low_throughput), jams (jam_spike), target
    ratio (oee_below_target); ``minutes``: N (low_throughput), silence (silent), jam window.

    Configuration inherited downwards, like the core's plugin settings: keyed by ``unit_code``,
    scoped by the core on that column: read along the path (a station reads the rules of the
    units above it), written only in the caller's subtree (row-level security on PostgreSQL)."""

    __tablename__ = "sorter_alarm_rule"
    __table_args__ = (
        sa.UniqueConstraint("unit_code", "kind"),
        {"info": {SCOPE_INFO: {"column": "unit_code", "read": "path"}}},
    )
    id: int | None = Field(default=None, primary_key=True)
    unit_code: str = Field(max_length=200, index=True)
    kind: str = Field(max_length=20)
    enabled: bool = True
    severity: str = Field(default="warning", max_length=10)
    threshold: Decimal | None = Field(
        default=None, sa_column=Column(sa.Numeric(10, 4, asdecimal=True), nullable=True)
    )
    minutes: int | None = None
    escalate_after_minutes: int | None = None
    escalate_to: str | None = Field(default=None, max_length=120)


class Reason(SQLModel, table=True):
    """A downtime reason of a unit's catalogue, in one of the six big losses.

    Inherited down the tree like the alarm rules: a reason of a province or city applies to
    every station below it; a station's own reason with the same code overrides it there.
    Keyed by ``unit_code`` and scoped by the core on that column (read along the path, written
    in the caller's subtree)."""

    __tablename__ = "sorter_reason"
    __table_args__ = (
        sa.UniqueConstraint("unit_code", "code", name="uq_sorter_reason_unit_code"),
        {"info": {SCOPE_INFO: {"column": "unit_code", "read": "path"}}},
    )
    id: int | None = Field(default=None, primary_key=True)
    unit_code: str = Field(max_length=200, index=True)
    code: str = Field(max_length=30)
    name_zh: str = Field(max_length=60)
    name_en: str = Field(max_length=60)
    loss: str = Field(max_length=20)
    active: bool = True


class Stop(TenantScoped, table=True):
    """A stop of a device (jammed / fault / emergency stop), cut at local-day edges, kept by the
    rollup job; its reason survives recomputes (matched on device and start)."""

    __tablename__ = "sorter_stop"
    __table_args__ = (
        sa.UniqueConstraint("device_id", "started_at", name="uq_sorter_stop_start"),
        sa.Index("ix_sorter_stop_day", "day"),
    )
    id: int | None = Field(default=None, primary_key=True)
    device_id: int = Field(index=True)
    day: dt.date
    started_at: dt.datetime = ts_field(default_now=False)
    ended_at: dt.datetime = ts_field(default_now=False)
    duration_ms: int = Field(default=0, sa_column=Column(sa.BigInteger, nullable=False))
    state: str = Field(max_length=16)
    reason_code: str = Field(max_length=30)
    loss: str = Field(max_length=20)
    reason_by: str | None = Field(default=None, max_length=120)  # None: the machine's report
    maintenance_id: int | None = Field(default=None, index=True)


class Shift(TenantScoped, table=True):
    """A station's shift (班次) as a local-time window on some weekdays."""

    __tablename__ = "sorter_shift"
    __table_args__ = (sa.UniqueConstraint("tenant_code", "number"),)
    id: int | None = Field(default=None, primary_key=True)
    number: int
    name: str = Field(default="", max_length=40)
    start: dt.time
    end: dt.time
    weekdays: str = Field(default="1234567", max_length=7)


class CalendarEntry(TenantScoped, table=True):
    """A holiday (a whole local day without planned production) or a planned maintenance window
    of a station."""

    __tablename__ = "sorter_calendar_entry"
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=12)  # holiday | maintenance
    day: dt.date = Field(index=True)  # the holiday, or the local day the window starts
    starts_at: dt.datetime | None = ts_field(nullable=True, default_now=False, default=None)
    ends_at: dt.datetime | None = ts_field(nullable=True, default_now=False, default=None)
    note: str = Field(default="", max_length=200)


class Maintenance(TenantScoped, table=True):
    """A maintenance log entry of a device: planned or corrective, parts, duration; the stops it
    explains point to it (``Stop.maintenance_id``)."""

    __tablename__ = "sorter_maintenance"
    id: int | None = Field(default=None, primary_key=True)
    device_id: int = Field(index=True)
    kind: str = Field(max_length=12)  # planned | corrective
    started_at: dt.datetime = ts_field(default_now=False)
    duration_minutes: int
    parts: str = Field(default="", max_length=300)
    note: str = Field(default="", max_length=500)
    done_by: str = Field(max_length=120)
    created_at: dt.datetime = ts_field()
