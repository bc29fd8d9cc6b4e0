"""How long raw events are kept, and which monthly partitions of them can go.

Raw events are kept ``days`` days; rollups are kept for ever. On PostgreSQL the raw event table
is partitioned by calendar month (UTC) and a partition is dropped whole once its newest possible
row is older than the cutoff, so nothing is deleted row by row there. Elsewhere (SQLite) rows
older than the cutoff are deleted. A partition can therefore outlive the cutoff by up to a month.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from postalops.errors import ValidationError

DEFAULT_DAYS = 90
TABLE = "sorter_event"


def cutoff(now: datetime, days: int) -> datetime:
    """Events strictly before this instant are past retention."""
    if days < 1:
        raise ValidationError(
            "retention must be at least one day",
            code="invalid_retention",
            details=[{"field": "retention_days", "message": "must be >= 1"}],
        )
    return now - timedelta(days=days)


@dataclass(frozen=True, slots=True)
class Partition:
    name: str
    start: datetime  # inclusive, UTC
    end: datetime  # exclusive, UTC


def month_partition(at: datetime) -> Partition:
    """The monthly partition holding instant ``at``."""
    at = at.astimezone(UTC)
    start = datetime(at.year, at.month, 1, tzinfo=UTC)
    end = datetime(at.year + (at.month == 12), at.month % 12 + 1, 1, tzinfo=UTC)
    return Partition(f"{TABLE}_p{at.year:04d}_{at.month:02d}", start, end)


def partitions_between(first: date, last: date) -> list[Partition]:
    """Monthly partitions covering ``first``..``last`` inclusive."""
    out = []
    p = month_partition(datetime(first.year, first.month, 1, tzinfo=UTC))
    stop = datetime(last.year, last.month, 1, tzinfo=UTC)
    while p.start <= stop:
        out.append(p)
        p = month_partition(p.end)
    return out


def droppable(partitions: list[Partition], cut: datetime) -> list[Partition]:
    """Partitions whose every row is before the cutoff."""
    return [p for p in partitions if p.end <= cut]
