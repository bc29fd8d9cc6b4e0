"""Recompute rollups (minute, hour, wave, day) for device-days flagged dirty by ingest, and the
stations' wave departures that follow from them.

Item counts are aggregated in SQL per minute; state durations are cut in Python from the day's
few state changes (:mod:`postalops_sorter.rollup`). Hours, waves and the day are sums of the
minute totals: wave windows are whole minutes and the zone offset whole hours, so every coarser
bucket is an exact union of minutes. A recompute replaces the device-day's rollups, so running it
twice changes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from postalops import bulk
from sqlmodel import Session, select

from .calendar import Shift
from .events import State
from .ingest import mark_dirty
from .losses import DEFAULT_REASON_OF_STATE, UNASSIGNED, stops_from_segments
from .models import Departure, Device, DirtyDay, Rollup, WaveWindow
from .models import Event as EventRow
from .models import Shift as ShiftRow
from .models import Stop as StopRow
from .oee import Totals
from .retention import cutoff
from .rollup import state_totals, window_totals
from .timeline import (
    HOUR_MS,
    LOCAL_TZ,
    MINUTE_MS,
    Grain,
    from_ms,
    local_day_start_ms,
    segments,
    to_ms,
)
from .waves import Wave, advance_minutes, baseline_minute

RESULT_FIELDS = {
    "sorted": "sorted",
    "rejected": "rejected",
    "no_read": "no_read",
    "recirculated": "recirculated",
}


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def minute_expr(conn: sa.Connection, column: sa.ColumnElement) -> sa.ColumnElement:
    """Epoch minute of a timestamp column, in SQL, per dialect."""
    if conn.dialect.name == "postgresql":
        return sa.cast(sa.func.floor(sa.extract("epoch", column) / 60), sa.BigInteger)
    return sa.cast(sa.func.strftime("%s", column), sa.Integer) // 60


def minute_counts(
    conn: sa.Connection, device_id: int, start: dt.datetime, end: dt.datetime
) -> dict[int, dict[str, int]]:
    """``{minute start ms: {"sorted": n, ...}}`` for a device's item events in ``[start, end)``."""
    t = EventRow.__table__
    minute = minute_expr(conn, t.c.at).label("minute")
    stmt = (
        sa.select(minute, t.c.result, sa.func.count())
        .where(t.c.device_id == device_id, t.c.kind == "item", t.c.at >= start, t.c.at < end)
        .group_by(minute, t.c.result)
    )
    out: dict[int, dict[str, int]] = defaultdict(dict)
    for m, result, n in conn.execute(stmt):
        bucket = out[int(m) * MINUTE_MS]
        bucket[RESULT_FIELDS[result]] = bucket.get(RESULT_FIELDS[result], 0) + int(n)
    return out


def state_changes(
    conn: sa.Connection, device_id: int, start: dt.datetime, end: dt.datetime
) -> tuple[State | None, list[tuple[int, State]]]:
    """The state in force at ``start`` and the changes in ``[start, end)``, in time order."""
    t = EventRow.__table__
    prior = conn.execute(
        sa.select(t.c.state)
        .where(t.c.device_id == device_id, t.c.kind == "state", t.c.at < start)
        .order_by(t.c.at.desc(), t.c.seq.desc())
        .limit(1)
    ).scalar()
    rows = conn.execute(
        sa.select(t.c.at, t.c.state)
        .where(t.c.device_id == device_id, t.c.kind == "state", t.c.at >= start, t.c.at < end)
        .order_by(t.c.at, t.c.seq)
    )
    return (State(prior) if prior else None), [(to_ms(_aware(at)), State(s)) for at, s in rows]


def last_seen(conn: sa.Connection, device_id: int) -> dt.datetime | None:
    t = EventRow.__table__
    return _aware(
        conn.execute(sa.select(sa.func.max(t.c.at)).where(t.c.device_id == device_id)).scalar()
    )


def station_waves(session: Session, tenant_code: str) -> list[Wave]:
    rows = session.exec(select(WaveWindow).where(WaveWindow.tenant_code == tenant_code)).all()
    return sorted((Wave(w.number, w.start, w.end) for w in rows), key=lambda w: w.start)


def _day_inputs(conn: sa.Connection, device: Device, day: dt.date) -> Any:
    ds, de = local_day_start_ms(day), local_day_start_ms(day + dt.timedelta(days=1))
    seen = last_seen(conn, device.id)
    if seen is None:
        return None
    # A state ends at the next change; with none, at the last sign of life (any event), or at
    # the day's end when the device was still reporting after it. Never "last event + 1 ms".
    horizon = max(ds, min(de, to_ms(seen)))
    prior, changes = state_changes(conn, device.id, from_ms(ds), from_ms(de))
    counts = minute_counts(conn, device.id, from_ms(ds), from_ms(de))
    return ds, de, horizon, prior, changes, counts


def _with_counts(
    buckets: dict[int, Totals], counts: dict[int, dict[str, int]], size: int
) -> dict[int, Totals]:
    for m, c in counts.items():
        b = m - m % size
        buckets[b] = buckets.get(b, Totals()) + Totals(**c)
    return buckets


def device_day_totals(conn: sa.Connection, device: Device, day: dt.date) -> dict[int, Totals]:
    """Minute totals of one device over one local day, for minutes where the machine was on or
    saw items (minutes spent wholly in a planned stop are left out)."""
    inputs = _day_inputs(conn, device, day)
    if inputs is None:
        return {}
    ds, de, horizon, prior, changes, counts = inputs
    minutes = state_totals(
        changes,
        prior,
        ds,
        de,
        Grain.MINUTE,
        device.rated_per_hour,
        skip_full=SKIP_MINUTES,
        horizon=horizon,
    )
    return _with_counts(minutes, counts, MINUTE_MS)


SKIP_MINUTES = frozenset({State.PLANNED_STOP})


def station_shifts(session: Session, tenant_code: str) -> list[Shift]:
    rows = session.exec(select(ShiftRow).where(ShiftRow.tenant_code == tenant_code)).all()
    return sorted(
        (Shift(r.number, r.name, r.start, r.end, r.weekdays) for r in rows), key=lambda s: s.start
    )


def _bucket_rows(
    device: Device,
    day: dt.date,
    conn: sa.Connection,
    waves: list[Wave],
    shifts: list[Shift] | None = None,
    inputs: Any = None,
) -> list[dict]:
    """Rollup rows of one device-day: minutes (where the machine was on), hours, waves, day.

    Hours come from the state timeline cut at hour edges, not from summing minutes, so a
    machine switched off all night costs 24 pieces, not 1,440.
    """
    if inputs is None:
        inputs = _day_inputs(conn, device, day)
    if inputs is None:
        return []
    ds, de, horizon, prior, changes, counts = inputs
    rated = device.rated_per_hour

    def row(grain: str, start: int, t: Totals, wave: int = 0) -> dict:
        return {
            "tenant_code": device.tenant_code,
            "device_id": device.id,
            "grain": grain,
            "bucket_start": from_ms(start),
            "day": day,
            "wave": wave,
            "computed_at": dt.datetime.now(dt.UTC),
            **{f: getattr(t, f) for f in Totals.__dataclass_fields__},
        }

    minutes = _with_counts(
        state_totals(
            changes, prior, ds, de, Grain.MINUTE, rated, skip_full=SKIP_MINUTES, horizon=horizon
        ),
        counts,
        MINUTE_MS,
    )
    hours = _with_counts(
        state_totals(changes, prior, ds, de, Grain.HOUR, rated, horizon=horizon), counts, HOUR_MS
    )
    rows = [row("minute", m, t) for m, t in sorted(minutes.items()) if t != Totals()]
    rows += [row("hour", h, t) for h, t in sorted(hours.items()) if t != Totals()]
    for w in waves:
        ws, we = w.window(day)
        in_window = {}
        for m, c in counts.items():
            if ws <= m < we:
                for k, v in c.items():
                    in_window[k] = in_window.get(k, 0) + v
        t = window_totals(changes, prior, ws, we, rated, in_window, horizon=horizon)
        if t != Totals():
            rows.append(row("wave", ws, t, w.number))
    # Shift buckets (grain "shift", number in ``wave``) carry running time and counts inside
    # the shift's window; the calendar's planned time is applied when they are read. A night
    # shift belongs to the day it starts on and reads its window past midnight on its own.
    for sh in shifts or []:
        if not sh.works_on(day):
            continue
        if sh.overnight:
            t = overnight_totals(conn, device, sh, day)
        else:
            ss, se = sh.window(day)
            in_window = {}
            for m, c in counts.items():
                if ss <= m < se:
                    for k, v in c.items():
                        in_window[k] = in_window.get(k, 0) + v
            t = window_totals(changes, prior, ss, se, rated, in_window, horizon=horizon)
        if t != Totals():
            rows.append(row("shift", sh.window(day)[0], t, sh.number))
    day_total = sum(hours.values(), Totals())
    if day_total != Totals():
        rows.append(row("day", local_day_start_ms(day), day_total))
    return rows


def overnight_totals(conn: sa.Connection, device: Device, sh: Shift, day: dt.date) -> Totals:
    """Totals of a device inside the night shift that starts on ``day`` (past midnight), read
    from raw events over the shift's own window."""
    ss, se = sh.window(day)
    seen = last_seen(conn, device.id)
    if seen is None:
        return Totals()
    prior, changes = state_changes(conn, device.id, from_ms(ss), from_ms(se))
    counts: dict[str, int] = {}
    for c in minute_counts(conn, device.id, from_ms(ss), from_ms(se)).values():
        for k, v in c.items():
            counts[k] = counts.get(k, 0) + v
    horizon = max(ss, min(se, to_ms(seen)))
    return window_totals(changes, prior, ss, se, device.rated_per_hour, counts, horizon=horizon)


def _night_shift_rows(
    session: Session,
    device: Device,
    day: dt.date,
    shifts: list[Shift],
    keep_from: dt.date | None = None,
) -> int:
    """Redo the shift buckets of the night shifts that started the day before ``day`` and run
    into it (they belong to that day, whose rollups are not otherwise touched). Not when that
    day is past raw-event retention (``keep_from``): its evening's events may be gone."""
    before = day - dt.timedelta(days=1)
    if keep_from is not None and before < keep_from:
        return 0
    night = [sh for sh in shifts if sh.overnight and sh.works_on(before)]
    if not night:
        return 0
    conn = session.connection()
    t = Rollup.__table__
    conn.execute(
        sa.delete(t).where(
            t.c.device_id == device.id,
            t.c.grain == "shift",
            t.c.day == before,
            t.c.wave.in_([sh.number for sh in night]),
        )
    )
    rows = []
    for sh in night:
        totals = overnight_totals(conn, device, sh, before)
        if totals == Totals():
            continue
        rows.append(
            {
                "tenant_code": device.tenant_code,
                "device_id": device.id,
                "grain": "shift",
                "bucket_start": from_ms(sh.window(before)[0]),
                "day": before,
                "wave": sh.number,
                "computed_at": dt.datetime.now(dt.UTC),
                **{f: getattr(totals, f) for f in Totals.__dataclass_fields__},
            }
        )
    bulk.insert_rows(session, t, rows)
    return len(rows)


def recompute_device_day(
    session: Session,
    device: Device,
    day: dt.date,
    waves: list[Wave],
    shifts: list[Shift] | None = None,
    keep_from: dt.date | None = None,
) -> int:
    """Replace one device-day's rollups and stops, and the night shift of the day before that
    runs into it (unless that day is before ``keep_from``, the retention horizon); returns how
    many rollup rows were written."""
    conn = session.connection()
    if shifts is None:
        shifts = station_shifts(session, device.tenant_code)
    inputs = _day_inputs(conn, device, day)
    rows = _bucket_rows(device, day, conn, waves, shifts, inputs) if inputs is not None else []
    t = Rollup.__table__
    conn.execute(sa.delete(t).where(t.c.device_id == device.id, t.c.day == day))
    # the core's bulk writer: COPY through a staging table on PostgreSQL, executemany on SQLite
    bulk.insert_rows(session, t, rows)
    written = len(rows) + _night_shift_rows(session, device, day, shifts, keep_from)
    recompute_stops(session, device, day, inputs)
    return written


def recompute_stops(session: Session, device: Device, day: dt.date, inputs: Any = None) -> int:
    """Rebuild a device-day's stops from its timeline. A stop already known (same device and
    start) keeps the reason a person gave it and its maintenance link; its end may move (late
    events). Stops that no longer exist are deleted."""
    conn = session.connection()
    if inputs is None:
        inputs = _day_inputs(conn, device, day)
    t = StopRow.__table__
    old = {
        _aware(r.started_at): r
        for r in conn.execute(sa.select(t).where(t.c.device_id == device.id, t.c.day == day)).all()
    }
    found = []
    if inputs is not None:
        ds, de, horizon, prior, changes, _ = inputs
        until = max(ds, min(de, horizon))
        found = stops_from_segments(segments(changes, prior, ds, until))
    from .reasons import catalogue, loss_of

    cat = None
    keep: set[dt.datetime] = set()
    for stop in found:
        start = from_ms(stop.start)
        keep.add(start)
        prev = old.get(start)
        if prev is not None:
            conn.execute(
                sa.update(t)
                .where(t.c.id == prev.id)
                .values(ended_at=from_ms(stop.end), duration_ms=stop.ms, state=stop.state.value)
            )
            continue
        if cat is None:
            cat = catalogue(session, device.tenant_code)
        code = DEFAULT_REASON_OF_STATE.get(stop.state, UNASSIGNED)
        conn.execute(
            sa.insert(t).values(
                tenant_code=device.tenant_code,
                device_id=device.id,
                day=day,
                started_at=start,
                ended_at=from_ms(stop.end),
                duration_ms=stop.ms,
                state=stop.state.value,
                reason_code=code,
                loss=loss_of(cat, code),
            )
        )
    gone = [r.id for at, r in old.items() if at not in keep]
    if gone:
        conn.execute(sa.delete(t).where(t.c.id.in_(gone)))
    return len(found)


def recompute_departures(
    session: Session,
    station: str,
    day: dt.date,
    *,
    devices: list[Device] | None = None,
    waves: list[Wave] | None = None,
    logs: dict[int, list[dt.datetime]] | None = None,
) -> int:
    """Telemetry departures of one station-day: each wave's last sorted item, with its advance
    over the station's pre-commissioning departure log. Returns how many were written.

    ``devices``, ``waves`` and ``logs`` (:func:`departure_logs`) may be passed by a caller
    that recomputes many days of the station: they do not change from one day to the next."""
    if devices is None:
        devices = list(session.exec(select(Device).where(Device.tenant_code == station)).all())
    if not devices:
        return 0
    commissioned = min(d.commissioned_on for d in devices)
    conn = session.connection()
    t = EventRow.__table__
    written = 0
    waves = station_waves(session, station) if waves is None else waves
    logs = departure_logs(session, station, commissioned) if logs is None else logs
    numbers = {w.number for w in waves}
    existing: dict[int, Departure] = {}
    # the station-day's telemetry departures in one query: a removed wave's is deleted
    for row in session.exec(
        select(Departure).where(
            Departure.tenant_code == station,
            Departure.day == day,
            Departure.source == "telemetry",
        )
    ).all():
        if row.wave not in numbers:
            session.delete(row)  # its wave was removed from the station's windows
        else:
            existing.setdefault(row.wave, row)
    for w in waves:
        ws, we = w.window(day)
        last = None
        if day >= commissioned:
            last = _aware(
                conn.execute(
                    sa.select(sa.func.max(t.c.at)).where(
                        t.c.device_id.in_([d.id for d in devices]),
                        t.c.kind == "item",
                        t.c.result == "sorted",
                        t.c.at >= from_ms(ws),
                        t.c.at < from_ms(we),
                    )
                ).scalar()
            )
        if last is None:
            if w.number in existing:
                session.delete(existing[w.number])
            continue
        base = baseline_minute([to_ms(_aware(d)) for d in logs.get(w.number, [])])
        advance = advance_minutes(base, to_ms(last)) if base is not None else None
        row = existing.get(w.number) or Departure(
            tenant_code=station, day=day, wave=w.number, source="telemetry", departed_at=last
        )
        row.departed_at, row.advance_minutes = last, advance
        session.add(row)
        written += 1
    session.flush()
    return written


def departure_logs(
    session: Session, station: str, commissioned: dt.date
) -> dict[int, list[dt.datetime]]:
    """The station's logged departures before commissioning, by wave (the baseline)."""
    out: dict[int, list[dt.datetime]] = defaultdict(list)
    for wave, at in session.exec(
        select(Departure.wave, Departure.departed_at).where(
            Departure.tenant_code == station,
            Departure.source == "log",
            Departure.day < commissioned,
        )
    ).all():
        out[wave].append(at)
    return dict(out)


def mark_station_days(
    session: Session, station: str, *, now: dt.datetime, retention_days: int
) -> int:
    """Flag for recompute every day a station's devices have rollups for, inside raw-event
    retention: a change to the station's waves moves wave buckets and departures on all of them.
    Older days keep their rollups (their raw events may be gone). Returns the device-days marked.
    """
    keep_from = cutoff(now, retention_days).astimezone(LOCAL_TZ).date()
    t = Rollup.__table__
    devices = session.exec(select(Device.id).where(Device.tenant_code == station)).all()
    marked = 0
    for device_id in devices:
        days = session.connection().execute(
            sa.select(t.c.day)
            .where(t.c.device_id == device_id, t.c.grain == "day", t.c.day >= keep_from)
            .distinct()
        )
        days = [d for (d,) in days]
        mark_dirty(session, device_id, station, days)
        marked += len(days)
    return marked


def recompute_dirty(
    session: Session,
    *,
    now: dt.datetime,
    retention_days: int,
    progress: Callable[[int, int, str], None] | None = None,
    limit: int | None = None,
) -> dict[str, int]:
    """Recompute every dirty device-day in the session's scope, then its station's departures.

    A mark is cleared only if it was not renewed while we worked (ingest upserts ``marked_at``),
    so events arriving mid-recompute are picked up next time. Days past raw-event retention are
    never recomputed (their raw events may be gone; their rollups stay as they were).
    """
    started = dt.datetime.now(dt.UTC)
    stmt = select(DirtyDay).order_by(DirtyDay.day, DirtyDay.device_id)
    if limit:
        stmt = stmt.limit(limit)
    dirty = session.exec(stmt).all()
    keep_from = cutoff(now, retention_days).astimezone(LOCAL_TZ).date()
    devices = {d.id: d for d in session.exec(select(Device)).all()}
    waves_of: dict[str, list[Wave]] = {}
    shifts_of: dict[str, list[Shift]] = {}
    stations: set[tuple[str, dt.date]] = set()
    rows = 0
    for i, mark in enumerate(dirty, 1):
        device = devices.get(mark.device_id)
        if device is not None and mark.day >= keep_from:
            if device.tenant_code not in waves_of:
                waves_of[device.tenant_code] = station_waves(session, device.tenant_code)
                shifts_of[device.tenant_code] = station_shifts(session, device.tenant_code)
            rows += recompute_device_day(
                session,
                device,
                mark.day,
                waves_of[device.tenant_code],
                shifts_of[device.tenant_code],
                keep_from,
            )
            stations.add((device.tenant_code, mark.day))
        if progress and (i % 50 == 0 or i == len(dirty)):
            progress(i, len(dirty), f"device {mark.device_id} {mark.day}")
    # A station's devices, waves and departure log are read once for all its dirty days.
    by_station: dict[str, list[Device]] = defaultdict(list)
    for d in devices.values():
        by_station[d.tenant_code].append(d)
    logs_of: dict[str, dict[int, list[dt.datetime]]] = {}
    departures = 0
    for station, day in sorted(stations):
        mine = by_station[station]
        if station not in logs_of:
            commissioned = min(d.commissioned_on for d in mine)
            logs_of[station] = departure_logs(session, station, commissioned)
        departures += recompute_departures(
            session, station, day, devices=mine, waves=waves_of[station], logs=logs_of[station]
        )
    t = DirtyDay.__table__
    if dirty:  # one executemany: a single round trip on psycopg's pipeline
        session.connection().execute(
            sa.delete(t).where(
                t.c.device_id == sa.bindparam("mark_device"),
                t.c.day == sa.bindparam("mark_day"),
                t.c.marked_at <= started,
            ),
            [{"mark_device": m.device_id, "mark_day": m.day} for m in dirty],
        )
    return {"device_days": len(dirty), "rollup_rows": rows, "departures": departures}
