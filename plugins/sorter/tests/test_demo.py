"""The demo reproduces DOMAIN.md §4 for October 2020 in cn.henan: 29 stations with sorters,
3,000-3,500 items per running hour, couriers leaving 50-70 minutes earlier; a re-run adds
nothing. Everything goes through the plugin's own ingest and rollup code."""

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace

from postalops.testing import count_rows
from postalops_sorter.demo import build, pick_stations
from postalops_sorter.metrics import sorter_metrics
from postalops_sorter.models import Event, Rollup

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
