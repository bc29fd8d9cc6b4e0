"""The demo's rolling present and ``postalops simulate`` share the day (issue 16 §2/§3): hours the
simulation already posted live telemetry for are not sorted again by a later ``postalops demo``."""

import datetime as dt
from types import SimpleNamespace

import sqlalchemy as sa
from postalops.testing import FROZEN_TODAY
from postalops_sorter.demo import build
from postalops_sorter.demo_present import build_present
from postalops_sorter.ingest import ingest
from postalops_sorter.models import Device, Event
from postalops_sorter.simulate import SEQ_BASE

SH = dt.timezone(dt.timedelta(hours=8))
JINSHUI = "cn.henan.zhengzhou.jinshui"


def henan_units():
    units = {}
    for city in ("zhengzhou", "kaifeng", "luoyang", "anyang", "xinxiang", "nanyang"):
        names = ["jinshui", "erqi", "zhongyuan"] if city == "zhengzhou" else ["station1"]
        for name in names:
            code = f"cn.henan.{city}.{name}"
            units[code] = SimpleNamespace(code=code, level="station")
        units[f"cn.henan.{city}"] = SimpleNamespace(code=f"cn.henan.{city}", level="city")
    return units


def test_a_demo_rerun_leaves_the_simulated_hours_to_the_simulation(as_unit, tenants, frozen_today):
    units = henan_units()
    day = dt.date.fromisoformat(FROZEN_TODAY)
    with as_unit(None) as s:
        build(s, units, days=1)  # the devices (and a day of the article's month)
        s.commit()
    frozen_today.set(f"{day} 10:30")
    with as_unit(None) as s:
        build_present(s, units, days=1)
        device = s.exec(sa.select(Device).where(Device.tenant_code == JINSHUI)).scalar_one()
        # the simulation ran from 10:45 to 15:00: live heartbeats at both ends
        start = dt.datetime.combine(day, dt.time(10, 45), SH)
        end = dt.datetime.combine(day, dt.time(15, 0), SH)
        live = [
            {"seq": SEQ_BASE + n, "ts": at.isoformat(), "type": "heartbeat"}
            for n, at in enumerate((start, end))
        ]
        report = ingest(
            s,
            device_id=device.id,
            tenant_code=JINSHUI,
            chutes=device.chutes,
            raw_events=live,
            now=end.astimezone(dt.UTC),
        )
        assert report.accepted == 2
        s.commit()
    frozen_today.set(f"{day} 16:00")
    with as_unit(None) as s:
        build_present(s, units, days=1)

        def demo_events(device_id: int) -> int:
            return s.execute(
                sa.select(sa.func.count()).where(
                    Event.device_id == device_id,
                    Event.seq < SEQ_BASE,
                    Event.at > start.astimezone(dt.UTC),
                    Event.at < end.astimezone(dt.UTC),
                )
            ).scalar_one()

        others = s.execute(sa.select(Device.id).where(Device.tenant_code != JINSHUI)).scalars()
        # the second wave (11:00-14:30) ran on the other machines, written by the demo...
        assert sum(demo_events(d) for d in others) > 0
        # ...and on Jinshui's only through the simulation
        assert demo_events(device.id) == 0
