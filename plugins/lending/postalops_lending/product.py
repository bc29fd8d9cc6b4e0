"""Loan product terms: what a configurable product is, as plain values.

The database stores these fields per product; rule modules take a ``ProductTerms`` so they can
be tested without it. The tax-mode credit policy lives in ``credit_line``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from postalops.errors import ValidationError


class RepaymentMethod(StrEnum):
    EQUAL_INSTALMENTS = "equal_instalments"  # 等额本息: a level monthly payment
    INTEREST_ONLY_BULLET = "interest_only_bullet"  # 按月付息、到期还本


class DayCount(StrEnum):
    ACT_360 = (
        "ACT/360"  # actual days / 360: the PBoC convention for RMB loans (日利率 = 年利率/360)
    )
    ACT_365 = "ACT/365"  # actual days / 365 (fixed)
    THIRTY_360 = "30/360"  # every month 30 days, year 360 (US/NASD end-of-month rule)


@dataclass(frozen=True)
class ProductTerms:
    """A loan product's servicing terms.

    ``annual_rate`` is a fraction (0.0435 for 4.35 %); ``term_months`` the default tenor;
    ``allow_prepayment`` lets a repayment above what is due reduce principal early.
    """

    code: str
    annual_rate: Decimal
    term_months: int
    day_count: DayCount = DayCount.ACT_360
    method: RepaymentMethod = RepaymentMethod.EQUAL_INSTALMENTS
    allow_prepayment: bool = False

    def __post_init__(self) -> None:
        details = []
        if not (Decimal("0") <= self.annual_rate < Decimal("1")):
            details.append({"field": "annual_rate", "message": "a fraction in [0, 1), e.g. 0.0435"})
        if not (1 <= self.term_months <= 360):
            details.append({"field": "term_months", "message": "between 1 and 360"})
        if details:
            raise ValidationError("invalid product terms", code="invalid_product", details=details)
