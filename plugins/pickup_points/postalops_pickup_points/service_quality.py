"""Item flow at a pickup point and the two assurances (两确保).

Rules, all on local (Asia/Shanghai) dates:

* **Information feedback** (信息反馈规范): an arrived item complies when the customer notice was
  sent *and* the status was fed back to the network, each within ``feedback_hours`` of the
  arrival scan.
* **Uncollected** after N days: the deadline is the N-th counted day after the arrival date
  (calendar days, or the point's open days when ``day_basis`` is "working"); an item is
  uncollected when it was not picked up by the end of its deadline day. It is judged only once
  the deadline day has ended.
* **Return to sender** after M days, counted the same way: an item neither picked up nor
  returned by the end of its return day is overdue for return.

The deadlines are computed once per item when it arrives (``deadlines``), so the database can
aggregate the figures in SQL; ``figures`` is the same rule in Python over plain values.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from postalops.errors import ValidationError

from .opening_hours import OpeningHours

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
RATE_QUANTUM = Decimal("0.0001")


@dataclass(frozen=True)
class QualityRules:
    feedback_hours: Decimal = Decimal("24")
    uncollected_days: int = 3
    return_days: int = 7
    day_basis: str = "calendar"  # or "working"

    def __post_init__(self) -> None:
        errors = []
        if not (Decimal("0") < Decimal(self.feedback_hours) <= Decimal("720")):
            errors.append({"field": "feedback_hours", "message": "must be in (0, 720]"})
        if not (1 <= int(self.uncollected_days) <= 60):
            errors.append({"field": "uncollected_days", "message": "must be 1..60"})
        if not (1 <= int(self.return_days) <= 120):
            errors.append({"field": "return_days", "message": "must be 1..120"})
        elif int(self.return_days) < int(self.uncollected_days):
            errors.append(
                {"field": "return_days", "message": "cannot be shorter than uncollected_days"}
            )
        if self.day_basis not in ("calendar", "working"):
            errors.append({"field": "day_basis", "message": "must be 'calendar' or 'working'"})
        if errors:
            raise ValidationError("invalid quality rules", code="invalid_rules", details=errors)


def local_date(moment: dt.datetime) -> dt.date:
    """The Asia/Shanghai calendar date of an aware timestamp."""
    if moment.tzinfo is None:
        raise ValidationError(
            "timestamps must carry a time zone",
            code="naive_timestamp",
            details=[{"field": "timestamp", "message": f"{moment.isoformat()} has no zone"}],
        )
    return moment.astimezone(LOCAL_TZ).date()


def nth_counted_day(
    start: dt.date, n: int, basis: str, hours: OpeningHours | None = None
) -> dt.date:
    """The date of the ``n``-th counted day after ``start`` (``start`` itself never counts).

    Calendar basis: ``start + n``. Working basis: the n-th day after ``start`` on which the
    point is open (weekly closed days and closed dates are skipped).
    """
    if basis == "calendar":
        return start + dt.timedelta(days=n)
    hours = hours or OpeningHours()
    if not hours.weekly:
        raise ValidationError(
            "a point that never opens has no working days",
            code="never_open",
            details=[{"field": "opening_hours", "message": "no weekday is open"}],
        )
    day, counted = start, 0
    while counted < n:
        day += dt.timedelta(days=1)
        if hours.is_open(day):
            counted += 1
    return day


@dataclass(frozen=True)
class Deadlines:
    uncollected_after: dt.date
    return_by: dt.date


def deadlines(
    arrived_at: dt.datetime, rules: QualityRules, hours: OpeningHours | None = None
) -> Deadlines:
    """The uncollected deadline and the return day for an item arriving at ``arrived_at``."""
    day = local_date(arrived_at)
    return Deadlines(
        nth_counted_day(day, rules.uncollected_days, rules.day_basis, hours),
        nth_counted_day(day, rules.return_days, rules.day_basis, hours),
    )


def feedback_compliant(
    arrived_at: dt.datetime,
    notified_at: dt.datetime | None,
    feedback_at: dt.datetime | None,
    rules: QualityRules,
) -> bool:
    """Notice sent and status fed back, each within ``feedback_hours`` of the arrival scan."""
    if notified_at is None or feedback_at is None:
        return False
    limit = arrived_at + dt.timedelta(hours=float(rules.feedback_hours))
    return arrived_at <= notified_at <= limit and arrived_at <= feedback_at <= limit


@dataclass(frozen=True)
class ItemFlow:
    """One item's life at a pickup point."""

    point_id: Hashable
    arrived_at: dt.datetime
    notified_at: dt.datetime | None = None
    feedback_at: dt.datetime | None = None
    picked_up_at: dt.datetime | None = None
    returned_at: dt.datetime | None = None


@dataclass(frozen=True)
class QualityFigure:
    """Counts for one point (or a rolled-up unit) over a period."""

    arrivals: int = 0
    notified: int = 0
    feedback_compliant: int = 0
    picked_up: int = 0
    returned: int = 0
    judged: int = 0
    uncollected: int = 0
    overdue_return: int = 0
    complaints: int = 0

    def __add__(self, other: QualityFigure) -> QualityFigure:
        return QualityFigure(*(a + b for a, b in zip(_values(self), _values(other), strict=True)))

    @property
    def feedback_compliance(self) -> Decimal | None:
        """Compliant arrivals ÷ arrivals."""
        return ratio(self.feedback_compliant, self.arrivals)

    @property
    def uncollected_rate(self) -> Decimal | None:
        """Uncollected items ÷ items whose deadline has passed."""
        return ratio(self.uncollected, self.judged)


def _values(f: QualityFigure) -> tuple[int, ...]:
    return (
        f.arrivals,
        f.notified,
        f.feedback_compliant,
        f.picked_up,
        f.returned,
        f.judged,
        f.uncollected,
        f.overdue_return,
        f.complaints,
    )


def ratio(numerator: int, denominator: int) -> Decimal | None:
    """numerator ÷ denominator to 4 places (half up); None when the denominator is 0."""
    if not denominator:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(
        RATE_QUANTUM, rounding=ROUND_HALF_UP
    )


def figures(
    items: Iterable[ItemFlow],
    rules: QualityRules,
    hours_by_point: Mapping[Hashable, OpeningHours],
    period: tuple[dt.date, dt.date],
    as_of: dt.date,
    complaints: Mapping[Hashable, int] | None = None,
) -> dict[Hashable, QualityFigure]:
    """Per-point figures for items arriving in ``period`` (local dates, inclusive), judged at
    the end of ``as_of``. Pickups and returns count whenever they happened."""
    start, end = period
    out: dict[Hashable, QualityFigure] = {}
    for item in items:
        arrived = local_date(item.arrived_at)
        if not (start <= arrived <= end):
            continue
        due = deadlines(item.arrived_at, rules, hours_by_point.get(item.point_id))
        picked = local_date(item.picked_up_at) if item.picked_up_at else None
        returned = local_date(item.returned_at) if item.returned_at else None
        # Judged at the end of ``as_of``: a deadline falling on that day has fully passed.
        judged = as_of >= due.uncollected_after
        uncollected = judged and (picked is None or picked > due.uncollected_after)
        overdue = (
            as_of >= due.return_by
            and (picked is None or picked > due.return_by)
            and (returned is None or returned > due.return_by)
        )
        f = QualityFigure(
            arrivals=1,
            notified=int(item.notified_at is not None),
            feedback_compliant=int(
                feedback_compliant(item.arrived_at, item.notified_at, item.feedback_at, rules)
            ),
            picked_up=int(picked is not None),
            returned=int(returned is not None),
            judged=int(judged),
            uncollected=int(uncollected),
            overdue_return=int(overdue),
        )
        out[item.point_id] = out.get(item.point_id, QualityFigure()) + f
    for point_id, count in (complaints or {}).items():
        out[point_id] = out.get(point_id, QualityFigure()) + QualityFigure(complaints=count)
    return out


def rollup_by_unit(
    per_point: Mapping[Hashable, QualityFigure], unit_of_point: Mapping[Hashable, str]
) -> dict[str, QualityFigure]:
    """Sum point figures up every prefix of each point's org-unit code path."""
    out: dict[str, QualityFigure] = {}
    for point_id, figure in per_point.items():
        parts = unit_of_point[point_id].split(".")
        for i in range(len(parts)):
            prefix = ".".join(parts[: i + 1])
            out[prefix] = out.get(prefix, QualityFigure()) + figure
    return out
