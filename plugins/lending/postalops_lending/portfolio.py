"""Portfolio arithmetic behind the KPIs (definitions in the README, "Metrics")."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

RATIO = Decimal("0.0001")


def median(values: Iterable[Decimal]) -> Decimal | None:
    """Median of ``values`` (mean of the middle two for an even count); None when empty."""
    ordered = sorted(values)
    if not ordered:
        return None
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[mid]
    return (ordered[mid - 1] + ordered[mid]) / 2


def ratio(numerator: Decimal, denominator: Decimal) -> Decimal:
    """``numerator / denominator`` as a fraction to 4 decimals; 0 when the denominator is 0."""
    if denominator == 0:
        return Decimal("0.0000")
    return (numerator / denominator).quantize(RATIO)
