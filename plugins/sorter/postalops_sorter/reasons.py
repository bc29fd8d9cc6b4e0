"""Downtime reasons in the database: each unit's catalogue (the built-in one, then the reasons
of the units above it, then its own, a nearer unit's code overriding a farther one's),
assigning a reason to a past stop, and the loss Pareto of a device, station, city or province
over a period.

The Pareto is read from the stops as they are now, so a corrected reason moves the figures at
once; the stops themselves are rebuilt by the rollup job, which keeps every reason a person gave.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import sqlalchemy as sa
from postalops.db import in_scope_clause
from postalops.errors import NotFound, ValidationError
from sqlmodel import Session, select

from .losses import (
    DEFAULT_REASONS,
    UNASSIGNED,
    Loss,
    ParetoRow,
    pareto,
    reject_loss_ms,
    speed_loss_ms,
    startup_window,
)
from .models import Device, Reason, Rollup, Stop
from .timeline import to_ms


@dataclass(frozen=True, slots=True)
class CatalogueEntry:
    code: str
    name_zh: str
    name_en: str
    loss: str
    active: bool = True
    builtin: bool = True
    unit: str | None = None  # the unit that defines it (None: built in)
    inherited: bool = False  # defined at a unit above the one asked about (read-only there)


def chain(code: str) -> list[str]:
    """The unit and the units above it, top first: ``cn``, ``cn.henan``, ... ``code``."""
    parts = code.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def catalogue(session: Session, unit: str) -> dict[str, CatalogueEntry]:
    """A unit's reasons: the built-in ones, then those of the units above it (province, city),
    then its own, each nearer unit's code overriding a farther one's."""
    out = {
        code: CatalogueEntry(code, zh, en, loss.value)
        for code, (zh, en, loss) in DEFAULT_REASONS.items()
    }
    path = chain(unit)
    depth = {code: i for i, code in enumerate(path)}
    rows = session.exec(
        select(Reason).where(Reason.unit_code.in_(path))  # type: ignore[attr-defined]
    ).all()
    for r in sorted(rows, key=lambda r: (depth[r.unit_code], r.id or 0)):
        out[r.code] = CatalogueEntry(
            r.code,
            r.name_zh,
            r.name_en,
            r.loss,
            r.active,
            False,
            r.unit_code,
            r.unit_code != unit,
        )
    return out


def names_in(session: Session, tenant: str) -> dict[str, tuple[str, str]]:
    """``code -> (name_zh, name_en)`` of the reasons defined on the tenant's path or in its
    subtree (nearest the tenant first), for naming a subtree's Pareto rows."""
    rows = session.exec(
        select(Reason).where(
            sa.or_(
                Reason.unit_code.in_(chain(tenant)),  # type: ignore[attr-defined]
                in_scope_clause(Reason.unit_code, tenant),
            )
        )
    ).all()
    out: dict[str, tuple[str, str]] = {}
    for r in sorted(rows, key=lambda r: (-len(r.unit_code.split(".")), r.unit_code, r.id or 0)):
        out.setdefault(r.code, (r.name_zh, r.name_en))
    return out


def loss_of(cat: dict[str, CatalogueEntry], code: str) -> str:
    entry = cat.get(code)
    return entry.loss if entry else UNASSIGNED


def save_reasons(session: Session, unit: str, rows: list[dict[str, Any]]) -> list[Reason]:
    """Add or change the unit's own reasons (``code, name_zh, name_en, loss, active``); all
    rows are checked first, nothing is written if one is bad. A code inherited from above is
    overridden for this unit (and the units below it)."""
    details = []
    losses = {loss.value for loss in Loss}
    for i, r in enumerate(rows):
        code = str(r.get("code") or "").strip()
        if not code or len(code) > 30 or " " in code or code == UNASSIGNED:
            details.append({"row": i, "field": "code", "message": "1-30 characters, no spaces"})
        if not str(r.get("name_zh") or "").strip():
            details.append({"row": i, "field": "name_zh", "message": "required"})
        if r.get("loss") not in losses:
            details.append(
                {"row": i, "field": "loss", "message": "one of " + ", ".join(sorted(losses))}
            )
    if details:
        raise ValidationError("invalid reasons", code="invalid_reasons", details=details)
    out = []
    for r in rows:
        code = r["code"].strip()
        row = session.exec(
            select(Reason).where(Reason.unit_code == unit, Reason.code == code)
        ).first() or Reason(unit_code=unit, code=code, name_zh="", name_en="", loss="")
        row.name_zh = r["name_zh"].strip()
        row.name_en = str(r.get("name_en") or r["name_zh"]).strip()
        row.loss = r["loss"]
        row.active = bool(r.get("active", True))
        session.add(row)
        out.append(row)
    session.flush()
    return out


def assign_reason(session: Session, stop_id: int, code: str, who: str) -> Stop:
    """Give a past stop a reason of its station's catalogue (an active one)."""
    stop = session.get(Stop, stop_id)
    if stop is None:
        raise NotFound(f"no stop {stop_id}", details=[{"field": "stop_id", "message": "unknown"}])
    entry = catalogue(session, stop.tenant_code).get(code)
    if entry is None or not entry.active:
        raise ValidationError(
            f"{code!r} is not a reason of this station",
            code="unknown_reason",
            details=[{"field": "reason_code", "message": "not in the station's catalogue"}],
        )
    stop.reason_code, stop.loss, stop.reason_by = code, entry.loss, who
    session.add(stop)
    session.flush()
    return stop


def pareto_for(
    session: Session,
    tenant: str,
    date_from: dt.date,
    date_to: dt.date,
    device_id: int | None = None,
) -> list[ParetoRow]:
    """The loss Pareto of a unit's subtree (or one device) over local days, inclusive: stop
    minutes by reason, plus reduced speed and production rejects from the day rollups."""
    st = Stop.__table__
    where = [st.c.day >= date_from, st.c.day <= date_to, in_scope_clause(st.c.tenant_code, tenant)]
    if device_id is not None:
        where.append(st.c.device_id == device_id)
    items: list[tuple[str, str, Fraction | int, int]] = []
    for code, loss, ms, n in session.connection().execute(
        sa.select(st.c.reason_code, st.c.loss, sa.func.sum(st.c.duration_ms), sa.func.count())
        .where(*where)
        .group_by(st.c.reason_code, st.c.loss)
    ):
        items.append((code, loss, int(ms or 0), int(n)))
    rt = Rollup.__table__
    dt_ = Device.__table__
    base = [rt.c.day >= date_from, rt.c.day <= date_to, in_scope_clause(rt.c.tenant_code, tenant)]
    if device_id is not None:
        base.append(rt.c.device_id == device_id)
    rwhere = [rt.c.grain == "day", *base]
    speed, rejects = Fraction(0), Fraction(0)
    rated_of: dict[int, int] = {}
    for device, running, inducted, bad, rated in session.connection().execute(
        sa.select(
            rt.c.device_id,
            sa.func.sum(rt.c.running_ms),
            sa.func.sum(rt.c.sorted + rt.c.rejected + rt.c.no_read),
            sa.func.sum(rt.c.rejected + rt.c.no_read),
            dt_.c.rated_per_hour,
        )
        .join(dt_, dt_.c.id == rt.c.device_id)
        .where(*rwhere)
        .group_by(rt.c.device_id, dt_.c.rated_per_hour)
    ):
        rated_of[device] = rated
        speed += speed_loss_ms(int(running or 0), int(inducted or 0), rated)
        rejects += reject_loss_ms(int(bad or 0), rated)
    startup = _startup_rejects_ms(session, base, rated_of)
    items.append((Loss.STARTUP_REJECTS.value, Loss.STARTUP_REJECTS.value, startup, 0))
    rejects -= startup
    items.append((Loss.REDUCED_SPEED.value, Loss.REDUCED_SPEED.value, speed, 0))
    items.append((Loss.PRODUCTION_REJECTS.value, Loss.PRODUCTION_REJECTS.value, rejects, 0))
    return pareto(items)


def _startup_rejects_ms(session: Session, base: list, rated_of: dict[int, int]) -> Fraction:
    """Rejects and no-reads in the startup windows of the devices' minute rollups, as rated
    time (see :func:`~postalops_sorter.losses.startup_window`)."""
    rt = Rollup.__table__
    where = [
        *base,
        rt.c.grain == "minute",
        rt.c.device_id.in_(list(rated_of)),
        sa.or_(rt.c.running_ms > 0, rt.c.rejected + rt.c.no_read > 0),
    ]
    by_device: dict[int, list[tuple[int, int, int]]] = defaultdict(list)
    if not rated_of:
        return Fraction(0)
    for device, start, running, bad in session.connection().execute(
        sa.select(
            rt.c.device_id, rt.c.bucket_start, rt.c.running_ms, rt.c.rejected + rt.c.no_read
        ).where(*where)
    ):
        at = start if start.tzinfo else start.replace(tzinfo=dt.UTC)
        by_device[device].append((to_ms(at), int(running), int(bad)))
    out = Fraction(0)
    for device, minutes in by_device.items():
        window = startup_window(m for m, running, _ in minutes if running > 0)
        bad = sum(b for m, _, b in minutes if b and m in window)
        out += reject_loss_ms(bad, rated_of[device])
    return out


def downtime_by_reason(
    session: Session, tenant: str, date_from: dt.date, date_to: dt.date
) -> dict[str, int]:
    """Stop milliseconds per loss in the subtree (for the metrics)."""
    st = Stop.__table__
    out: dict[str, int] = defaultdict(int)
    for loss, ms in session.connection().execute(
        sa.select(st.c.loss, sa.func.sum(st.c.duration_ms))
        .where(
            st.c.day >= date_from,
            st.c.day <= date_to,
            in_scope_clause(st.c.tenant_code, tenant),
        )
        .group_by(st.c.loss)
    ):
        out[loss] += int(ms or 0)
    return dict(out)
