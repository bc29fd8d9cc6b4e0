"""The point network in the database: areas, points, status history, assignments.

Service functions take a scoped session and the unit the rows belong to; they never see Flask.
Writes are batched (one INSERT ... executemany per kind), validated first, and all-or-nothing:
an import with any bad row raises before anything is written.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from postalops import audit, webhooks
from postalops.db import check_in_scope, in_scope_clause, utcnow
from postalops.errors import NotFound
from postalops.imports import RowErrors
from postalops.models import OrgUnit
from sqlmodel import Session, select

from .area_import import ImportReport, row_county
from .models import PickupArea, PickupAssignment, PickupPoint, PickupStatusChange
from .points import PointStatus, PointType, StatusChange, parse_enum, state_on

BATCH = 2000
STATUS_CHANGED = "pickup_points.point.status_changed"


def _batches(rows: list[dict[str, Any]], size: int = BATCH) -> Iterable[list[dict[str, Any]]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def check_counties(session: Session, tenant: str, report: ImportReport) -> None:
    """The reference check of an area or point import, in the same pass as the shape checks:
    each row's county must be ``tenant`` itself (its last code segment) or a unit directly below
    it, the units coverage rolls up along (``coverage_store.county_path``). A row that also has
    shape errors is checked too, so the caller sees both at once. Marks bad rows in ``report``."""
    allowed = allowed_counties(session, tenant)
    for row in report.rows:
        county = row_county(row)
        if county is None or county in allowed:
            continue
        row.errors["county"] = f"unknown county {county!r}: neither {tenant} nor a unit below it"
        row.ok, row.value = False, None


def allowed_counties(session: Session, tenant: str) -> set[str]:
    """The counties a row of ``tenant`` may name: its own last code segment and those of the
    units directly below it."""
    below = {
        code.rsplit(".", 1)[-1]
        for code in session.exec(select(OrgUnit.code).where(OrgUnit.parent_code == tenant)).all()
    }
    return below | {tenant.rsplit(".", 1)[-1]}


def _refuse_invalid(session: Session, tenant: str, report: ImportReport) -> None:
    """Raise one 422 with every error of every row (shape and reference together)."""
    check_counties(session, tenant, report)
    errors = RowErrors()
    for r in report.rows:
        if not r.ok:
            errors.extend(r.row, [{"field": f, "message": m} for f, m in r.errors.items()])
    errors.raise_if_any()


def import_areas(session: Session, tenant: str, report: ImportReport) -> dict[str, Any]:
    """Insert or update the report's areas under ``tenant`` (key: code within the unit)."""
    check_in_scope(session, tenant)
    _refuse_invalid(session, tenant, report)
    existing = dict(
        session.exec(
            select(PickupArea.code, PickupArea.id).where(PickupArea.tenant_code == tenant)
        ).all()
    )
    inserts, updates, per_row = [], [], []
    now = utcnow()  # bulk INSERTs do not run the models' Python defaults
    for row in report.rows:
        v = dict(row.value or {})
        v["category"] = v["category"].value
        if v["code"] in existing:
            updates.append({"id": existing[v["code"]], **v})
            per_row.append({"row": row.row, "status": "updated", "key": v["code"]})
        else:
            inserts.append({"tenant_code": tenant, "created_at": now, **v})
            per_row.append({"row": row.row, "status": "created", "key": v["code"]})
    for chunk in _batches(inserts):
        session.execute(sa.insert(PickupArea), chunk)
    for chunk in _batches(updates):
        session.execute(sa.update(PickupArea), chunk)
    return {"created": len(inserts), "updated": len(updates), "rows": per_row}


def import_points(
    session: Session, tenant: str, report: ImportReport, actor: str, today: dt.date
) -> dict[str, Any]:
    """Insert or update points under ``tenant``. A new point's history starts on its
    ``opened_on`` (default ``today``); a changed status or type writes a status change effective
    ``today``."""
    check_in_scope(session, tenant)
    _refuse_invalid(session, tenant, report)
    existing = {
        p.code: p
        for p in session.exec(select(PickupPoint).where(PickupPoint.tenant_code == tenant)).all()
    }
    inserts, per_row, changes = [], [], []
    now = utcnow()
    for row in report.rows:
        v = dict(row.value or {})
        ptype, status = v.pop("point_type"), v.pop("status")
        fee = v.pop("agent_fee")
        opened_on = v.pop("opened_on", None) or today
        point = existing.get(v["code"])
        if point is None:
            inserts.append(
                {
                    "tenant_code": tenant,
                    "point_type": ptype.value,
                    "status": status.value,
                    "agent_fee": fee,
                    "agent_fee_from": today if fee is not None else None,
                    "opened_on": opened_on,
                    "created_at": now,
                    **v,
                }
            )
            per_row.append({"row": row.row, "status": "created", "key": v["code"]})
            continue
        if (point.status, point.point_type) != (status.value, ptype.value):
            changes.append((point, status, ptype))
        for key, value in v.items():
            setattr(point, key, value)
        if fee is not None and fee != point.agent_fee:
            point.agent_fee, point.agent_fee_from = fee, today
        point.status, point.point_type = status.value, ptype.value
        session.add(point)
        per_row.append({"row": row.row, "status": "updated", "key": v["code"]})
    for chunk in _batches(inserts):
        session.execute(sa.insert(PickupPoint), chunk)
    if inserts:
        codes = [r["code"] for r in inserts]
        new_ids = session.exec(
            select(
                PickupPoint.id, PickupPoint.status, PickupPoint.point_type, PickupPoint.opened_on
            ).where(
                PickupPoint.tenant_code == tenant,
                PickupPoint.code.in_(codes),  # type: ignore[attr-defined]
            )
        ).all()
        history = [
            {
                "tenant_code": tenant,
                "point_id": pid,
                "effective": opened,
                "status": st,
                "point_type": pt,
                "changed_by": actor,
                "at": now,
            }
            for pid, st, pt, opened in new_ids
        ]
        for chunk in _batches(history):
            session.execute(sa.insert(PickupStatusChange), chunk)
    session.flush()
    for point, status, ptype in changes:
        _history(session, point, status, ptype, today, actor)
    return {"created": len(inserts), "updated": len(per_row) - len(inserts), "rows": per_row}


def _history(session, point, status, ptype, effective, actor) -> None:
    session.add(
        PickupStatusChange(
            tenant_code=point.tenant_code,
            point_id=point.id,
            effective=effective,
            status=status.value,
            point_type=ptype.value,
            changed_by=actor,
        )
    )


def get_point(session: Session, point_id: int) -> PickupPoint:
    """The point, if the caller may see it (the session's scope filters the read)."""
    point = session.get(PickupPoint, point_id)
    if point is None:
        raise NotFound(f"no pickup point {point_id}", details=[{"field": "point_id"}])
    return point


def set_status(
    session: Session, point_id: int, status: str, effective: dt.date, actor: str
) -> PickupPoint:
    """Suspend, close or reactivate a point from ``effective`` on (history + audit)."""
    new = parse_enum(PointStatus, status, "status")
    point = get_point(session, point_id)
    before = {"status": point.status}
    point.status = new.value
    session.add(point)
    _history(session, point, new, PointType(point.point_type), effective, actor)
    audit.record(
        "pickup_points.point.status",
        target_type="pickup_points_point",
        target_id=point.id,
        tenant=point.tenant_code,
        before=before,
        after={"status": new.value, "effective": effective.isoformat()},
        session=session,
    )
    # Partners (the e-shop's pickup map) learn it through the core's webhooks, sent after commit.
    webhooks.emit(
        session,
        point.tenant_code,
        STATUS_CHANGED,
        {
            "code": point.code,
            "name": point.name,
            "point_type": point.point_type,
            "status_before": before["status"],
            "status": new.value,
            "effective": effective.isoformat(),
        },
    )
    return point


def assign(session: Session, area_id: int, point_id: int) -> PickupAssignment:
    """Assign a point to serve an area; both must be visible to the caller (idempotent)."""
    area = session.get(PickupArea, area_id)
    if area is None:
        raise NotFound(f"no area {area_id}", details=[{"field": "area_id"}])
    point = get_point(session, point_id)
    found = session.exec(
        select(PickupAssignment).where(
            PickupAssignment.area_id == area.id, PickupAssignment.point_id == point.id
        )
    ).first()
    if found is not None:
        return found
    row = PickupAssignment(tenant_code=area.tenant_code, area_id=area.id, point_id=point.id)
    session.add(row)
    session.flush()
    return row


def status_history(session: Session, tenant: str) -> dict[int, list[StatusChange]]:
    """Every point's status/type history under ``tenant``, in one query."""
    rows = session.exec(
        select(
            PickupStatusChange.point_id,
            PickupStatusChange.effective,
            PickupStatusChange.id,
            PickupStatusChange.status,
            PickupStatusChange.point_type,
        ).where(in_scope_clause(PickupStatusChange.tenant_code, tenant))
    ).all()
    out: dict[int, list[StatusChange]] = {}
    for pid, effective, _, status, ptype in sorted(rows, key=lambda r: (r[1], r[2])):
        out.setdefault(pid, []).append(
            StatusChange(effective, PointStatus(status), PointType(ptype))
        )
    return out


def points_on(
    session: Session, tenant: str, day: dt.date
) -> list[tuple[PickupPoint, StatusChange]]:
    """Points under ``tenant`` that exist on ``day``, each with its state that day."""
    history = status_history(session, tenant)
    points = session.exec(
        select(PickupPoint).where(in_scope_clause(PickupPoint.tenant_code, tenant))
    ).all()
    out = []
    for p in points:
        state = state_on(history.get(p.id, []), day)
        if state is not None:
            out.append((p, state))
    return out


def active_points(session: Session, tenant: str, day: dt.date) -> list[dict[str, Any]]:
    """Active points under ``tenant`` on ``day`` as plain dicts (the cross-plugin hook)."""
    return [
        {
            "id": p.id,
            "code": p.code,
            "name": p.name,
            "kind": state.point_type.value,
            "status": state.status.value,
            "tenant_code": p.tenant_code,
            "lat": p.lat,
            "lon": p.lon,
            "direct_delivery": bool(p.direct_since and p.direct_since <= day),
        }
        for p, state in points_on(session, tenant, day)
        if state.status is PointStatus.ACTIVE
    ]


def point_state(session: Session, tenant: str, code: str, day: dt.date) -> dict[str, Any] | None:
    """A point's type and status on ``day`` (None if it did not exist then or is not visible)."""
    point = session.exec(
        select(PickupPoint).where(
            in_scope_clause(PickupPoint.tenant_code, tenant), PickupPoint.code == code
        )
    ).first()
    if point is None:
        return None
    history = status_history(session, point.tenant_code).get(point.id, [])
    state = state_on(history, day)
    if state is None:
        return None
    return {
        "code": point.code,
        "tenant_code": point.tenant_code,
        "day": day.isoformat(),
        "kind": state.point_type.value,
        "status": state.status.value,
    }
