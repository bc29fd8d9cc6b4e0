"""A rollup recompute on PostgreSQL leaves no temporary table that depends on the rollup table's
own objects: a pooled connection keeps its temporary tables, and one made with ``LIKE ...
INCLUDING DEFAULTS`` held on to ``sorter_rollup_id_seq``, so a later migration or test schema
rebuild could not drop ``sorter_rollup`` (seen when the sorter and payroll suites ran in one
session on PostgreSQL)."""

import datetime as dt

import pytest
import sqlalchemy as sa
from postalops import context
from postalops.testing import system_context
from postalops_sorter.events import Event, Kind, Result, State
from postalops_sorter.ingest import store
from postalops_sorter.models import Device, Rollup
from postalops_sorter.recompute import recompute_device_day

DAY = dt.date(2020, 10, 5)
AT = dt.datetime(2020, 10, 5, 2, 0, tzinfo=dt.UTC)

TEMP_DEFAULTS_ON_SEQUENCE = sa.text(
    """
    SELECT t.relname FROM pg_depend d
    JOIN pg_class s ON s.oid = d.refobjid AND s.relname = 'sorter_rollup_id_seq'
    JOIN pg_attrdef ad ON ad.oid = d.objid
    JOIN pg_class t ON t.oid = ad.adrelid
    JOIN pg_namespace n ON n.oid = t.relnamespace
    WHERE n.nspname LIKE 'pg_temp%'
    """
)


def test_recompute_leaves_no_temp_table_tied_to_the_rollup_sequence(po_app, stations):
    engine = po_app.extensions["postalops.db"].engine
    if engine.dialect.name != "postgresql":
        pytest.skip("temporary staging tables are a PostgreSQL path")
    with context.activate(system_context(po_app)) as ctx:
        s = ctx.session
        device = Device(
            tenant_code="cn.henan.zhengzhou.jinshui",
            code="STAGE",
            model="m",
            chutes=24,
            commissioned_on=DAY,
            rated_per_hour=3000,
        )
        s.add(device)
        s.flush()
        events = [
            Event(1, AT, Kind.STATE, state=State.RUNNING),
            Event(
                2,
                AT + dt.timedelta(seconds=5),
                Kind.ITEM,
                barcode="b",
                chute=1,
                result=Result.SORTED,
            ),
        ]
        store(s, device_id=device.id, tenant_code=device.tenant_code, events=events)
        written = recompute_device_day(s, device, DAY, [])
        assert written > 0
        assert (
            s.execute(
                sa.select(sa.func.count()).select_from(Rollup).where(Rollup.device_id == device.id)
            ).scalar_one()
            == written
        )
        assert s.execute(TEMP_DEFAULTS_ON_SEQUENCE).all() == []
        s.rollback()
