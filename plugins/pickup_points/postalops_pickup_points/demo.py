"""Demo data for Henan (DOMAIN.md §3), produced through the plugin's own services, and the
Hebei points the ecommerce plugin's 919 demo leaders collect at (see :data:`HEBEI_POINTS`).

What it builds under each Henan station (deterministic: every random draw comes from a
generator seeded with the station code, so the hook's call order does not matter):

* urban communities, administrative villages and mailrooms around the city seat;
* pickup points placed until every area is covered, except a few deliberate gaps (so the
  uncovered list and the map have something to show), a township counter per station, and a
  few suspended points that cover nothing;
* daily inbound volumes for August–September 2022: exactly 137 urban points across the 18
  cities average at least 40 items a day over the 30 days to 31 August (all others stay
  below, some just below), the proposal run on 31 August switches them to direct delivery from
  1 September, and each city's delivery volume is about ten times those points' inbound;
* one tracked item per point per September day, with notices, feedback, pickups and returns.

Re-running adds nothing: areas and points are upserted by code, volumes by (point, day), items
by waybill, switches only where none is in force.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session

from . import service
from .area_import import validate_area_row, validate_point_row, validate_rows
from .coverage import Area, CoverageRules, Site, compute_coverage
from .distance import bearing, offset
from .points import AreaCategory

SH = ZoneInfo("Asia/Shanghai")
OPENED = dt.date(2022, 6, 1)
VOLUME_FROM, VOLUME_TO = dt.date(2022, 8, 1), dt.date(2022, 9, 30)
WINDOW_END, SWITCH_ON = dt.date(2022, 8, 31), dt.date(2022, 9, 1)

CITY_SEATS = {
    "zhengzhou": (113.625, 34.746), "kaifeng": (114.307, 34.797), "luoyang": (112.454, 34.620),
    "pingdingshan": (113.192, 33.766), "anyang": (114.392, 36.098), "hebi": (114.297, 35.748),
    "xinxiang": (113.927, 35.303), "jiaozuo": (113.242, 35.216), "puyang": (115.029, 35.762),
    "xuchang": (113.852, 34.036), "luohe": (114.017, 33.582), "sanmenxia": (111.200, 34.773),
    "nanyang": (112.528, 32.991), "shangqiu": (115.656, 34.414), "xinyang": (114.091, 32.147),
    "zhoukou": (114.697, 33.626), "zhumadian": (114.022, 32.980), "jiyuan": (112.602, 35.067),
}  # fmt: skip

# Direct-delivery points per city (colleges, large communities): 137 in all, as reported.
DIRECT_POINTS = {
    "zhengzhou": 24, "luoyang": 11, "nanyang": 10, "xinxiang": 9, "kaifeng": 8, "shangqiu": 8,
    "zhoukou": 8, "zhumadian": 7, "xinyang": 7, "anyang": 7, "pingdingshan": 7, "xuchang": 6,
    "jiaozuo": 5, "puyang": 5, "luohe": 5, "sanmenxia": 4, "hebi": 3, "jiyuan": 3,
}  # fmt: skip
assert sum(DIRECT_POINTS.values()) == 137

# Deliberate gaps: (city, station segment, category) left without a point.
GAPS = {
    ("nanyang", "station2", AreaCategory.VILLAGE),
    ("xinyang", "station1", AreaCategory.VILLAGE),
    ("zhoukou", "station2", AreaCategory.URBAN_COMMUNITY),
    ("sanmenxia", "station1", AreaCategory.MAILROOM),
}
URBAN_PER_STATION, VILLAGES_PER_STATION, MAILROOMS_PER_STATION = 14, 16, 4
RULES = CoverageRules()

# Hebei: the 665 points the ecommerce plugin's 919 demo (DOMAIN.md §5) has its group-buy leaders
# collect at. That demo lays them out as ``HB-PP-0001`` … ``HB-PP-0665``, point ``k`` (from 0) at
# the ``k % n``-th of Hebei's n leaf units, taken city by city in code order
# (``postalops_ecommerce.demo_plan.build``); the same rule here makes them real points, so that a
# leader registered in Hebei while this plugin is on can name them.
HEBEI = "cn.hebei"
HEBEI_POINTS = 665
HEBEI_CITY_SEATS = {
    "shijiazhuang": (114.514, 38.042), "tangshan": (118.180, 39.630),
    "qinhuangdao": (119.600, 39.935), "handan": (114.539, 36.625), "xingtai": (114.504, 37.070),
    "baoding": (115.465, 38.874), "zhangjiakou": (114.886, 40.768), "chengde": (117.963, 40.951),
    "cangzhou": (116.839, 38.304), "langfang": (116.684, 39.538), "hengshui": (115.670, 37.739),
}  # fmt: skip
HEBEI_CENTRE = (115.48, 38.03)


def _stations(units: dict[str, Any], city: str) -> list[str]:
    prefix = f"cn.henan.{city}."
    return sorted(code for code in units if code.startswith(prefix) and code.count(".") == 3)


def plan_station(
    station: str, seat: tuple[float, float], index: int, label: str = ""
) -> dict[str, list[dict]]:
    """Areas and points of one station as import rows (plain values, no database)."""
    city, segment = station.split(".")[2], station.split(".")[3]
    label = label or segment
    rng = random.Random(f"pickup_points:{station}")
    # Each station works one sector of the city: urban areas 1-7 km out, villages 10-35 km.
    sector = index * 2.1
    areas: list[dict] = []

    def place(distance_m: float, spread: float) -> tuple[float, float]:
        azimuth = math.degrees(sector + rng.uniform(-spread, spread))
        return offset(seat[0], seat[1], azimuth, distance_m)

    for i in range(URBAN_PER_STATION):
        lon, lat = place(rng.uniform(1000, 7000), 0.9)
        areas.append(
            _area(
                f"{segment}-U{i:02d}",
                f"{label}第{i + 1}小区",
                "urban_community",
                lon,
                lat,
                rng.randint(300, 2500),
                segment,
            )
        )
    for i in range(VILLAGES_PER_STATION):
        lon, lat = place(rng.uniform(10_000, 35_000), 1.0)
        areas.append(
            _area(
                f"{segment}-V{i:02d}",
                f"{label}第{i + 1}村",
                "village",
                lon,
                lat,
                rng.randint(150, 900),
                segment,
            )
        )
    for i in range(MAILROOMS_PER_STATION):
        lon, lat = place(rng.uniform(500, 5000), 0.9)
        areas.append(
            _area(
                f"{segment}-M{i:02d}",
                f"{label}第{i + 1}单位收发室",
                "mailroom",
                lon,
                lat,
                rng.randint(1, 3),
                segment,
            )
        )

    points: list[dict] = []
    sites: list[Site] = []
    pure = [
        Area(a["code"], AreaCategory(a["category"]), a["lon"], a["lat"], a["households"], station)
        for a in areas
    ]
    names = {a["code"]: a["name"] for a in areas}
    for area in pure:
        if (city, segment, area.category) in GAPS and str(area.id).endswith("00"):
            continue  # the deliberate gap
        if compute_coverage([area], sites, (), RULES)[0].covered:
            continue
        n = len(points)
        # Put the new point within 60 % of the radius so it covers the area for sure.
        lon, lat = offset(
            area.lon,
            area.lat,
            rng.uniform(0, 360),
            rng.uniform(0, 0.6) * RULES.radius_for(area.category),
        )
        if area.category is AreaCategory.VILLAGE:
            ptype, name = "village_station", f"{names[area.id]}邮乐购站点"
        else:
            ptype = ("own", "partner_shop", "smart_locker")[n % 3]
            name = f"{names[area.id]}{'易邮自提点' if ptype == 'own' else '自提点'}"
        code = f"{segment}-P{n:03d}"
        points.append(_point(code, name, ptype, "active", lon, lat, segment, rng))
        sites.append(Site(code, lon, lat))
    lon, lat = place(12_000, 0.3)
    points.append(
        _point(
            f"{segment}-TC",
            f"{label}乡镇支局",
            "township_counter",
            "active",
            lon,
            lat,
            segment,
            rng,
        )
    )
    lon, lat = place(3000, 0.5)
    points.append(
        _point(
            f"{segment}-SUS",
            f"{label}暂停营业自提点",
            "partner_shop",
            "suspended",
            lon,
            lat,
            segment,
            rng,
        )
    )
    return {"areas": areas, "points": points}


def keep_gaps_open(city: str, plans: dict[str, dict[str, list[dict]]]) -> None:
    """Move each deliberate gap outwards until no point of the city covers it.

    A gap area got no point of its own, but a neighbour's point may still reach it; the demo
    promises visible gaps, so the area is pushed 800 m at a time away from the city seat.
    """
    seat = CITY_SEATS[city]
    sites = [
        Site(p["code"], p["lon"], p["lat"], p["status"] == "active")
        for plan in plans.values()
        for p in plan["points"]
    ]
    for station, plan in plans.items():
        segment = station.rsplit(".", 1)[1]
        for a in plan["areas"]:
            category = AreaCategory(a["category"])
            if (city, segment, category) not in GAPS or not a["code"].endswith("00"):
                continue
            azimuth = bearing(seat[0], seat[1], a["lon"], a["lat"])
            for _ in range(50):
                area = Area(a["code"], category, a["lon"], a["lat"], a["households"], station)
                if not compute_coverage([area], sites, (), RULES)[0].covered:
                    break
                lon, lat = offset(a["lon"], a["lat"], azimuth, 800)
                a["lon"], a["lat"] = round(lon, 6), round(lat, 6)


def _area(code, name, category, lon, lat, households, county) -> dict:
    return {
        "code": code,
        "name": name,
        "category": category,
        "lon": round(lon, 6),
        "lat": round(lat, 6),
        "households": households,
        "county": county,
    }


def _point(code, name, ptype, status, lon, lat, county, rng) -> dict:
    hours = {d: "08:00-20:00" for d in ("mon", "tue", "wed", "thu", "fri", "sat")}
    hours["sun"] = "09:00-17:00" if rng.random() < 0.7 else None
    return {"code": code, "name": name, "point_type": ptype, "status": status,
            "lon": round(lon, 6), "lat": round(lat, 6), "county": county,
            "operator": "中国邮政" if ptype in ("own", "township_counter") else f"{name}经营者",
            "capacity": 300 if ptype == "smart_locker" else 500,
            "agent_fee": "0.30" if ptype in ("partner_shop", "village_station") else None,
            "opening_hours": hours}  # fmt: skip


def hebei_branches(units: dict[str, Any]) -> list[str]:
    """Hebei's leaf units, city by city in code order (a city without units below is its own)."""
    codes = sorted(units)
    has_children = {c.rsplit(".", 1)[0] for c in codes if "." in c}
    cities = [c for c in codes if c.rsplit(".", 1)[0] == HEBEI]
    return [
        b
        for city in cities
        for b in (
            [c for c in codes if c.startswith(city + ".") and c not in has_children] or [city]
        )
    ]


def plan_hebei_points(units: dict[str, Any]) -> dict[str, list[dict]]:
    """The 919 demo's pickup points as import rows per unit (plain values, no database)."""
    branches = hebei_branches(units)
    out: dict[str, list[dict]] = {}
    if not branches:
        return out
    for k in range(HEBEI_POINTS):
        branch = branches[k % len(branches)]
        code = f"HB-PP-{k + 1:04d}"
        rng = random.Random(f"pickup_points:hebei:{code}")
        parts = branch.split(".")
        seat = HEBEI_CITY_SEATS.get(parts[2], HEBEI_CENTRE)
        lon, lat = offset(seat[0], seat[1], rng.uniform(0, 360), rng.uniform(500, 9000))
        ptype = ("own", "partner_shop", "smart_locker", "village_station")[k % 4]
        name = f"网点自提点{k + 1:04d}"
        out.setdefault(branch, []).append(
            _point(code, name, ptype, "active", lon, lat, parts[-1], rng)
        )
    return out


def build_hebei_points(session: Session, units: dict[str, Any]) -> int:
    """Write (or update) the 919 demo's Hebei points; returns how many rows were imported."""
    plans = plan_hebei_points(units)
    for branch, rows in plans.items():
        report = validate_rows(list(enumerate(rows)), validate_point_row)
        service.import_points(session, branch, report, "demo", OPENED)
    return sum(len(rows) for rows in plans.values())


def _days() -> list[dt.date]:
    n = (VOLUME_TO - VOLUME_FROM).days + 1
    return [VOLUME_FROM + dt.timedelta(days=i) for i in range(n)]


def plan_volumes(
    point_codes: list[str], direct: set[str], counters: set[str], urban: set[str], seed: str
):
    """Daily inbound per point code: direct ones average ≥ 40 over 2–31 Aug, others stay below.

    Returns ``{code: {day: (inbound, counter_items)}}``.
    """
    rng = random.Random(f"pickup_points:volumes:{seed}")
    days = _days()
    window = [d for d in days if dt.date(2022, 8, 2) <= d <= WINDOW_END]
    out: dict[str, dict[dt.date, tuple[int, int]]] = {}
    for code in point_codes:
        if code in direct:
            base = rng.uniform(46, 85)
        elif code in counters:
            base = rng.uniform(40, 110)
        elif code in urban and rng.random() < 0.08:
            base = rng.uniform(37.0, 39.5)  # just under the threshold: stays at its station
        else:
            base = rng.uniform(3, 30)
        series = {d: max(0, round(base * (0.8 if d.weekday() == 6 else 1.04) * rng.uniform(0.85, 1.15)))
                  for d in days}  # fmt: skip
        total = sum(series[d] for d in window)
        if code in direct and total < 40 * len(window):
            series[WINDOW_END] += 40 * len(window) - total
        if code not in direct and code not in counters and total >= 40 * len(window):
            cut = total - (40 * len(window) - 1)
            series[WINDOW_END] = max(0, series[WINDOW_END] - cut)
        if code in counters:
            # 转窗投 share rising from about 35 % in August to about 50 % by late September.
            counter = {d: round(n * min(0.9, 0.35 + 0.0025 * (d - VOLUME_FROM).days + rng.uniform(-0.05, 0.05)))
                       for d, n in series.items()}  # fmt: skip
            out[code] = {d: (series[d], counter[d]) for d in days}
        else:
            out[code] = {d: (series[d], 0) for d in days}
    return out


def build_demo(
    session: Session, units: dict[str, Any], progress: Callable[..., None] | None = None
) -> dict[str, Any]:
    """Write the Henan demo and the 919 demo's Hebei points (idempotent). Returns counts for
    the CLI summary."""
    progress = progress or (lambda *a, **k: None)
    cities = [c for c in CITY_SEATS if f"cn.henan.{c}" in units]
    summary = {"areas": 0, "points": 0}
    for ci, city in enumerate(cities, 1):
        stations = _stations(units, city) or [f"cn.henan.{city}"]
        codes_by_station: dict[str, list[tuple[str, str]]] = {}
        plans = {}
        for si, station in enumerate(stations):
            unit = units.get(station)
            label = (getattr(unit, "name_zh", "") or "").removesuffix("揽投部")
            plans[station] = plan_station(station, CITY_SEATS[city], si, label)
        keep_gaps_open(city, plans)
        for station, plan in plans.items():
            areas = validate_rows(list(enumerate(plan["areas"])), validate_area_row)
            points = validate_rows(list(enumerate(plan["points"])), validate_point_row)
            service.import_areas(session, station, areas)
            service.import_points(session, station, points, "demo", OPENED)
            codes_by_station[station] = [(p["code"], p["point_type"]) for p in plan["points"]]
            summary["areas"] += len(plan["areas"])
            summary["points"] += len(plan["points"])
        session.flush()
        _assign_mailrooms(session, stations)
        _volumes(session, city, codes_by_station)
        session.commit()
        progress(ci, len(cities) + 2, f"{city}")
    service.switch_proposed(session, "cn.henan", WINDOW_END, SWITCH_ON, "demo")
    session.commit()
    progress(len(cities) + 1, len(cities) + 2, "items")
    for city in cities:
        _items(session, city)
        session.commit()
    summary["points"] += build_hebei_points(session, units)
    session.commit()
    progress(len(cities) + 2, len(cities) + 2, "done")
    return summary


def _assign_mailrooms(session: Session, stations: list[str]) -> None:
    """Each station's first mailroom is served by assignment: its point sits in the compound."""
    from sqlmodel import select

    from .models import PickupArea, PickupPoint

    for station in stations:
        segment = station.rsplit(".", 1)[1]
        area = session.exec(
            select(PickupArea).where(
                PickupArea.tenant_code == station, PickupArea.code == f"{segment}-M01"
            )
        ).first()
        point = session.exec(
            select(PickupPoint).where(
                PickupPoint.tenant_code == station, PickupPoint.code == f"{segment}-P000"
            )
        ).first()
        if area is not None and point is not None:
            service.assign(session, area.id, point.id)


URBAN_TYPES = ("own", "partner_shop", "smart_locker")


def _direct_codes(city: str, codes_by_station: dict[str, list[tuple[str, str]]]) -> set[str]:
    """The city's busiest urban points: the first active urban points of each station in turn."""
    urban = {
        station: [c for c, t in codes if t in URBAN_TYPES and not c.endswith("-SUS")]
        for station, codes in codes_by_station.items()
    }
    chosen: set[str] = set()
    want = DIRECT_POINTS.get(city, 0)
    i = 0
    while len(chosen) < want:
        progressed = False
        for station in sorted(urban):
            if i < len(urban[station]) and len(chosen) < want:
                chosen.add(f"{station}/{urban[station][i]}")
                progressed = True
        if not progressed:
            break
        i += 1
    return chosen


def _volumes(
    session: Session, city: str, codes_by_station: dict[str, list[tuple[str, str]]]
) -> None:
    direct = _direct_codes(city, codes_by_station)
    keyed = {f"{st}/{c}": t for st, codes in codes_by_station.items() for c, t in codes}
    counters = {k for k, t in keyed.items() if t == "township_counter"}
    urban = {k for k, t in keyed.items() if t in URBAN_TYPES}
    plan = plan_volumes(sorted(keyed), direct, counters, urban, city)
    city_daily: dict[dt.date, int] = {d: 0 for d in _days()}
    for station, codes in codes_by_station.items():
        rows = []
        for code, _ in codes:
            for day, (inbound, counter) in plan[f"{station}/{code}"].items():
                rows.append(
                    (
                        len(rows),
                        {
                            "point": code,
                            "day": day,
                            "inbound_items": inbound,
                            "counter_items": counter,
                        },
                    )
                )
                if f"{station}/{code}" in direct:
                    city_daily[day] += inbound
        service.record_daily_volumes(session, station, rows)
    rng = random.Random(f"pickup_points:city:{city}")
    factor = rng.uniform(9.2, 10.8)  # the direct points carry about a tenth of city delivery
    service.record_city_volumes(
        session,
        f"cn.henan.{city}",
        [
            (i, {"day": d, "delivery_items": round(n * factor)})
            for i, (d, n) in enumerate(sorted(city_daily.items()))
        ],
    )


def _items(session: Session, city: str) -> None:
    """One tracked item per point per September day with its notice, feedback and pickup."""
    from sqlmodel import select

    from .models import PickupPoint

    points = session.exec(
        select(PickupPoint.code, PickupPoint.tenant_code, PickupPoint.status).where(
            PickupPoint.tenant_code.like(f"cn.henan.{city}%")  # type: ignore[attr-defined]
        )
    ).all()
    by_station: dict[str, list[tuple[int, dict]]] = {}
    for code, station, status in sorted(points):
        if status != "active":
            continue
        rng = random.Random(f"pickup_points:items:{station}:{code}")
        rows = by_station.setdefault(station, [])
        for day in range(1, 31):
            arrived = dt.datetime(2022, 9, day, rng.randint(8, 17), rng.randint(0, 59), tzinfo=SH)
            roll = rng.random()
            notice_h = rng.uniform(0.1, 3) if roll > 0.04 else rng.uniform(25, 40)
            feedback_h = notice_h + rng.uniform(0, 0.5) if rng.random() > 0.02 else None
            fate = rng.random()
            picked = returned = None
            if fate < 0.86:
                picked = arrived + dt.timedelta(hours=rng.uniform(2, 40))
            elif fate < 0.96:
                picked = arrived + dt.timedelta(hours=rng.uniform(48, 70))
            elif fate < 0.985:
                picked = arrived + dt.timedelta(days=rng.uniform(4, 6))
            else:
                returned = arrived + dt.timedelta(days=8)
            rows.append((len(rows), {
                "point": code,
                "waybill": f"{code}-0922{day:02d}",
                "arrived_at": arrived,
                "notified_at": arrived + dt.timedelta(hours=notice_h),
                "feedback_at": arrived + dt.timedelta(hours=feedback_h) if feedback_h else None,
                "picked_up_at": picked,
                "returned_at": returned,
            }))  # fmt: skip
    for station, rows in by_station.items():
        service.record_items(session, station, rows)
