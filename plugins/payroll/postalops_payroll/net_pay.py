"""From gross to net (issue 19 §1): statutory deductions and individual income tax. Pure rules,
no Flask, no session; ``net.py`` feeds them from the database and stores what they return.

* **Statutory deductions (五险一金).** A unit's rates (``DeductionRates``, effective-dated like
  rate cards) give the employee's and the employer's shares of pension, medical and
  unemployment insurance and of the housing fund, as fractions of the **contribution base**:
  the month's gross clamped between the unit's floor and ceiling. Each share is rounded
  half-up to the fen. Outsourced couriers are paid by their contractor: no deductions.
* **Individual income tax by the cumulative withholding method (累计预扣法).** For the n-th
  month of the year: cumulative taxable = cumulative gross − 5,000 × n − cumulative employee
  deductions − cumulative special additional deductions (never below zero); cumulative tax =
  taxable × rate − quick deduction from the annual table; this month's withholding =
  cumulative tax − tax already withheld this year, never negative.
* **Net pay** = gross − employee deductions − this month's withholding.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

FEN = Decimal("0.01")
ZERO = Decimal("0.00")
BASIC_DEDUCTION = Decimal("5000")  # 基本减除费用, per month

# Annual table for wages (综合所得): (upper bound of the bracket or None, rate, quick deduction).
TAX_TABLE: tuple[tuple[Decimal | None, Decimal, Decimal], ...] = (
    (Decimal("36000"), Decimal("0.03"), Decimal("0")),
    (Decimal("144000"), Decimal("0.10"), Decimal("2520")),
    (Decimal("300000"), Decimal("0.20"), Decimal("16920")),
    (Decimal("420000"), Decimal("0.25"), Decimal("31920")),
    (Decimal("660000"), Decimal("0.30"), Decimal("52920")),
    (Decimal("960000"), Decimal("0.35"), Decimal("85920")),
    (None, Decimal("0.45"), Decimal("181920")),
)

RATE_FIELDS = (
    "pension",
    "medical",
    "unemployment",
    "housing_fund",
    "employer_pension",
    "employer_medical",
    "employer_unemployment",
    "employer_housing_fund",
)
MAX_RATE = Decimal("0.5")  # no statutory share comes near half the base


def to_fen(value: Decimal) -> Decimal:
    return value.quantize(FEN, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class DeductionRates:
    """One version of a unit's rates; shares are fractions (0.08 = 8 %) of the base."""

    effective_from: dt.date
    pension: Decimal
    medical: Decimal
    unemployment: Decimal
    housing_fund: Decimal
    employer_pension: Decimal
    employer_medical: Decimal
    employer_unemployment: Decimal
    employer_housing_fund: Decimal
    base_floor: Decimal
    base_ceiling: Decimal


class RateProblem(ValueError):
    """Rates that cannot be saved; ``problems`` is a list of ``{"field", "message"}``."""

    def __init__(self, problems: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{p['field']}: {p['message']}" for p in problems))
        self.problems = problems


def check_rates(rates: DeductionRates) -> None:
    """Every problem of a rates version at once (``RateProblem``): shares in [0, 0.5], a
    positive floor, a ceiling not below the floor, effective on the 1st of a month."""
    problems: list[dict[str, str]] = []
    for name in RATE_FIELDS:
        value = getattr(rates, name)
        if not isinstance(value, Decimal) or not value.is_finite():
            problems.append({"field": name, "message": "not a number"})
        elif value < 0 or value > MAX_RATE:
            problems.append({"field": name, "message": f"must be between 0 and {MAX_RATE}"})
    if rates.base_floor <= 0:
        problems.append({"field": "base_floor", "message": "must be positive"})
    if rates.base_ceiling < rates.base_floor:
        problems.append({"field": "base_ceiling", "message": "must not be below base_floor"})
    if rates.effective_from.day != 1:
        problems.append({"field": "effective_from", "message": "must be the 1st of a month"})
    if problems:
        raise RateProblem(problems)


def rates_in_force(
    versions: Sequence[DeductionRates], month_start: dt.date
) -> DeductionRates | None:
    """The version with the latest ``effective_from`` on or before ``month_start``."""
    eligible = [v for v in versions if v.effective_from <= month_start]
    return max(eligible, key=lambda v: v.effective_from) if eligible else None


@dataclass(frozen=True)
class Deductions:
    """A month's statutory amounts; ``employee`` is what comes off the payslip."""

    base: Decimal
    pension: Decimal
    medical: Decimal
    unemployment: Decimal
    housing_fund: Decimal
    employer: Decimal

    @property
    def employee(self) -> Decimal:
        return self.pension + self.medical + self.unemployment + self.housing_fund


NO_DEDUCTIONS = Deductions(ZERO, ZERO, ZERO, ZERO, ZERO, ZERO)


def contribution_base(gross: Decimal, rates: DeductionRates) -> Decimal:
    """The gross clamped between the unit's floor and ceiling."""
    return to_fen(min(max(gross, rates.base_floor), rates.base_ceiling))


def statutory_deductions(
    gross: Decimal, rates: DeductionRates | None, *, outsourced: bool = False
) -> Deductions:
    """The employee's and employer's shares for a month's gross; none for outsourced couriers
    or where no rates are in force."""
    if outsourced or rates is None:
        return NO_DEDUCTIONS
    base = contribution_base(gross, rates)
    employer = sum(
        (
            to_fen(base * share)
            for share in (
                rates.employer_pension,
                rates.employer_medical,
                rates.employer_unemployment,
                rates.employer_housing_fund,
            )
        ),
        ZERO,
    )
    return Deductions(
        base,
        to_fen(base * rates.pension),
        to_fen(base * rates.medical),
        to_fen(base * rates.unemployment),
        to_fen(base * rates.housing_fund),
        employer,
    )


def annual_tax(taxable: Decimal) -> Decimal:
    """Tax on a cumulative taxable income by the annual table (0 when not positive)."""
    if taxable <= 0:
        return ZERO
    for upper, rate, quick in TAX_TABLE:
        if upper is None or taxable <= upper:
            return to_fen(taxable * rate - quick)
    raise AssertionError("the table ends with an open bracket")  # pragma: no cover


@dataclass(frozen=True)
class MonthIn:
    """One month of the year for one employee, in order."""

    gross: Decimal
    deductions: Decimal  # the employee's statutory deductions
    special: Decimal = ZERO  # special additional deductions (专项附加扣除)


@dataclass(frozen=True)
class MonthTax:
    """One month's cumulative figures and its withholding."""

    months: int
    ytd_gross: Decimal
    ytd_deductions: Decimal
    ytd_special: Decimal
    ytd_taxable: Decimal
    ytd_tax: Decimal
    withheld_before: Decimal
    tax: Decimal


def withhold_year(months: Sequence[MonthIn]) -> list[MonthTax]:
    """The withholding of each month of a year, by the cumulative method."""
    out: list[MonthTax] = []
    gross = deductions = special = withheld = ZERO
    for n, month in enumerate(months, start=1):
        gross += month.gross
        deductions += month.deductions
        special += month.special
        taxable = max(gross - BASIC_DEDUCTION * n - deductions - special, ZERO)
        taxable = to_fen(taxable)
        cumulative = annual_tax(taxable)
        tax = max(cumulative - withheld, ZERO)
        out.append(MonthTax(n, gross, deductions, special, taxable, cumulative, withheld, tax))
        withheld += tax
    return out


def net_pay(gross: Decimal, deductions: Deductions, tax: Decimal) -> Decimal:
    """What the bank pays the employee."""
    return gross - deductions.employee - tax
