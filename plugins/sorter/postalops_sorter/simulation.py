"""A deterministic simulated disc sorter, for the demo and the benchmark.

It produces the raw JSON events a real machine would post, so the demo goes through the same
ingest code as production. The same seed gives the same events, byte for byte.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

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


def simulate_run(run: Run, *, seed: str, first_seq: int = 0) -> list[dict[str, Any]]:
    """Events of one run: running → items (with ``jams`` jams of 1–3 min) → idle.

    Items are evenly spaced at the nominal rate with a little jitter; heartbeats every minute.
    The run ends (idle) 10 s after its last item.
    """
    rng = rng_for(seed, run.start.isoformat())
    gap = timedelta(hours=1) / run.rate_per_hour
    seq = first_seq
    events: list[dict[str, Any]] = []

    def emit(at: datetime, **body: Any) -> None:
        nonlocal seq
        events.append({"seq": seq, "ts": iso(at), **body})
        seq += 1

    at = run.start
    emit(at, type="state", state="running")
    jam_after = sorted(
        rng.sample(range(1, max(run.items, 2)), min(run.jams, max(run.items - 1, 0)))
    )
    next_beat = run.start + timedelta(minutes=1)
    done = 0
    barcode_no = 0
    while done < run.items:
        at += gap * rng.uniform(0.9, 1.1)
        while next_beat <= at:
            emit(next_beat, type="heartbeat")
            next_beat += timedelta(minutes=1)
        barcode_no += 1
        barcode = f"{seed[-6:]}{run.start:%m%d}{barcode_no:07d}"
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
    emit(at + timedelta(seconds=10), type="state", state="idle")
    return events
