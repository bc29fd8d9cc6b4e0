"""A device's state over time, cut into buckets (minute, hour, day, or any window).

A state lasts from its state-change event until the next one, or until the *horizon* (the
device's last sign of life, or now) when no later change exists. A bucket that opens while a
state is in force inherits it: the state in force at the bucket's start is the last change
*before* that start (``prior``), so a jam that began at 09:59:30 fills the first 20 s of the
10:00 bucket too. Times are integer epoch milliseconds, so durations add up exactly.

Failures (entering ``jammed`` or ``fault`` from another state) are counted in the bucket where
the transition happens; time spent in them is repair time wherever it falls.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from .events import FAILURE_STATES, State

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
MINUTE_MS = 60_000
HOUR_MS = 3_600_000
DAY_MS = 86_400_000


class Grain(StrEnum):
    MINUTE = "minute"
    HOUR = "hour"
    DAY = "day"  # a local (Asia/Shanghai) calendar day


def to_ms(at: datetime) -> int:
    """Aware datetime -> epoch milliseconds."""
    if at.tzinfo is None:
        raise ValueError("naive datetime")
    delta = at - datetime(1970, 1, 1, tzinfo=UTC)
    return delta // timedelta(milliseconds=1)


def from_ms(ms: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)


def local_day_start_ms(day: date, tz: ZoneInfo = LOCAL_TZ) -> int:
    return to_ms(datetime(day.year, day.month, day.day, tzinfo=tz))


def bucket_of(ms: int, grain: Grain, tz: ZoneInfo = LOCAL_TZ) -> tuple[int, int]:
    """The ``[start, end)`` of the bucket holding instant ``ms``."""
    if grain is Grain.MINUTE:
        start = ms - ms % MINUTE_MS
        return start, start + MINUTE_MS
    if grain is Grain.HOUR:
        # Asia/Shanghai is a whole-hour offset, so UTC hours are local hours.
        start = ms - ms % HOUR_MS
        return start, start + HOUR_MS
    day = from_ms(ms).astimezone(tz).date()
    return local_day_start_ms(day, tz), local_day_start_ms(day + timedelta(days=1), tz)


@dataclass(frozen=True, slots=True)
class Segment:
    state: State
    start: int
    end: int

    @property
    def ms(self) -> int:
        return self.end - self.start


def segments(
    changes: Sequence[tuple[int, State]],
    prior: State | None,
    start: int,
    end: int,
) -> list[Segment]:
    """The piecewise-constant state over ``[start, end)``.

    ``changes`` are ``(ms, state)`` sorted by time (ties keep their given order: the later
    sequence number wins). ``prior`` is the state in force at ``start`` (None: unknown, not
    counted). Changes outside the window only matter through ``prior``.
    """
    out: list[Segment] = []
    current = prior
    cursor = start
    for at, state in changes:
        if at < start:
            current = state
            continue
        if at >= end:
            break
        if current is not None and at > cursor:
            out.append(Segment(current, cursor, at))
        current, cursor = state, max(cursor, at)
    if current is not None and end > cursor:
        out.append(Segment(current, cursor, end))
    return out


def state_at(changes: Sequence[tuple[int, State]], prior: State | None, at: int) -> State | None:
    """The state in force at instant ``at``: the last change at or before it."""
    current = prior
    for ms, state in changes:
        if ms > at:
            break
        current = state
    return current


def split_by_bucket(
    segs: Iterable[Segment],
    grain: Grain,
    tz: ZoneInfo = LOCAL_TZ,
    skip_full: frozenset[State] = frozenset(),
) -> dict[int, dict[State, int]]:
    """Milliseconds per state per bucket; a segment crossing an edge is cut there.

    Buckets lying wholly inside a segment whose state is in ``skip_full`` are left out (a
    switched-off machine's hours of planned stop need no minute rows).
    """
    out: dict[int, dict[State, int]] = {}
    for seg in segs:
        cursor = seg.start
        while cursor < seg.end:
            b_start, b_end = bucket_of(cursor, grain, tz)
            piece_end = min(seg.end, b_end)
            if seg.state in skip_full and cursor == b_start and piece_end == b_end:
                # jump to the last bucket the segment touches; interior buckets are skipped
                cursor = max(piece_end, seg.end - (seg.end - b_start) % (b_end - b_start))
                continue
            per_state = out.setdefault(b_start, {})
            per_state[seg.state] = per_state.get(seg.state, 0) + piece_end - cursor
            cursor = piece_end
    return out


def clip(segs: Iterable[Segment], start: int, end: int) -> list[Segment]:
    """The parts of ``segs`` inside ``[start, end)`` (used for wave windows)."""
    out = []
    for seg in segs:
        s, e = max(seg.start, start), min(seg.end, end)
        if e > s:
            out.append(Segment(seg.state, s, e))
    return out


def failure_entries(
    changes: Sequence[tuple[int, State]], prior: State | None
) -> list[tuple[int, State]]:
    """``(ms, state)`` for each change that enters a failure state from a different state.

    A machine re-reporting "jammed" while still jammed is one jam, not two.
    """
    out = []
    current = prior
    for at, state in changes:
        if state in FAILURE_STATES and state != current:
            out.append((at, state))
        current = state
    return out
