"""Retention of raw events: drop whole monthly partitions on PostgreSQL, delete rows elsewhere.

Rollups are never touched: they are kept for ever. Partition DDL needs the table owner, so the
maintenance job runs it on an owner session; the runtime role only ever inserts and reads.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from .models import DirtyDay
from .models import Event as EventRow
from .retention import Partition, cutoff, droppable, month_partition, partitions_between

PARENT = "sorter_event"
DEFAULT_PARTITION = "sorter_event_default"


def is_partitioned(conn: sa.Connection) -> bool:
    if conn.dialect.name != "postgresql":
        return False
    return bool(
        conn.execute(
            sa.text(
                "SELECT 1 FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid WHERE c.relname = :t"
            ),
            {"t": PARENT},
        ).first()
    )


def existing_partitions(conn: sa.Connection) -> list[Partition]:
    """Monthly partitions attached to ``sorter_event`` (the default partition is not listed)."""
    names = conn.execute(
        sa.text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = :t"
        ),
        {"t": PARENT},
    ).scalars()
    out = []
    for name in names:
        suffix = name.removeprefix(PARENT + "_p")
        if len(suffix) == 7 and suffix[4] == "_":
            out.append(
                month_partition(dt.datetime(int(suffix[:4]), int(suffix[5:]), 1, tzinfo=dt.UTC))
            )
    return sorted(out, key=lambda p: p.start)


def ensure_partitions(
    conn: sa.Connection, now: dt.datetime, retention_days: int, ahead_months: int = 2
) -> list[str]:
    """Create the monthly partitions from the retention cutoff to ``ahead_months`` ahead."""
    if not is_partitioned(conn):
        return []
    have = {p.name for p in existing_partitions(conn)}
    first = cutoff(now, retention_days).date()
    last = (now + dt.timedelta(days=31 * ahead_months)).date()
    created = []
    for p in partitions_between(first, last):
        if p.name in have:
            continue
        conn.exec_driver_sql(
            f'CREATE TABLE IF NOT EXISTS "{p.name}" PARTITION OF {PARENT} '
            f"FOR VALUES FROM ('{p.start.isoformat()}') TO ('{p.end.isoformat()}')"
        )
        created.append(p.name)
    return created


def purge(conn: sa.Connection, now: dt.datetime, retention_days: int) -> dict[str, object]:
    """Remove raw events older than retention. Returns what was dropped / deleted."""
    cut = cutoff(now, retention_days)
    dropped: list[str] = []
    if is_partitioned(conn):
        for p in droppable(existing_partitions(conn), cut):
            conn.exec_driver_sql(f'DROP TABLE IF EXISTS "{p.name}"')
            dropped.append(p.name)
    t = EventRow.__table__
    if is_partitioned(conn):
        # Monthly partitions are only ever dropped whole; rows go one by one only from the
        # default partition, which catches backfilled history outside the managed months.
        deleted = conn.execute(
            sa.text(f"DELETE FROM {DEFAULT_PARTITION} WHERE at < :cut"), {"cut": cut}
        ).rowcount
    else:
        deleted = conn.execute(sa.delete(t).where(t.c.at < cut)).rowcount
    d = DirtyDay.__table__
    conn.execute(sa.delete(d).where(d.c.day < cut.date()))
    return {"cutoff": cut.isoformat(), "dropped_partitions": dropped, "deleted_rows": deleted}
