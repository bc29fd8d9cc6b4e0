"""Storing delivery scans and collection records in bulk, idempotently.

A batch is screened row by row (``work_events.screen_batch``). If any row is rejected the whole
batch is refused with a 422 that lists every rejected row, and nothing is stored; otherwise the
new rows are inserted in one statement and rows already stored (same waybill + event type +
courier) are reported as ``duplicate``, so re-sending a batch adds nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from postalops.db import check_in_scope
from postalops.errors import ValidationError
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, select

from .models import PayrollCollection, PayrollCourier, PayrollDelivery
from .period import Month
from .rate_card_store import locked_months
from .work_events import (
    COLLECTION,
    DELIVERY,
    BatchReport,
    CollectionRecord,
    DeliveryScan,
    screen_batch,
)

MODELS = {DELIVERY: PayrollDelivery, COLLECTION: PayrollCollection}
CHUNK = 500


def _month_key(month: Month) -> int:
    return month.year * 100 + month.month


def ingest(
    session: Session, event_type: str, rows: Iterable[tuple[int, Mapping[str, Any]]]
) -> dict[str, Any]:
    """Screen and store a batch of ``event_type`` rows; returns the per-row report."""
    if event_type not in MODELS:
        raise ValidationError(
            f"unknown event type {event_type!r}",
            details=[{"field": "type", "message": "delivery or collection"}],
        )
    rows = list(rows)
    codes = sorted({str(raw.get("courier") or "").strip() for _, raw in rows} - {""})
    couriers: dict[str, tuple[int, str]] = {}
    for start in range(0, len(codes), CHUNK):
        for cid, code, unit in session.exec(
            select(PayrollCourier.id, PayrollCourier.code, PayrollCourier.tenant_code).where(
                PayrollCourier.code.in_(codes[start : start + CHUNK])  # type: ignore[attr-defined]
            )
        ):
            couriers[code] = (cid, unit)
    locks = _locks_for(session, rows, couriers)
    report = screen_batch(
        rows,
        event_type,
        courier_known=lambda code: code in couriers,
        month_locked=lambda code, month: (couriers[code][1], _month_key(month)) in locks,
    )
    rejected = [r.to_dict() for r in report.results if r.status == "rejected"]
    if rejected:
        raise ValidationError(
            f"{len(rejected)} of {len(rows)} row(s) rejected; nothing was stored",
            code="rejected_rows",
            details=rejected,
        )
    _drop_stored(session, event_type, report, couriers)
    new_rows = [_row(event, couriers) for event in report.events]
    if new_rows:
        _insert(session, MODELS[event_type], new_rows)
    return report.to_dict()


def _locks_for(
    session: Session,
    rows: list[tuple[int, Mapping[str, Any]]],
    couriers: dict[str, tuple[int, str]],
) -> set[tuple[str, int]]:
    from .period import month_of, parse_timestamp

    months: set[int] = set()
    for _, raw in rows:
        try:
            months.add(_month_key(month_of(parse_timestamp(raw.get("time"), "time"))))
        except ValidationError:
            continue  # reported by the screen
    return locked_months(session, {unit for _, unit in couriers.values()}, months)


def _drop_stored(
    session: Session, event_type: str, report: BatchReport, couriers: dict[str, tuple[int, str]]
) -> None:
    """Mark rows whose key is already stored as duplicates and drop them from the insert."""
    model = MODELS[event_type]
    keys = {(e.waybill, couriers[e.courier_code][0]): i for i, e in enumerate(report.events)}
    stored: set[tuple[str, int]] = set()
    waybills = sorted({w for w, _ in keys})
    for start in range(0, len(waybills), CHUNK):
        stored.update(
            session.exec(
                select(model.waybill, model.courier_id).where(
                    model.waybill.in_(waybills[start : start + CHUNK])
                )  # type: ignore[attr-defined]
            ).all()
        )
    if not stored:
        return
    keep_events, keep_rows = [], []
    for event, row in zip(report.events, report.event_rows, strict=True):
        if (event.waybill, couriers[event.courier_code][0]) in stored:
            report.mark_duplicate(row)
        else:
            keep_events.append(event)
            keep_rows.append(row)
    report.events, report.event_rows = keep_events, keep_rows


def _row(
    event: DeliveryScan | CollectionRecord, couriers: dict[str, tuple[int, str]]
) -> dict[str, Any]:
    courier_id, unit = couriers[event.courier_code]
    common = {
        "tenant_code": unit,
        "waybill": event.waybill,
        "courier_id": courier_id,
        "month": _month_key(event.month),
        "category": str(event.category),
    }
    if isinstance(event, DeliveryScan):
        return common | {
            "scanned_at": event.scanned_at,
            "mode": str(event.mode),
            "tier": str(event.tier),
            "pickup_point": event.pickup_point,
        }
    return common | {"collected_at": event.collected_at, "postage": event.postage}


def _insert(session: Session, model: Any, rows: list[dict[str, Any]]) -> None:
    """Multi-row inserts (executemany); a row racing in from a concurrent batch is skipped.

    A Core insert on the table skips the ORM's per-row bookkeeping, which costs more than the
    database here; every row's unit came from a courier read through the caller's scoped
    session, and ``check_in_scope`` re-checks each distinct unit before anything is written.
    """
    for unit in {row["tenant_code"] for row in rows}:
        check_in_scope(session, unit)
    table = model.__table__
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        statement = postgresql.insert(table).on_conflict_do_nothing()
    elif dialect == "sqlite":
        statement = sqlite.insert(table).on_conflict_do_nothing()
    else:  # pragma: no cover - PostalOps runs on SQLite and PostgreSQL
        statement = sa.insert(table)
    for start in range(0, len(rows), 5000):
        session.execute(statement, rows[start : start + 5000])
