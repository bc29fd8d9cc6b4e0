"""Direct delivery over the stored volumes: proposals, recorded switches, the diverted share.

Window totals and diverted volumes are summed in SQL; the pure rule (``direct_delivery``)
decides which points qualify.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from postalops import audit, webhooks
from postalops.db import in_scope_clause
from postalops.errors import Conflict
from sqlmodel import Session, select

from .direct_delivery import PointVolume, Proposal, diverted_share, propose
from .models import PickupCityVolume, PickupDailyVolume, PickupDirectSwitch
from .network import get_point, points_on
from .rules_store import rules_for

DIRECT_SWITCHED = "pickup_points.point.direct_delivery"


def window_totals(session: Session, tenant: str, start: dt.date, end: dt.date) -> dict[int, int]:
    """Inbound items per point under ``tenant`` over ``[start, end]``."""
    rows = session.exec(
        select(PickupDailyVolume.point_id, sa.func.sum(PickupDailyVolume.inbound_items))
        .where(
            in_scope_clause(PickupDailyVolume.tenant_code, tenant),
            PickupDailyVolume.day >= start,
            PickupDailyVolume.day <= end,
        )
        .group_by(PickupDailyVolume.point_id)
    ).all()
    return {pid: int(total or 0) for pid, total in rows}


def direct_on(session: Session, tenant: str, day: dt.date) -> dict[int, PickupDirectSwitch]:
    """Switches in force on ``day`` under ``tenant``, by point id."""
    rows = session.exec(
        select(PickupDirectSwitch).where(
            in_scope_clause(PickupDirectSwitch.tenant_code, tenant),
            PickupDirectSwitch.effective <= day,
            sa.or_(PickupDirectSwitch.ended.is_(None), PickupDirectSwitch.ended > day),  # type: ignore[union-attr]
        )
    ).all()
    return {r.point_id: r for r in rows}


def proposals(session: Session, tenant: str, window_end: dt.date) -> tuple[list[Proposal], Any]:
    """Points under ``tenant`` qualifying for direct delivery on the window ending ``window_end``."""
    rules = rules_for(session, tenant).direct
    start, end = rules.window(window_end)
    totals = window_totals(session, tenant, start, end)
    already = direct_on(session, tenant, window_end + dt.timedelta(days=1))
    volumes = [
        PointVolume(p.id, state.point_type, state.status, totals.get(p.id, 0), p.id in already)
        for p, state in points_on(session, tenant, window_end)
    ]
    return propose(volumes, rules), rules


def record_switch(
    session: Session,
    point_id: int,
    effective: dt.date,
    actor: str,
    proposal: Proposal | None = None,
    window: tuple[dt.date, dt.date] | None = None,
) -> PickupDirectSwitch:
    """Record that a point is served directly from the city processing centre from
    ``effective`` (audited). Recording the same switch again returns the existing one."""
    point = get_point(session, point_id)
    found = session.exec(
        select(PickupDirectSwitch).where(
            PickupDirectSwitch.point_id == point.id,
            PickupDirectSwitch.ended.is_(None),  # type: ignore[union-attr]
        )
    ).first()
    if found is not None:
        if found.effective == effective:
            return found
        raise Conflict(
            f"point {point.code} is already on direct delivery since {found.effective}",
            code="already_direct",
            details=[{"field": "point_id", "message": "already switched"}],
        )
    start, end = window or (effective, effective)
    row = PickupDirectSwitch(
        tenant_code=point.tenant_code,
        point_id=point.id,
        effective=effective,
        # Recorded to 4 places (the decision itself compared the exact value).
        average_per_day=str(proposal.average_per_day.quantize(Decimal("0.0001")))
        if proposal
        else "",
        window_from=start,
        window_to=end,
        decided_by=actor,
    )
    point.direct_since = effective
    session.add(row)
    session.add(point)
    audit.record(
        "pickup_points.direct.switch",
        target_type="pickup_points_point",
        target_id=point.id,
        tenant=point.tenant_code,
        before={"direct_since": None},
        after={"direct_since": effective.isoformat(), "average_per_day": row.average_per_day},
        session=session,
        actor=actor,
    )
    webhooks.emit(
        session,
        point.tenant_code,
        DIRECT_SWITCHED,
        {
            "code": point.code,
            "name": point.name,
            "effective": effective.isoformat(),
            "average_per_day": row.average_per_day,
        },
    )
    return row


def switch_proposed(
    session: Session, tenant: str, window_end: dt.date, effective: dt.date, actor: str
) -> dict[str, Any]:
    """Compute the proposals and record a switch for each (idempotent)."""
    found, rules = proposals(session, tenant, window_end)
    window = rules.window(window_end)
    for p in found:
        record_switch(session, p.point_id, effective, actor, p, window)
    return {"switched": len(found), "window": [d.isoformat() for d in window]}


def diverted(session: Session, tenant: str, date_from: dt.date, date_to: dt.date) -> int:
    """Items that arrived at points on days they were on direct delivery."""
    total = session.exec(
        select(sa.func.coalesce(sa.func.sum(PickupDailyVolume.inbound_items), 0))
        .join(PickupDirectSwitch, PickupDirectSwitch.point_id == PickupDailyVolume.point_id)
        .where(
            in_scope_clause(PickupDailyVolume.tenant_code, tenant),
            PickupDailyVolume.day >= date_from,
            PickupDailyVolume.day <= date_to,
            PickupDailyVolume.day >= PickupDirectSwitch.effective,
            sa.or_(
                PickupDirectSwitch.ended.is_(None),  # type: ignore[union-attr]
                PickupDailyVolume.day < PickupDirectSwitch.ended,
            ),
        )
    ).one()
    return int(total if not isinstance(total, tuple | sa.Row) else total[0])


def city_delivery(session: Session, tenant: str, date_from: dt.date, date_to: dt.date) -> int:
    total = session.exec(
        select(sa.func.coalesce(sa.func.sum(PickupCityVolume.delivery_items), 0)).where(
            in_scope_clause(PickupCityVolume.tenant_code, tenant),
            PickupCityVolume.day >= date_from,
            PickupCityVolume.day <= date_to,
        )
    ).one()
    return int(total if not isinstance(total, tuple | sa.Row) else total[0])


def share(session: Session, tenant: str, date_from: dt.date, date_to: dt.date) -> Decimal | None:
    """Diverted items ÷ city delivery volume under ``tenant`` over the period."""
    city = city_delivery(session, tenant, date_from, date_to)
    if not city:
        return None
    return diverted_share(min(diverted(session, tenant, date_from, date_to), city), city)


def direct_point_count(session: Session, tenant: str, day: dt.date) -> int:
    return len(direct_on(session, tenant, day))


def direct_points_by_city(session: Session, tenant: str, day: dt.date) -> dict[str, int]:
    """Switched points per city-level unit (third segment of the code path)."""
    counts: dict[str, int] = {}
    for row in direct_on(session, tenant, day).values():
        city = ".".join(row.tenant_code.split(".")[:3])
        counts[city] = counts.get(city, 0) + 1
    return counts
