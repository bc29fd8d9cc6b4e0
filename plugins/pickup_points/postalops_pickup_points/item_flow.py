"""Item flow at points in the database: item events, daily volumes, city volumes, complaints,
and the 两确保 figures aggregated in SQL.

Each item's deadlines and feedback verdict are computed by the pure rules when it is recorded
(``service_quality.deadlines`` / ``feedback_compliant`` with the point's opening hours and the
unit's rules), so the figures are plain SQL counts over the item table.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from postalops.bulk import insert_rows
from postalops.db import check_in_scope, in_scope_clause
from postalops.errors import ValidationError
from postalops.imports import RowErrors
from sqlmodel import Session, select

from .models import (
    PickupCityVolume,
    PickupComplaint,
    PickupDailyVolume,
    PickupItem,
    PickupPoint,
)
from .opening_hours import parse_opening_hours
from .rules_store import rules_for
from .service_quality import QualityFigure, deadlines, feedback_compliant, local_date

BATCH = 2000


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
