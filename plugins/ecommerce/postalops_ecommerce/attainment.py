"""Attainment (完成率): actual over plan as a fraction, and ranking of units by it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TypeVar

RATE = Decimal("0.0001")

T = TypeVar("T")


def attainment(actual: Decimal | int, plan: Decimal | int | None) -> Decimal | None:
    """``actual ÷ plan`` as a fraction rounded to 4 places (1.22, not 122); None without a plan.

    A zero plan has no meaningful attainment either, so it is None rather than infinity.
    """
    if plan is None or plan == 0:
        return None
    return (Decimal(actual) / Decimal(plan)).quantize(RATE, rounding=ROUND_HALF_EVEN)


def rank(rows: Sequence[T], key: Callable[[T], Decimal | int | None]) -> list[tuple[int, T]]:
    """Competition ranking (1, 2, 2, 4) by ``key`` descending; rows without a value rank last."""
    ordered = sorted(rows, key=lambda r: (key(r) is None, -(key(r) or 0)))
    ranked: list[tuple[int, T]] = []
    previous: object = object()
    position = 0
    for index, row in enumerate(ordered, start=1):
        value = key(row)
        if value != previous:
            position = index
            previous = value
        ranked.append((position, row))
    return ranked
