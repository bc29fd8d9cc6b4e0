"""Demo data: 29 Henan stations with a disc sorter, October 2020 telemetry (DOMAIN.md §4).

Everything goes through the plugin's own code: devices through the registry, the simulated
machines' raw JSON through :func:`postalops_sorter.ingest.ingest` in batches, rollups and
departures through :func:`postalops_sorter.recompute.recompute_dirty`. Sequence numbers are a
function of the day and wave, so a re-run inserts nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlmodel import Session, select

from .ingest import ingest, retention_days
from .models import Departure, Device, Rollup, WaveWindow
from .recompute import recompute_dirty
from .simulation import (
    DEMO_MODEL,
    DEMO_MONTH,
    DEMO_RATED,
    DEMO_WAVES,
    demo_log_departures,
    demo_plan,
    demo_runs,
    simulate_run,
)

STATIONS_WITH_SORTERS = 29
BATCH = 10_000


def pick_stations(units: dict[str, Any], n: int = STATIONS_WITH_SORTERS) -> list[str]:
    """``n`` Henan stations: every city's first station, then second stations, city by city."""
    stations = sorted(
        code
        for code, u in units.items()
        if code.startswith("cn.henan.") and getattr(u, "level", "") == "station"
    )
    by_city: dict[str, list[str]] = {}
    for code in stations:
        by_city.setdefault(code.rsplit(".", 1)[0], []).append(code)
    order = []
    for rank in range(max((len(v) for v in by_city.values()), default=0)):
        order += [codes[rank] for _, codes in sorted(by_city.items()) if rank < len(codes)]
    return order[:n]


def month_days(year: int, month: int, days: int | None = None) -> list[dt.date]:
    first = dt.date(year, month, 1)
    out = []
    d = first
    while d.month == month and (days is None or len(out) < days):
        out.append(d)
        d += dt.timedelta(days=1)
    return out


def seq_base(day: dt.date, wave: int) -> int:
    """Sequence numbers of a day's wave run: unique per device, stable across re-runs."""
    return (day - dt.date(2019, 1, 1)).days * 10_000 + (wave - 1) * 5_000


def build(
    session: Session,
    units: dict[str, Any],
    progress: Callable[..., None] = lambda *a: None,
    days: int | None = None,
) -> dict[str, int]:
    """Create the demo sorters and their month of telemetry; idempotent. ``days`` trims the month
    (tests); the demo itself uses all of October 2020."""
    plans = demo_plan(pick_stations(units))
    devices: dict[str, Device] = {}
    for p in plans:
        device = session.exec(
            select(Device).where(Device.tenant_code == p.station, Device.code == p.device_code)
        ).first()
        if device is None:
            device = Device(
                tenant_code=p.station,
                code=p.device_code,
                name=f"{p.device_code} 圆盘分拣机",
                model=DEMO_MODEL,
                chutes=24,
                commissioned_on=p.commissioned_on,
                rated_per_hour=DEMO_RATED,
            )
            session.add(device)
        for number, start, end in DEMO_WAVES:
            if (
                session.exec(
                    select(WaveWindow).where(
                        WaveWindow.tenant_code == p.station, WaveWindow.number == number
                    )
                ).first()
                is None
            ):
                session.add(WaveWindow(tenant_code=p.station, number=number, start=start, end=end))
        have_log = session.exec(
            select(Departure.id).where(
                Departure.tenant_code == p.station, Departure.source == "log"
            )
        ).first()
        if have_log is None:
            session.add_all(
                Departure(tenant_code=p.station, day=day, wave=wave, departed_at=at, source="log")
                for day, wave, at in demo_log_departures(p)
            )
        session.flush()
        devices[p.station] = device
    session.commit()

    the_days = month_days(*DEMO_MONTH, days)
    now = dt.datetime.combine(the_days[-1] + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    accepted = 0
    total = len(plans) * len(the_days)
    for i, p in enumerate(plans):
        device = devices[p.station]
        # a re-run skips the days already rolled up: nothing to simulate, nothing to add
        done = set(
            session.exec(
                select(Rollup.day).where(
                    Rollup.device_id == device.id, Rollup.grain == "day", Rollup.day.in_(the_days)
                )
            ).all()
        )
        pending: list[dict] = []
        for day in the_days:
            if day in done:
                continue
            for wave, run in enumerate(demo_runs(p, day), start=1):
                pending += simulate_run(run, seed=p.station, first_seq=seq_base(day, wave))
            if len(pending) >= BATCH:
                accepted += _ingest(session, device, pending[:BATCH], now)
                pending = pending[BATCH:]
        while pending:
            accepted += _ingest(session, device, pending[:BATCH], now)
            pending = pending[BATCH:]
        session.commit()
        progress((i + 1) * len(the_days), total, f"{p.station} telemetry")
    result = recompute_dirty(session, now=now, retention_days=retention_days())
    session.commit()
    return {"devices": len(devices), "events": accepted, **result}


def _ingest(session: Session, device: Device, raw: list[dict], now: dt.datetime) -> int:
    report = ingest(
        session,
        device_id=device.id,
        tenant_code=device.tenant_code,
        chutes=device.chutes,
        raw_events=raw,
        now=now,
        backfill=True,
    )
    if report.rejected:
        raise ValueError(f"demo telemetry rejected: {report.rejected[:3]}")
    return report.accepted
