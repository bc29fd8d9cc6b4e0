"""A station's production calendar — pure.

Shifts (班次) are local-time windows on chosen weekdays; holidays take a whole day out; planned
maintenance windows take their overlap out of the shifts. What is left is *planned production
time*: the time the station means its machines to run. Availability under the calendar is
running time inside planned production time ÷ planned production time, per device, so a machine
that sends nothing during a planned shift counts as down (0 running), not as missing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from postalops.errors import ValidationError

from .timeline import LOCAL_TZ, to_ms


@dataclass(frozen=True, slots=True)
class Shift:
    """One shift in local time; ``weekdays`` are ISO numbers (1 = Monday) as a string."""

    number: int
    name: str
    start: time
    end: time
    weekdays: str = "1234567"

    def window(self, day: date, tz: ZoneInfo = LOCAL_TZ) -> tuple[int, int]:
        return (
            to_ms(datetime.combine(day, self.start, tzinfo=tz)),
            to_ms(datetime.combine(day, self.end, tzinfo=tz)),
        )

    def works_on(self, day: date) -> bool:
        return str(day.isoweekday()) in self.weekdays


def check_shifts(shifts: Sequence[Shift]) -> list[Shift]:
    """Shifts sorted by start; ValidationError naming each bad row (row, field)."""
    details = []
    for i, s in enumerate(shifts):
        if not 1 <= s.number <= 9:
            details.append({"row": i, "field": "number", "message": "must be 1..9"})
        if s.start.second or s.end.second or s.start.microsecond or s.end.microsecond:
            details.append({"row": i, "field": "start", "message": "whole minutes only"})
        if s.end <= s.start:
            details.append({"row": i, "field": "end", "message": "must be after start (same day)"})
        if not s.weekdays or any(c not in "1234567" for c in s.weekdays):
            details.append({"row": i, "field": "weekdays", "message": "digits 1 (Mon) .. 7 (Sun)"})
    numbers = [s.number for s in shifts]
    for i, s in enumerate(shifts):
        if numbers.count(s.number) > 1:
            details.append({"row": i, "field": "number", "message": "used twice"})
    ordered = sorted(shifts, key=lambda s: s.start)
    for a, b in zip(ordered, ordered[1:], strict=False):
        if b.start < a.end:
            details.append(
                {"row": list(shifts).index(b), "field": "start", "message": "overlaps a shift"}
            )
    if details:
        raise ValidationError("invalid shifts", code="invalid_shifts", details=details)
    return ordered


def overlap(a: tuple[int, int], b: tuple[int, int]) -> int:
    return max(0, min(a[1], b[1]) - max(a[0], b[0]))


def planned_windows(
    day: date,
    shifts: Iterable[Shift],
    holidays: Iterable[date],
    maintenance: Iterable[tuple[int, int]],
    until: int | None = None,
) -> list[tuple[int, int, int, int]]:
    """``(shift number, start, end, planned ms)`` for each shift worked on ``day``: the window
    less its overlap with planned maintenance, and nothing past ``until`` (now)."""
    if day in set(holidays):
        return []
    maint = list(maintenance)
    out = []
    for s in shifts:
        if not s.works_on(day):
            continue
        ws, we = s.window(day)
        if until is not None:
            we = min(we, until)
        if we <= ws:
            continue
        planned = (we - ws) - sum(overlap((ws, we), m) for m in _merged(maint))
        out.append((s.number, ws, we, max(0, planned)))
    return out


def _merged(windows: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[list[int]] = []
    for s, e in sorted(windows):
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [(s, e) for s, e in out]
