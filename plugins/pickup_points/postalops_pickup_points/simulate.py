"""``postalops simulate`` for pickup points: items arrive at points and are collected.

The points' terminal system posts item events to ``POST /api/v1/pickup_points/items`` with its
token (``pickup_points.record``). During delivery hours (08:00-19:30) each tick brings arrivals
at the active points of the simulated units (``GET /points?status=active``), each notified to its
addressee within a minute and its status fed back to the system; items that arrived earlier are picked up after a wait of about two
hours on average (divided by the speed factor), sent as the same item with its pickup time.

Waybills are made from the tick's name, and the plugin keys items by point and waybill (a
re-sent row updates the same item to the same values), so a repeated tick adds nothing. Only
items arriving today are sent.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

from postalops.simulate import SimulateError, Tick

TERMINAL = ["pickup_points.record", "pickup_points.view"]
OPEN, CLOSE = dt.time(8, 0), dt.time(19, 30)
PER_MINUTE = 2.0  # arrivals per minute across the simulated points
MEAN_WAIT_HOURS = 2.0
MAX_PICKUPS = 200  # per tick
CACHE_TTL = 600.0

# items waiting at points, per portal: picked up by later ticks of this process
_waiting: dict[str, list[dict[str, Any]]] = {}
_lock = threading.Lock()


def arrivals(t: Tick, points: list[dict]) -> list[dict]:
    local = t.at.timetz().replace(tzinfo=None)
    if not points or not OPEN <= local < CLOSE:
        return []
    rng = t.rng("pickup_points")
    count = t.draw("pickup_points:count", t.expected(PER_MINUTE))
    rows = []
    for n in range(1, count + 1):
        point = rng.choice(points)
        arrived = t.at - dt.timedelta(seconds=rng.uniform(0, t.interval))
        notified = min(t.at, arrived + dt.timedelta(seconds=rng.uniform(5, 60)))
        fed_back = min(t.at, notified + dt.timedelta(seconds=rng.uniform(1, 30)))
        wait = dt.timedelta(hours=rng.expovariate(1 / MEAN_WAIT_HOURS) / max(t.speed, 0.01))
        rows.append(
            {
                "point": point["code"],
                "waybill": f"98{t.key.replace('T', '')}{n:03d}",
                "arrived_at": arrived.replace(microsecond=0).isoformat(),
                "notified_at": notified.replace(microsecond=0).isoformat(),
                "feedback_at": fed_back.replace(microsecond=0).isoformat(),
                "_due": arrived + wait,
            }
        )
    return rows


def tick(t: Tick) -> dict[str, int]:
    counts = {"arrived": 0, "picked_up": 0}
    for root in t.roots:
        try:
            terminal = t.client(root, permissions=TERMINAL)
            points = t.cached(
                f"pickup_points:{root}",
                CACHE_TTL,
                lambda c=terminal: c.items("/pickup_points/points", status="active"),
            )
        except SimulateError as exc:
            if exc.status in (403, 404):  # pickup points are off there
                continue
            raise
        points = [p for p in points if t.wants(p["tenant_code"])]
        new = arrivals(t, points)
        key = f"{t.base_url}|{root}"
        with _lock:
            waiting = _waiting.setdefault(key, [])
            due = [w for w in waiting if w["_due"] <= t.at][:MAX_PICKUPS]
        picked = []
        for w in due:
            if w["_due"].date() != t.today:  # never write into another day
                continue
            picked.append({k: v for k, v in w.items() if k != "_due"})
            picked[-1]["picked_up_at"] = (
                max(w["_due"], dt.datetime.fromisoformat(w["notified_at"]))
                .replace(microsecond=0)
                .isoformat()
            )
        rows = [{k: v for k, v in r.items() if k != "_due"} for r in new] + picked
        if rows:
            terminal.post("/pickup_points/items", rows)
        with _lock:
            gone = {id(w) for w in due}
            _waiting[key] = [w for w in _waiting[key] if id(w) not in gone] + new
        counts["arrived"] += len(new)
        counts["picked_up"] += len(picked)
    return counts
