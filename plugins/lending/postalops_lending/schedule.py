"""Amortisation schedules, in Decimal, with the day-count convention and rounding stated.

Conventions (the product chooses the day count and method; the rest is fixed):

* Periods are monthly. Due dates step one calendar month from the start date, keeping the
  start's day of month and clamping to the month's last day (31 Jan -> 28 Feb -> 31 Mar).
* Interest of a period = opening principal x annual rate x day-count fraction, rounded half up
  to the fen. ACT/360 and ACT/365 count actual days; 30/360 counts 30E/360 days where a due date
  clamped to month end counts as the anchor day, so every whole month is exactly 30 days.
* Equal instalments (等额本息): the level payment is P·r(1+r)^n / ((1+r)^n − 1) with r the
  annual rate / 12, rounded half up to the fen. Each line's principal = payment − that line's
  day-count interest. Interest-only (按月付息到期还本): principal 0 until the last line.
* Residue: the last instalment's principal is whatever principal is left, so the principal
  column sums to the amount exactly; its payment absorbs the rounding.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, localcontext

from postalops.errors import ValidationError
from postalops.money import FEN, ZERO, to_fen

from postalops_lending.product import DayCount, RepaymentMethod


@dataclass(frozen=True)
class Instalment:
    number: int
    period_start: date
    due_date: date
    days: int  # day-count days of the period (actual, or 30/360 days)
    opening_principal: Decimal
    principal: Decimal
    interest: Decimal
    carried_interest: Decimal = ZERO  # part of ``interest`` carried over by a relief

    @property
    def payment(self) -> Decimal:
        return self.principal + self.interest

    @property
    def closing_principal(self) -> Decimal:
        return self.opening_principal - self.principal


def add_months(anchor: date, months: int) -> date:
    """``anchor`` plus ``months`` calendar months, clamped to the target month's last day."""
    index = anchor.year * 12 + anchor.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(anchor.day, last))


def day_count_days(start: date, end: date, day_count: DayCount, anchor_day: int = 0) -> int:
    """Days between ``start`` and ``end`` under ``day_count``.

    ``anchor_day`` is the schedule's due day of month; for 30/360 a month-end date earlier than
    the anchor day (a clamped due date) counts as the anchor day.
    """
    if day_count in (DayCount.ACT_360, DayCount.ACT_365):
        return (end - start).days

    def d30(d: date) -> int:
        day = d.day
        if day == calendar.monthrange(d.year, d.month)[1] and day < anchor_day:
            day = anchor_day
        return min(day, 30)

    return 360 * (end.year - start.year) + 30 * (end.month - start.month) + d30(end) - d30(start)


def basis(day_count: DayCount) -> int:
    return 365 if day_count is DayCount.ACT_365 else 360


def period_interest(
    principal: Decimal, annual_rate: Decimal, days: int, day_count: DayCount
) -> Decimal:
    """Interest on ``principal`` for ``days`` day-count days, rounded half up to the fen."""
    return to_fen(principal * annual_rate * days / basis(day_count))


def level_payment(principal: Decimal, annual_rate: Decimal, periods: int) -> Decimal:
    """The 等额本息 monthly payment, rounded half up to the fen (r = annual rate / 12)."""
    if annual_rate == 0:
        return to_fen(principal / periods)
    with localcontext() as ctx:
        ctx.prec = 34
        r = annual_rate / 12
        growth = (1 + r) ** periods
        return to_fen(principal * r * growth / (growth - 1))


def due_dates(start: date, term_months: int) -> list[date]:
    """Monthly due dates from ``start`` (exclusive), anchored on ``start``'s day of month."""
    return [add_months(start, k) for k in range(1, term_months + 1)]


def build_schedule(
    principal: Decimal,
    annual_rate: Decimal,
    start: date,
    dates: Sequence[date],
    method: RepaymentMethod,
    day_count: DayCount,
    *,
    first_number: int = 1,
    anchor_day: int | None = None,
) -> list[Instalment]:
    """Schedule ``principal`` from ``start`` over the given ascending due ``dates``.

    Used for new loans and to regenerate a schedule from a relief or prepayment date, where
    the first period may be broken (shorter or longer than a month).
    """
    _check_inputs(principal, annual_rate, start, dates)
    anchor = anchor_day if anchor_day is not None else start.day
    payment = (
        level_payment(principal, annual_rate, len(dates))
        if method is RepaymentMethod.EQUAL_INSTALMENTS
        else ZERO
    )
    lines: list[Instalment] = []
    balance = principal.quantize(FEN)
    period_start = start
    for i, due in enumerate(dates):
        days = day_count_days(period_start, due, day_count, anchor)
        interest = period_interest(balance, annual_rate, days, day_count)
        last = i == len(dates) - 1
        if last:
            part = balance
        elif method is RepaymentMethod.EQUAL_INSTALMENTS:
            # never negative, never more than what is left: the last line takes the residue
            part = min(max(payment - interest, ZERO), balance)
        else:
            part = ZERO
        lines.append(
            Instalment(
                number=first_number + i,
                period_start=period_start,
                due_date=due,
                days=days,
                opening_principal=balance,
                principal=part,
                interest=interest,
            )
        )
        balance -= part
        period_start = due
    return lines


def generate_schedule(
    principal: Decimal,
    annual_rate: Decimal,
    start: date,
    term_months: int,
    method: RepaymentMethod,
    day_count: DayCount,
    *,
    first_number: int = 1,
) -> list[Instalment]:
    """A new loan's schedule: ``term_months`` monthly instalments from the disbursement date."""
    if term_months < 1:
        raise ValidationError(
            "term must be at least one month",
            code="invalid_term",
            details=[{"field": "term_months", "message": "must be >= 1"}],
        )
    return build_schedule(
        principal,
        annual_rate,
        start,
        due_dates(start, term_months),
        method,
        day_count,
        first_number=first_number,
    )


def _check_inputs(
    principal: Decimal, annual_rate: Decimal, start: date, dates: Sequence[date]
) -> None:
    details = []
    if principal <= 0 or principal != to_fen(principal):
        details.append({"field": "principal", "message": "positive, at most 2 decimals"})
    if not (0 <= annual_rate < 1):
        details.append({"field": "annual_rate", "message": "a fraction in [0, 1)"})
    if not dates:
        details.append({"field": "due_dates", "message": "at least one due date"})
    previous = start
    for d in dates:
        if d <= previous:
            details.append({"field": "due_dates", "message": f"{d} is not after {previous}"})
            break
        previous = d
    if details:
        raise ValidationError("cannot build schedule", code="invalid_schedule", details=details)
