"""Counter handover (转窗投) at township branches.

With the customer's consent a township branch hands inbound parcels over its counter instead of
delivering them to the door. The share is parcels handed over the counter ÷ inbound parcels at
the branch, per period; the trend is that share month by month with its change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from postalops.errors import ValidationError

from .service_quality import ratio


def handover_share(counter_items: int, inbound_items: int) -> Decimal | None:
    """Counter-handed parcels ÷ inbound parcels, to 4 places; None when nothing arrived."""
    if counter_items < 0 or inbound_items < 0:
        raise ValidationError(
            "counts cannot be negative",
            code="negative_count",
            details=[{"field": "counter_items", "message": "must be ≥ 0"}],
        )
    if counter_items > inbound_items:
        raise ValidationError(
            "more parcels handed over than arrived",
            code="inconsistent_count",
            details=[{"field": "counter_items", "message": f"{counter_items} > {inbound_items}"}],
        )
    return ratio(counter_items, inbound_items)


@dataclass(frozen=True)
class TrendPoint:
    period: str
    counter_items: int
    inbound_items: int
    share: Decimal | None
    change: Decimal | None
    """Share minus the previous period's share (None for the first or after an empty one)."""


def trend(periods: Sequence[tuple[str, int, int]]) -> list[TrendPoint]:
    """``[(period, counter_items, inbound_items), ...]`` in time order → shares and changes."""
    out: list[TrendPoint] = []
    previous: Decimal | None = None
    for period, counter, inbound in periods:
        share = handover_share(counter, inbound)
        change = share - previous if share is not None and previous is not None else None
        out.append(TrendPoint(period, counter, inbound, share, change))
        previous = share
    return out
