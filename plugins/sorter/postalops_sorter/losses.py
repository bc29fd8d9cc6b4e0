"""Downtime reasons and the six big losses (六大损失) — pure.

A *stop* is a stretch of a device's timeline in ``jammed``, ``fault`` or ``emergency_stop``
(consecutive stop states merge into one stop). Each stop carries a reason code from the unit's
catalogue; every reason belongs to one of the six big losses. A machine's own report gives the
default reason (jammed → ``jam``, fault → ``fault``, emergency stop → ``estop``); a station head
corrects it afterwards.

The loss Pareto adds, besides the stops, three losses that are not stops, as time equivalents
at the device's rated rate: *reduced speed* = running time − inducted items ÷ rated rate;
*startup rejects* = (rejected + no-read) in the first :data:`STARTUP_MINUTES` minutes of each
start (a minute with running time whose previous minute had none) ÷ rated rate; *production
rejects* = the other rejects and no-reads ÷ rated rate. Rows are sorted by minutes lost,
largest first, with the cumulative share.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from fractions import Fraction

from .events import State
from .timeline import HOUR_MS, MINUTE_MS, Segment


class Loss(StrEnum):
    BREAKDOWN = "breakdown"
    SETUP = "setup"
    SMALL_STOPS = "small_stops"
    REDUCED_SPEED = "reduced_speed"
    STARTUP_REJECTS = "startup_rejects"
    PRODUCTION_REJECTS = "production_rejects"


STARTUP_MINUTES = 5
STOP_STATES = frozenset({State.JAMMED, State.FAULT, State.EMERGENCY_STOP})
UNASSIGNED = "unassigned"

# The catalogue every unit starts from (a unit may add its own codes or rename these).
# code: (name_zh, name_en, loss)
DEFAULT_REASONS: dict[str, tuple[str, str, Loss]] = {
    "jam": ("卡件", "Jam", Loss.SMALL_STOPS),
    "fault": ("设备故障", "Machine fault", Loss.BREAKDOWN),
    "estop": ("急停", "Emergency stop", Loss.BREAKDOWN),
    "belt": ("皮带磨损", "Worn belt", Loss.BREAKDOWN),
    "power": ("停电", "Power cut", Loss.BREAKDOWN),
    "changeover": ("换格口/换批", "Chute changeover", Loss.SETUP),
    "scanner": ("扫描器读不出", "Scanner misread", Loss.SMALL_STOPS),
    "warmup": ("开机调试", "Start-up adjustment", Loss.STARTUP_REJECTS),
}
DEFAULT_REASON_OF_STATE = {State.JAMMED: "jam", State.FAULT: "fault", State.EMERGENCY_STOP: "estop"}


@dataclass(frozen=True, slots=True)
class Stop:
    """A stop of one device: ``[start, end)`` epoch ms, the state it began in."""

    start: int
    end: int
    state: State

    @property
    def ms(self) -> int:
        return self.end - self.start


def stops_from_segments(segs: Sequence[Segment]) -> list[Stop]:
    """Merge consecutive stop-state segments into stops (a jam turning into a fault is one
    stop, named after the state it began in)."""
    out: list[Stop] = []
    for seg in segs:
        if seg.state not in STOP_STATES:
            continue
        if out and out[-1].end == seg.start:
            out[-1] = Stop(out[-1].start, seg.end, out[-1].state)
        else:
            out.append(Stop(seg.start, seg.end, seg.state))
    return out


def speed_loss_ms(running_ms: int, inducted: int, rated_per_hour: int) -> Fraction:
    """Running time not turned into items at the rated rate (never below 0)."""
    if rated_per_hour <= 0:
        return Fraction(0)
    return max(Fraction(0), running_ms - Fraction(inducted * HOUR_MS, rated_per_hour))


def reject_loss_ms(rejects: int, rated_per_hour: int) -> Fraction:
    """The rated time spent on items that were not sorted."""
    if rated_per_hour <= 0:
        return Fraction(0)
    return Fraction(rejects * HOUR_MS, rated_per_hour)


def startup_window(running_minutes: Iterable[int]) -> set[int]:
    """Minute starts (epoch ms) inside a startup window: each start (a minute with running
    time whose previous minute had none) and the :data:`STARTUP_MINUTES` − 1 minutes after it."""
    running = set(running_minutes)
    out: set[int] = set()
    for m in running:
        if m - MINUTE_MS not in running:
            out.update(m + i * MINUTE_MS for i in range(STARTUP_MINUTES))
    return out


@dataclass(frozen=True, slots=True)
class ParetoRow:
    key: str  # a reason code, or a loss name for the computed losses
    loss: str
    minutes: Decimal
    stops: int
    share: Decimal | None
    cumulative: Decimal | None


MINUTE_PLACES = Decimal("0.1")
SHARE_PLACES = Decimal("0.0001")


def _q(x: Fraction, places: Decimal) -> Decimal:
    return (Decimal(x.numerator) / Decimal(x.denominator)).quantize(places, ROUND_HALF_UP)


def pareto(items: Iterable[tuple[str, str, Fraction | int, int]]) -> list[ParetoRow]:
    """``(key, loss, ms lost, stops)`` → rows by minutes lost, largest first (ties by key),
    with each row's share of the total and the cumulative share. Rows with nothing lost are
    left out. Shares come from exact sums, not from the rounded minutes."""
    merged: dict[tuple[str, str], list] = {}
    for key, loss, ms, n in items:
        row = merged.setdefault((key, loss), [Fraction(0), 0])
        row[0] += Fraction(ms)
        row[1] += n
    kept = sorted(
        ((k, loss, ms, n) for (k, loss), (ms, n) in merged.items() if ms > 0),
        key=lambda r: (-r[2], r[0]),
    )
    total = sum((r[2] for r in kept), Fraction(0))
    out, running = [], Fraction(0)
    for key, loss, ms, n in kept:
        running += ms
        out.append(
            ParetoRow(
                key,
                loss,
                _q(ms / MINUTE_MS, MINUTE_PLACES),
                n,
                _q(ms / total, SHARE_PLACES) if total else None,
                _q(running / total, SHARE_PLACES) if total else None,
            )
        )
    return out


def by_loss(rows: Iterable[ParetoRow]) -> dict[str, Decimal]:
    """Minutes lost per big loss (every one of the six, 0 when none)."""
    out = {loss.value: Decimal("0.0") for loss in Loss}
    for r in rows:
        if r.loss in out:
            out[r.loss] += r.minutes
    return out
