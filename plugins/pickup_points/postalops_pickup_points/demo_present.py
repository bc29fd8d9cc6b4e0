"""The demo's rolling present for pickup points: Henan's points keep receiving items up to
today (issue 16 §2).

Window: the last 90 days up to ``postalops.clock.today()`` for daily volumes and the cities'
delivery volumes (the direct-delivery page compares three months of 转窗投), the last 45 days
for tracked items (the service-quality page's month and the metrics' 30 days, plus the 8 days
an item may wait before it is returned). Every draw comes from an rng seeded by point and day,
so a day's records are the same whichever day the demo runs on. Records go through the plugin's
own services (``record_daily_volumes``, ``record_city_volumes``, ``record_items``); the
direct-delivery candidates are whatever ``service.proposals`` finds on them.

- The 137 points switched in the article (direct since 1 Sep 2022) keep 46–85 items a day, and
  each city's delivery volume stays about ten times theirs (the share diverted near 10 %).
- About one city in two has a point that has grown past the threshold since (a new college
  campus, a large estate): 45–60 items a day, so it averages ≥ 40 over any 30 days of the
  present and is this month's direct-delivery candidate until a planner switches it.
- Other urban and village points: 3–32 items a day, never reaching the threshold; township
  counters 40–110 with 转窗投 around 55–75 %.
- Weekday pattern (Monday after the weekend's orders heaviest, Sunday lightest), the shopping
  festivals (双十一, 双十二) and day-to-day noise.
- One tracked item per active point per day: notices, feedback, pickups and returns as in the
  article, each event recorded only once its time has come (today's items are still waiting).

Idempotent: volumes are upserted by (point, day) and items by waybill with the same values,
so a same-day re-run adds nothing; items of the last days are sent again on a later run so
their pickups that have happened since are recorded.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from postalops import clock
from postalops.demo import PRESENT_DAYS, day_rng, present_days, scaled
from sqlmodel import Session, select

from . import service
from .demo import CITY_SEATS, SH, SWITCH_ON, URBAN_TYPES, VOLUME_TO
from .models import PickupDailyVolume, PickupItem, PickupPoint

ARTICLE_END = VOLUME_TO  # the article's volumes run to 30 Sep 2022
ITEM_DAYS = 45
RETURN_AFTER_DAYS = 8  # the last event of an item (returned to sender) comes 8 days after arrival
WEEKDAY_LOAD = (1.12, 1.05, 1.0, 1.0, 1.0, 0.95, 0.85)  # Monday .. Sunday


def season(day: dt.date) -> float:
    """双十一 (11–20 Nov) and 双十二 (12–16 Dec) bring more parcels to the points."""
    if day.month == 11 and 11 <= day.day <= 20:
        return 1.3 - 0.03 * (day.day - 11)
    if day.month == 12 and 12 <= day.day <= 16:
        return 1.1
    return 1.0


def role_of(point: PickupPoint, city_candidate: str | None) -> str:
    if point.status != "active":
        return "closed"
    if point.direct_since == SWITCH_ON:
        return "direct"
    if point.point_type == "township_counter":
        return "counter"
    if f"{point.tenant_code}/{point.code}" == city_candidate:
        return "candidate"
    return "other"


def base_level(point: PickupPoint, role: str) -> float:
    """A point's usual items a day in the present (stable: seeded by the point)."""
    rng = random.Random(f"pickup_points:present:{point.tenant_code}/{point.code}")
    if role == "direct":
        return rng.uniform(46, 85)
    if role == "candidate":
        return rng.uniform(45, 60)
    if role == "counter":
        return rng.uniform(40, 110)
    return rng.uniform(3, 32)


def inbound_on(point: PickupPoint, role: str, day: dt.date) -> tuple[int, int]:
    """(inbound items, items handed over the counter) of a point on one day."""
    if role == "closed":
        return 0, 0
    rng = day_rng(f"pickup_points.{point.tenant_code}/{point.code}", day)
    n = scaled(base_level(point, role)) * WEEKDAY_LOAD[day.weekday()] * season(day)
    inbound = max(0, round(n * rng.uniform(0.85, 1.15)))
    if role == "candidate":
        # above the threshold on every day, so every 30-day window of the present averages ≥ 40
        inbound = max(inbound, 41)
    if role == "other":
        inbound = min(inbound, 39)  # stays at its station
    counter = round(inbound * rng.uniform(0.55, 0.75)) if role == "counter" else 0
    return inbound, counter


def city_candidate(city: str, points: list[PickupPoint]) -> str | None:
    """About one city in two has an urban point grown past the threshold (``station/code``);
    chosen among the points not switched in the article, so a planner switching it later does
    not move the choice."""
    rng = random.Random(f"pickup_points:present:candidate:{city}")
    urban = sorted(
        f"{p.tenant_code}/{p.code}"
        for p in points
        if p.point_type in URBAN_TYPES
        and p.status == "active"
        and p.direct_since != SWITCH_ON
        and not p.code.endswith("-SUS")
    )
    if not urban or rng.random() >= 0.55:
        return None
    return rng.choice(urban)


def build_present(
    session: Session,
    units: dict[str, Any],
    progress: Callable[[int, int, str], None] = lambda *a: None,
    today: dt.date | None = None,
    days: int = PRESENT_DAYS,
) -> dict[str, int]:
    """Volumes, city volumes and tracked items of Henan's points up to today."""
    today = today or clock.today()
    now = clock.now()
    the_days = present_days(ARTICLE_END, today, days)
    item_days = the_days[-ITEM_DAYS:]
    out = {"present_volume_days": 0, "present_items": 0, "present_item_updates": 0}
    cities = [c for c in CITY_SEATS if f"cn.henan.{c}" in units]
    if not the_days:
        return out
    for ci, city in enumerate(cities, 1):
        tenant = f"cn.henan.{city}"
        points = session.exec(
            select(PickupPoint).where(PickupPoint.tenant_code.like(f"{tenant}.%"))  # type: ignore[attr-defined]
        ).all()
        candidate = city_candidate(city, points)
        roles = {p.id: role_of(p, candidate) for p in points}
        by_station: dict[str, list[PickupPoint]] = {}
        for p in points:
            by_station.setdefault(p.tenant_code, []).append(p)
        city_daily = dict.fromkeys(the_days, 0)
        for station, pts in sorted(by_station.items()):
            recorded = set(
                session.exec(
                    select(PickupDailyVolume.point_id, PickupDailyVolume.day).where(
                        PickupDailyVolume.tenant_code == station,
                        PickupDailyVolume.day >= the_days[0],
                    )
                ).all()
            )
            rows = []
            for p in sorted(pts, key=lambda p: p.code):
                for day in the_days:
                    inbound, counter = inbound_on(p, roles[p.id], day)
                    if roles[p.id] == "direct":
                        city_daily[day] += inbound
                    if roles[p.id] != "closed" and (p.id, day) not in recorded:
                        rows.append(
                            (
                                len(rows),
                                {
                                    "point": p.code,
                                    "day": day,
                                    "inbound_items": inbound,
                                    "counter_items": counter,
                                },
                            )
                        )
            if rows:
                result = service.record_daily_volumes(session, station, rows)
                out["present_volume_days"] += result["created"]
            done, changed = _items(session, station, pts, roles, item_days, now)
            out["present_items"] += done
            out["present_item_updates"] += changed
        factor = random.Random(f"pickup_points:city:{city}").uniform(9.2, 10.8)
        service.record_city_volumes(
            session,
            tenant,
            [
                (i, {"day": d, "delivery_items": round(n * factor)})
                for i, (d, n) in enumerate(sorted(city_daily.items()))
            ],
        )
        session.commit()
        progress(ci, len(cities), f"present {city}")
    return out


def _items(
    session: Session,
    station: str,
    points: list[PickupPoint],
    roles: dict[int, str],
    days: list[dt.date],
    now: dt.datetime,
) -> tuple[int, int]:
    """One tracked item per active point and day. Days already recorded are sent again only if
    an item of theirs may still be picked up or returned (the last 8 days before the latest
    arrival recorded), so a later run completes them; the rest are left as they are."""
    latest = session.exec(
        select(sa.func.max(PickupItem.arrival_day)).where(PickupItem.tenant_code == station)
    ).one()
    recorded = set(
        session.exec(
            select(PickupItem.arrival_day)
            .where(PickupItem.tenant_code == station, PickupItem.arrival_day >= days[0])
            .distinct()
        ).all()
    )
    open_from = (latest or days[0]) - dt.timedelta(days=RETURN_AFTER_DAYS + 1)
    rows = []
    for p in sorted(points, key=lambda p: p.code):
        if roles[p.id] == "closed":
            continue
        for day in days:
            if day in recorded and day < open_from:
                continue
            row = _item(p, day, now)
            if row is not None:
                rows.append((len(rows), row))
    if not rows:
        return 0, 0
    result = service.record_items(session, station, rows)
    return result["created"], result["updated"]


def _item(point: PickupPoint, day: dt.date, now: dt.datetime) -> dict | None:
    """The point's tracked item of ``day`` as known at ``now`` (None before it arrives)."""
    rng = day_rng(f"pickup_points.items.{point.tenant_code}/{point.code}", day)
    arrived = dt.datetime.combine(day, dt.time(rng.randint(8, 17), rng.randint(0, 59)), SH)
    if arrived > now:
        return None
    notice_h = rng.uniform(0.1, 3) if rng.random() > 0.04 else rng.uniform(25, 40)
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
        returned = arrived + dt.timedelta(days=RETURN_AFTER_DAYS)

    def known(at: dt.datetime | None) -> dt.datetime | None:
        return at if at is not None and at <= now else None

    notified = arrived + dt.timedelta(hours=notice_h)
    return {
        "point": point.code,
        "waybill": f"{point.code}-{day:%y%m%d}",
        "arrived_at": arrived,
        "notified_at": known(notified),
        "feedback_at": known(arrived + dt.timedelta(hours=feedback_h)) if feedback_h else None,
        "picked_up_at": known(picked),
        "returned_at": known(returned),
    }
