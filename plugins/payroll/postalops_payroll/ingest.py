"""Storing delivery scans and collection records in bulk, idempotently.

A batch is all-or-nothing. It is screened row by row (``work_events.screen_batch``), each row's
shape and references together; if any row is rejected the whole batch is refused with one 422
(``rejected_rows``) that lists every rejected row with all of its errors, and nothing is stored.
Otherwise the new rows are inserted in one statement and rows already stored (same waybill +
event type + courier) are reported as ``duplicate``, so re-sending a batch adds nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from postalops.bulk import insert_rows
from postalops.db import check_in_scope, in_scope_clause
from postalops.errors import ValidationError
from postalops.money import fen_of
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, select

from .models import (
    PayrollCollection,
    PayrollCollectionTally,
    PayrollCourier,
    PayrollDelivery,
    PayrollDeliveryTally,
)
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
            f"{len(rejected)} of {len(rows)} row(s) rejected; the batch is all-or-nothing, so "
            "nothing was stored: fix the rows listed and send the batch again",
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
    """Insert the rows, skipping any that races in from a concurrent batch, and add exactly the
    rows inserted to the month's tallies, in the same transaction.

    A Core insert on the table skips the ORM's per-row bookkeeping, which costs more than the
    database here; every row's unit came from a courier read through the caller's scoped
    session, and ``check_in_scope`` re-checks each distinct unit before anything is written.
    ``RETURNING`` tells which rows were new, so a replayed or racing scan is never counted twice.
    """
    for unit in {row["tenant_code"] for row in rows}:
        check_in_scope(session, unit)
    keys = TALLY_KEYS[model]
    returned = [*keys, "postage"] if model is PayrollCollection else list(keys)
    added: dict[tuple, list[int]] = {}
    # The core's bulk writer: on PostgreSQL one COPY and one policy-checked INSERT ... SELECT
    # per 5,000 rows instead of one INSERT per row (most of the demo's PostgreSQL time).
    for start in range(0, len(rows), 5000):
        inserted = insert_rows(
            session,
            model,
            rows[start : start + 5000],
            on_conflict_do_nothing=True,
            returning=returned,
        )
        for row in inserted:
            key = tuple(row[: len(keys)])
            sums = added.setdefault(key, [0, 0])
            sums[0] += 1
            if model is PayrollCollection:
                sums[1] += int(row[-1] * 100)
    add_to_tallies(session, model, added)


# Tally key columns, in the order of the tally's primary key.
TALLY_KEYS: dict[Any, tuple[str, ...]] = {
    PayrollDelivery: ("month", "courier_id", "category", "mode", "tier", "tenant_code"),
    PayrollCollection: ("month", "courier_id", "category", "tenant_code"),
}
TALLIES: dict[Any, Any] = {
    PayrollDelivery: PayrollDeliveryTally,
    PayrollCollection: PayrollCollectionTally,
}


def _dialect_insert(session: Session) -> Any:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert
    if dialect == "sqlite":
        return sqlite.insert
    raise NotImplementedError(dialect)  # pragma: no cover - SQLite and PostgreSQL only


def add_to_tallies(session: Session, model: Any, added: Mapping[tuple, list[int]]) -> None:
    """Add ``{key: [items, postage in fen]}`` to the tallies of ``model``'s events (upsert).

    Keys are sorted so two batches touching the same tally rows lock them in the same order.
    """
    if not added:
        return
    tally = TALLIES[model].__table__
    keys = TALLY_KEYS[model]
    rows = []
    for key in sorted(added):
        items, fen = added[key]
        row = dict(zip(keys, key, strict=True)) | {"items": items}
        if model is PayrollCollection:
            row["postage_fen"] = fen
        rows.append(row)
    statement = _dialect_insert(session)(tally)
    increments = {"items": tally.c["items"] + statement.excluded["items"]}
    if model is PayrollCollection:
        increments["postage_fen"] = tally.c.postage_fen + statement.excluded.postage_fen
    session.execute(
        statement.on_conflict_do_update(index_elements=list(keys), set_=increments), rows
    )


def rebuild_tallies(session: Session, unit: str, month: int) -> dict[str, int]:
    """Recompute ``unit``'s tallies of ``month`` from the stored events (repair, migration).

    Returns the rows written per tally. One ``DELETE`` and one ``INSERT … SELECT … GROUP BY``
    per tally, on the session's connection: the unit was checked against the caller's scope,
    the filters name it, and on PostgreSQL the tables' row-level security applies to both the
    read and the write.
    """
    check_in_scope(session, unit)
    connection = session.connection()
    written = {}
    for model, tally in TALLIES.items():
        events, counts = model.__table__, tally.__table__
        keys = [events.c[name] for name in TALLY_KEYS[model]]
        sums = [sa.func.count()]
        if model is PayrollCollection:
            sums.append(sa.func.sum(fen_of(session, events.c.postage)))
        names = [*TALLY_KEYS[model], *("items", "postage_fen")[: len(sums)]]
        connection.execute(
            sa.delete(counts).where(
                counts.c.month == month, in_scope_clause(counts.c.tenant_code, unit)
            )
        )
        rows = (
            sa.select(*keys, *sums)
            .where(events.c.month == month, in_scope_clause(events.c.tenant_code, unit))
            .group_by(*keys)
        )
        result = connection.execute(sa.insert(counts).from_select(names, rows))
        written[counts.name] = result.rowcount
    return written
