"""小微E贷 tax mode: the automated pre-check and the credit line it grants.

Policy, stated once (every figure is a field of ``TaxModePolicy``):

    base   = factor x tax paid in the last 12 months
    line   = min(product cap, base x grade multiplier x tenure multiplier), rounded DOWN to
             ``line_unit`` (lines are granted in whole thousands)

Declined when any rule fails: tax data must cover 12 months; the tax-compliance grade must be
one the policy lends to (C and D never); months in business at least ``min_months_in_business``;
tax paid at least ``min_tax_paid``; the business still operating; and the resulting line at least
``min_line``. A requested amount above the line is reduced to the line, not declined (the
customer manager sees both figures). Every rule's outcome is returned so it can be recorded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from postalops.errors import ValidationError
from postalops.money import FEN, ZERO, floor_to

TAX_GRADES = ("A", "B", "M", "C", "D")


@dataclass(frozen=True)
class TaxModePolicy:
    """The tax-mode credit policy of one product (defaults are the demo product's)."""

    cap: Decimal = Decimal("1000000")
    factor: Decimal = Decimal("5")
    grade_multipliers: Mapping[str, Decimal] = field(
        default_factory=lambda: {"A": Decimal("1.0"), "B": Decimal("0.8"), "M": Decimal("0.6")}
    )
    # (minimum months in business, multiplier), ascending; below the first band: declined
    tenure_bands: Sequence[tuple[int, Decimal]] = (
        (24, Decimal("0.8")),
        (36, Decimal("1.0")),
    )
    min_tax_paid: Decimal = Decimal("10000")
    min_line: Decimal = Decimal("50000")
    line_unit: Decimal = Decimal("1000")

    @property
    def min_months_in_business(self) -> int:
        return self.tenure_bands[0][0]

    def tenure_multiplier(self, months_in_business: int) -> Decimal:
        """Multiplier of the highest band reached; ZERO below the first band."""
        multiplier = ZERO
        for min_months, band_multiplier in self.tenure_bands:
            if months_in_business >= min_months:
                multiplier = band_multiplier
        return multiplier


@dataclass(frozen=True)
class TaxMonth:
    """One month of a borrower's tax record (imported or pushed by the tax platform)."""

    period: date  # first day of the month
    tax_paid: Decimal
    sales: Decimal  # invoiced sales, the proxy for receivables used by outreach
    grade: str  # tax-compliance grade on file that month (A/B/M/C/D)


@dataclass(frozen=True)
class RuleOutcome:
    rule: str
    passed: bool
    observed: str
    threshold: str

    def as_dict(self) -> dict[str, object]:
        return {
            "rule": self.rule,
            "passed": self.passed,
            "observed": self.observed,
            "threshold": self.threshold,
        }


@dataclass(frozen=True)
class PreCheck:
    """Outcome of the automated pre-check."""

    approved: bool
    credit_line: Decimal  # ZERO when declined
    granted_amount: Decimal  # min(requested, line); ZERO when declined
    tax_paid_12m: Decimal
    grade: str
    outcomes: tuple[RuleOutcome, ...]

    @property
    def failed_rules(self) -> list[str]:
        return [o.rule for o in self.outcomes if not o.passed]


def last_12_months(tax_months: Sequence[TaxMonth], as_of: date) -> list[TaxMonth]:
    """The months in the 12 full calendar months before ``as_of``'s month."""
    end = date(as_of.year, as_of.month, 1)
    start_index = end.year * 12 + end.month - 1 - 12
    start = date(start_index // 12, start_index % 12 + 1, 1)
    return [m for m in tax_months if start <= m.period < end]


def pre_check(
    policy: TaxModePolicy,
    *,
    tax_months: Sequence[TaxMonth],
    months_in_business: int,
    business_operating: bool,
    requested_amount: Decimal,
    as_of: date,
) -> PreCheck:
    """Run every tax-mode rule and compute the line; never raises for a declined case."""
    if requested_amount <= 0:
        raise ValidationError(
            "requested amount must be positive",
            code="invalid_amount",
            details=[{"field": "requested_amount", "message": "must be > 0"}],
        )
    window = last_12_months(tax_months, as_of)
    months_covered = len({m.period for m in window})
    tax_paid = sum((m.tax_paid for m in window), ZERO)
    latest = max(window, key=lambda m: m.period) if window else None
    grade = latest.grade if latest else ""
    grade_multiplier = policy.grade_multipliers.get(grade, ZERO)
    tenure_multiplier = policy.tenure_multiplier(months_in_business)

    base = policy.factor * tax_paid
    adjusted = base * grade_multiplier * tenure_multiplier
    line = floor_to(min(policy.cap, adjusted), policy.line_unit).quantize(FEN)

    outcomes = (
        RuleOutcome("tax_data_12_months", months_covered >= 12, str(months_covered), ">= 12"),
        RuleOutcome(
            "tax_grade_accepted",
            grade_multiplier > 0,
            grade or "none",
            "/".join(sorted(policy.grade_multipliers)),
        ),
        RuleOutcome(
            "months_in_business",
            tenure_multiplier > 0,
            str(months_in_business),
            f">= {policy.min_months_in_business}",
        ),
        RuleOutcome(
            "tax_paid_12m",
            tax_paid >= policy.min_tax_paid,
            str(tax_paid),
            f">= {policy.min_tax_paid}",
        ),
        RuleOutcome("business_operating", business_operating, str(business_operating), "True"),
        RuleOutcome(
            "credit_line_minimum", line >= policy.min_line, str(line), f">= {policy.min_line}"
        ),
    )
    approved = all(o.passed for o in outcomes)
    return PreCheck(
        approved=approved,
        credit_line=line if approved else ZERO,
        granted_amount=min(requested_amount, line) if approved else ZERO,
        tax_paid_12m=tax_paid,
        grade=grade,
        outcomes=outcomes,
    )
