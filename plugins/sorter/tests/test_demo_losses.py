"""The issue 20 demo: calendars before the rollups, reasons on stops, alarm rules, alarms in
every state with timelines, a maintenance log; a re-run adds nothing."""

import datetime as dt

import sqlalchemy as sa
from postalops.testing import count_rows
from postalops_sorter.demo import build
from postalops_sorter.demo_losses import build_losses, prepare
from postalops_sorter.demo_present import build_present
from postalops_sorter.models import (
    AlarmRule,
    Alert,
    AlertEvent,
    CalendarEntry,
    Maintenance,
    Reason,
    Rollup,
    Shift,
    Stop,
)


def demo_units():
    """The 29 demo stations' network, as tests/test_demo.py builds it."""
    import importlib.util
    import pathlib

    spec = importlib.util.spec_from_file_location(
        "sorter_test_demo", pathlib.Path(__file__).with_name("test_demo.py")
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.demo_units()


def test_the_demo_has_calendars_reasons_alarms_in_every_state_and_a_maintenance_log(
    po_app, tenants, as_unit, frozen_today
):
    units = demo_units()
    with as_unit(None) as s:
        assert prepare(s, units) == 29
        build(s, units, days=16)  # 1..16 October 2020: the holiday and the maintenance day
        s.commit()
        build_present(s, units, days=5)
        out = build_losses(s, units)
    assert out["demo_alarms"] == 6 and out["demo_reasons"] > 0, out
    with as_unit(None) as s:
        states = sorted(
            s.exec(sa.select(Alert.status).where(Alert.kind == "oee_below_target")).scalars()
        )
        assert states == sorted(
            ["raised", "acknowledged", "escalated", "snoozed", "resolved", "resolved"]
        )
        # two shifts at each of the 29 stations, and one station's night shift
        assert s.exec(sa.select(sa.func.count()).select_from(Shift)).one()[0] == 29 * 2 + 1
        night = s.exec(sa.select(Shift).where(Shift.number == 3)).scalars().one()
        assert (night.name, night.start, night.end) == ("夜班", dt.time(22), dt.time(6))
        assert night.tenant_code.startswith("cn.henan.zhengzhou.")
        assert (
            s.exec(
                sa.select(sa.func.count()).where(
                    Rollup.grain == "shift", Rollup.day < dt.date(2021, 1, 1)
                )
            ).one()[0]
            > 29 * 10
        )
        assert (
            s.exec(sa.select(sa.func.count()).where(Stop.reason_by.is_not(None))).one()[0]
            == out["demo_reasons"]
        )
        assert s.exec(sa.select(sa.func.count()).select_from(AlarmRule)).one()[0] == 4
        # the province's reason, inherited by every station, is on some of their stops
        assert s.exec(sa.select(Reason.unit_code).where(Reason.code == "net")).all() == [
            ("cn.henan",)
        ]
        assert s.exec(sa.select(sa.func.count()).where(Stop.reason_code == "net")).one()[0] > 0
        assert (
            s.exec(sa.select(sa.func.count()).where(Maintenance.kind == "planned")).one()[0] >= 29
        )
    tables = (Alert, AlertEvent, CalendarEntry, Maintenance, Shift, Stop, AlarmRule, Reason)
    before = {m: count_rows(po_app, m) for m in tables}
    with as_unit(None) as s:
        assert prepare(s, units) == 0
        again = build_losses(s, units)
    assert again == {"demo_reasons": 0, "demo_alarms": 0, "demo_maintenance": 0}
    assert {m: count_rows(po_app, m) for m in tables} == before
