"""Production calendars in the database: a station's shifts, holidays and planned maintenance;
planned production time; availability and OEE per shift under the calendar.

A night shift (end at or before start) runs into the next day and belongs to the day it starts
on: its rows, holidays and weekdays are that day's.

Running time and counts inside a shift come from the shift rollups (grain ``shift``, the shift
number in ``wave``) that the rollup job writes next to the wave ones; running time inside a
planned maintenance window is taken out (from the minute rollups), as its time is. Planned time
counts once per device commissioned by that day, whether or not the device sent anything.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any

import sqlalchemy as sa
from postalops.db import in_scope_clause
from postalops.errors import NotFound, ValidationError
from sqlmodel import Session, select

from .calendar import Shift, overlap, planned_windows
from .models import CalendarEntry, Device, Rollup
from .models import Shift as ShiftRow
from .oee import RATE_PLACES, Totals, _dec
from .timeline import HOUR_MS, LOCAL_TZ, MINUTE_MS, local_day_start_ms, to_ms

ENTRY_KINDS = ("holiday", "maintenance")


def replace_shifts(session: Session, station: str, shifts: list[Shift]) -> list[ShiftRow]:
    for row in session.exec(select(ShiftRow).where(ShiftRow.tenant_code == station)).all():
        session.delete(row)
    session.flush()
    rows = [
        ShiftRow(
            tenant_code=station,
            number=s.number,
            name=s.name,
            start=s.start,
            end=s.end,
            weekdays=s.weekdays,
        )
        for s in shifts
    ]
    session.add_all(rows)
    session.flush()
    return rows


def add_entry(
    session: Session,
    station: str,
    kind: str,
    *,
    day: dt.date | None = None,
    starts_at: dt.datetime | None = None,
    ends_at: dt.datetime | None = None,
    note: str = "",
) -> CalendarEntry:
    """A holiday (``day``) or a planned maintenance window (``starts_at`` .. ``ends_at``)."""
    details = []
    if kind not in ENTRY_KINDS:
        details.append({"field": "kind", "message": "holiday | maintenance"})
    elif kind == "holiday" and day is None:
        details.append({"field": "day", "message": "required for a holiday"})
    elif kind == "maintenance":
        if starts_at is None:
            details.append({"field": "starts_at", "message": "required"})
        if ends_at is None:
            details.append({"field": "ends_at", "message": "required"})
        if starts_at and ends_at and ends_at <= starts_at:
            details.append({"field": "ends_at", "message": "must be after starts_at"})
        if starts_at and ends_at and ends_at - starts_at > dt.timedelta(days=7):
            details.append({"field": "ends_at", "message": "at most 7 days after starts_at"})
    if details:
        raise ValidationError("invalid calendar entry", code="invalid_calendar", details=details)
    if kind == "holiday":
        existing = session.exec(
            select(CalendarEntry).where(
                CalendarEntry.tenant_code == station,
                CalendarEntry.kind == "holiday",
                CalendarEntry.day == day,
            )
        ).first()
        if existing:
            existing.note = note or existing.note
            session.add(existing)
            session.flush()
            return existing
        row = CalendarEntry(tenant_code=station, kind=kind, day=day, note=note)
    else:
        row = CalendarEntry(
            tenant_code=station,
            kind=kind,
            day=starts_at.astimezone(LOCAL_TZ).date(),
            starts_at=starts_at,
            ends_at=ends_at,
            note=note,
        )
    session.add(row)
    session.flush()
    return row


def delete_entry(session: Session, entry_id: int) -> CalendarEntry:
    row = session.get(CalendarEntry, entry_id)
    if row is None:
        raise NotFound(
            f"no calendar entry {entry_id}", details=[{"field": "entry_id", "message": "unknown"}]
        )
    session.delete(row)
    session.flush()
    return row


@dataclass(frozen=True, slots=True)
class ShiftResult:
    """One device in one planned shift of one day."""

    station: str
    device_id: int
    day: dt.date
    shift: int
    planned_ms: int
    totals: Totals  # running time and counts inside the planned part of the shift

    def kpis(self) -> dict[str, Any]:
        return shift_kpis(self.planned_ms, self.totals)


def shift_kpis(planned_ms: int, t: Totals) -> dict[str, Any]:
    """Availability under the calendar, performance, quality and OEE of summed shifts."""
    a = Fraction(t.running_ms, planned_ms) if planned_ms else None
    p = Fraction(t.inducted * HOUR_MS, t.capacity_item_ms) if t.capacity_item_ms else None
    q = Fraction(t.sorted, t.inducted) if t.inducted else None
    if a is not None and t.running_ms == 0:
        o: Fraction | None = Fraction(0)  # down the whole planned time: OEE is 0, not unknown
    else:
        o = a * p * q if a is not None and p is not None and q is not None else None
    return {
        "planned_minutes": _dec(Fraction(planned_ms, MINUTE_MS), RATE_PLACES.scaleb(2)),
        "running_minutes": _dec(Fraction(t.running_ms, MINUTE_MS), RATE_PLACES.scaleb(2)),
        "availability": _dec(a, RATE_PLACES),
        "performance": _dec(p, RATE_PLACES),
        "quality": _dec(q, RATE_PLACES),
        "oee": _dec(o, RATE_PLACES),
        "items_sorted": t.sorted,
    }


def _days(date_from: dt.date, date_to: dt.date) -> list[dt.date]:
    return [date_from + dt.timedelta(days=i) for i in range((date_to - date_from).days + 1)]


def shift_results(
    session: Session,
    tenant: str,
    date_from: dt.date,
    date_to: dt.date,
    now: dt.datetime,
    device_id: int | None = None,
) -> list[ShiftResult]:
    """Every (device, day, planned shift) of the subtree over local days, inclusive, up to now."""
    shifts_of: dict[str, list[Shift]] = defaultdict(list)
    for r in session.exec(
        select(ShiftRow).where(in_scope_clause(ShiftRow.tenant_code, tenant))
    ).all():
        shifts_of[r.tenant_code].append(Shift(r.number, r.name, r.start, r.end, r.weekdays))
    if not shifts_of:
        return []
    holidays: dict[str, set[dt.date]] = defaultdict(set)
    maint: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for e in session.exec(
        select(CalendarEntry).where(
            in_scope_clause(CalendarEntry.tenant_code, tenant),
            CalendarEntry.day >= date_from - dt.timedelta(days=7),
            # a night shift of the last day runs into the next morning
            CalendarEntry.day <= date_to + dt.timedelta(days=1),
        )
    ).all():
        if e.kind == "holiday":
            holidays[e.tenant_code].add(e.day)
        elif e.starts_at and e.ends_at:
            maint[e.tenant_code].append((to_ms(e.starts_at), to_ms(e.ends_at)))
    stmt = select(Device).where(
        Device.active,
        Device.tenant_code.in_(list(shifts_of)),  # type: ignore[attr-defined]
    )
    if device_id is not None:
        stmt = stmt.where(Device.id == device_id)
    devices = session.exec(stmt).all()
    rt = Rollup.__table__
    fields = list(Totals.__dataclass_fields__)
    got: dict[tuple[int, dt.date, int], Totals] = {}
    ids = [d.id for d in devices]
    if ids:
        for r in session.connection().execute(
            sa.select(rt.c.device_id, rt.c.day, rt.c.wave, *[rt.c[f] for f in fields]).where(
                rt.c.grain == "shift",
                rt.c.day >= date_from,
                rt.c.day <= date_to,
                rt.c.device_id.in_(ids),
            )
        ):
            got[(r[0], r[1], r[2])] = Totals(*(int(v) for v in r[3:]))
    until = to_ms(now)
    out = []
    for d in devices:
        shifts = sorted(shifts_of[d.tenant_code], key=lambda s: s.start)
        for day in _days(max(date_from, d.commissioned_on), date_to):
            if local_day_start_ms(day) >= until:
                break
            for number, ws, we, planned in planned_windows(
                day, shifts, holidays[d.tenant_code], maint[d.tenant_code], until
            ):
                t = got.get((d.id, day, number), Totals())
                cut = [m for m in maint[d.tenant_code] if overlap((ws, we), m)]
                if cut and t.running_ms:
                    lost = _running_inside(session, d.id, ws, we, cut)
                    t = replace(
                        t,
                        running_ms=t.running_ms - lost,
                        capacity_item_ms=t.capacity_item_ms - lost * d.rated_per_hour,
                    )
                out.append(ShiftResult(d.tenant_code, d.id, day, number, planned, t))
    return out


def _running_inside(
    session: Session, device_id: int, ws: int, we: int, windows: list[tuple[int, int]]
) -> int:
    """Running ms of a device inside the maintenance windows' overlap with ``[ws, we)``, from
    its minute rollups (windows are whole minutes in practice; a partial minute counts pro
    rata)."""
    from .timeline import from_ms

    lost = 0
    rt = Rollup.__table__
    for ms, me in windows:
        s, e = max(ws, ms), min(we, me)
        if e <= s:
            continue
        for start, running in session.connection().execute(
            sa.select(rt.c.bucket_start, rt.c.running_ms).where(
                rt.c.device_id == device_id,
                rt.c.grain == "minute",
                rt.c.bucket_start >= from_ms(s - s % MINUTE_MS),
                rt.c.bucket_start < from_ms(e),
            )
        ):
            b = to_ms(start if start.tzinfo else start.replace(tzinfo=dt.UTC))
            part = overlap((b, b + MINUTE_MS), (s, e))
            lost += running * part // MINUTE_MS
    return lost


def calendar_totals(results: list[ShiftResult]) -> tuple[int, Totals]:
    planned = sum(r.planned_ms for r in results)
    return planned, sum((r.totals for r in results), Totals())
