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


def test_the_demo_night_shift_is_worked_with_a_plausible_oee(
    po_app, tenants, as_unit, frozen_today, token_for
):
    """The demo station's 夜班 (22:00-06:00, Monday to Friday nights) has night telemetry, so
    its OEE per shift is not a machine down all night. Today is frozen at Wednesday 12 March
    2025 10:30; two present days (11 and 12 March) hold Tuesday 11 March's night, ended by 06:00
    on the 12th. By demo_present.night_runs: 3.2-3.4 + 2.8-3.0 running hours of the 8 planned
    (480 min) -> availability 6.0/8 = 0.75 .. 6.4/8 = 0.80 (item jitter and recirculations a
    little either side), at 86-92 % of a 3,150-3,450 items/h machine -> performance
    2,709/3,500 = 0.77 .. 3,174/3,500 = 0.91, quality about 0.99 -> OEE 0.75 x 0.77 x 0.98 =
    0.57 .. 0.80 x 0.91 = 0.73."""
    units = demo_units()
    with as_unit(None) as s:
        prepare(s, units)
        build(s, units, days=1)
        s.commit()
        build_present(s, units, days=2)
    ops = token_for("ops", "cn.henan")
    body = ops.get("/api/v1/sorter/shifts/oee?tenant=cn.henan&from=2025-03-11&to=2025-03-11")
    assert body.status_code == 200, body.get_json()
    nights = [r for r in body.get_json()["rows"] if r["shift"] == 3]
    assert [(r["unit"].split(".")[2], r["day"]) for r in nights] == [("zhengzhou", "2025-03-11")]
    night = nights[0]
    assert float(night["planned_minutes"]) == 480  # 22:00 to 06:00 next morning
    assert 0.74 <= float(night["availability"]) <= 0.81, night
    assert 0.76 <= float(night["performance"]) <= 0.91, night
    assert 0.55 <= float(night["oee"]) <= 0.75, night
    # and the day shifts of that station are still there, worked by the two waves
    assert {r["shift"] for r in body.get_json()["rows"] if r["unit"] == night["unit"]} == {1, 2, 3}
