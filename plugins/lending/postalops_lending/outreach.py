"""Phone-back list (电话回访) for customer managers: who to call and why, and call outcomes.

A borrower with an active loan is listed when either:
  * receivables slowed: invoiced sales in the last ``window_months`` full months fell by at
    least ``sales_drop`` against the ``window_months`` before (the tax record's sales are the
    proxy for receivables), or
  * near maturity: the loan matures within ``maturity_within_days`` of today (a renewal may
    be needed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from postalops.errors import ValidationError
from postalops.money import ZERO

from postalops_lending.credit_line import TaxMonth


class CallOutcome(StrEnum):
    NEEDS_RELIEF = "needs_relief"  # reached; wants refinancing, extension or renewal
    NO_NEED = "no_need"  # reached; business fine
    NO_ANSWER = "no_answer"
    CALL_BACK = "call_back"  # reached; asked to be called again
    WRONG_NUMBER = "wrong_number"


class Reason(StrEnum):
    RECEIVABLES_SLOWED = "receivables_slowed"
    NEAR_MATURITY = "near_maturity"


@dataclass(frozen=True)
class OutreachPolicy:
    sales_drop: Decimal = Decimal("0.30")
    window_months: int = 3
    maturity_within_days: int = 30


def _month_index(d: date) -> int:
    return d.year * 12 + d.month - 1


def sales_drop(tax_months: Sequence[TaxMonth], as_of: date, window: int) -> Decimal | None:
    """Fractional fall of sales, last ``window`` full months vs the ``window`` before.

    None when the earlier window has no sales to compare with. Negative means growth.
    """
    current = _month_index(as_of)
    recent = ZERO
    earlier = ZERO
    for m in tax_months:
        age = current - _month_index(m.period)  # 1 = last full month
        if 1 <= age <= window:
            recent += m.sales
        elif window < age <= 2 * window:
            earlier += m.sales
    if earlier == 0:
        return None
    return (earlier - recent) / earlier  # unrounded: the threshold compares exactly


def reasons_to_call(
    tax_months: Sequence[TaxMonth],
    maturity_date: date,
    as_of: date,
    policy: OutreachPolicy = OutreachPolicy(),
) -> list[Reason]:
    """Why a borrower with a loan maturing on ``maturity_date`` should be called on ``as_of``."""
    reasons = []
    drop = sales_drop(tax_months, as_of, policy.window_months)
    if drop is not None and drop >= policy.sales_drop:
        reasons.append(Reason.RECEIVABLES_SLOWED)
    if 0 <= (maturity_date - as_of).days <= policy.maturity_within_days:
        reasons.append(Reason.NEAR_MATURITY)
    return reasons


def parse_outcome(value: object) -> CallOutcome:
    try:
        return CallOutcome(str(value))
    except ValueError:
        raise ValidationError(
            "unknown call outcome",
            code="invalid_outcome",
            details=[{"field": "outcome", "message": f"one of {[o.value for o in CallOutcome]}"}],
        ) from None
