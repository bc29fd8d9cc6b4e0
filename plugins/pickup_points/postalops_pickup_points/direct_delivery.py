"""Direct delivery (自提点集包+串点直投): which points the city processing centre serves itself.

A point whose average daily inbound volume over a window is at least the threshold (40 items a
day in DOMAIN.md §3) is proposed to be cut out of its station and sorted and delivered directly
from the city processing centre. The average is total inbound items in the window ÷ calendar days
in the window (days with no items count as zero), compared exactly in Decimal.

The diverted share is items arriving at switched points (on or after their switch date) ÷ the
city's delivery volume over the same days.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from postalops.errors import ValidationError

from .points import PointStatus, PointType
from .service_quality import ratio


@dataclass(frozen=True)
class DirectDeliveryRules:
    threshold_per_day: Decimal = Decimal("40")
    window_days: int = 30
    eligible_types: frozenset[PointType] = frozenset(
        {PointType.OWN, PointType.PARTNER_SHOP, PointType.SMART_LOCKER, PointType.VILLAGE_STATION}
    )
    """Township counters are branches of their own, not cut out of a station."""

    def __post_init__(self) -> None:
        errors = []
        try:
            threshold = Decimal(self.threshold_per_day)
            if threshold <= 0:
                errors.append({"field": "threshold_per_day", "message": "must be positive"})
        except (ArithmeticError, TypeError, ValueError):
            errors.append({"field": "threshold_per_day", "message": "must be a number"})
        if not isinstance(self.window_days, int) or not (1 <= self.window_days <= 366):
            errors.append({"field": "window_days", "message": "must be 1..366"})
        if errors:
            raise ValidationError(
                "invalid direct-delivery rules", code="invalid_rules", details=errors
            )

    def window(self, end: dt.date) -> tuple[dt.date, dt.date]:
        """The inclusive date range of the window ending on ``end``."""
        return end - dt.timedelta(days=self.window_days - 1), end


def average_per_day(total_items: int, days: int) -> Decimal:
    """Exact average items per day (no rounding, so 399/10 stays below 40)."""
    if days <= 0:
        raise ValidationError(
            "window must have at least one day",
            code="invalid_window",
            details=[{"field": "window_days", "message": "must be positive"}],
        )
    return Decimal(total_items) / Decimal(days)


@dataclass(frozen=True)
class PointVolume:
    point_id: Hashable
    point_type: PointType
    status: PointStatus
    inbound_items: int
    """Items that arrived at the point during the window."""
    direct: bool = False
    """Already switched to direct delivery."""


@dataclass(frozen=True)
class Proposal:
    point_id: Hashable
    average_per_day: Decimal
    inbound_items: int


def propose(volumes: list[PointVolume], rules: DirectDeliveryRules) -> list[Proposal]:
    """Active, eligible points not yet direct whose average meets the threshold, busiest first."""
    threshold = Decimal(rules.threshold_per_day)
    out = []
    for v in volumes:
        if (
            v.direct
            or v.status is not PointStatus.ACTIVE
            or v.point_type not in rules.eligible_types
        ):
            continue
        avg = average_per_day(v.inbound_items, rules.window_days)
        if avg >= threshold:
            out.append(Proposal(v.point_id, avg, v.inbound_items))
    out.sort(key=lambda p: (-p.average_per_day, str(p.point_id)))
    return out


def diverted_share(diverted_items: int, city_delivery_items: int) -> Decimal | None:
    """Items at direct-delivery points ÷ city delivery volume, to 4 places (None if no volume)."""
    if diverted_items < 0 or city_delivery_items < 0:
        raise ValidationError(
            "volumes cannot be negative",
            code="negative_volume",
            details=[{"field": "volume", "message": "must be ≥ 0"}],
        )
    if diverted_items > city_delivery_items:
        raise ValidationError(
            "diverted items exceed the city's delivery volume",
            code="inconsistent_volume",
            details=[
                {
                    "field": "city_delivery_items",
                    "message": f"{city_delivery_items} < diverted {diverted_items}",
                }
            ],
        )
    return ratio(diverted_items, city_delivery_items)


def switched_on(switch_dates: Mapping[Hashable, dt.date], day: dt.date) -> set[Hashable]:
    """Points delivered directly on ``day``: those switched on or before it."""
    return {pid for pid, since in switch_dates.items() if since <= day}
