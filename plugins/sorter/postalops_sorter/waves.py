"""Delivery waves (频次) and courier departure times.

A station configures its waves as local-time windows, e.g. 一频 06:30-09:30, 二频 10:30-12:30.
Sorting of a wave finishes when its last item leaves the disc; that instant is the wave's
courier departure time (the couriers leave with the sorted mail). Before a station's sorter was
commissioned, departures were recorded by hand; after, they come from telemetry.

``departure_advance`` for one departure = the station-wave's mean departure time-of-day before
commissioning − this departure's time-of-day, in minutes (positive = couriers leave earlier).
The KPI is the mean over departures (sum of rounded lines / count), so it adds across stations.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

from postalops.errors import ValidationError

from .timeline import LOCAL_TZ, MINUTE_MS, from_ms, to_ms

ADVANCE_PLACES = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class Wave:
    """One wave window in local time; ``number`` 1 = 一频."""

    number: int
    start: time
    end: time

    def window(self, day: date, tz: ZoneInfo = LOCAL_TZ) -> tuple[int, int]:
        """``[start, end)`` of this wave on ``day`` as epoch milliseconds."""
        return (
            to_ms(datetime.combine(day, self.start, tzinfo=tz)),
            to_ms(datetime.combine(day, self.end, tzinfo=tz)),
        )


def check_waves(waves: Sequence[Wave]) -> list[Wave]:
    """Waves sorted by start; raises ValidationError naming each bad wave (index, field)."""
    details = []
    for i, w in enumerate(waves):
        if not 1 <= w.number <= 9:
            details.append({"row": i, "field": "number", "message": "must be 1..9"})
        if w.end <= w.start:
            details.append({"row": i, "field": "end", "message": "must be after start"})
    numbers = [w.number for w in waves]
    for i, n in enumerate(numbers):
        if numbers.index(n) != i:
            details.append({"row": i, "field": "number", "message": f"wave {n} appears twice"})
    ordered = sorted(waves, key=lambda w: w.start)
    for prev, nxt in zip(ordered, ordered[1:], strict=False):
        if nxt.start < prev.end:
            details.append(
                {
                    "row": list(waves).index(nxt),
                    "field": "start",
                    "message": f"overlaps wave {prev.number}",
                }
            )
    if details:
        raise ValidationError("invalid wave windows", code="invalid_waves", details=details)
    return ordered


def wave_of(ms: int, waves: Iterable[Wave], tz: ZoneInfo = LOCAL_TZ) -> tuple[date, int] | None:
    """``(local day, wave number)`` whose window holds instant ``ms``, or None between waves."""
    local = from_ms(ms).astimezone(tz)
    t = local.time().replace(tzinfo=None)
    for w in waves:
        if w.start <= t < w.end:
            return local.date(), w.number
    return None


def departure_ms(item_times: Iterable[int]) -> int | None:
    """The wave's departure: the instant its last item was sorted (None if nothing was sorted)."""
    return max(item_times, default=None)


def minute_of_day(ms: int, tz: ZoneInfo = LOCAL_TZ) -> Fraction:
    local = from_ms(ms).astimezone(tz)
    midnight = to_ms(datetime.combine(local.date(), time(0), tzinfo=tz))
    return Fraction(ms - midnight, MINUTE_MS)


def baseline_minute(departures: Sequence[int], tz: ZoneInfo = LOCAL_TZ) -> Fraction | None:
    """Mean time-of-day (minutes after local midnight) of the pre-commissioning departures."""
    if not departures:
        return None
    return sum((minute_of_day(d, tz) for d in departures), Fraction(0)) / len(departures)


def advance_minutes(baseline: Fraction, departure: int, tz: ZoneInfo = LOCAL_TZ) -> Decimal:
    """How many minutes earlier than the baseline this departure left, rounded to 0.01."""
    value = baseline - minute_of_day(departure, tz)
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(
        ADVANCE_PLACES, ROUND_HALF_UP
    )


def mean_advance(advances: Sequence[Decimal]) -> Decimal | None:
    """Mean of already-rounded per-departure advances, to 0.1 minute."""
    if not advances:
        return None
    return (sum(advances, Decimal(0)) / len(advances)).quantize(Decimal("0.1"), ROUND_HALF_UP)
