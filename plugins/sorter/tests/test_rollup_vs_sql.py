"""Property: on random event streams, the stored rollups equal a direct SQL aggregate of the
raw events (counts by GROUP BY; state time by LEAD over the state changes, clipped to the day;
failures by LAG). The SQL is written independently of the Python timeline code."""

import datetime as dt

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from postalops import context
from postalops.testing import system_context
from postalops_sorter.events import Event, Kind, Result, State
from postalops_sorter.ingest import store
from postalops_sorter.models import Device, Rollup
from postalops_sorter.oee import Totals, total
from postalops_sorter.recompute import recompute_device_day
from postalops_sorter.timeline import local_day_start_ms

DAY = dt.date(2020, 10, 5)
DS = local_day_start_ms(DAY)
DE = local_day_start_ms(DAY + dt.timedelta(days=1))
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def epoch_ms(conn, column):
    if conn.dialect.name == "postgresql":
        return f"CAST(ROUND(EXTRACT(EPOCH FROM {column}) * 1000) AS BIGINT)"
    return f"CAST(ROUND((julianday({column}) - 2440587.5) * 86400000) AS INTEGER)"


def sql_reference(conn, device_id):
    """Totals of the device over DAY, computed in SQL only."""
    counts = dict(
        conn.execute(
            sa.text(
                "SELECT result, COUNT(*) FROM sorter_event WHERE device_id = :d AND kind = 'item' "
                f"AND {epoch_ms(conn, 'at')} >= :ds AND {epoch_ms(conn, 'at')} < :de GROUP BY result"
            ),
            {"d": device_id, "ds": DS, "de": DE},
        ).all()
    )
    ms = epoch_ms(conn, "at")
    states = dict(
        conn.execute(
            sa.text(
                f"""
                WITH horizon AS (  -- a state lasts to the next change or the last event
                    SELECT MIN(h) AS h FROM (SELECT MAX({ms}) AS h FROM sorter_event WHERE device_id = :d
                                             UNION ALL SELECT :de) x
                ), changes AS (
                    SELECT state, {ms} AS t0,
                           LEAD({ms}) OVER (ORDER BY at, seq) AS t1
                    FROM sorter_event WHERE device_id = :d AND kind = 'state'
                ), clipped AS (
                    SELECT state,
                           CASE WHEN t0 > :ds THEN t0 ELSE :ds END AS s,
                           CASE WHEN COALESCE(t1, (SELECT h FROM horizon)) < (SELECT h FROM horizon)
                                THEN COALESCE(t1, (SELECT h FROM horizon)) ELSE (SELECT h FROM horizon) END AS e
                    FROM changes
                )
                SELECT state, SUM(e - s) FROM clipped WHERE e > s GROUP BY state
                """
            ),
            {"d": device_id, "ds": DS, "de": DE},
        ).all()
    )
    failures = dict(
        conn.execute(
            sa.text(
                f"""
                SELECT state, COUNT(*) FROM (
                    SELECT state, {ms} AS t, LAG(state) OVER (ORDER BY at, seq) AS prev
                    FROM sorter_event WHERE device_id = :d AND kind = 'state'
                ) x
                WHERE state IN ('jammed', 'fault') AND (prev IS NULL OR prev <> state) AND t >= :ds AND t < :de
                GROUP BY state
                """
            ),
            {"d": device_id, "ds": DS, "de": DE},
        ).all()
    )
    return Totals(
        running_ms=int(states.get("running", 0)),
        idle_ms=int(states.get("idle", 0)),
        jammed_ms=int(states.get("jammed", 0)),
        fault_ms=int(states.get("fault", 0)),
        estop_ms=int(states.get("emergency_stop", 0)),
        planned_stop_ms=int(states.get("planned_stop", 0)),
        capacity_item_ms=int(states.get("running", 0)) * 3000,
        sorted=counts.get("sorted", 0),
        rejected=counts.get("rejected", 0),
        no_read=counts.get("no_read", 0),
        recirculated=counts.get("recirculated", 0),
        jams=failures.get("jammed", 0),
        faults=failures.get("fault", 0),
    )


@st.composite
def streams(draw):
    n = draw(st.integers(1, 40))
    events = []
    for seq in draw(st.lists(st.integers(0, 10_000), min_size=n, max_size=n, unique=True)):
        # from 2 h before the day (prior state) to its end; ms precision
        at = EPOCH + dt.timedelta(milliseconds=draw(st.integers(DS - 7_200_000, DE - 1)))
        kind = draw(st.sampled_from([Kind.ITEM, Kind.ITEM, Kind.STATE, Kind.HEARTBEAT]))
        if kind is Kind.ITEM:
            events.append(
                Event(
                    seq, at, kind, barcode="b", chute=1, result=draw(st.sampled_from(list(Result)))
                )
            )
        elif kind is Kind.STATE:
            events.append(Event(seq, at, kind, state=draw(st.sampled_from(list(State)))))
        else:
            events.append(Event(seq, at, kind))
    return events


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(events=streams())
def test_stored_rollups_equal_a_direct_sql_aggregate(po_app, stations, events):
    with context.activate(system_context(po_app)) as ctx:
        s = ctx.session
        # a fresh device per example; the rollback at the end leaves nothing behind
        device = Device(
            tenant_code="cn.henan.zhengzhou.jinshui",
            code="P",
            model="m",
            chutes=24,
            commissioned_on=DAY,
            rated_per_hour=3000,
        )
        s.add(device)
        s.flush()
        conn = s.connection()
        for table in ("sorter_event", "sorter_rollup", "sorter_dirty_day"):
            conn.execute(sa.text(f"DELETE FROM {table} WHERE device_id = :d"), {"d": device.id})
        # posted in random order in two batches, as a machine with a flaky link would
        half = len(events) // 2
        store(s, device_id=device.id, tenant_code=device.tenant_code, events=events[half:])
        store(s, device_id=device.id, tenant_code=device.tenant_code, events=events[:half])
        recompute_device_day(s, device, DAY, [])
        rows = s.exec(sa.select(Rollup).where(Rollup.device_id == device.id)).scalars().all()
        day = [r.totals() for r in rows if r.grain == "day"]
        hours = total([r.totals() for r in rows if r.grain == "hour"])
        expected = sql_reference(conn, device.id)
        s.rollback()
    assert (day[0] if day else Totals()) == expected
    assert hours == expected
