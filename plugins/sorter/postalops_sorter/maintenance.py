"""The maintenance log and reliability per device.

A log entry (planned or corrective, parts used, duration) may explain stops of its device; the
stops point to it. MTBF and MTTR per device over a period come from the device's day rollups:
MTBF = running time ÷ failures, MTTR = time in ``jammed`` or ``fault`` ÷ failures, failures =
entries into ``jammed`` or ``fault`` (the same definitions as the metrics contract).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from postalops.db import in_scope_clause
from postalops.errors import ValidationError
from sqlmodel import Session, select

from .models import Device, Maintenance, Rollup, Stop
from .oee import Totals, kpis

KINDS = ("planned", "corrective")


def log_maintenance(
    session: Session,
    device: Device,
    *,
    kind: str,
    started_at: dt.datetime,
    duration_minutes: int,
    parts: str,
    note: str,
    who: str,
    stop_ids: list[int],
) -> Maintenance:
    """Write a log entry and link the stops it explains (stops of the same device only)."""
    details = []
    if kind not in KINDS:
        details.append({"field": "kind", "message": "planned | corrective"})
    if not isinstance(duration_minutes, int) or not 1 <= duration_minutes <= 7 * 24 * 60:
        details.append({"field": "duration_minutes", "message": "1..10080"})
    stops = []
    for i, sid in enumerate(stop_ids):
        stop = session.get(Stop, sid)
        if stop is None or stop.device_id != device.id:
            details.append({"field": f"stop_ids[{i}]", "message": "not a stop of this device"})
        else:
            stops.append(stop)
    if details:
        raise ValidationError(
            "invalid maintenance entry", code="invalid_maintenance", details=details
        )
    row = Maintenance(
        tenant_code=device.tenant_code,
        device_id=device.id,
        kind=kind,
        started_at=started_at,
        duration_minutes=duration_minutes,
        parts=parts.strip(),
        note=note.strip(),
        done_by=who,
    )
    session.add(row)
    session.flush()
    for stop in stops:
        stop.maintenance_id = row.id
        session.add(stop)
    session.flush()
    return row


def reliability(
    session: Session, tenant: str, date_from: dt.date, date_to: dt.date
) -> list[dict[str, Any]]:
    """One row per device of the subtree with day rollups in the period: failures, running
    hours, MTBF and MTTR (minutes), and the maintenance minutes logged in the period."""
    fields = list(Totals.__dataclass_fields__)
    rt = Rollup.__table__
    rows = (
        session.connection()
        .execute(
            sa.select(rt.c.device_id, *[sa.func.sum(rt.c[f]) for f in fields])
            .where(
                rt.c.grain == "day",
                rt.c.day >= date_from,
                rt.c.day <= date_to,
                in_scope_clause(rt.c.tenant_code, tenant),
            )
            .group_by(rt.c.device_id)
        )
        .all()
    )
    devices = {
        d.id: d
        for d in session.exec(select(Device).where(in_scope_clause(Device.tenant_code, tenant)))
    }
    start = dt.datetime.combine(date_from, dt.time(), tzinfo=_tz())
    end = dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time(), tzinfo=_tz())
    logged: dict[int, int] = {}
    for device_id, minutes in session.exec(
        select(Maintenance.device_id, sa.func.sum(Maintenance.duration_minutes))
        .where(
            in_scope_clause(Maintenance.tenant_code, tenant),
            Maintenance.started_at >= start,
            Maintenance.started_at < end,
        )
        .group_by(Maintenance.device_id)
    ).all():
        logged[device_id] = int(minutes or 0)
    out = []
    for r in rows:
        d = devices.get(r[0])
        if d is None:
            continue
        t = Totals(*(int(v or 0) for v in r[1:]))
        k = kpis(t)
        out.append(
            {
                "device_id": d.id,
                "device": d.code,
                "unit": d.tenant_code,
                "failures": t.failures,
                "running_hours": k["running_hours"],
                "mtbf_minutes": k["mtbf_minutes"],
                "mttr_minutes": k["mttr_minutes"],
                "maintenance_minutes": logged.get(d.id, 0),
            }
        )
    return sorted(out, key=lambda r: (r["unit"], r["device"]))


def _tz():
    from .timeline import LOCAL_TZ

    return LOCAL_TZ
