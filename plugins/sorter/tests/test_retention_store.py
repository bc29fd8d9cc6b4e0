"""Retention in the database: raw events past N days go, rollups stay; on PostgreSQL whole
monthly partitions are dropped rather than rows deleted."""

import datetime as dt

import pytest
import sqlalchemy as sa
from postalops import context
from postalops.testing import count_rows, system_context
from postalops_sorter import purge
from postalops_sorter.events import Event, Kind, State
from postalops_sorter.ingest import store
from postalops_sorter.models import Device, Rollup
from postalops_sorter.models import Event as EventRow
from postalops_sorter.recompute import recompute_device_day

NOW = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)


def beats(times):
    return [Event(i, t, Kind.HEARTBEAT) for i, t in enumerate(times)]


def test_old_raw_events_are_purged_and_rollups_kept(po_app, stations):
    old, recent = NOW - dt.timedelta(days=100), NOW - dt.timedelta(days=10)
    with context.activate(system_context(po_app)) as ctx:
        s = ctx.session
        d = Device(
            tenant_code="cn.henan.zhengzhou.jinshui",
            code="R",
            model="m",
            chutes=24,
            commissioned_on=dt.date(2026, 1, 1),
            rated_per_hour=3000,
        )
        s.add(d)
        s.flush()
        store(
            s,
            device_id=d.id,
            tenant_code=d.tenant_code,
            events=beats([old, old + dt.timedelta(minutes=1), recent])
            + [Event(9, old, Kind.STATE, state=State.RUNNING)],
        )
        recompute_device_day(s, d, old.date(), [])
        s.commit()
        rollups = count_rows(po_app, Rollup)
        if purge.is_partitioned(s.connection()):
            pytest.skip("covered by the partition test")
        result = purge.purge(s.connection(), NOW, 90)
        s.commit()
    assert result["deleted_rows"] == 3 and result["dropped_partitions"] == []
    assert count_rows(po_app, EventRow) == 1
    assert count_rows(po_app, Rollup) == rollups > 0


PARTITIONED = """
CREATE TABLE sorter_event (
 tenant_code VARCHAR(200), device_id INTEGER NOT NULL, seq BIGINT NOT NULL,
 at TIMESTAMP WITH TIME ZONE NOT NULL, kind VARCHAR(10) NOT NULL, barcode VARCHAR(64),
 chute INTEGER, result VARCHAR(12), state VARCHAR(16), PRIMARY KEY (device_id, seq, at)
) PARTITION BY RANGE (at)
"""


def test_postgres_partitions_are_created_ahead_and_dropped_whole(po_app):
    db = po_app.extensions["postalops.db"]
    if not db.is_postgres:
        pytest.skip("PostgreSQL only (POSTALOPS_DATABASE_URL)")
    with db.engine.connect() as conn:
        trans = conn.begin()  # DDL is transactional in PostgreSQL: everything is rolled back
        try:
            conn.exec_driver_sql("DROP TABLE sorter_event")
            conn.exec_driver_sql(PARTITIONED)
            conn.exec_driver_sql(
                "CREATE TABLE sorter_event_default PARTITION OF sorter_event DEFAULT"
            )
            created = purge.ensure_partitions(conn, NOW, 90)
            # cutoff 2026-08-22: August .. January (two months ahead)
            assert created == [
                f"sorter_event_p{m}"
                for m in ("2026_08", "2026_09", "2026_10", "2026_11", "2026_12", "2027_01")
            ]
            for at in ("2026-08-05", "2026-09-30", "2026-10-01", "2026-11-19"):
                conn.exec_driver_sql(
                    f"INSERT INTO sorter_event VALUES ('cn', 1, {at[5:7]}{at[8:]}, '{at}T12:00:00Z', 'heartbeat')"
                )
            conn.exec_driver_sql(
                "INSERT INTO sorter_event VALUES ('cn', 1, 1, '2020-10-05T00:00:00Z', 'heartbeat')"
            )
            later = NOW + dt.timedelta(days=50)  # cutoff 2026-10-11: Aug and Sep wholly older
            result = purge.purge(conn, later, 90)
            assert result["dropped_partitions"] == [
                "sorter_event_p2026_08",
                "sorter_event_p2026_09",
            ]
            assert (
                result["deleted_rows"] == 1
            )  # only the backfilled 2020 row in the default partition
            left = (
                conn.execute(
                    sa.text("SELECT to_char(at, 'YYYY-MM-DD') FROM sorter_event ORDER BY at")
                )
                .scalars()
                .all()
            )
            # 1 October stays although past the cutoff: its partition still holds kept rows
            assert left == ["2026-10-01", "2026-11-19"]
        finally:
            trans.rollback()
