"""``postalops simulate`` for the sorters: each active machine posts its telemetry as it would.

Every tick, every active sorter in the simulated units posts what it did since the last tick to
``POST /api/v1/sorter/devices/<id>/events`` with its own device token (subject ``sorter:<id>``):
inside its station's wave windows a running state, items at 50-85 % of its rated rate (mostly
sorted; a few no-reads, rejects to chute 0 and recirculations) and, now and then, a jam cleared
within the tick; outside them a heartbeat once a minute. Wave windows are read from
``GET /api/v1/sorter/waves`` as the station (the article's two waves when a station has none).

Sequence numbers are ``SEQ_BASE`` + the tick's second × 100 + a fixed slot per event, far above
the demo's (day-based, under 10⁸), so a repeated tick is recognised by ingest and never collides
with what ``postalops demo`` writes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from postalops.simulate import Tick

from .simulation import DEMO_WAVES, iso

SEQ_BASE = 1_000_000_000_000
SLOT_STATE, SLOT_HEARTBEAT, SLOT_JAM, SLOT_CLEARED, SLOT_ITEMS = 0, 1, 2, 3, 10
MAX_ITEMS = 90  # slots 10..99
RESULTS = (("sorted", 0.965), ("no_read", 0.015), ("rejected", 0.012), ("recirculated", 0.008))
JAM_CHANCE = 0.004  # per running device and tick
CACHE_TTL = 300.0


def _station_waves(t: Tick, station: str) -> list[tuple[dt.time, dt.time]]:
    """The station's wave windows, as the station reads them (kept a few minutes)."""

    def load() -> list[tuple[dt.time, dt.time]]:
        body = t.client(station, role="station_head").get("/sorter/waves")
        return [
            (dt.time.fromisoformat(w["start"]), dt.time.fromisoformat(w["end"]))
            for w in body.get("waves", [])
        ] or [(start, end) for _, start, end in DEMO_WAVES]

    return t.cached(f"sorter.waves:{station}", CACHE_TTL, load)


def _in_wave(
    at: dt.datetime, waves: list[tuple[dt.time, dt.time]]
) -> tuple[dt.time, dt.time] | None:
    local = at.timetz().replace(tzinfo=None)
    for start, end in waves:
        if start <= local < end:
            return start, end
    return None


def device_events(t: Tick, device: dict[str, Any], waves: list[tuple[dt.time, dt.time]]) -> list:
    """One device's events for the tick ``(t.at - interval, t.at]``; the same for the same tick."""
    rng = t.rng(f"sorter:{device['id']}")
    end = t.at
    start = end - dt.timedelta(seconds=t.interval)
    if start.date() != end.date():  # never write into yesterday
        start = end.replace(hour=0, minute=0, second=0, microsecond=0)
    base = SEQ_BASE + int(end.timestamp()) * 100
    events: list[dict[str, Any]] = []

    def emit(slot: int, at: dt.datetime, **body: Any) -> None:
        events.append({"seq": base + slot, "ts": iso(at), **body})

    wave = _in_wave(end, waves)
    minute = end.replace(second=0, microsecond=0)
    if minute > start:  # the tick crosses a minute: the machine's heartbeat
        emit(SLOT_HEARTBEAT, minute, type="heartbeat")
    if wave is None:
        wave_end = next(
            (
                dt.datetime.combine(end.date(), e, end.tzinfo)
                for _, e in waves
                if start < dt.datetime.combine(end.date(), e, end.tzinfo) <= end
            ),
            None,
        )
        if wave_end is not None:  # the wave just ended: the machine goes idle
            emit(SLOT_STATE, wave_end, type="state", state="idle")
        return events
    wave_start = dt.datetime.combine(end.date(), wave[0], end.tzinfo)
    # running from the wave's start (or, joining mid-wave, from the tick's start: repeated
    # at each tick under one slot per tick, harmless to the state timeline)
    emit(SLOT_STATE, max(start, wave_start), type="state", state="running")
    seconds = (end - max(start, wave_start)).total_seconds()
    # the speed factor brings parcels faster, but a disc never sorts above its rated rate
    rated = device["rated_per_hour"] / 3600
    rate = min(rated, rated * rng.uniform(0.5, 0.85) * t.speed)
    count = min(MAX_ITEMS, int(rate * seconds + rng.random()))
    jam_at = None
    if count > 2 and rng.random() < JAM_CHANCE:
        jam_at = rng.randrange(1, count)
    span = end - max(start, wave_start)
    for i in range(count):
        at = max(start, wave_start) + span * ((i + rng.random()) / max(count, 1))
        if jam_at is not None and i == jam_at:
            emit(SLOT_JAM, at, type="state", state="jammed")
            emit(SLOT_CLEARED, at + dt.timedelta(milliseconds=400), type="state", state="running")
        result = rng.choices([r for r, _ in RESULTS], [w for _, w in RESULTS])[0]
        chute = 0 if result == "rejected" else rng.randint(1, max(1, device["chutes"]))
        emit(
            SLOT_ITEMS + i,
            at,
            type="item",
            barcode=f"98{device['id']:05d}{end:%y%m%d%H%M%S}{i:02d}",
            chute=chute,
            result=result,
        )
    events.sort(key=lambda e: e["ts"])
    return events


def tick(t: Tick) -> dict[str, int]:
    """Every active sorter of the simulated units posts its telemetry for this tick."""
    counts = {"devices": 0, "events": 0, "items": 0, "accepted": 0}
    devices: dict[int, dict[str, Any]] = {}
    for root in t.roots:
        listed = t.cached(
            f"sorter.devices:{root}",
            CACHE_TTL,
            lambda root=root: t.client(root, role="station_head").items("/sorter/devices"),
        )
        for d in listed:
            if d["active"] and t.wants(d["unit"]):
                devices[d["id"]] = d
    for device in devices.values():
        events = device_events(t, device, _station_waves(t, device["unit"]))
        if not events:
            continue
        machine = t.client(
            device["unit"], permissions=["sorter.ingest"], subject=f"sorter:{device['id']}"
        )
        report = machine.post(f"/sorter/devices/{device['id']}/events", events)
        counts["devices"] += 1
        counts["events"] += len(events)
        counts["items"] += sum(1 for e in events if e["type"] == "item")
        counts["accepted"] += int(report.get("accepted", 0))
    return counts
