"""A station's production calendar — pure.

Shifts (班次) are local-time windows on chosen weekdays; a shift whose end is at or before its
start (22:00-06:00, 夜班) runs into the next day and belongs to the production day on which it
starts: its weekdays and holidays refer to that day. Holidays take a whole day out; planned
maintenance windows take their overlap out of the shifts. What is left is *planned production
time*: the time the station means its machines to run. Availability under the calendar is
running time inside planned production time ÷ planned production time, per device, so a machine
that sends nothing during a planned shift counts as down (0 running), not as missing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from postalops.errors import ValidationError

from .timeline import LOCAL_TZ, to_ms

DAY_MINUTES = 24 * 60
WEEK_MINUTES = 7 * DAY_MINUTES


@dataclass(frozen=True, slots=True)
class Shift:
    """One shift in local time; ``weekdays`` are ISO numbers (1 = Monday) as a string."""

    number: int
    name: str
    start: time
    end: time
    weekdays: str = "1234567"

    @property
    def overnight(self) -> bool:
        """The shift ends on the next day (its end is at or before its start)."""
        return self.end <= self.start

    def window(self, day: date, tz: ZoneInfo = LOCAL_TZ) -> tuple[int, int]:
        """``[start, end)`` in epoch ms of the shift that starts on ``day``."""
        end_day = day + timedelta(days=1) if self.overnight else day
        return (
            to_ms(datetime.combine(day, self.start, tzinfo=tz)),
            to_ms(datetime.combine(end_day, self.end, tzinfo=tz)),
        )

    def minutes(self) -> int:
        """Length in minutes (an overnight shift's runs past midnight)."""
        start = self.start.hour * 60 + self.start.minute
        end = self.end.hour * 60 + self.end.minute
        return end - start if end > start else end + DAY_MINUTES - start

    def works_on(self, day: date) -> bool:
        return str(day.isoweekday()) in self.weekdays


def week_spans(s: Shift) -> list[tuple[int, int]]:
    """The shift's ``[start, end)`` minutes of the week (Monday 00:00 = 0) for each of its
    weekdays; a Sunday night shift wraps into Monday (two spans)."""
    start = s.start.hour * 60 + s.start.minute
    out = []
    for c in s.weekdays:
        a = (int(c) - 1) * DAY_MINUTES + start
        b = a + s.minutes()
        if b > WEEK_MINUTES:
            out += [(a, WEEK_MINUTES), (0, b - WEEK_MINUTES)]
        else:
            out.append((a, b))
    return out


def check_shifts(shifts: Sequence[Shift]) -> list[Shift]:
    """Shifts sorted by start; ValidationError naming each bad row (row, field).

    A shift lasts more than 0 and less than 24 hours: an end equal to the start is refused.
    Two shifts may not overlap in the week, counting an overnight shift into the next day
    (Friday 22:00-06:00 and a Saturday 05:00 start overlap; a Monday-only 05:00 start does not)."""
    details = []
    for i, s in enumerate(shifts):
        if not 1 <= s.number <= 9:
            details.append({"row": i, "field": "number", "message": "must be 1..9"})
        if s.start.second or s.end.second or s.start.microsecond or s.end.microsecond:
            details.append({"row": i, "field": "start", "message": "whole minutes only"})
        if s.end == s.start:
            details.append(
                {
                    "row": i,
                    "field": "end",
                    "message": "must differ from start: a shift lasts more than 0 and less than "
                    "24 hours (an end before the start is on the next day)",
                }
            )
        if not s.weekdays or any(c not in "1234567" for c in s.weekdays):
            details.append({"row": i, "field": "weekdays", "message": "digits 1 (Mon) .. 7 (Sun)"})
        elif len(set(s.weekdays)) != len(s.weekdays):
            details.append({"row": i, "field": "weekdays", "message": "a weekday given twice"})
    numbers = [s.number for s in shifts]
    for i, s in enumerate(shifts):
        if numbers.count(s.number) > 1:
            details.append({"row": i, "field": "number", "message": "used twice"})
    ordered = sorted(shifts, key=lambda s: s.start)
    bad_rows = {d["row"] for d in details}
    spans = [(a, b, i) for i, s in enumerate(shifts) if i not in bad_rows for a, b in week_spans(s)]
    overlapping: set[int] = set()
    for x, (a1, b1, i) in enumerate(spans):
        for a2, b2, j in spans[x + 1 :]:
            if i != j and a1 < b2 and a2 < b1:
                # the shift that starts inside the other one is named (both when equal)
                overlapping.update({j} if a2 > a1 else {i} if a1 > a2 else {i, j})
    for i in sorted(overlapping):
        details.append({"row": i, "field": "start", "message": "overlaps another shift"})
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
