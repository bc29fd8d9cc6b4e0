"""A deterministic simulated disc sorter, for the demo and the benchmark.

It produces the raw JSON events a real machine would post, so the demo goes through the same
ingest code as production. The same seed gives the same events, byte for byte.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")

# Shares of final outcomes on a well-run disc; recirculations come on top and are re-inducted.
SHARE_REJECTED = 0.004
SHARE_NO_READ = 0.006
SHARE_RECIRCULATED = 0.01


def rng_for(*parts: object) -> random.Random:
    """A random generator seeded from stable text (not ``hash()``, which varies per process)."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True, slots=True)
class Run:
    """One sorting run: ``items`` final outcomes at ``rate_per_hour`` while running."""

    start: datetime
    items: int
    rate_per_hour: int
    jams: int = 0
    chutes: int = 24
    end_state: str = "idle"  # "planned_stop" when the machine is switched off after the run


def simulate_run(run: Run, *, seed: str, first_seq: int = 0) -> list[dict[str, Any]]:
    """Events of one run: running → items (with ``jams`` jams of 1–3 min) → ``end_state``.

    Items are evenly spaced at the nominal rate with a little jitter; heartbeats every minute.
    The run ends 1 s after its last item.
    """
    rng = rng_for(seed, run.start.isoformat())
    gap = timedelta(hours=1) / run.rate_per_hour
    seq = first_seq
    events: list[dict[str, Any]] = []

    def emit(at: datetime, **body: Any) -> None:
        nonlocal seq
        # ``at`` is already in UTC (below): the same text as ``iso(at)``, without a conversion
        events.append({"seq": seq, "ts": at.isoformat(timespec="milliseconds"), **body})
        seq += 1

    # The run's clock in UTC: the same instants (Asia/Shanghai has no DST since 1991, and the
    # demo's runs carry fixed offsets), one time-zone conversion per run instead of per event.
    at = run.start.astimezone(UTC)
    emit(at, type="state", state="running")
    jam_after = sorted(
        rng.sample(range(1, max(run.items, 2)), min(run.jams, max(run.items - 1, 0)))
    )
    next_beat = at + timedelta(minutes=1)
    done = 0
    barcode_no = 0
    prefix = f"{seed[-6:]}{run.start:%m%d}"  # the run's local month and day, as before
    while done < run.items:
        at += gap * rng.uniform(0.9, 1.1)
        while next_beat <= at:
            emit(next_beat, type="heartbeat")
            next_beat += timedelta(minutes=1)
        barcode_no += 1
        barcode = f"{prefix}{barcode_no:07d}"
        draw = rng.random()
        if draw < SHARE_RECIRCULATED:
            emit(
                at,
                type="item",
                barcode=barcode,
                chute=rng.randint(1, run.chutes),
                result="recirculated",
            )
            at += gap
            result = "sorted"
        elif draw < SHARE_RECIRCULATED + SHARE_REJECTED:
            result = "rejected"
        elif draw < SHARE_RECIRCULATED + SHARE_REJECTED + SHARE_NO_READ:
            result = "no_read"
        else:
            result = "sorted"
        chute = 0 if result in ("rejected", "no_read") else rng.randint(1, run.chutes)
        emit(at, type="item", barcode=barcode, chute=chute, result=result)
        done += 1
        if jam_after and done == jam_after[0]:
            jam_after.pop(0)
            emit(at + timedelta(seconds=1), type="state", state="jammed")
            at += timedelta(seconds=1 + rng.randint(60, 180))
            emit(at, type="state", state="running")
    emit(at + timedelta(seconds=1), type="state", state=run.end_state)
    return events


# --- the demo network's sorters (DOMAIN.md §4) --------------------------------------------------

DEMO_MONTH = (2020, 10)  # the month the demo figures are read for
DEMO_RATED = 3500  # rated items/h of the demo model
DEMO_MODEL = "YP-DS24 圆盘分拣机"
# Wave windows of every demo station (local time) and when couriers left before the sorter:
# 一频 by hand took until about 09:30, 二频 until about 13:45.
DEMO_WAVES = ((1, time(6, 30), time(10, 0)), (2, time(11, 0), time(14, 30)))
BASELINE_DEPARTURE = {1: time(9, 30), 2: time(13, 45)}


@dataclass(frozen=True, slots=True)
class StationPlan:
    station: str
    device_code: str
    commissioned_on: date
    rate_per_hour: int  # this machine's real pace while running, 3,150-3,450


def demo_plan(stations: list[str]) -> list[StationPlan]:
    """One sorter per station, commissioned between the 2019 pilot and September 2020."""
    out = []
    for i, station in enumerate(sorted(stations)):
        rng = rng_for("sorter-demo-plan", station)
        # pilot stations first (autumn 2019), the rest rolled out through 2020
        commissioned = date(2019, 9, 2) + timedelta(
            days=int(i * 380 / max(len(stations), 1)) + rng.randint(0, 6)
        )
        out.append(StationPlan(station, f"DS{i + 1:02d}", commissioned, rng.randint(3150, 3450)))
    return out


def demo_runs(plan: StationPlan, day: date) -> list[Run]:
    """The sorting runs of one station-day: one per wave, small stations, a jam now and then."""
    rng = rng_for("sorter-demo-day", plan.station, day.isoformat())
    runs = []
    for number, _, _ in DEMO_WAVES:
        base = BASELINE_DEPARTURE[number]
        # small county stations: a few hundred items a wave, minutes on the disc
        items = rng.randint(200, 300) if number == 1 else rng.randint(70, 110)
        run_minutes = items * 60 / plan.rate_per_hour
        # start so that the run ends about an hour before the old departure time
        start_minute = base.hour * 60 + base.minute - 60 - run_minutes + rng.uniform(-6, 6)
        start = datetime.combine(day, time(0), tzinfo=SHANGHAI) + timedelta(minutes=start_minute)
        jams = 1 if rng.random() < 0.15 else 0
        runs.append(
            Run(
                start=start,
                items=items,
                rate_per_hour=plan.rate_per_hour,
                jams=jams,
                end_state="planned_stop",
            )
        )
    return runs


def demo_log_departures(plan: StationPlan, days: int = 20) -> list[tuple[date, int, datetime]]:
    """The manual departure log of the ``days`` days before commissioning: the baseline."""
    out = []
    for back in range(days, 0, -1):
        day = plan.commissioned_on - timedelta(days=back)
        rng = rng_for("sorter-demo-log", plan.station, day.isoformat())
        for number, base in BASELINE_DEPARTURE.items():
            at = datetime.combine(day, base, tzinfo=SHANGHAI) + timedelta(
                minutes=rng.uniform(-8, 8)
            )
            out.append((day, number, at.replace(microsecond=0)))
    return out
