"""Build per-bucket :class:`~postalops_sorter.oee.Totals` for one device from its events.

The storage layer counts item results per bucket in SQL; state changes are few (a handful per
hour), so their durations are cut here from the change list. :func:`rollup_events` does both
from an in-memory event list and is the reference the SQL path is tested against.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from zoneinfo import ZoneInfo

from .events import Event, Kind, Result, State
from .oee import STATE_FIELD, Totals
from .timeline import LOCAL_TZ, Grain, bucket_of, failure_entries, segments, split_by_bucket, to_ms

RESULT_FIELD = {
    Result.SORTED: "sorted",
    Result.REJECTED: "rejected",
    Result.NO_READ: "no_read",
    Result.RECIRCULATED: "recirculated",
}


def state_totals(
    changes: Sequence[tuple[int, State]],
    prior: State | None,
    start: int,
    end: int,
    grain: Grain,
    rated_per_hour: int,
    tz: ZoneInfo = LOCAL_TZ,
    skip_full: frozenset[State] = frozenset(),
    horizon: int | None = None,
) -> dict[int, Totals]:
    """Per-bucket state times, failures and capacity over ``[start, end)``.

    ``horizon`` (the device's last sign of life) caps the time of the state in force: a state
    lasts until the next change or the horizon, not a millisecond longer. Failures are counted
    over the whole ``[start, end)``, so a jam that is the device's last event still counts.
    """
    until = end if horizon is None else max(start, min(end, horizon))
    out: dict[int, Totals] = {}
    for bucket, per_state in split_by_bucket(
        segments(changes, prior, start, until), grain, tz, skip_full
    ).items():
        values = {STATE_FIELD[s]: ms for s, ms in per_state.items()}
        running = per_state.get(State.RUNNING, 0)
        out[bucket] = Totals(**values, capacity_item_ms=running * rated_per_hour)
    for at, state in failure_entries(changes, prior):
        if not start <= at < end:
            continue
        bucket = bucket_of(at, grain, tz)[0]
        t = out.get(bucket, Totals())
        if state is State.JAMMED:
            out[bucket] = replace(t, jams=t.jams + 1)
        else:
            out[bucket] = replace(t, faults=t.faults + 1)
    return out


def merge_counts(
    base: dict[int, Totals], counts: Mapping[int, Mapping[str, int]]
) -> dict[int, Totals]:
    """Add per-bucket item counts (``{"sorted": n, ...}``) into state totals."""
    out = dict(base)
    for bucket, c in counts.items():
        out[bucket] = out.get(bucket, Totals()) + Totals(**{k: int(v) for k, v in c.items()})
    return out


def rollup_events(
    events: Iterable[Event],
    *,
    prior: State | None,
    start: int,
    end: int,
    grain: Grain,
    rated_per_hour: int,
    tz: ZoneInfo = LOCAL_TZ,
) -> dict[int, Totals]:
    """Reference rollup of one device's events over ``[start, end)``, all in Python.

    ``end`` should already be capped at the device's horizon (last sign of life).
    """
    ordered = sorted(events, key=lambda e: (e.at, e.seq))
    changes = [(to_ms(e.at), e.state) for e in ordered if e.kind is Kind.STATE and e.state]
    counts: dict[int, dict[str, int]] = {}
    for e in ordered:
        if e.kind is not Kind.ITEM or e.result is None:
            continue
        ms = to_ms(e.at)
        if not start <= ms < end:
            continue
        c = counts.setdefault(bucket_of(ms, grain, tz)[0], {})
        field = RESULT_FIELD[e.result]
        c[field] = c.get(field, 0) + 1
    return merge_counts(state_totals(changes, prior, start, end, grain, rated_per_hour, tz), counts)


def window_totals(
    changes: Sequence[tuple[int, State]],
    prior: State | None,
    start: int,
    end: int,
    rated_per_hour: int,
    counts: Mapping[str, int] | None = None,
    horizon: int | None = None,
) -> Totals:
    """Totals over one arbitrary window, e.g. a wave: one bucket, no edges inside. ``horizon``
    caps state time as in :func:`state_totals`."""
    values: dict[str, int] = {}
    until = end if horizon is None else max(start, min(end, horizon))
    for seg in segments(changes, prior, start, until):
        key = STATE_FIELD[seg.state]
        values[key] = values.get(key, 0) + seg.ms
    jams = faults = 0
    for at, state in failure_entries(changes, prior):
        if start <= at < end:
            jams += state is State.JAMMED
            faults += state is State.FAULT
    t = Totals(
        **values,
        capacity_item_ms=values.get("running_ms", 0) * rated_per_hour,
        jams=jams,
        faults=faults,
    )
    return t + Totals(**dict(counts or {}))
