"""The loan book in accounting terms, as pure rules: daily accrual, penalty interest (罚息),
repayment allocation order, provisions by five-category class and the arrangement fee.

Conventions (tested by hand-computed tables in ``tests/test_accounting.py``):

* **Accrual.** Interest is earned day by day over each instalment's period. By the end of day
  ``d`` a line has earned ``min(period_interest(opening principal, rate, days(start, d)),
  line interest)``, and all of its interest on its due date, so a period's daily accruals add up
  to the interest the schedule bills, to the fen. The close of business books, for each loan,
  what was earned since the day it last accrued through (catching up skipped days).
* **Penalty (罚息).** Each day on which principal is overdue (due date before that day and still
  unpaid) earns ``overdue principal × annual rate × (1 + surcharge) / basis`` rounded half up to
  the fen; the surcharge is the product's (default 50 %). With the product's compound setting,
  overdue *interest* earns the same rate (复利). Balances are read as they stand at the close
  of business.
* **Allocation.** A repayment pays the buckets in the product's order, default penalty →
  interest → principal (billed lines oldest first within a bucket), then prepayment.
* **Provisions.** Required provision of a loan = outstanding principal × (general rate +
  special rate of its class), each product of a rate rounded to the fen. Default rates follow
  the People's Bank of China guideline (贷款损失准备计提指引): general 1 %; special 2 % 关注,
  25 % 次级, 50 % 可疑, 100 % 损失. A written-off, closed or reversed loan requires none.
* **Fee.** An arrangement fee (手续费) is a fraction of the principal, rounded to the fen,
  charged on the disbursement day and withheld from the amount paid out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from postalops.errors import ValidationError
from postalops.money import ZERO, to_fen

from postalops_lending.classification import Category
from postalops_lending.product import DayCount
from postalops_lending.schedule import basis, day_count_days, period_interest

BUCKETS = ("penalty", "interest", "principal")
DEFAULT_ORDER = BUCKETS

PBOC_GENERAL = Decimal("0.01")
PBOC_SPECIAL: dict[str, Decimal] = {
    Category.NORMAL.value: Decimal("0"),
    Category.SPECIAL_MENTION.value: Decimal("0.02"),
    Category.SUBSTANDARD.value: Decimal("0.25"),
    Category.DOUBTFUL.value: Decimal("0.50"),
    Category.LOSS.value: Decimal("1.00"),
}


@dataclass(frozen=True)
class ProvisionRates:
    """General rate on every loan's balance plus a special rate per five-category class."""

    general: Decimal = PBOC_GENERAL
    special: dict[str, Decimal] = field(default_factory=lambda: dict(PBOC_SPECIAL))

    def rate(self, category: str) -> Decimal:
        return self.general + self.special.get(category, ZERO)


@dataclass(frozen=True)
class AccountingTerms:
    """A product's accounting settings (stored as ``Product.accounting``)."""

    penalty_surcharge: Decimal = Decimal("0.5")
    compound_overdue_interest: bool = False
    allocation_order: tuple[str, ...] = DEFAULT_ORDER
    arrangement_fee_rate: Decimal = ZERO
    provision: ProvisionRates | None = None  # None: the unit's settings (PBoC by default)

    def __post_init__(self) -> None:
        details = []
        if not (ZERO <= self.penalty_surcharge <= Decimal("2")):
            details.append({"field": "accounting.penalty_surcharge", "message": "in [0, 2]"})
        if sorted(self.allocation_order) != sorted(BUCKETS):
            details.append(
                {
                    "field": "accounting.allocation_order",
                    "message": "each of penalty, interest, principal once",
                }
            )
        if not (ZERO <= self.arrangement_fee_rate < Decimal("0.1")):
            details.append({"field": "accounting.arrangement_fee_rate", "message": "in [0, 0.1)"})
        if self.provision is not None:
            rates = [self.provision.general, *self.provision.special.values()]
            if any(not (ZERO <= r <= 1) for r in rates):
                details.append({"field": "accounting.provision", "message": "rates in [0, 1]"})
        if details:
            raise ValidationError(
                "invalid accounting settings", code="invalid_accounting", details=details
            )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "penalty_surcharge": str(self.penalty_surcharge),
            "compound_overdue_interest": self.compound_overdue_interest,
            "allocation_order": list(self.allocation_order),
            "arrangement_fee_rate": str(self.arrangement_fee_rate),
        }
        if self.provision is not None:
            out["provision"] = {
                "general": str(self.provision.general),
                "special": {k: str(v) for k, v in self.provision.special.items()},
            }
        return out

    @classmethod
    def from_json(cls, raw: dict[str, Any] | None) -> AccountingTerms:
        raw = raw or {}
        provision = None
        if raw.get("provision"):
            p = raw["provision"]
            special = dict(PBOC_SPECIAL)
            special.update({k: Decimal(v) for k, v in (p.get("special") or {}).items()})
            provision = ProvisionRates(Decimal(p.get("general", PBOC_GENERAL)), special)
        return cls(
            penalty_surcharge=Decimal(raw.get("penalty_surcharge", "0.5")),
            compound_overdue_interest=bool(raw.get("compound_overdue_interest", False)),
            allocation_order=tuple(raw.get("allocation_order") or DEFAULT_ORDER),
            arrangement_fee_rate=Decimal(raw.get("arrangement_fee_rate", "0")),
            provision=provision,
        )


@dataclass(frozen=True)
class Line:
    """What accrual needs of one schedule line: its period, opening principal and interest,
    and what is still unpaid on it."""

    period_start: dt.date
    due_date: dt.date
    opening_principal: Decimal
    interest: Decimal
    principal_unpaid: Decimal = ZERO
    interest_unpaid: Decimal = ZERO
    carried_interest: Decimal = ZERO  # part of ``interest`` a relief carried over, accrued before


def earned_by(
    line: Line, day: dt.date, annual_rate: Decimal, day_count: DayCount, anchor_day: int
) -> Decimal:
    """Interest ``line`` has earned by the end of ``day`` (all of it from its due date). The
    interest a relief carried onto the line was earned on the old schedule, so it is left out."""
    own = line.interest - line.carried_interest
    if day <= line.period_start:
        return ZERO
    if day >= line.due_date:
        return own
    days = day_count_days(line.period_start, day, day_count, anchor_day)
    return min(period_interest(line.opening_principal, annual_rate, days, day_count), own)


def interest_accrual(
    lines: Iterable[Line],
    after: dt.date,
    through: dt.date,
    annual_rate: Decimal,
    day_count: DayCount,
    anchor_day: int,
) -> Decimal:
    """Interest earned on the days after ``after`` through ``through`` (inclusive)."""
    if through <= after:
        return ZERO
    return sum(
        (
            earned_by(x, through, annual_rate, day_count, anchor_day)
            - earned_by(x, after, annual_rate, day_count, anchor_day)
            for x in lines
        ),
        ZERO,
    )


def penalty_rate(annual_rate: Decimal, surcharge: Decimal) -> Decimal:
    """The penalty rate: the contract rate × (1 + surcharge)."""
    return annual_rate * (1 + surcharge)


def penalty_for_day(
    lines: Sequence[Line],
    day: dt.date,
    annual_rate: Decimal,
    day_count: DayCount,
    terms: AccountingTerms,
) -> tuple[Decimal, Decimal]:
    """(penalty on overdue principal, compound interest on overdue interest) earned on ``day``;
    a line is overdue on the days after its due date."""
    rate = penalty_rate(annual_rate, terms.penalty_surcharge)
    overdue_principal = sum((x.principal_unpaid for x in lines if x.due_date < day), ZERO)
    overdue_interest = sum((x.interest_unpaid for x in lines if x.due_date < day), ZERO)
    penalty = to_fen(overdue_principal * rate / basis(day_count))
    compound = (
        to_fen(overdue_interest * rate / basis(day_count))
        if terms.compound_overdue_interest
        else ZERO
    )
    return penalty, compound


def penalty_accrual(
    lines: Sequence[Line],
    after: dt.date,
    through: dt.date,
    annual_rate: Decimal,
    day_count: DayCount,
    terms: AccountingTerms,
) -> Decimal:
    """Penalty and compound interest earned on the days after ``after`` through ``through``:
    the sum of each day's amount, each rounded to the fen. The overdue balance changes only the
    day after a due date, so the days are taken in runs of equal amounts (one rounding a day, as
    ``penalty_for_day`` gives, without a loop over every day)."""
    if through <= after:
        return ZERO
    first = after + dt.timedelta(days=1)
    # a run starts on the first day and the day after each due date inside the span
    starts = sorted(
        {first}
        | {
            x.due_date + dt.timedelta(days=1)
            for x in lines
            if first < x.due_date + dt.timedelta(days=1) <= through
        }
    )
    total = ZERO
    for i, start in enumerate(starts):
        end = starts[i + 1] - dt.timedelta(days=1) if i + 1 < len(starts) else through
        penalty, compound = penalty_for_day(lines, start, annual_rate, day_count, terms)
        total += (penalty + compound) * ((end - start).days + 1)
    return total


def required_provision(balance: Decimal, category: str, rates: ProvisionRates) -> Decimal:
    """General plus special provision on ``balance`` for a loan of ``category``."""
    return to_fen(balance * rates.general) + to_fen(balance * rates.special.get(category, ZERO))


def arrangement_fee(principal: Decimal, terms: AccountingTerms) -> Decimal:
    return to_fen(principal * terms.arrangement_fee_rate)


def allocate_buckets(
    amount: Decimal, due: dict[str, Decimal], order: Sequence[str] = DEFAULT_ORDER
) -> dict[str, Decimal]:
    """Split ``amount`` over the buckets in ``order``; what is left goes to ``"rest"``."""
    left = amount
    out: dict[str, Decimal] = {}
    for bucket in order:
        part = min(left, due.get(bucket, ZERO))
        out[bucket] = part
        left -= part
    out["rest"] = left
    return out
