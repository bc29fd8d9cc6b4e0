"""Relief for borrowers in difficulty: refinancing, temporary extension, renewal (无还本续贷).

Eligibility (every rule's outcome is returned; any failure refuses the request with 422):
  * the loan is active (not closed, settled or renewed);
  * it is current or less than ``max_days_past_due + 1`` days past due (default: under 30);
  * the business is still operating;
  * renewal only: maturity is within ``renewal_window_days`` of the relief date;
  * extension only: 1..``max_extension_months`` months.

What each kind does, from the relief date (the old schedule is kept, the new one replaces it):
  * refinancing (再融资): same loan, outstanding principal re-amortised over a new term (and
    optionally a new rate);
  * extension (临时性延期): same loan and rate, maturity moved out by N months, the outstanding
    principal re-amortised over the remaining due dates plus the N new ones;
  * renewal (无还本续贷): a NEW loan for the outstanding principal settles the old one without
    the borrower repaying principal first; the two are linked.
Conservation: the new schedule's principal column sums to the outstanding principal exactly.
Interest already billed and unpaid, plus interest accrued in the current period up to the relief
date, is carried (not capitalised: no interest on interest) onto the first new instalment.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any

from postalops.errors import BadRequest, ValidationError

from postalops_lending.credit_line import RuleOutcome
from postalops_lending.product import DayCount, RepaymentMethod
from postalops_lending.schedule import Instalment, add_months, build_schedule, due_dates


def _on_day(first_of_month: date, day: int) -> date:
    last = calendar.monthrange(first_of_month.year, first_of_month.month)[1]
    return first_of_month.replace(day=min(day, last))


class ReliefKind(StrEnum):
    REFINANCING = "refinancing"  # 再融资
    EXTENSION = "extension"  # 临时性延期
    RENEWAL = "renewal"  # 无还本续贷


@dataclass(frozen=True)
class ReliefPolicy:
    max_days_past_due: int = 29
    max_extension_months: int = 6
    renewal_window_days: int = 90
    max_term_months: int = 60


@dataclass(frozen=True)
class LoanPosition:
    """What relief needs to know about a loan on the relief date."""

    status: str
    days_past_due: int
    business_operating: bool
    maturity_date: date
    outstanding_principal: Decimal  # billed-unpaid + unbilled principal
    carried_interest: Decimal  # billed-unpaid interest + accrued to the relief date
    annual_rate: Decimal
    day_count: DayCount
    method: RepaymentMethod
    remaining_due_dates: Sequence[date]  # unbilled due dates after the relief date
    next_number: int  # number the first new instalment takes on the same loan
    anchor_day: int


@dataclass(frozen=True)
class ReliefRequest:
    kind: ReliefKind
    relief_date: date
    term_months: int | None = None  # refinancing, renewal
    extension_months: int | None = None  # extension
    annual_rate: Decimal | None = None  # refinancing, renewal (None: keep the loan's rate)
    reason: str = ""


@dataclass(frozen=True)
class ReliefPlan:
    kind: ReliefKind
    relief_date: date
    new_loan: bool  # renewal: the schedule belongs to a new loan
    principal: Decimal
    carried_interest: Decimal
    annual_rate: Decimal
    schedule: tuple[Instalment, ...]

    @property
    def maturity_date(self) -> date:
        return self.schedule[-1].due_date


def parse_request(payload: Mapping[str, Any]) -> ReliefRequest:
    """Read one relief operation from a request body; more than one is refused (400).

    Accepts ``{"kind": ..., "relief_date": ..., ...}`` or ``{"operations": [<one op>]}``.
    """
    if "operations" in payload:
        ops = payload["operations"]
        if not isinstance(ops, list) or len(ops) != 1:
            count = len(ops) if isinstance(ops, list) else "?"
            raise BadRequest(
                "one relief operation per request",
                code="one_operation_per_request",
                details=[{"field": "operations", "message": f"got {count}, expected exactly 1"}],
            )
        payload = ops[0]
        if not isinstance(payload, Mapping):
            raise BadRequest("operation must be an object", details=[{"field": "operations[0]"}])
    details = []
    try:
        kind = ReliefKind(payload.get("kind"))
    except ValueError:
        details.append({"field": "kind", "message": f"one of {[k.value for k in ReliefKind]}"})
        kind = None
    try:
        relief_date = date.fromisoformat(str(payload.get("relief_date")))
    except ValueError:
        details.append({"field": "relief_date", "message": "an ISO date, e.g. 2022-05-10"})
        relief_date = None
    ints = {}
    for name in ("term_months", "extension_months"):
        value = payload.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            details.append({"field": name, "message": "an integer number of months"})
        ints[name] = value
    rate = payload.get("annual_rate")
    if rate is not None:
        try:
            if isinstance(rate, float):
                raise ValueError
            rate = Decimal(str(rate))
            if not (0 <= rate < 1):
                raise ValueError
        except (ArithmeticError, ValueError):
            details.append({"field": "annual_rate", "message": "a decimal string fraction"})
    if details:
        raise ValidationError("invalid relief request", code="invalid_relief", details=details)
    assert kind is not None and relief_date is not None
    return ReliefRequest(
        kind=kind,
        relief_date=relief_date,
        term_months=ints["term_months"],
        extension_months=ints["extension_months"],
        annual_rate=rate,
        reason=str(payload.get("reason") or ""),
    )


def eligibility(
    request: ReliefRequest, loan: LoanPosition, policy: ReliefPolicy = ReliefPolicy()
) -> tuple[RuleOutcome, ...]:
    """Every eligibility rule's outcome for ``request`` on ``loan``."""
    outcomes = [
        RuleOutcome("loan_active", loan.status == "active", loan.status, "active"),
        RuleOutcome(
            "days_past_due",
            loan.days_past_due <= policy.max_days_past_due,
            str(loan.days_past_due),
            f"<= {policy.max_days_past_due}",
        ),
        RuleOutcome(
            "business_operating", loan.business_operating, str(loan.business_operating), "True"
        ),
    ]
    if request.kind is ReliefKind.RENEWAL:
        days_to_maturity = (loan.maturity_date - request.relief_date).days
        outcomes.append(
            RuleOutcome(
                "renewal_window",
                0 <= days_to_maturity <= policy.renewal_window_days,
                f"{days_to_maturity} days to maturity",
                f"0..{policy.renewal_window_days}",
            )
        )
    if request.kind is ReliefKind.EXTENSION:
        months = request.extension_months or 0
        outcomes.append(
            RuleOutcome(
                "extension_months",
                1 <= months <= policy.max_extension_months,
                str(months),
                f"1..{policy.max_extension_months}",
            )
        )
    else:
        term = request.term_months or 0
        outcomes.append(
            RuleOutcome(
                "term_months",
                1 <= term <= policy.max_term_months,
                str(term),
                f"1..{policy.max_term_months}",
            )
        )
    return tuple(outcomes)


def ensure_eligible(
    request: ReliefRequest, loan: LoanPosition, policy: ReliefPolicy = ReliefPolicy()
) -> tuple[RuleOutcome, ...]:
    """Return the outcomes if all pass; otherwise raise ValidationError listing the failures."""
    outcomes = eligibility(request, loan, policy)
    failed = [o for o in outcomes if not o.passed]
    if failed:
        raise ValidationError(
            "loan is not eligible for " + request.kind.value,
            code="relief_ineligible",
            details=[
                {"field": o.rule, "message": f"observed {o.observed}, needs {o.threshold}"}
                for o in failed
            ],
        )
    return outcomes


def plan(
    request: ReliefRequest, loan: LoanPosition, policy: ReliefPolicy = ReliefPolicy()
) -> ReliefPlan:
    """The regenerated schedule (and for renewal, the new loan's) for an eligible request."""
    ensure_eligible(request, loan, policy)
    rate = loan.annual_rate
    first_number = loan.next_number
    anchor_day = loan.anchor_day
    if request.kind is ReliefKind.EXTENSION:
        assert request.extension_months is not None
        # the added months keep the loan's due day, even when maturity was clamped to month end
        anchor = loan.maturity_date.replace(day=1)
        extra = [
            _on_day(add_months(anchor, k), anchor_day)
            for k in range(1, request.extension_months + 1)
        ]
        dates = [d for d in loan.remaining_due_dates if d > request.relief_date] + extra
    else:
        assert request.term_months is not None
        if request.annual_rate is not None:
            rate = request.annual_rate
        dates = due_dates(request.relief_date, request.term_months)
        anchor_day = request.relief_date.day
        if request.kind is ReliefKind.RENEWAL:
            first_number = 1
    lines = build_schedule(
        loan.outstanding_principal,
        rate,
        request.relief_date,
        dates,
        loan.method,
        loan.day_count,
        first_number=first_number,
        anchor_day=anchor_day,
    )
    if loan.carried_interest:
        first = lines[0]
        lines[0] = Instalment(
            number=first.number,
            period_start=first.period_start,
            due_date=first.due_date,
            days=first.days,
            opening_principal=first.opening_principal,
            principal=first.principal,
            interest=first.interest + loan.carried_interest,
            carried_interest=loan.carried_interest,
        )
    return ReliefPlan(
        kind=request.kind,
        relief_date=request.relief_date,
        new_loan=request.kind is ReliefKind.RENEWAL,
        principal=loan.outstanding_principal,
        carried_interest=loan.carried_interest,
        annual_rate=rate,
        schedule=tuple(lines),
    )
