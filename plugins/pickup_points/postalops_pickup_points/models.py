"""Pickup-point tables. Every row is tenant-scoped (``TenantScoped``): the core's session filters
reads to the caller's subtree and refuses writes outside it. Table names start with
``pickup_points_``.

Where a row's ``tenant_code`` points: areas and points to the org unit that runs them (a city,
or a county/station below it); items, volumes, complaints, status changes and switches to their
point's unit; city volumes to the city. The rules are the core's plugin settings (settings.py).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa
from postalops.db import Money
from postalops.models import TenantScoped, ts_field
from sqlmodel import JSON, Column, Field


class PickupArea(TenantScoped, table=True):
    """A service area: urban community, administrative village or institutional mailroom."""

    __tablename__ = "pickup_points_area"
    __table_args__ = (sa.UniqueConstraint("tenant_code", "code"),)
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64)
    name: str = Field(max_length=200)
    category: str = Field(max_length=20, index=True)
    county: str = Field(max_length=60, index=True)
    lon: float
    lat: float
    polygon_wkt: str | None = Field(default=None, sa_column=Column(sa.Text))
    households: int = 0
    population: int | None = None
    # Coverage as last recomputed (the recompute job writes these; metrics recompute on the fly).
    covered: bool | None = None
    covered_reason: str | None = Field(default=None, max_length=20)
    covered_by: int | None = None
    distance_m: float | None = None
    nearest_point: int | None = None
    nearest_m: float | None = None
    coverage_at: dt.datetime | None = ts_field(nullable=True, default_now=False, default=None)
    created_at: dt.datetime = ts_field()


class PickupPoint(TenantScoped, table=True):
    """A pickup point (自提点) of one of the five types."""

    __tablename__ = "pickup_points_point"
    __table_args__ = (sa.UniqueConstraint("tenant_code", "code"),)
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64)
    name: str = Field(max_length=200)
    point_type: str = Field(max_length=20, index=True)
    status: str = Field(default="active", max_length=20, index=True)
    county: str = Field(max_length=60)
    lon: float
    lat: float
    operator: str | None = Field(default=None, max_length=200)
    capacity: int | None = None
    opening_hours: dict | None = Field(default=None, sa_column=Column(JSON))
    agent_fee: Decimal | None = Field(default=None, sa_column=Column(Money(), nullable=True))
    agent_fee_from: dt.date | None = None
    opened_on: dt.date
    direct_since: dt.date | None = None
    created_at: dt.datetime = ts_field()


class PickupStatusChange(TenantScoped, table=True):
    """From ``effective`` on, the point has this status and type (history for 'on a date')."""

    __tablename__ = "pickup_points_status_change"
    id: int | None = Field(default=None, primary_key=True)
    point_id: int = Field(foreign_key="pickup_points_point.id", index=True)
    effective: dt.date
    status: str = Field(max_length=20)
    point_type: str = Field(max_length=20)
    changed_by: str | None = Field(default=None, max_length=120)
    at: dt.datetime = ts_field()


class PickupAssignment(TenantScoped, table=True):
    """A point assigned to serve an area (covers it whatever the distance, while active)."""

    __tablename__ = "pickup_points_assignment"
    __table_args__ = (sa.UniqueConstraint("area_id", "point_id"),)
    id: int | None = Field(default=None, primary_key=True)
    area_id: int = Field(foreign_key="pickup_points_area.id", index=True)
    point_id: int = Field(foreign_key="pickup_points_point.id", index=True)


class PickupDailyVolume(TenantScoped, table=True):
    """Inbound items at a point on a local date; for township counters, how many of them were
    handed over the counter (转窗投)."""

    __tablename__ = "pickup_points_daily_volume"
    __table_args__ = (sa.UniqueConstraint("point_id", "day"),)
    id: int | None = Field(default=None, primary_key=True)
    point_id: int = Field(foreign_key="pickup_points_point.id", index=True)
    day: dt.date = Field(index=True)
    inbound_items: int = 0
    counter_items: int = 0


class PickupCityVolume(TenantScoped, table=True):
    """A city's urban delivery volume on a date: the denominator of the diverted share."""

    __tablename__ = "pickup_points_city_volume"
    __table_args__ = (sa.UniqueConstraint("tenant_code", "day"),)
    id: int | None = Field(default=None, primary_key=True)
    day: dt.date = Field(index=True)
    delivery_items: int = 0


class PickupDirectSwitch(TenantScoped, table=True):
    """A point switched to direct delivery from the city processing centre."""

    __tablename__ = "pickup_points_direct_switch"
    __table_args__ = (sa.UniqueConstraint("point_id", "effective"),)
    id: int | None = Field(default=None, primary_key=True)
    point_id: int = Field(foreign_key="pickup_points_point.id", index=True)
    effective: dt.date
    ended: dt.date | None = None
    average_per_day: str = Field(max_length=20)  # exact Decimal text at the decision
    window_from: dt.date
    window_to: dt.date
    decided_by: str | None = Field(default=None, max_length=120)
    at: dt.datetime = ts_field()


class PickupItem(TenantScoped, table=True):
    """One item's life at a point; deadlines are computed on arrival by the service rules."""

    __tablename__ = "pickup_points_item"
    __table_args__ = (sa.UniqueConstraint("point_id", "waybill"),)
    id: int | None = Field(default=None, primary_key=True)
    point_id: int = Field(foreign_key="pickup_points_point.id", index=True)
    waybill: str = Field(max_length=40)
    arrived_at: dt.datetime = ts_field(default_now=False)
    arrival_day: dt.date = Field(index=True)
    notified_at: dt.datetime | None = ts_field(nullable=True, default_now=False, default=None)
    feedback_at: dt.datetime | None = ts_field(nullable=True, default_now=False, default=None)
    picked_up_at: dt.datetime | None = ts_field(nullable=True, default_now=False, default=None)
    picked_up_day: dt.date | None = None
    returned_at: dt.datetime | None = ts_field(nullable=True, default_now=False, default=None)
    returned_day: dt.date | None = None
    uncollected_after: dt.date
    return_by: dt.date
    feedback_ok: bool = False


class PickupComplaint(TenantScoped, table=True):
    __tablename__ = "pickup_points_complaint"
    id: int | None = Field(default=None, primary_key=True)
    point_id: int = Field(foreign_key="pickup_points_point.id", index=True)
    day: dt.date = Field(index=True)
    note: str = Field(default="", max_length=500)


class PickupSitingScenario(TenantScoped, table=True):
    """A siting scenario (candidate set, radii, K) and what LSCP, MCLP, the greedy and the
    capacity assignment made of it. ``code`` is the job id that ran it (or ``demo-…``), so a
    re-run job overwrites its own scenario instead of adding one."""

    __tablename__ = "pickup_points_siting_scenario"
    __table_args__ = (sa.UniqueConstraint("tenant_code", "code"),)
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64)
    name: str = Field(max_length=200)
    status: str = Field(default="running", max_length=20, index=True)  # running | done | failed
    params: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    result: dict | None = Field(default=None, sa_column=Column(JSON))
    started_by: str | None = Field(default=None, max_length=120)
    created_at: dt.datetime = ts_field()
    finished_at: dt.datetime | None = ts_field(nullable=True, default_now=False, default=None)


class PickupPlannedSite(TenantScoped, table=True):
    """A chosen site a planner accepted as a planned point (not yet open: covers nothing).
    Promoting it creates a pickup point with status ``planned`` (筹建) at the site, linked by
    ``point_id``; a site is promoted at most once."""

    __tablename__ = "pickup_points_planned_site"
    __table_args__ = (sa.UniqueConstraint("scenario_id", "candidate_id"),)
    id: int | None = Field(default=None, primary_key=True)
    scenario_id: int = Field(foreign_key="pickup_points_siting_scenario.id", index=True)
    candidate_id: str = Field(max_length=64)
    name: str = Field(max_length=200)
    lon: float
    lat: float
    households: int = 0  # households the site would newly cover in its scenario
    accepted_by: str | None = Field(default=None, max_length=120)
    accepted_at: dt.datetime = ts_field()
    point_id: int | None = Field(default=None, foreign_key="pickup_points_point.id", index=True)
    promoted_by: str | None = Field(default=None, max_length=120)
    promoted_at: dt.datetime | None = ts_field(nullable=True, default_now=False, default=None)
