"""The demo reproduces DOMAIN.md §4 for October 2020 in cn.henan: 29 stations with sorters,
3,000-3,500 items per running hour, couriers leaving 50-70 minutes earlier; a re-run adds
nothing. Everything goes through the plugin's own ingest and rollup code."""

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace

import sqlalchemy as sa
from postalops.testing import count_rows, default_metrics
from postalops_sorter.demo import build, pick_stations
from postalops_sorter.demo_present import ARTICLE_END, build_present
from postalops_sorter.metrics import sorter_metrics
from postalops_sorter.models import Alert, Departure, Event, Rollup

CITIES = [
    "anyang",
    "hebi",
    "jiaozuo",
    "jiyuan",
    "kaifeng",
    "luohe",
    "luoyang",
    "nanyang",
    "pingdingshan",
    "puyang",
    "sanmenxia",
    "shangqiu",
    "xinxiang",
    "xinyang",
    "xuchang",
    "zhengzhou",
    "zhoukou",
    "zhumadian",
]


def demo_units():
    """Henan's 18 cities with two stations each (Zhengzhou three), as the demo network has."""
    units = {}
    for city in CITIES:
        names = (
            ["jinshui", "erqi", "zhongyuan"] if city == "zhengzhou" else ["station1", "station2"]
        )
        for name in names:
            code = f"cn.henan.{city}.{name}"
            units[code] = SimpleNamespace(code=code, level="station")
        units[f"cn.henan.{city}"] = SimpleNamespace(code=f"cn.henan.{city}", level="city")
    units["cn.hebei.shijiazhuang.station1"] = SimpleNamespace(
        code="cn.hebei.shijiazhuang.station1", level="station"
    )
    return units


def test_twenty_nine_henan_stations_are_picked_every_city_first():
    picked = pick_stations(demo_units())
    assert len(picked) == 29 and all(c.startswith("cn.henan.") for c in picked)
    assert {c.split(".")[2] for c in picked} == set(CITIES)  # every city has one


def test_october_2020_figures_and_an_idempotent_rerun(po_app, tenants, as_unit):
    with as_unit(None) as s:
        first = build(s, demo_units())
        s.commit()
    assert first["devices"] == 29 and first["events"] > 100_000
    events, rollups = count_rows(po_app, Event), count_rows(po_app, Rollup)

    with as_unit(None) as s:
        again = build(s, demo_units())
        s.commit()
    assert again["events"] == 0 and again["device_days"] == 0
    assert (count_rows(po_app, Event), count_rows(po_app, Rollup)) == (events, rollups)

    with as_unit("cn.henan") as s:
        m = {
            k: v["value"]
            for k, v in sorter_metrics(
                s, "cn.henan", dt.date(2020, 10, 1), dt.date(2020, 10, 31)
            ).items()
        }
    assert m["stations_with_sorters"] == 29
    assert Decimal("3000") <= Decimal(m["items_per_running_hour"]) <= Decimal("3500")
    assert Decimal("50") <= Decimal(m["departure_advance_minutes"]) <= Decimal("70")
    assert m["jams"] > 0  # "a few jams"
    assert Decimal("0") < Decimal(m["oee"]) <= Decimal("1")


OCTOBER = (dt.date(2020, 10, 1), dt.date(2020, 10, 31))
DAYS = 12  # the hook builds 90; 12 days cover a weekend and keep the test short


def test_present_up_to_today_and_reruns(po_app, tenants, as_unit, frozen_today):
    """The rolling present (issue 16 §2): the 29 demo sorters keep sorting up to a frozen today
    through the plugin's own ingest, rollup and alert code; the default period has data, a
    same-day re-run adds nothing, a next-day run adds only what happened since, and October
    2020 stays as it was."""
    units = demo_units()
    with as_unit(None) as s:
        build(s, units, days=2)  # two days of the article's month, enough to see it untouched
        s.commit()
    with as_unit("cn.henan") as s:
        october = sorter_metrics(s, "cn.henan", *OCTOBER)

    with as_unit(None) as s:
        first = build_present(s, units, days=DAYS)
    assert first["present_events"] > 29 * DAYS * 100, first
    assert first["present_device_days"] >= 29 * (DAYS - 1), first

    now = default_metrics(po_app, "cn.henan", "sorter")
    assert now["stations_with_sorters"] == 29
    assert now["items_sorted"] > 29 * (DAYS - 1) * 100, now
    assert 2000 < float(now["items_per_running_hour"]) <= 3500, now
    assert now["jams"] > 0 and 0 < float(now["oee"]) <= 1, now
    assert 40 <= float(now["departure_advance_minutes"]) <= 80, now
    today = frozen_today.day
    with as_unit(None) as s:
        # every station-day has its day rollup; today's first wave is done by 10:30
        days_rolled = s.exec(
            sa.select(sa.func.count(sa.distinct(Rollup.day))).where(
                Rollup.grain == "day", Rollup.day > ARTICLE_END
            )
        ).one()[0]
        alerts = [(a.kind, a.status, a.resolved_by) for a in s.exec(sa.select(Alert)).scalars()]
    assert days_rolled == DAYS
    # today's breakdown (first wave, technician not there yet at 10:30) is the one open alert
    assert [a for a in alerts if a[1] != "resolved"] == [("silent", "raised", None)], alerts
    # the earlier days' breakdowns were repaired, and the rules resolved their alerts
    assert sum(1 for a in alerts if a[0] == "silent" and a[2] == "auto") >= DAYS - 1, alerts

    tables = (Event, Rollup, Departure, Alert)
    before = {m: count_rows(po_app, m) for m in tables}
    with as_unit(None) as s:
        again = build_present(s, units, days=DAYS)
    assert again["present_events"] == 0 and again["present_device_days"] == 0, again
    assert {m: count_rows(po_app, m) for m in tables} == before

    first_now = dt.datetime.combine(today, dt.time(10, 30), dt.timezone(dt.timedelta(hours=8)))

    def events_before(at):
        with as_unit(None) as s:
            return s.exec(sa.select(sa.func.count()).where(Event.at < at)).one()[0]

    earlier = events_before(first_now)
    frozen_today.set(today + dt.timedelta(days=1))
    with as_unit(None) as s:
        later = build_present(s, units, days=DAYS)
    assert later["present_events"] > 0
    assert count_rows(po_app, Event) == before[Event] + later["present_events"]
    # only what happened since the last run: the rest of yesterday's waves, and today's
    assert events_before(first_now) == earlier
    with as_unit("cn.henan") as s:
        assert sorter_metrics(s, "cn.henan", *OCTOBER) == october
