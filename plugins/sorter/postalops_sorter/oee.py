"""OEE and the other machine KPIs, computed from summed times and counts.

Every figure is a ratio of sums held in :class:`Totals`. Totals add (device + device, minute +
minute), so a city's or province's OEE is computed from its summed run time, planned time,
capacity and counts, never by averaging the devices' OEE.

Definitions (also in the README):

- planned time = time in any known state except ``planned_stop`` (planned stops are not losses;
  idle, jammed, fault and emergency stop are);
- availability = running time / planned time;
- inducted = items with a final outcome: sorted + rejected + no-read (a recirculation is not a
  final outcome: the item comes round again);
- performance = inducted / ideal items, ideal items = Σ rated items/h × running hours per device;
- quality = sorted / inducted;
- OEE = availability × performance × quality;
- items per running hour = inducted / running hours;
- failures = entries into ``jammed`` or ``fault``; MTBF = running time / failures;
  MTTR = time in ``jammed`` or ``fault`` / failures.

A ratio whose denominator is zero is ``None`` (no data), never 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from .events import State
from .timeline import HOUR_MS, MINUTE_MS

RATE_PLACES = Decimal("0.0001")
FIGURE_PLACES = Decimal("0.1")


@dataclass(frozen=True, slots=True)
class Totals:
    """Additive sums for one device-bucket, or any sum of them."""

    running_ms: int = 0
    idle_ms: int = 0
    jammed_ms: int = 0
    fault_ms: int = 0
    estop_ms: int = 0
    planned_stop_ms: int = 0
    # Σ rated items/h × running ms: the ideal output, kept as an integer so sums stay exact.
    capacity_item_ms: int = 0
    sorted: int = 0
    rejected: int = 0
    no_read: int = 0
    recirculated: int = 0
    jams: int = 0
    faults: int = 0

    def __add__(self, other: Totals) -> Totals:
        # Spelled out: this runs for every minute of every device-day.
        return Totals(
            self.running_ms + other.running_ms,
            self.idle_ms + other.idle_ms,
            self.jammed_ms + other.jammed_ms,
            self.fault_ms + other.fault_ms,
            self.estop_ms + other.estop_ms,
            self.planned_stop_ms + other.planned_stop_ms,
            self.capacity_item_ms + other.capacity_item_ms,
            self.sorted + other.sorted,
            self.rejected + other.rejected,
            self.no_read + other.no_read,
            self.recirculated + other.recirculated,
            self.jams + other.jams,
            self.faults + other.faults,
        )

    @property
    def planned_ms(self) -> int:
        return self.running_ms + self.idle_ms + self.jammed_ms + self.fault_ms + self.estop_ms

    @property
    def inducted(self) -> int:
        return self.sorted + self.rejected + self.no_read

    @property
    def failures(self) -> int:
        return self.jams + self.faults

    @property
    def repair_ms(self) -> int:
        return self.jammed_ms + self.fault_ms


STATE_FIELD = {
    State.RUNNING: "running_ms",
    State.IDLE: "idle_ms",
    State.JAMMED: "jammed_ms",
    State.FAULT: "fault_ms",
    State.EMERGENCY_STOP: "estop_ms",
    State.PLANNED_STOP: "planned_stop_ms",
}


def total(parts: list[Totals]) -> Totals:
    out = Totals()
    for part in parts:
        out = out + part
    return out


def _ratio(num: int, den: int) -> Fraction | None:
    return Fraction(num, den) if den else None


def _dec(value: Fraction | None, places: Decimal) -> Decimal | None:
    if value is None:
        return None
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(places, ROUND_HALF_UP)


def availability(t: Totals) -> Fraction | None:
    return _ratio(t.running_ms, t.planned_ms)


def performance(t: Totals) -> Fraction | None:
    return _ratio(t.inducted * HOUR_MS, t.capacity_item_ms)


def quality(t: Totals) -> Fraction | None:
    return _ratio(t.sorted, t.inducted)


def oee(t: Totals) -> Fraction | None:
    a, p, q = availability(t), performance(t), quality(t)
    if a is None or p is None or q is None:
        return None
    return a * p * q


def items_per_running_hour(t: Totals) -> Fraction | None:
    return _ratio(t.inducted * HOUR_MS, t.running_ms)


def mtbf_minutes(t: Totals) -> Fraction | None:
    return _ratio(t.running_ms, t.failures * MINUTE_MS)


def mttr_minutes(t: Totals) -> Fraction | None:
    return _ratio(t.repair_ms, t.failures * MINUTE_MS)


def kpis(t: Totals) -> dict[str, Decimal | int | None]:
    """Every machine KPI for a sum of totals, rounded for display (rates to 4 places)."""
    return {
        "items_sorted": t.sorted,
        "items_inducted": t.inducted,
        "items_per_running_hour": _dec(items_per_running_hour(t), FIGURE_PLACES),
        "running_hours": _dec(Fraction(t.running_ms, HOUR_MS), Decimal("0.01")),
        "availability": _dec(availability(t), RATE_PLACES),
        "performance": _dec(performance(t), RATE_PLACES),
        "quality": _dec(quality(t), RATE_PLACES),
        "oee": _dec(oee(t), RATE_PLACES),
        "reject_rate": _dec(_ratio(t.rejected, t.inducted), RATE_PLACES),
        "no_read_rate": _dec(_ratio(t.no_read, t.inducted), RATE_PLACES),
        "jams": t.jams,
        "mtbf_minutes": _dec(mtbf_minutes(t), FIGURE_PLACES),
        "mttr_minutes": _dec(mttr_minutes(t), FIGURE_PLACES),
    }
