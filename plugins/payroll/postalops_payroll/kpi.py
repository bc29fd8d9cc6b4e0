"""KPI arithmetic over plain aggregates; the definitions are in the plugin README."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from postalops.money import to_ratio


def ratio(numerator: Decimal | int, denominator: Decimal | int) -> Decimal | None:
    """numerator / denominator to four places, ``None`` when there is nothing to divide by."""
    if not denominator:
        return None
    return to_ratio(Decimal(numerator) / Decimal(denominator))


def median(values: Sequence[Decimal]) -> Decimal | None:
    """Median (mean of the middle two for an even count), to four places; ``None`` if empty."""
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return to_ratio(ordered[middle])
    return to_ratio((ordered[middle - 1] + ordered[middle]) / 2)
