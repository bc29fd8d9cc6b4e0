"""The device registry and station set-up, shared by the API and the portal pages.

Each function changes one thing, writes its audit record in the same transaction, and leaves
the commit to the caller.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from postalops import audit
from postalops.auth import create_token
from postalops.db import utcnow
from postalops.models import ApiToken
from sqlmodel import Session, select

from .ingest import retention_days
from .models import Device, WaveWindow
from .recompute import mark_station_days
from .waves import Wave, check_waves

DEVICE_FIELDS = ("name", "model", "chutes", "commissioned_on", "rated_per_hour")


def device_dict(d: Device) -> dict[str, Any]:
    return {
        "id": d.id,
        "unit": d.tenant_code,
        "code": d.code,
        "name": d.name,
        "model": d.model,
        "chutes": d.chutes,
        "commissioned_on": d.commissioned_on.isoformat(),
        "rated_per_hour": d.rated_per_hour,
        "active": d.active,
        "has_token": d.token_id is not None,
        "alert_rules": {
            "min_items_per_hour": d.min_items_per_hour,
            "low_minutes": d.low_minutes,
            "silent_minutes": d.silent_minutes,
            "jam_window_minutes": d.jam_window_minutes,
            "jam_max": d.jam_max,
        },
    }


def upsert_device(
    session: Session, unit: str, code: str, values: dict[str, Any]
) -> tuple[str, Device]:
    """Create or update the sorter ``code`` of station ``unit``; returns (status, device)."""
    device = session.exec(
        select(Device).where(Device.tenant_code == unit, Device.code == code)
    ).first()
    status = "updated" if device else "created"
    before = device_dict(device) if device else None
    if device is None:
        device = Device(tenant_code=unit, code=code, **{k: values[k] for k in DEVICE_FIELDS})
    for k in DEVICE_FIELDS:
        if k in values:
            setattr(device, k, values[k])
    session.add(device)
    session.flush()
    audit.record(
        f"sorter.device.{status}",
        target_type="sorter_device",
        target_id=device.id,
        tenant=unit,
        before=before,
        after=device_dict(device),
        session=session,
    )
    return status, device


def issue_token(
    session: Session, registry: Any, device: Device, created_by: str
) -> tuple[ApiToken, str]:
    """A new telemetry token bound to this device (subject ``sorter:<id>``, permission
    ``sorter.ingest``); the previous one is revoked. The secret is returned once."""
    if device.token_id is not None:
        old = session.get(ApiToken, device.token_id)
        if old is not None and old.revoked_at is None:
            old.revoked_at = utcnow()
            session.add(old)
    token, secret = create_token(
        session,
        registry,
        name=f"sorter {device.code}",
        unit_code=device.tenant_code,
        permissions=["sorter.ingest"],
        created_by=created_by,
        subject=f"sorter:{device.id}",
    )
    device.token_id = token.id
    session.add(device)
    audit.record(
        "sorter.device.token",
        target_type="sorter_device",
        target_id=device.id,
        tenant=device.tenant_code,
        after={"token_id": token.id, "prefix": token.prefix},
        session=session,
    )
    return token, secret


def wave_list(session: Session, station: str) -> list[dict[str, Any]]:
    rows = session.exec(
        select(WaveWindow).where(WaveWindow.tenant_code == station).order_by(WaveWindow.number)
    ).all()
    return [
        {"number": w.number, "start": w.start.isoformat(), "end": w.end.isoformat()} for w in rows
    ]


def replace_waves(session: Session, station: str, waves: list[Wave]) -> list[dict[str, Any]]:
    """Replace a station's wave windows (validated: whole minutes, no overlap, unique numbers)."""
    from postalops.errors import ValidationError

    for i, w in enumerate(waves):
        if w.start.second or w.end.second or w.start.microsecond or w.end.microsecond:
            raise ValidationError(
                "wave windows are whole minutes",
                details=[{"row": i, "field": "start", "message": "HH:MM"}],
            )
    ordered = check_waves(waves)
    before = wave_list(session, station)
    for w in session.exec(select(WaveWindow).where(WaveWindow.tenant_code == station)).all():
        session.delete(w)
    session.flush()
    for w in ordered:
        session.add(WaveWindow(tenant_code=station, number=w.number, start=w.start, end=w.end))
    session.flush()
    after = wave_list(session, station)
    audit.record(
        "sorter.waves.replace",
        target_type="sorter_wave",
        target_id=station,
        tenant=station,
        before=before,
        after=after,
        session=session,
    )
    return after


def mark_wave_days(session: Session, station: str) -> int:
    """After a wave change: flag every day the station has rollups for (inside raw-event
    retention) so wave buckets and departures follow the new windows. Returns device-days."""
    return mark_station_days(session, station, now=utcnow(), retention_days=retention_days())


def start_recompute(station: str, marked: int) -> dict[str, Any]:
    """Start the rollup job for the days :func:`mark_wave_days` flagged; call after the commit
    (the job runs on another connection and must see the marks). Needs a request context."""
    from postalops.jobs import submit

    job_id = submit("sorter.rollup", {}, tenant=station).id if marked else None
    return {"device_days": marked, "job_id": job_id}


def parse_clock(value: str) -> dt.time:
    return dt.time.fromisoformat(value)
