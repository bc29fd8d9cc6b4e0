"""What the live station page and the city / province tables show.

The live view reads raw events directly (seconds-fresh, one device, today only); the tables read
day rollups and group them by the unit one level below the viewer, summing totals before any
ratio.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

import sqlalchemy as sa
from postalops.db import in_scope_clause
from sqlmodel import Session, select

from .models import Alert, Device, Rollup
from .models import Event as EventRow
from .oee import Totals, kpis
from .recompute import _aware, device_day_totals, last_seen
from .timeline import HOUR_MS, LOCAL_TZ, MINUTE_MS, from_ms, to_ms


def current_state(conn: sa.Connection, device_id: int) -> tuple[str | None, dt.datetime | None]:
    t = EventRow.__table__
    row = conn.execute(
        sa.select(t.c.state, t.c.at)
        .where(t.c.device_id == device_id, t.c.kind == "state")
        .order_by(t.c.at.desc(), t.c.seq.desc())
        .limit(1)
    ).first()
    return (row[0], _aware(row[1])) if row else (None, None)


def live(
    session: Session, device: Device, now: dt.datetime, chart_minutes: int = 5
) -> dict[str, Any]:
    """Current state, items this hour and today's throughput chart for one device.

    The chart has one point per ``chart_minutes`` with items inducted in it and the rate while
    running (items per running hour), so a stop shows as a gap rather than a dip to zero.
    """
    conn = session.connection()
    day = now.astimezone(LOCAL_TZ).date()
    minutes = device_day_totals(conn, device, day)
    hour_start = to_ms(now) - to_ms(now) % HOUR_MS
    this_hour = sum((t for m, t in minutes.items() if m >= hour_start), Totals())
    today = sum(minutes.values(), Totals())
    step = chart_minutes * MINUTE_MS
    points: dict[int, Totals] = defaultdict(Totals)
    for m, t in minutes.items():
        points[m - m % step] += t
    state, since = current_state(conn, device.id)
    seen = last_seen(conn, device.id)
    open_alerts = session.exec(
        select(Alert)
        .where(Alert.device_id == device.id, Alert.status != "resolved")
        .order_by(Alert.raised_at.desc())
    ).all()
    return {
        "device": {
            "id": device.id,
            "code": device.code,
            "name": device.name,
            "unit": device.tenant_code,
        },
        "now": now.isoformat(),
        "state": state,
        "state_since": since.isoformat() if since else None,
        "last_seen": seen.isoformat() if seen else None,
        "this_hour": {"items": this_hour.inducted, "sorted": this_hour.sorted},
        "today": {k: v for k, v in kpis(today).items()},
        "chart": [
            {
                "t": from_ms(m).isoformat(),
                "items": t.inducted,
                "rate": kpis(t)["items_per_running_hour"],
            }
            for m, t in sorted(points.items())
        ],
        "alerts": [
            {"id": a.id, "kind": a.kind, "status": a.status, "message": a.message}
            for a in open_alerts
        ],
    }


def child_unit(code: str, root: str) -> str:
    """The unit one level below ``root`` on the way to ``code`` (``code`` itself at the bottom)."""
    if code == root:
        return code
    rest = code[len(root) + 1 :].split(".")
    return f"{root}.{rest[0]}"


def unit_table(
    session: Session, root: str, date_from: dt.date, date_to: dt.date
) -> list[dict[str, Any]]:
    """One row per unit directly below ``root`` (cities for a province, stations for a city):
    stations, devices and the KPIs of their summed day rollups."""
    cols = [sa.func.sum(getattr(Rollup, f)) for f in Totals.__dataclass_fields__]
    rows = session.exec(
        select(Rollup.tenant_code, *cols)
        .where(
            Rollup.grain == "day",
            Rollup.day >= date_from,
            Rollup.day <= date_to,
            in_scope_clause(Rollup.tenant_code, root),
        )
        .group_by(Rollup.tenant_code)
    ).all()
    totals: dict[str, Totals] = defaultdict(Totals)
    for code, *values in rows:
        totals[child_unit(code, root)] += Totals(*(int(v or 0) for v in values))
    devices = session.exec(
        select(Device).where(Device.active, in_scope_clause(Device.tenant_code, root))
    ).all()
    stations: dict[str, set[str]] = defaultdict(set)
    counts: dict[str, int] = defaultdict(int)
    for d in devices:
        unit = child_unit(d.tenant_code, root)
        stations[unit].add(d.tenant_code)
        counts[unit] += 1
    alerts = session.exec(
        select(Alert.tenant_code, sa.func.count())
        .where(Alert.status != "resolved", in_scope_clause(Alert.tenant_code, root))
        .group_by(Alert.tenant_code)
    ).all()
    open_alerts: dict[str, int] = defaultdict(int)
    for code, n in alerts:
        open_alerts[child_unit(code, root)] += n
    units = sorted(set(totals) | set(stations))
    return [
        {
            "unit": u,
            "stations": len(stations[u]),
            "devices": counts[u],
            "open_alerts": open_alerts[u],
            **kpis(totals[u]),
        }
        for u in units
    ]
