"""Servicing rules: what is due, the payoff amount, repayment allocation and days past due.

Allocation order (stated once, tested in ``test_servicing`` and ``test_accounting``):
  1.-2. the product's order of the buckets penalty (罚息 and compound interest accrued),
     interest of billed instalments (due date on or before the payment date) and principal of
     billed instalments; default penalty -> interest -> principal, oldest line first in each;
  3. only if the product allows prepayment: interest accrued in the current period up to the
     payment date, then outstanding principal not yet billed. The service then regenerates the
     remaining schedule from the payment date over the same due dates (lower payments, same
     maturity) and keeps the old one.
A payment above the amount due is refused unless the product allows prepayment; a payment above
the payoff amount is always refused. A closed loan takes no repayment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from postalops.errors import Conflict, ValidationError
from postalops.money import ZERO, to_fen

from postalops_lending.product import DayCount
from postalops_lending.schedule import day_count_days, period_interest


@dataclass(frozen=True)
class OpenInstalment:
    """An instalment with what is still unpaid on it."""

    number: int
    period_start: date
    due_date: date
    principal_due: Decimal
    interest_due: Decimal
    # interest a relief carried onto the line (earned on the old schedule) still unpaid: owed in
    # full from the line's start, and paid before the line's own interest
    carried_due: Decimal = ZERO
    own_paid: Decimal = ZERO  # the line's own interest already paid (early)

    @property
    def amount_due(self) -> Decimal:
        return self.principal_due + self.interest_due


@dataclass(frozen=True)
class LineAllocation:
    number: int
    interest: Decimal
    principal: Decimal


@dataclass(frozen=True)
class Allocation:
    """How one repayment was applied."""

    amount: Decimal
    lines: tuple[LineAllocation, ...]  # billed instalments, in allocation order merged per line
    accrued_interest: Decimal  # current-period interest paid early (prepayment only)
    prepaid_principal: Decimal  # unbilled principal paid early (prepayment only)
    closes_loan: bool
    penalty: Decimal = ZERO  # penalty interest (罚息, with compound interest) paid

    @property
    def interest(self) -> Decimal:
        return sum((x.interest for x in self.lines), ZERO) + self.accrued_interest

    @property
    def principal(self) -> Decimal:
        return sum((x.principal for x in self.lines), ZERO) + self.prepaid_principal


def amount_due(instalments: Sequence[OpenInstalment], as_of: date) -> Decimal:
    """Unpaid interest and principal of instalments due on or before ``as_of``."""
    return sum((i.amount_due for i in instalments if i.due_date <= as_of), ZERO)


def outstanding_principal(instalments: Sequence[OpenInstalment]) -> Decimal:
    return sum((i.principal_due for i in instalments), ZERO)


def accrued_interest(
    instalments: Sequence[OpenInstalment],
    as_of: date,
    annual_rate: Decimal,
    day_count: DayCount,
    anchor_day: int,
) -> Decimal:
    """Interest accrued and unpaid in the current (unbilled) period up to ``as_of``.

    The interest a relief carried onto the period (still unpaid) is owed in full; the period's
    own interest is charged from its start on the principal still outstanding on unbilled
    lines, never more than the period's own scheduled interest, less what was paid early.
    """
    current = [i for i in instalments if i.period_start <= as_of < i.due_date]
    if not current:
        return ZERO
    line = min(current, key=lambda i: i.due_date)
    unbilled_principal = sum((i.principal_due for i in instalments if i.due_date > as_of), ZERO)
    days = day_count_days(line.period_start, as_of, day_count, anchor_day)
    own_due = line.interest_due - line.carried_due
    earned = min(
        period_interest(unbilled_principal, annual_rate, days, day_count), own_due + line.own_paid
    )
    return line.carried_due + min(max(earned - line.own_paid, ZERO), own_due)


def payoff_amount(
    instalments: Sequence[OpenInstalment],
    as_of: date,
    annual_rate: Decimal,
    day_count: DayCount,
    anchor_day: int,
) -> Decimal:
    """What settles the loan on ``as_of``: billed dues + accrued interest + unbilled principal."""
    unbilled_principal = sum((i.principal_due for i in instalments if i.due_date > as_of), ZERO)
    return (
        amount_due(instalments, as_of)
        + accrued_interest(instalments, as_of, annual_rate, day_count, anchor_day)
        + unbilled_principal
    )


def allocate_repayment(
    amount: Decimal,
    instalments: Sequence[OpenInstalment],
    as_of: date,
    *,
    annual_rate: Decimal,
    day_count: DayCount,
    anchor_day: int,
    allow_prepayment: bool,
    loan_status: str = "active",
    penalty_due: Decimal = ZERO,
    order: Sequence[str] = ("penalty", "interest", "principal"),
) -> Allocation:
    """Apply ``amount`` received on ``as_of`` in the product's ``order`` (see module doc);
    ``penalty_due`` is the penalty interest owed on that day."""
    if loan_status != "active":
        raise Conflict(
            f"loan is {loan_status}; it takes no repayment",
            code="loan_not_active",
            details=[{"field": "loan_id", "message": f"status is {loan_status}"}],
        )
    if amount <= 0 or amount != to_fen(amount):
        raise ValidationError(
            "repayment amount must be positive with at most 2 decimals",
            code="invalid_amount",
            details=[{"field": "amount", "message": "must be > 0, in fen"}],
        )
    due = amount_due(instalments, as_of) + penalty_due
    payoff = payoff_amount(instalments, as_of, annual_rate, day_count, anchor_day) + penalty_due
    if amount > payoff:
        raise ValidationError(
            f"repayment {amount} exceeds the payoff amount {payoff}",
            code="overpayment",
            details=[{"field": "amount", "message": f"payoff on {as_of} is {payoff}"}],
        )
    if amount > due and not allow_prepayment:
        raise ValidationError(
            f"repayment {amount} exceeds the amount due {due} and the product takes no prepayment",
            code="prepayment_not_allowed",
            details=[{"field": "amount", "message": f"amount due on {as_of} is {due}"}],
        )

    billed = sorted((i for i in instalments if i.due_date <= as_of), key=lambda i: i.due_date)
    buckets = {
        "penalty": penalty_due,
        "interest": sum((i.interest_due for i in billed), ZERO),
        "principal": sum((i.principal_due for i in billed), ZERO),
    }
    split = {}
    left = amount
    for bucket in order:
        split[bucket] = min(left, buckets[bucket])
        left -= split[bucket]
    interest_paid: dict[int, Decimal] = {}
    principal_paid: dict[int, Decimal] = {}
    pool = split["interest"]
    for line in billed:
        interest_paid[line.number] = part = min(pool, line.interest_due)
        pool -= part
    pool = split["principal"]
    for line in billed:
        principal_paid[line.number] = part = min(pool, line.principal_due)
        pool -= part

    accrued = ZERO
    prepaid = ZERO
    if left > 0:
        accrued_due = accrued_interest(instalments, as_of, annual_rate, day_count, anchor_day)
        accrued = min(left, accrued_due)
        left -= accrued
        prepaid = left
        left = ZERO

    lines = tuple(
        LineAllocation(n, interest_paid[n], principal_paid[n])
        for n in (line.number for line in billed)
        if interest_paid[n] or principal_paid[n]
    )
    return Allocation(
        amount=amount,
        lines=lines,
        accrued_interest=accrued,
        prepaid_principal=prepaid,
        closes_loan=amount == payoff,
        penalty=split["penalty"],
    )


def days_past_due(instalments: Sequence[OpenInstalment], as_of: date) -> int:
    """Days since the oldest billed instalment that still has something unpaid (0 if none)."""
    overdue = [i.due_date for i in instalments if i.due_date < as_of and i.amount_due > 0]
    return (as_of - min(overdue)).days if overdue else 0
