"""pickup_points' database operations (no Flask): they feed the pure rules (``coverage``,
``site_suggestion``, ``siting``, ``service_quality``, ``direct_delivery``, ``counter_handover``,
``points``, ``opening_hours``, ``agent_fee``) from the database and store their results, audited.

Functions take a scoped session and the unit the rows belong to. Writes are batched, validated
first, and all-or-nothing: an import with any bad row raises before anything is written.

Sections, in order: the unit's rules; the point network (areas, points, status history,
assignments); item flow (items, volumes, complaints, the 两确保 figures); coverage; direct
delivery; siting scenarios, planned sites and their promotion to points, and the siting figures
of the metrics and the dashboard.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

import shapely
import sqlalchemy as sa
from postalops import audit, clock, plugin_settings, webhooks
from postalops.bulk import insert_rows
from postalops.db import check_in_scope, in_scope_clause, utcnow
from postalops.errors import Conflict, NotFound, ValidationError
from postalops.imports import RowErrors
from postalops.models import OrgUnit
from pydantic import BaseModel, Field
from sqlmodel import Session, select

from . import siting
from .area_import import ImportReport, row_county
from .coverage import (
    Area,
    AreaCoverage,
    CoverageFigure,
    CoverageRules,
    Site,
    compute_coverage,
    rollup,
    uncovered_with_nearest,
)
from .direct_delivery import DirectDeliveryRules, PointVolume, Proposal, diverted_share, propose
from .models import (
    PickupArea,
    PickupAssignment,
    PickupCityVolume,
    PickupComplaint,
    PickupDailyVolume,
    PickupDirectSwitch,
    PickupItem,
    PickupPlannedSite,
    PickupPoint,
    PickupSitingScenario,
    PickupStatusChange,
)
from .opening_hours import parse_opening_hours
from .points import AreaCategory, PointStatus, PointType, StatusChange, parse_enum, state_on
from .service_quality import QualityFigure, QualityRules, deadlines, feedback_compliant, local_date
from .settings import PickupRules
from .site_suggestion import Candidate, reach, suggest_sites

# === The rules a unit runs with ==================================================================
# The rules a unit runs with (radii, feedback hours, N/M days, direct-delivery threshold).
#
# The values are the core's plugin settings (schema :class:`.settings.PickupRules`): stored per
# unit by the core, inherited down the tree, validated and audited there. ``rules_for`` turns them
# into the pure rules.


KEY = "pickup_points"
DEFAULTS: dict[str, Any] = PickupRules().model_dump(mode="json")


@dataclass(frozen=True)
class UnitRules:
    coverage: CoverageRules
    quality: QualityRules
    direct: DirectDeliveryRules
    values: dict[str, Any]


def _build(values: dict[str, Any]) -> UnitRules:
    errors = []
    for key in values:
        if key not in DEFAULTS:
            errors.append({"field": key, "message": "unknown setting"})
    if errors:
        raise ValidationError("unknown settings", code="invalid_rules", details=errors)
    v = {**DEFAULTS, **values}
    try:
        coverage = CoverageRules(
            {
                AreaCategory.URBAN_COMMUNITY: float(v["radius_urban_m"]),
                AreaCategory.VILLAGE: float(v["radius_village_m"]),
                AreaCategory.MAILROOM: float(v["radius_mailroom_m"]),
            }
        )
        quality = QualityRules(
            feedback_hours=Decimal(str(v["feedback_hours"])),
            uncollected_days=int(v["uncollected_days"]),
            return_days=int(v["return_days"]),
            day_basis=str(v["day_basis"]),
        )
        direct = DirectDeliveryRules(
            threshold_per_day=Decimal(str(v["direct_threshold_per_day"])),
            window_days=int(v["direct_window_days"]),
        )
    except (TypeError, ValueError, InvalidOperation) as exc:
        raise ValidationError(
            f"settings are not numbers: {exc}",
            code="invalid_rules",
            details=[{"field": "settings", "message": str(exc)}],
        ) from exc
    return UnitRules(coverage, quality, direct, v)


def rules_for(session: Session, unit_code: str) -> UnitRules:
    """The rules in force at ``unit_code`` (its own values, else the nearest ancestor's, else
    the defaults)."""
    values = plugin_settings.values(session, KEY, unit_code, PickupRules)
    return _build(values.model_dump(mode="json"))


def save_rules(session: Session, unit_code: str, values: dict[str, Any], actor: str) -> UnitRules:
    """Replace the values ``unit_code`` sets itself with ``values`` (the rest inherited);
    validated and audited by the core."""
    plugin_settings.save(session, PickupRules, KEY, unit_code, values, actor=actor)
    return rules_for(session, unit_code)


# === The point network: areas, points, status history, assignments ===============================
# The point network in the database: areas, points, status history, assignments.
#
# Service functions take a scoped session and the unit the rows belong to; they never see Flask.
# Writes are batched (one INSERT ... executemany per kind), validated first, and all-or-nothing:
# an import with any bad row raises before anything is written.


BATCH = 2000
STATUS_CHANGED = "pickup_points.point.status_changed"


def _batches(rows: list[dict[str, Any]], size: int = BATCH) -> Iterable[list[dict[str, Any]]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def check_counties(session: Session, tenant: str, report: ImportReport) -> None:
    """The reference check of an area or point import, in the same pass as the shape checks:
    each row's county must be ``tenant`` itself (its last code segment) or a unit directly below
    it, the units coverage rolls up along (``county_path``). A row that also has
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


# === Item flow at points: item events, volumes, complaints, the 两确保 figures ======================
# Item flow at points in the database: item events, daily volumes, city volumes, complaints,
# and the 两确保 figures aggregated in SQL.
#
# Each item's deadlines and feedback verdict are computed by the pure rules when it is recorded
# (``service_quality.deadlines`` / ``feedback_compliant`` with the point's opening hours and the
# unit's rules), so the figures are plain SQL counts over the item table.


def _points_by_code(session: Session, tenant: str, codes: Iterable[str]) -> dict[str, PickupPoint]:
    codes = sorted(set(codes))
    found: dict[str, PickupPoint] = {}
    for start in range(0, len(codes), 500):
        chunk = codes[start : start + 500]
        for p in session.exec(
            select(PickupPoint).where(
                in_scope_clause(PickupPoint.tenant_code, tenant),
                PickupPoint.code.in_(chunk),  # type: ignore[attr-defined]
            )
        ).all():
            found[p.code] = p
    return found


def _aware(value: Any, field: str, row: int, errors: list) -> dt.datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        moment = value
    else:
        try:
            moment = dt.datetime.fromisoformat(str(value))
        except ValueError:
            errors.append({"row": row, "field": field, "message": "not an ISO 8601 timestamp"})
            return None
    if moment.tzinfo is None:
        errors.append({"row": row, "field": field, "message": "timestamp needs a time zone"})
        return None
    return moment.astimezone(dt.UTC)


EVENT_FIELDS = ("notified_at", "feedback_at", "picked_up_at", "returned_at")


def record_items(
    session: Session, tenant: str, rows: list[tuple[int, Mapping[str, Any]]]
) -> dict[str, Any]:
    """Record arrivals and later events for items at points under ``tenant``.

    A row is ``{point, waybill, arrived_at, notified_at?, feedback_at?, picked_up_at?,
    returned_at?}``; an item already recorded (same point and waybill) gets its events updated,
    so a re-sent batch changes nothing. Every row is checked before anything is written.
    """
    check_in_scope(session, tenant)
    errors: list[dict[str, Any]] = []
    points = _points_by_code(session, tenant, (str(r.get("point", "")) for _, r in rows))
    parsed = []
    for n, r in rows:
        point = points.get(str(r.get("point", "")))
        if point is None:
            errors.append({"row": n, "field": "point", "message": "unknown point in your unit"})
        waybill = str(r.get("waybill") or "").strip()
        if not waybill or len(waybill) > 40:
            errors.append({"row": n, "field": "waybill", "message": "1-40 characters required"})
        arrived = _aware(r.get("arrived_at"), "arrived_at", n, errors)
        if arrived is None and not any(
            e["row"] == n and e["field"] == "arrived_at" for e in errors
        ):
            errors.append({"row": n, "field": "arrived_at", "message": "required"})
        events = {f: _aware(r.get(f), f, n, errors) for f in EVENT_FIELDS}
        for f, moment in events.items():
            if moment is not None and arrived is not None and moment < arrived:
                errors.append({"row": n, "field": f, "message": "before the arrival scan"})
        parsed.append((point, waybill, arrived, events))
    _refuse(errors)
    return _store_items(session, parsed)


def _store_items(session: Session, parsed: list) -> dict[str, Any]:
    rules_cache: dict[str, Any] = {}
    hours_cache: dict[int, Any] = {}
    existing: dict[tuple[int, str], int] = {}
    by_point: dict[int, list[str]] = {}
    for point, waybill, _, _ in parsed:
        by_point.setdefault(point.id, []).append(waybill)
    for pid, waybills in by_point.items():
        for start in range(0, len(waybills), 500):
            for iid, wb in session.exec(
                select(PickupItem.id, PickupItem.waybill).where(
                    PickupItem.point_id == pid,
                    PickupItem.waybill.in_(waybills[start : start + 500]),  # type: ignore[attr-defined]
                )
            ).all():
                existing[(pid, wb)] = iid
    inserts, updates = [], []
    for point, waybill, arrived, events in parsed:
        if point.tenant_code not in rules_cache:
            rules_cache[point.tenant_code] = rules_for(session, point.tenant_code).quality
        if point.id not in hours_cache:
            hours_cache[point.id] = parse_opening_hours(point.opening_hours)
        rules = rules_cache[point.tenant_code]
        due = deadlines(arrived, rules, hours_cache[point.id])
        row = {
            "arrived_at": arrived,
            "arrival_day": local_date(arrived),
            **events,
            "picked_up_day": local_date(events["picked_up_at"]) if events["picked_up_at"] else None,
            "returned_day": local_date(events["returned_at"]) if events["returned_at"] else None,
            "uncollected_after": due.uncollected_after,
            "return_by": due.return_by,
            "feedback_ok": feedback_compliant(
                arrived, events["notified_at"], events["feedback_at"], rules
            ),
        }
        key = (point.id, waybill)
        if key in existing:
            updates.append({"id": existing[key], **row})
        else:
            existing[key] = -1  # a waybill twice in one batch is one item
            inserts.append(
                {"tenant_code": point.tenant_code, "point_id": point.id, "waybill": waybill, **row}
            )
    # The core's bulk writer: one COPY and one policy-checked INSERT on PostgreSQL; the ORM's
    # bulk insert split the rows into one statement per run of rows with the same empty fields.
    insert_rows(session, PickupItem, inserts)
    real_updates = [u for u in updates if u["id"] != -1]
    for start in range(0, len(real_updates), BATCH):
        session.execute(sa.update(PickupItem), real_updates[start : start + BATCH])
    return {"created": len(inserts), "updated": len(real_updates)}


def record_daily_volumes(
    session: Session, tenant: str, rows: list[tuple[int, Mapping[str, Any]]]
) -> dict[str, Any]:
    """Upsert ``{point, day, inbound_items, counter_items?}`` rows (idempotent by point+day)."""
    check_in_scope(session, tenant)
    errors: list[dict[str, Any]] = []
    points = _points_by_code(session, tenant, (str(r.get("point", "")) for _, r in rows))
    clean = {}
    for n, r in rows:
        point = points.get(str(r.get("point", "")))
        if point is None:
            errors.append({"row": n, "field": "point", "message": "unknown point in your unit"})
        day = _day(r.get("day"), n, errors)
        inbound = _count(r.get("inbound_items"), "inbound_items", n, errors)
        counter = _count(r.get("counter_items", 0) or 0, "counter_items", n, errors)
        if inbound is not None and counter is not None and counter > inbound:
            errors.append({"row": n, "field": "counter_items", "message": "exceeds inbound_items"})
        if point is not None and day is not None:
            clean[(point.id, day)] = (point.tenant_code, inbound, counter)
    _refuse(errors)
    return upsert_daily_volumes(session, clean)


def upsert_daily_volumes(
    session: Session, volumes: Mapping[tuple[int, dt.date], tuple[str, int, int]]
) -> dict[str, Any]:
    """Write validated volumes keyed (point id, day) → (tenant, inbound, counter) in batches."""
    existing: dict[tuple[int, dt.date], int] = {}
    point_ids = sorted({pid for pid, _ in volumes})
    days = [d for _, d in volumes]
    if point_ids:
        lo, hi = min(days), max(days)
        for start in range(0, len(point_ids), 500):
            for vid, pid, day in session.exec(
                select(
                    PickupDailyVolume.id, PickupDailyVolume.point_id, PickupDailyVolume.day
                ).where(
                    PickupDailyVolume.point_id.in_(point_ids[start : start + 500]),  # type: ignore[attr-defined]
                    PickupDailyVolume.day >= lo,
                    PickupDailyVolume.day <= hi,
                )
            ).all():
                existing[(pid, day)] = vid
    inserts, updates = [], []
    for (pid, day), (tenant_code, inbound, counter) in volumes.items():
        values = {"inbound_items": inbound, "counter_items": counter}
        if (pid, day) in existing:
            updates.append({"id": existing[(pid, day)], **values})
        else:
            inserts.append({"tenant_code": tenant_code, "point_id": pid, "day": day, **values})
    insert_rows(session, PickupDailyVolume, inserts)
    for start in range(0, len(updates), BATCH):
        session.execute(sa.update(PickupDailyVolume), updates[start : start + BATCH])
    return {"created": len(inserts), "updated": len(updates)}


def record_city_volumes(
    session: Session, city: str, rows: list[tuple[int, Mapping[str, Any]]]
) -> dict[str, Any]:
    """Upsert ``{day, delivery_items}`` rows of ``city``'s urban delivery volume."""
    check_in_scope(session, city)
    errors: list[dict[str, Any]] = []
    clean: dict[dt.date, int] = {}
    for n, r in rows:
        day = _day(r.get("day"), n, errors)
        items = _count(r.get("delivery_items"), "delivery_items", n, errors)
        if day is not None and items is not None:
            clean[day] = items
    _refuse(errors)
    existing = dict(
        session.exec(
            select(PickupCityVolume.day, PickupCityVolume.id).where(
                PickupCityVolume.tenant_code == city
            )
        ).all()
    )
    inserts = [
        {"tenant_code": city, "day": d, "delivery_items": v}
        for d, v in clean.items()
        if d not in existing
    ]
    updates = [{"id": existing[d], "delivery_items": v} for d, v in clean.items() if d in existing]
    if inserts:
        session.execute(sa.insert(PickupCityVolume), inserts)
    if updates:
        session.execute(sa.update(PickupCityVolume), updates)
    return {"created": len(inserts), "updated": len(updates)}


def record_complaint(session: Session, point: PickupPoint, day: dt.date, note: str) -> None:
    session.add(
        PickupComplaint(tenant_code=point.tenant_code, point_id=point.id, day=day, note=note[:500])
    )


def _refuse(errors: list[dict[str, Any]]) -> None:
    """One 422 naming every row's every error, shape (bad moments, counts) and reference (a
    point not in the unit) alike, gathered in one pass, as the core's ``RowErrors`` lists them:
    ``[{"row", "errors": [{"field", "message"}]}]``."""
    collected = RowErrors()
    for e in errors:
        collected.add(e["row"], e["field"], e["message"])
    if collected:
        details = collected.details()
        raise ValidationError(
            f"{len(details)} row(s) invalid; nothing was recorded",
            code="invalid_rows",
            details=details,
        )


def _day(value: Any, row: int, errors: list) -> dt.date | None:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        errors.append({"row": row, "field": "day", "message": "expected YYYY-MM-DD"})
        return None


def _count(value: Any, field: str, row: int, errors: list) -> int | None:
    try:
        number = int(str(value))
    except ValueError:
        errors.append({"row": row, "field": field, "message": "not a whole number"})
        return None
    if number < 0 or number > 10_000_000:
        errors.append({"row": row, "field": field, "message": "must be 0..10000000"})
        return None
    return number


def quality_by_point(
    session: Session, tenant: str, date_from: dt.date, date_to: dt.date
) -> dict[int, QualityFigure]:
    """Per-point 两确保 figures for items arriving in the period, judged at the end of
    ``date_to``, counted in SQL."""
    judged = PickupItem.uncollected_after <= date_to
    late_pickup = sa.or_(
        PickupItem.picked_up_day.is_(None),  # type: ignore[union-attr]
        PickupItem.picked_up_day > PickupItem.uncollected_after,
    )
    overdue = sa.and_(
        PickupItem.return_by <= date_to,
        sa.or_(PickupItem.picked_up_day.is_(None), PickupItem.picked_up_day > PickupItem.return_by),  # type: ignore[union-attr]
        sa.or_(PickupItem.returned_day.is_(None), PickupItem.returned_day > PickupItem.return_by),  # type: ignore[union-attr]
    )

    def count_if(cond: Any) -> Any:
        return sa.func.sum(sa.case((cond, 1), else_=0))

    stmt = (
        select(
            PickupItem.point_id,
            sa.func.count(),
            count_if(PickupItem.notified_at.is_not(None)),  # type: ignore[union-attr]
            count_if(PickupItem.feedback_ok),
            count_if(PickupItem.picked_up_at.is_not(None)),  # type: ignore[union-attr]
            count_if(PickupItem.returned_at.is_not(None)),  # type: ignore[union-attr]
            count_if(judged),
            count_if(sa.and_(judged, late_pickup)),
            count_if(overdue),
        )
        .where(
            in_scope_clause(PickupItem.tenant_code, tenant),
            PickupItem.arrival_day >= date_from,
            PickupItem.arrival_day <= date_to,
        )
        .group_by(PickupItem.point_id)
    )
    out: dict[int, QualityFigure] = {}
    for pid, *counts in session.exec(stmt).all():
        out[pid] = QualityFigure(*(int(c or 0) for c in counts))
    complaints = session.exec(
        select(PickupComplaint.point_id, sa.func.count())
        .where(
            in_scope_clause(PickupComplaint.tenant_code, tenant),
            PickupComplaint.day >= date_from,
            PickupComplaint.day <= date_to,
        )
        .group_by(PickupComplaint.point_id)
    ).all()
    for pid, n in complaints:
        out[pid] = out.get(pid, QualityFigure()) + QualityFigure(complaints=int(n))
    return out


def quality_total(
    session: Session, tenant: str, date_from: dt.date, date_to: dt.date
) -> QualityFigure:
    total = QualityFigure()
    for figure in quality_by_point(session, tenant, date_from, date_to).values():
        total = total + figure
    return total


def counter_handover_totals(
    session: Session, tenant: str, date_from: dt.date, date_to: dt.date
) -> tuple[int, int]:
    """(parcels handed over the counter, inbound parcels) at township counters in the period."""
    row = session.exec(
        select(
            sa.func.coalesce(sa.func.sum(PickupDailyVolume.counter_items), 0),
            sa.func.coalesce(sa.func.sum(PickupDailyVolume.inbound_items), 0),
        )
        .join(PickupPoint, PickupPoint.id == PickupDailyVolume.point_id)
        .where(
            in_scope_clause(PickupDailyVolume.tenant_code, tenant),
            PickupPoint.point_type == "township_counter",
            PickupDailyVolume.day >= date_from,
            PickupDailyVolume.day <= date_to,
        )
    ).one()
    return int(row[0]), int(row[1])


def counter_handover_monthly(
    session: Session, tenant: str, date_from: dt.date, date_to: dt.date
) -> list[tuple[str, int, int]]:
    """``[(YYYY-MM, counter, inbound)]`` at township counters, month by month."""
    # Summed per day in SQL (portable), then folded into at most a few months here.
    rows = session.exec(
        select(
            PickupDailyVolume.day,
            sa.func.sum(PickupDailyVolume.counter_items),
            sa.func.sum(PickupDailyVolume.inbound_items),
        )
        .join(PickupPoint, PickupPoint.id == PickupDailyVolume.point_id)
        .where(
            in_scope_clause(PickupDailyVolume.tenant_code, tenant),
            PickupPoint.point_type == "township_counter",
            PickupDailyVolume.day >= date_from,
            PickupDailyVolume.day <= date_to,
        )
        .group_by(PickupDailyVolume.day)
    ).all()
    months: dict[str, list[int]] = {}
    for day, counter, inbound in rows:
        m = months.setdefault(day.strftime("%Y-%m"), [0, 0])
        m[0] += int(counter or 0)
        m[1] += int(inbound or 0)
    return [(k, v[0], v[1]) for k, v in sorted(months.items())]


def counter_handover_by_point(
    session: Session, tenant: str, date_from: dt.date, date_to: dt.date
) -> list[tuple[int, str, str, int, int]]:
    """``[(point id, code, unit, counter, inbound)]`` per township branch counter in the period."""
    rows = session.exec(
        select(
            PickupPoint.id,
            PickupPoint.code,
            PickupPoint.tenant_code,
            sa.func.coalesce(sa.func.sum(PickupDailyVolume.counter_items), 0),
            sa.func.coalesce(sa.func.sum(PickupDailyVolume.inbound_items), 0),
        )
        .join(PickupDailyVolume, PickupPoint.id == PickupDailyVolume.point_id)
        .where(
            in_scope_clause(PickupPoint.tenant_code, tenant),
            PickupPoint.point_type == "township_counter",
            PickupDailyVolume.day >= date_from,
            PickupDailyVolume.day <= date_to,
        )
        .group_by(PickupPoint.id, PickupPoint.code, PickupPoint.tenant_code)
        .order_by(PickupPoint.tenant_code, PickupPoint.code)
    ).all()
    return [(pid, code, unit, int(c), int(i)) for pid, code, unit, c, i in rows]


# === Coverage over the stored network ============================================================
# Coverage over the stored network: load, compute with the pure rules, store, report.
#
# Metrics compute coverage on the fly for the period's last day (points active that day). The
# recompute job also writes each area's current coverage and nearest point back to its row, which
# the map, the uncovered list and the coverage tables read.


def county_path(tenant_code: str, county: str) -> str:
    """The path coverage rolls up along: the unit, then the county below it if not the unit."""
    if tenant_code == county or tenant_code.endswith("." + county):
        return tenant_code
    return f"{tenant_code}.{county}"


@dataclass
class Network:
    """A unit's areas and points as the pure rules see them, with the rows behind them."""

    areas: list[Area]
    sites: list[Site]
    assignments: list[tuple[int, int]]
    point_rows: dict[int, Any]


def load_network(session: Session, tenant: str, day: dt.date) -> Network:
    """Areas, points (active on ``day``) and assignments under ``tenant``."""
    area_rows = session.exec(
        select(
            PickupArea.id,
            PickupArea.category,
            PickupArea.lon,
            PickupArea.lat,
            PickupArea.households,
            PickupArea.tenant_code,
            PickupArea.county,
            PickupArea.polygon_wkt,
        ).where(in_scope_clause(PickupArea.tenant_code, tenant))
    ).all()
    areas = [
        Area(
            aid,
            AreaCategory(cat),
            lon,
            lat,
            hh,
            county_path(tc, county),
            shapely.from_wkt(wkt) if wkt else None,
        )
        for aid, cat, lon, lat, hh, tc, county, wkt in area_rows
    ]
    pts = points_on(session, tenant, day)
    sites = [Site(p.id, p.lon, p.lat, state.status is PointStatus.ACTIVE) for p, state in pts]
    assignments = session.exec(
        select(PickupAssignment.area_id, PickupAssignment.point_id).where(
            in_scope_clause(PickupAssignment.tenant_code, tenant)
        )
    ).all()
    return Network(areas, sites, [tuple(a) for a in assignments], {p.id: p for p, _ in pts})


def coverage_on(
    session: Session, tenant: str, day: dt.date
) -> tuple[Network, list[AreaCoverage], dict[tuple[str, AreaCategory], CoverageFigure]]:
    """Coverage of every area under ``tenant`` on ``day``, and its rollup up the tree."""
    rules = rules_for(session, tenant).coverage
    net = load_network(session, tenant, day)
    results = compute_coverage(net.areas, net.sites, net.assignments, rules)
    return net, results, rollup(net.areas, results)


def category_rates(
    figures: dict[tuple[str, AreaCategory], CoverageFigure], tenant: str
) -> dict[AreaCategory, Decimal | None]:
    """Coverage fraction per category at ``tenant`` (None where it has no such areas)."""
    return {c: figures.get((tenant, c), CoverageFigure()).rate for c in AreaCategory}


def recompute_and_store(
    session: Session,
    tenant: str,
    day: dt.date,
    progress: Callable[[int, int, str], None] | None = None,
    batch: int = 2000,
) -> dict[str, Any]:
    """Recompute coverage under ``tenant`` and write it to the area rows in batches.

    Idempotent: a re-run overwrites the same columns with the same values. With ``progress``,
    each batch is committed before progress is reported.
    """
    net, results, figures = coverage_on(session, tenant, day)
    nearest = {
        u.area.id: u.nearest[0]
        for u in uncovered_with_nearest(net.areas, net.sites, results, k=1)
        if u.nearest
    }
    now = utcnow()
    updates = [
        {
            "id": r.area_id,
            "covered": r.covered,
            "covered_reason": r.reason,
            "covered_by": r.site_id,
            "distance_m": r.distance_m,
            "nearest_point": nearest[r.area_id].site_id if r.area_id in nearest else r.site_id,
            "nearest_m": (nearest[r.area_id].distance_m if r.area_id in nearest else r.distance_m),
            "coverage_at": now,
        }
        for r in results
    ]
    total = len(updates)
    # One executemany per batch on the table (the ORM's bulk update by primary key is several
    # times slower); the rows were read through the scoped session and the statement repeats
    # the unit condition, so it cannot touch another unit's rows.
    table = PickupArea.__table__
    stmt = (
        sa.update(table)
        .where(table.c.id == sa.bindparam("b_id"), in_scope_clause(table.c.tenant_code, tenant))
        .values({k: sa.bindparam(f"b_{k}") for k in updates[0] if k != "id"} if updates else {})
    )
    updates = [{f"b_{k}": v for k, v in u.items()} for u in updates]
    for start in range(0, total, batch):
        session.execute(stmt, updates[start : start + batch])
        if progress:
            # Progress is written in its own transaction: release our write lock first (SQLite
            # has one writer). Each batch is final on its own, so a retry just rewrites it.
            session.commit()
            progress(min(start + batch, total), total, f"{min(start + batch, total)}/{total} areas")
    rates = category_rates(figures, tenant)
    return {
        "tenant": tenant,
        "day": day.isoformat(),
        "areas": total,
        "covered": sum(r.covered for r in results),
        "rates": {c.value: (str(v) if v is not None else None) for c, v in rates.items()},
    }


def coverage_table(session: Session, tenant: str, day: dt.date) -> list[dict[str, Any]]:
    """Rows (unit path, category, households covered/total, areas, rate) at and below
    ``tenant``, for the coverage page and its CSV export."""
    _, _, figures = coverage_on(session, tenant, day)
    rows = []
    for (path, category), f in sorted(figures.items(), key=lambda kv: (kv[0][0], kv[0][1].value)):
        if not (path == tenant or path.startswith(tenant + ".")):
            continue
        rows.append(
            {
                "unit": path,
                "category": category.value,
                "covered_households": f.covered_households,
                "total_households": f.total_households,
                "covered_areas": f.covered_areas,
                "total_areas": f.total_areas,
                "rate": str(f.rate) if f.rate is not None else None,
            }
        )
    return rows


def uncovered_list(session: Session, tenant: str, day: dt.date, k: int = 3) -> list[dict]:
    """Uncovered areas under ``tenant`` on ``day``, biggest first, with the nearest points."""
    net, results, _ = coverage_on(session, tenant, day)
    names = dict(
        session.exec(
            select(PickupArea.id, PickupArea.name).where(
                in_scope_clause(PickupArea.tenant_code, tenant)
            )
        ).all()
    )
    out = []
    for u in uncovered_with_nearest(net.areas, net.sites, results, k=k):
        out.append(
            {
                "area_id": u.area.id,
                "name": names.get(u.area.id),
                "category": u.area.category.value,
                "unit": u.area.unit_path,
                "households": u.area.households,
                "lon": u.area.lon,
                "lat": u.area.lat,
                "nearest": [
                    {
                        "point_id": n.site_id,
                        "code": net.point_rows[n.site_id].code,
                        "distance_m": round(n.distance_m, 1),
                    }
                    for n in u.nearest
                ],
            }
        )
    return out


def suggest(
    session: Session, tenant: str, day: dt.date, candidates: list[Candidate], limit: int
) -> list[dict[str, Any]]:
    """Greedy new-site suggestions for the areas uncovered under ``tenant`` on ``day``."""
    rules = rules_for(session, tenant).coverage
    net, results, _ = coverage_on(session, tenant, day)
    uncovered_ids = {r.area_id for r in results if not r.covered}
    uncovered = [a for a in net.areas if a.id in uncovered_ids]
    picked = suggest_sites(uncovered, candidates, limit, rules)
    return [
        {
            "rank": s.rank,
            "candidate": s.candidate_id,
            "new_households": s.new_households,
            "area_ids": list(s.area_ids),
        }
        for s in picked
    ]


# === Direct delivery over the stored volumes =====================================================
# Direct delivery over the stored volumes: proposals, recorded switches, the diverted share.
#
# Window totals and diverted volumes are summed in SQL; the pure rule (``direct_delivery``)
# decides which points qualify.


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


# === Siting scenarios, planned sites and their promotion to points ===============================
# Siting scenarios in the database: load a unit's network, run LSCP / MCLP / greedy /
# capacity on it (``siting``), keep the result, and accept chosen sites as planned points.
#
# A scenario is keyed by ``code`` (the job id that ran it, or ``demo-…``): running the same code
# again overwrites its result, so a retried job never adds a second scenario.


class CandidateIn(BaseModel):
    """A location where a point could open."""

    id: str = Field(min_length=1, max_length=64)
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    name: str | None = Field(default=None, max_length=200)


class SitingParams(BaseModel):
    """A scenario: what a planner passes when starting ``pickup_points.siting``."""

    name: str = Field(default="", max_length=200, description="the scenario's name")
    k: int = Field(default=5, ge=1, le=1000, description="sites MCLP and the greedy may open")
    existing: Literal["keep", "ignore"] = Field(
        default="keep",
        description="keep: today's active points stay and only uncovered areas need a site; "
        "ignore: plan the network from scratch",
    )
    candidates: list[CandidateIn] | None = Field(
        default=None,
        max_length=5000,
        description="candidate sites; default: the areas to cover (and, with existing=ignore, "
        "today's points) as candidates",
    )
    radius_urban_community_m: float | None = Field(default=None, ge=0, le=100_000)
    radius_village_m: float | None = Field(default=None, ge=0, le=100_000)
    radius_mailroom_m: float | None = Field(default=None, ge=0, le=100_000)
    time_limit_s: int = Field(default=60, ge=1, le=600, description="solver time limit per model")
    items_per_household: Decimal = Field(
        default=Decimal("0.03"), ge=0, le=10, description="daily items per household"
    )
    new_site_capacity: int = Field(default=500, ge=1, le=1_000_000, description="items a day")
    day: dt.date | None = Field(default=None, description="the network as on this day")


def scenario_rules(session: Session, tenant: str, params: SitingParams) -> CoverageRules:
    """The unit's coverage radii, with the scenario's overrides."""
    radii = dict(rules_for(session, tenant).coverage.radius_m)
    for cat, value in (
        (AreaCategory.URBAN_COMMUNITY, params.radius_urban_community_m),
        (AreaCategory.VILLAGE, params.radius_village_m),
        (AreaCategory.MAILROOM, params.radius_mailroom_m),
    ):
        if value is not None:
            radii[cat] = float(value)
    return CoverageRules(radii)


def run_scenario(
    session: Session,
    tenant: str,
    params: SitingParams,
    code: str,
    started_by: str | None,
    progress: Callable[[int, int, str], None] | None = None,
) -> PickupSitingScenario:
    """Run (or re-run) scenario ``code`` at ``tenant`` and store its result."""
    progress = progress or (lambda *a: None)
    day = params.day or clock.today()
    row = session.exec(
        select(PickupSitingScenario).where(
            PickupSitingScenario.tenant_code == tenant, PickupSitingScenario.code == code
        )
    ).first()
    if row is None:
        row = PickupSitingScenario(tenant_code=tenant, code=code, name="")
    row.name = params.name or code
    row.params = params.model_dump(mode="json")
    row.status, row.result, row.finished_at, row.started_by = "running", None, None, started_by
    session.add(row)
    session.commit()

    rules = scenario_rules(session, tenant, params)
    progress(0, 5, "loading network")
    net = load_network(session, tenant, day)
    names = dict(
        session.exec(
            select(PickupArea.id, PickupArea.name).where(
                in_scope_clause(PickupArea.tenant_code, tenant)
            )
        ).all()
    )
    if params.existing == "keep":
        today = compute_coverage(net.areas, net.sites, net.assignments, rules)
        uncovered = {r.area_id for r in today if not r.covered}
        demand = [a for a in net.areas if a.id in uncovered]
    else:
        demand = list(net.areas)

    if params.candidates is not None:
        info = {c.id: (c.name or c.id, c.lon, c.lat) for c in params.candidates}
        candidates = [Candidate(c.id, c.lon, c.lat) for c in params.candidates]
    else:
        info = {f"A{a.id}": (names.get(a.id) or str(a.id), a.lon, a.lat) for a in demand}
        if params.existing == "ignore":
            for s in net.sites:
                if s.active:
                    p = net.point_rows[s.id]
                    info[f"P{s.id}"] = (f"{p.code} {p.name}", s.lon, s.lat)
        candidates = [Candidate(cid, lon, lat) for cid, (_, lon, lat) in info.items()]

    progress(1, 5, "LSCP")
    lscp = siting.solve_lscp(demand, candidates, rules, params.time_limit_s)
    progress(2, 5, "MCLP")
    mclp = siting.solve_mclp(demand, candidates, params.k, rules, params.time_limit_s)
    progress(3, 5, "greedy")
    greedy_k = siting.greedy(demand, candidates, params.k, rules)
    greedy_full = siting.greedy(demand, candidates, None, rules)

    progress(4, 5, "capacity")
    cap_sites: list[siting.CapacitySite] = []
    site_names: dict[str, str] = {}
    if params.existing == "keep":
        for s in net.sites:
            if s.active:
                p = net.point_rows[s.id]
                key = f"P{s.id}"
                cap_sites.append(siting.CapacitySite(key, s.lon, s.lat, p.capacity))
                site_names[key] = f"{p.code} {p.name}"
    for cid in lscp.sites:
        name, lon, lat = info[cid]
        key = f"new:{cid}"
        cap_sites.append(siting.CapacitySite(key, lon, lat, params.new_site_capacity))
        site_names[key] = name
    assignment = siting.assign_with_capacity(
        net.areas, cap_sites, params.items_per_household, rules
    )

    chosen = set(lscp.sites) | set(mclp.sites) | set(greedy_k.sites)
    index = {c.id: i for i, c in enumerate(candidates)}
    reach_sets = reach(demand, [candidates[index[c]] for c in sorted(chosen)], rules)
    reached = {
        c: sum(demand[ai].households for ai in s)
        for c, s in zip(sorted(chosen), reach_sets, strict=True)
    }
    row.result = {
        "day": day.isoformat(),
        "areas_to_cover": len(demand),
        "candidates": len(candidates),
        "sites": {
            c: {
                "name": info[c][0],
                "lon": info[c][1],
                "lat": info[c][2],
                "households": reached[c],
                "lscp": c in lscp.sites,
                "mclp": c in mclp.sites,
                "greedy": c in greedy_k.sites,
            }
            for c in sorted(chosen)
        },
        "lscp": lscp.as_dict(),
        "mclp": mclp.as_dict(),
        "greedy": greedy_k.as_dict(),
        "greedy_full": greedy_full.as_dict(),
        "capacity": {
            "demand_items": sum(assignment.demand.values()),
            "unserved_items": sum(assignment.unserved.values()),
            "sites": [
                dict(load.as_dict(), name=site_names.get(str(load.site_id), str(load.site_id)))
                for load in assignment.sites
            ],
        },
    }
    row.status, row.finished_at = "done", utcnow()
    session.add(row)
    session.commit()
    progress(5, 5, "done")
    return row


def mark_failed(session: Session, tenant: str, code: str, message: str) -> None:
    row = session.exec(
        select(PickupSitingScenario).where(
            PickupSitingScenario.tenant_code == tenant, PickupSitingScenario.code == code
        )
    ).first()
    if row is not None:
        row.status, row.finished_at = "failed", utcnow()
        row.result = {"error": message[:500]}
        session.add(row)
        session.commit()


def get_scenario(session: Session, scenario_id: int) -> PickupSitingScenario:
    """A scenario in the caller's scope (404 otherwise)."""
    row = session.get(PickupSitingScenario, scenario_id)
    if row is None:
        raise NotFound("no such siting scenario", code="scenario_not_found")
    return row


def planned_sites(session: Session, scenario_id: int) -> list[PickupPlannedSite]:
    return list(
        session.exec(
            select(PickupPlannedSite)
            .where(PickupPlannedSite.scenario_id == scenario_id)
            .order_by(PickupPlannedSite.candidate_id)
        ).all()
    )


def accept_sites(
    session: Session, scenario: PickupSitingScenario, candidate_ids: list[str], actor: str | None
) -> list[PickupPlannedSite]:
    """Record chosen sites of a finished scenario as planned points (audited); a site already
    accepted is left as it is. Unknown ids are refused, naming each; nothing is written then."""
    if scenario.status != "done" or not scenario.result:
        raise ValidationError(
            "the scenario has no result yet",
            code="scenario_not_done",
            details=[{"field": "scenario", "message": f"status {scenario.status}"}],
        )
    sites = scenario.result.get("sites", {})
    if not candidate_ids:
        raise ValidationError(
            "choose at least one site",
            code="no_sites",
            details=[{"field": "sites", "message": "required"}],
        )
    bad = [
        {"field": f"sites[{i}]", "message": f"{c!r} is not a site of this scenario"}
        for i, c in enumerate(candidate_ids)
        if c not in sites
    ]
    if bad:
        raise ValidationError("unknown sites", code="unknown_site", details=bad)
    done = {p.candidate_id for p in planned_sites(session, scenario.id)}
    added = []
    for cid in dict.fromkeys(candidate_ids):
        if cid in done:
            continue
        s = sites[cid]
        row = PickupPlannedSite(
            tenant_code=scenario.tenant_code,
            scenario_id=scenario.id,
            candidate_id=cid,
            name=str(s["name"])[:200],
            lon=float(s["lon"]),
            lat=float(s["lat"]),
            households=int(s["households"]),
            accepted_by=actor,
        )
        session.add(row)
        added.append(row)
    if added:
        audit.record(
            "pickup_points.siting.accept",
            target_type="pickup_points.siting_scenario",
            target_id=scenario.id,
            tenant=scenario.tenant_code,
            before={"planned": sorted(done)},
            after={"planned": sorted(done | {r.candidate_id for r in added})},
            session=session,
            actor=actor,
        )
    session.commit()
    return added


# --- planned sites promoted to points ---------------------------------------------------------
# Coverage decision: a promoted site becomes a point with status ``planned`` (筹建). Like a
# suspended or closed point it covers nobody: coverage, the uncovered list and the KPIs count
# active points only, so a plan never shows as service. It counts once a planner opens it
# (status ``active``, POST /points/<id>/status), from that date on.


class PromoteIn(BaseModel):
    """What a planner fills in to turn a planned site into a pickup point."""

    name: str = Field(min_length=1, max_length=200, description="the point's name")
    point_type: PointType = Field(description="own, partner_shop, smart_locker, ...")
    operator: str | None = Field(default=None, max_length=200, description="who runs it")
    capacity: int = Field(ge=0, le=1_000_000, description="daily capacity (items a day)")
    code: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="the point's code; default S<scenario id>-<candidate id>",
    )
    county: str | None = Field(
        default=None,
        min_length=1,
        max_length=60,
        description="the unit's own code segment (default) or a unit directly below it",
    )


def planned_site_out(site: PickupPlannedSite, point: PickupPoint | None) -> dict[str, Any]:
    """A planned site as the API lists it, with the point it was promoted to (or None)."""
    return {
        "id": site.id,
        "scenario_id": site.scenario_id,
        "candidate_id": site.candidate_id,
        "name": site.name,
        "tenant": site.tenant_code,
        "lon": site.lon,
        "lat": site.lat,
        "households": site.households,
        "accepted_by": site.accepted_by,
        "accepted_at": site.accepted_at.isoformat() if site.accepted_at else None,
        "point": (
            {"id": point.id, "code": point.code, "status": point.status}
            if point is not None
            else None
        ),
        "promoted_by": site.promoted_by,
        "promoted_at": site.promoted_at.isoformat() if site.promoted_at else None,
    }


def planned_sites_stmt(tenant: str, scenario_id: int | None = None) -> Any:
    """Planned sites under ``tenant`` (optionally one scenario's) with their points."""
    stmt = (
        select(PickupPlannedSite, PickupPoint)
        .join(PickupPoint, PickupPoint.id == PickupPlannedSite.point_id, isouter=True)
        .where(in_scope_clause(PickupPlannedSite.tenant_code, tenant))
        .order_by(PickupPlannedSite.scenario_id.desc(), PickupPlannedSite.candidate_id)
    )
    if scenario_id is not None:
        stmt = stmt.where(PickupPlannedSite.scenario_id == scenario_id)
    return stmt


def get_planned_site(session: Session, site_id: int) -> PickupPlannedSite:
    """A planned site in the caller's scope (404 otherwise)."""
    site = session.get(PickupPlannedSite, site_id)
    if site is None:
        raise NotFound(
            f"no planned site {site_id}",
            code="planned_site_not_found",
            details=[{"field": "site", "message": "not found"}],
        )
    return site


def promote_site(
    session: Session, site_id: int, body: PromoteIn, actor: str | None, today: dt.date
) -> PickupPoint:
    """Create a pickup point with status ``planned`` at a planned site's location, in the
    site's unit, and link the site to it (audited as ``pickup_points.siting.promote``).

    A site already promoted: 409 ``already_promoted`` naming the site and its point. A code
    already used in the unit or a county that is neither the unit nor a unit directly below it:
    422 naming each field; nothing is written. The caller commits."""
    site = get_planned_site(session, site_id)
    # Lock the site (PostgreSQL), so two planners promoting it at once make one point.
    session.exec(
        select(PickupPlannedSite.id).where(PickupPlannedSite.id == site.id).with_for_update()
    ).first()
    session.refresh(site)
    if site.point_id is not None:
        point = session.get(PickupPoint, site.point_id)
        code = point.code if point is not None else str(site.point_id)
        raise Conflict(
            f"planned site {site.name} ({site.candidate_id}) is already promoted to point {code}",
            code="already_promoted",
            details=[{"field": "site", "message": f"{site.candidate_id}: already point {code}"}],
        )
    tenant = site.tenant_code
    code = body.code or f"S{site.scenario_id}-{site.candidate_id}"[:64]
    county = body.county or tenant.rsplit(".", 1)[-1]
    errors = []
    taken = session.exec(
        select(PickupPoint.id).where(PickupPoint.tenant_code == tenant, PickupPoint.code == code)
    ).first()
    if taken is not None:
        errors.append({"field": "code", "message": f"{code!r} is already a point of {tenant}"})
    if county not in allowed_counties(session, tenant):
        errors.append(
            {"field": "county", "message": f"{county!r}: neither {tenant} nor a unit below it"}
        )
    if errors:
        raise ValidationError("cannot promote the site", code="invalid_promotion", details=errors)
    point = PickupPoint(
        tenant_code=tenant,
        code=code,
        name=body.name,
        point_type=body.point_type.value,
        status=PointStatus.PLANNED.value,
        county=county,
        lon=site.lon,
        lat=site.lat,
        operator=body.operator or None,
        capacity=body.capacity,
        opened_on=today,
    )
    session.add(point)
    session.flush()
    session.add(
        PickupStatusChange(
            tenant_code=tenant,
            point_id=point.id,
            effective=today,
            status=PointStatus.PLANNED.value,
            point_type=point.point_type,
            changed_by=actor,
        )
    )
    site.point_id, site.promoted_by, site.promoted_at = point.id, actor, utcnow()
    session.add(site)
    audit.record(
        "pickup_points.siting.promote",
        target_type="pickup_points.planned_site",
        target_id=site.id,
        tenant=tenant,
        before={"point": None},
        after={"point": code, "status": PointStatus.PLANNED.value},
        session=session,
        actor=actor,
    )
    session.flush()
    return point


def scenario_summary(row: PickupSitingScenario) -> dict[str, Any]:
    """The scenario as the API returns it."""
    return {
        "id": row.id,
        "code": row.code,
        "name": row.name,
        "tenant": row.tenant_code,
        "status": row.status,
        "params": row.params,
        "result": row.result,
        "started_by": row.started_by,
        "created_at": row.created_at.isoformat() if row.created_at else None,
        "finished_at": row.finished_at.isoformat() if row.finished_at else None,
    }


# --- figures for the metrics hook ----------------------------------------------------------


def capacity_figures(
    session: Session, tenant: str, date_from: dt.date, date_to: dt.date
) -> tuple[int, int, int]:
    """(inbound items, capacity offered, points over capacity) over the daily volumes of points
    with a stated capacity in ``[from, to]``: each volume row offers its point's capacity once;
    a point is over capacity when its inbound exceeded the capacity on at least one day."""
    where = (
        in_scope_clause(PickupDailyVolume.tenant_code, tenant),
        PickupPoint.capacity.is_not(None),
        PickupDailyVolume.day >= date_from,
        PickupDailyVolume.day <= date_to,
    )
    joined = (PickupPoint, PickupPoint.id == PickupDailyVolume.point_id)
    items, offered = session.exec(
        select(
            sa.func.coalesce(sa.func.sum(PickupDailyVolume.inbound_items), 0),
            sa.func.coalesce(sa.func.sum(PickupPoint.capacity), 0),
        )
        .select_from(PickupDailyVolume)
        .join(*joined)
        .where(*where)
    ).one()
    over = session.exec(
        select(sa.func.count(sa.distinct(PickupDailyVolume.point_id)))
        .select_from(PickupDailyVolume)
        .join(*joined)
        .where(*where, PickupDailyVolume.inbound_items > PickupPoint.capacity)
    ).one()
    return int(items), int(offered), int(over)


def _local_end(day: dt.date) -> dt.datetime:
    """The first instant after ``day`` ends in Asia/Shanghai, in UTC."""
    from zoneinfo import ZoneInfo

    nxt = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), ZoneInfo("Asia/Shanghai"))
    return nxt.astimezone(dt.UTC)


def planned_count(session: Session, tenant: str, date_to: dt.date) -> int:
    """Planned sites accepted under ``tenant`` on or before ``to`` (local date)."""
    return int(
        session.exec(
            select(sa.func.count(PickupPlannedSite.id)).where(
                in_scope_clause(PickupPlannedSite.tenant_code, tenant),
                PickupPlannedSite.accepted_at < _local_end(date_to),
            )
        ).one()
    )


def latest_done(session: Session, tenant: str, date_to: dt.date) -> PickupSitingScenario | None:
    """The scenario under ``tenant`` finished last on or before ``to`` (local date)."""
    return session.exec(
        select(PickupSitingScenario)
        .where(
            in_scope_clause(PickupSitingScenario.tenant_code, tenant),
            PickupSitingScenario.status == "done",
            PickupSitingScenario.finished_at < _local_end(date_to),
        )
        .order_by(PickupSitingScenario.finished_at.desc(), PickupSitingScenario.id.desc())
    ).first()


def siting_comparison(session: Session, tenant: str, date_to: dt.date) -> list[dict[str, Any]]:
    """Per unit at or below ``tenant``, its latest scenario finished on or before ``to`` (local
    date; the rule of the ``siting_*`` KPIs): LSCP's sites for full coverage beside the greedy's
    until full, and MCLP's coverage with K sites beside the greedy's with the same K. Sorted by
    unit code; units without a finished scenario are left out."""
    latest: dict[str, int] = {}
    for sid, unit in session.exec(
        select(PickupSitingScenario.id, PickupSitingScenario.tenant_code)
        .where(
            in_scope_clause(PickupSitingScenario.tenant_code, tenant),
            PickupSitingScenario.status == "done",
            PickupSitingScenario.finished_at < _local_end(date_to),
        )
        .order_by(PickupSitingScenario.finished_at.desc(), PickupSitingScenario.id.desc())
    ).all():
        latest.setdefault(unit, sid)
    if not latest:
        return []
    rows = session.exec(
        select(PickupSitingScenario).where(
            PickupSitingScenario.id.in_(list(latest.values()))  # type: ignore[attr-defined]
        )
    ).all()
    out = []
    for row in sorted(rows, key=lambda r: r.tenant_code):
        res = row.result or {}
        lscp, full = res.get("lscp") or {}, res.get("greedy_full") or {}
        mclp, greedy_k = res.get("mclp") or {}, res.get("greedy") or {}
        out.append(
            {
                "unit": row.tenant_code,
                "scenario": row.name,
                "scenario_id": row.id,
                "k": (row.params or {}).get("k"),
                "lscp_sites": lscp.get("site_count"),
                "lscp_status": lscp.get("status"),
                "greedy_full_sites": full.get("site_count"),
                "mclp_coverage": mclp.get("coverage"),
                "greedy_coverage": greedy_k.get("coverage"),
                "mclp_households": mclp.get("covered_households"),
                "greedy_households": greedy_k.get("covered_households"),
                "total_households": mclp.get("total_households"),
            }
        )
    return out
