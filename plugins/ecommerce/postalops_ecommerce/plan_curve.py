"""The dashboard's daily cumulative curve against a straight plan line."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from postalops.money import FEN, ZERO


def days(start: date, end: date) -> list[date]:
    """Every day from ``start`` to ``end`` inclusive."""
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def plan_line(plan: Decimal, start: date, end: date) -> list[tuple[date, Decimal]]:
    """Cumulative plan per day, rising evenly over the campaign and ending exactly at ``plan``."""
    span = days(start, end)
    n = len(span)
    return [
        (day, (plan * (i + 1) / n).quantize(FEN, rounding=ROUND_HALF_UP))
        for i, day in enumerate(span)
    ]


def cumulative(daily: Mapping[date, Decimal], start: date, end: date) -> list[tuple[date, Decimal]]:
    """Running total of daily values over every day of the range (days without sales add zero)."""
    total = ZERO
    out = []
    for day in days(start, end):
        total += daily.get(day, ZERO)
        out.append((day, total))
    return out
