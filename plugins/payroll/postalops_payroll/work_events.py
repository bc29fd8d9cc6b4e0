"""Work events: delivery scans (投递) and collection records (揽收), screened row by row.

Both arrive in bulk (API batches, CSV/XLSX). Each row is parsed and checked on its own and the
batch reports every row: ``accepted``, ``duplicate`` (same waybill + event type + courier already
seen, so a re-sent batch adds nothing) or ``rejected`` with every error of the row, its shape
(fields missing or malformed) and its references (unknown courier, approved and locked month)
together, in one pass.

A batch is all-or-nothing (this is money: half a batch priced is a wrong payslip nobody sees):
when any row is rejected, ``ingest.py`` refuses the whole batch with one 422 listing every
rejected row and all of its errors, and stores nothing; the sender fixes those rows and sends
the batch again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from postalops.errors import PostalOpsError
from postalops.money import parse_decimal

from .dimensions import Category, Mode, Tier, parse_enum
from .period import Month, month_of, parse_timestamp

T = TypeVar("T")

DELIVERY = "delivery"
COLLECTION = "collection"


@dataclass(frozen=True)
class DeliveryScan:
    waybill: str
    courier_code: str
    scanned_at: datetime
    category: Category
    mode: Mode
    tier: Tier
    pickup_point: str | None = None

    event_type = DELIVERY

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.waybill, DELIVERY, self.courier_code)

    @property
    def month(self) -> Month:
        return month_of(self.scanned_at)


@dataclass(frozen=True)
class CollectionRecord:
    waybill: str
    courier_code: str
    collected_at: datetime
    category: Category
    postage: Decimal

    event_type = COLLECTION

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.waybill, COLLECTION, self.courier_code)

    @property
    def month(self) -> Month:
        return month_of(self.collected_at)


class _Row:
    """Collects every problem of one row instead of stopping at the first."""

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.raw = raw
        self.errors: list[dict[str, Any]] = []

    def text(self, name: str, max_length: int = 64) -> str:
        value = str(self.raw.get(name) or "").strip()
        if not value:
            self.errors.append({"field": name, "message": "required"})
        elif len(value) > max_length:
            self.errors.append({"field": name, "message": f"at most {max_length} characters"})
        return value

    def attempt(self, parse: Callable[[], T], fallback: T) -> T:
        try:
            return parse()
        except PostalOpsError as error:
            self.errors.extend(error.details)
            return fallback


def parse_delivery(raw: Mapping[str, Any]) -> tuple[DeliveryScan | None, list[dict[str, Any]]]:
    """Parse one delivery-scan row; returns the scan or the list of field errors."""
    row = _Row(raw)
    waybill = row.text("waybill")
    courier = row.text("courier")
    scanned_at = row.attempt(lambda: parse_timestamp(raw.get("time"), "time"), None)
    category = row.attempt(lambda: parse_enum(Category, raw.get("category"), "category"), None)
    mode = row.attempt(lambda: parse_enum(Mode, raw.get("mode"), "mode"), None)
    tier = row.attempt(lambda: parse_enum(Tier, raw.get("tier"), "tier"), None)
    pickup_point = str(raw.get("pickup_point") or "").strip() or None
    if mode is Mode.PICKUP_POINT and pickup_point is None:
        row.errors.append(
            {"field": "pickup_point", "message": "required when mode is pickup_point"}
        )
    if row.errors:
        return None, row.errors
    assert scanned_at and category and mode and tier
    return DeliveryScan(waybill, courier, scanned_at, category, mode, tier, pickup_point), []


def parse_collection(
    raw: Mapping[str, Any],
) -> tuple[CollectionRecord | None, list[dict[str, Any]]]:
    """Parse one collection-record row; returns the record or the list of field errors."""
    row = _Row(raw)
    waybill = row.text("waybill")
    courier = row.text("courier")
    collected_at = row.attempt(lambda: parse_timestamp(raw.get("time"), "time"), None)
    category = row.attempt(lambda: parse_enum(Category, raw.get("category"), "category"), None)
    postage = row.attempt(lambda: parse_decimal(raw.get("postage"), "postage"), None)
    if postage is not None and postage.as_tuple().exponent < -2:  # type: ignore[operator]
        row.errors.append({"field": "postage", "message": "whole fen only (two decimals)"})
    if row.errors:
        return None, row.errors
    assert collected_at and category and postage is not None
    return CollectionRecord(waybill, courier, collected_at, category, postage), []


PARSERS = {DELIVERY: parse_delivery, COLLECTION: parse_collection}


@dataclass
class RowResult:
    row: int
    status: str  # accepted | duplicate | rejected
    errors: list[dict[str, Any]] = field(default_factory=list)
    waybill: str | None = None

    def to_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {"row": self.row, "status": self.status}
        if self.waybill:
            result["waybill"] = self.waybill
        if self.errors:
            result["errors"] = self.errors
        return result


@dataclass
class BatchReport:
    """Per-row outcome of a batch; ``events`` are the accepted rows, ready to store."""

    results: list[RowResult]
    events: list[Any]
    event_rows: list[int]

    @property
    def counts(self) -> dict[str, int]:
        counts = {"accepted": 0, "duplicate": 0, "rejected": 0}
        for result in self.results:
            counts[result.status] += 1
        return counts

    def mark_duplicate(self, row: int) -> None:
        """The store found the row's key already present: report it as a duplicate."""
        for result in self.results:
            if result.row == row:
                result.status = "duplicate"

    def to_dict(self) -> dict[str, Any]:
        return {"counts": self.counts, "rows": [r.to_dict() for r in self.results]}


def _reference_errors(
    raw: Mapping[str, Any],
    courier_known: Callable[[str], bool],
    month_locked: Callable[[str, Month], bool],
) -> list[dict[str, Any]]:
    """The row's unknown courier or locked month, read from whatever of it parses."""
    courier = str(raw.get("courier") or "").strip()
    if not courier:
        return []  # reported as required by the parser
    if not courier_known(courier):
        return [
            {
                "field": "courier",
                "code": "unknown_courier",
                "message": "unknown courier",
                "value": courier,
            }
        ]
    try:
        month = month_of(parse_timestamp(raw.get("time"), "time"))
    except PostalOpsError:
        return []  # reported by the parser
    if month_locked(courier, month):
        return [
            {
                "field": "time",
                "code": "month_locked",
                "message": f"{month} is approved and locked",
                "value": str(month),
            }
        ]
    return []


def screen_batch(
    rows: Iterable[tuple[int, Mapping[str, Any]]],
    event_type: str,
    *,
    courier_known: Callable[[str], bool],
    month_locked: Callable[[str, Month], bool],
) -> BatchReport:
    """Parse and check every ``(row number, row)``; duplicates inside the batch keep the first.

    Rows are numbered as the sender sees them (spreadsheet row, or list index for JSON).
    ``month_locked(courier_code, month)`` says whether that courier's month is approved.
    Whether a key is already stored is for the storage layer to tell (``mark_duplicate``).
    """
    parse = PARSERS[event_type]
    results: list[RowResult] = []
    events: list[Any] = []
    event_rows: list[int] = []
    seen: set[tuple[str, str, str]] = set()
    for number, raw in rows:
        event, errors = parse(raw)
        # References are checked whatever the row's shape: one pass reports everything.
        errors.extend(_reference_errors(raw, courier_known, month_locked))
        waybill = str(raw.get("waybill") or "").strip() or None
        if errors:
            results.append(RowResult(number, "rejected", errors, waybill))
            continue
        assert event is not None
        if event.key in seen:
            results.append(RowResult(number, "duplicate", waybill=waybill))
            continue
        seen.add(event.key)
        results.append(RowResult(number, "accepted", waybill=waybill))
        events.append(event)
        event_rows.append(number)
    return BatchReport(results, events, event_rows)
