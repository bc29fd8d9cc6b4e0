"""Outsourcing (外包): contractor terms, the city's monthly volume budget and its price cap.

When own couriers are saturated, a city hands excess volume to contractors under a monthly
outsourced-volume budget (items) and a unit-price cap (yuan per item). Each contractor is paid an
all-in unit price fixed by its contract term; the all-in unit price a city actually paid in a
month is the outsourced charges divided by the outsourced items.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from postalops.errors import ValidationError
from postalops.money import ZERO, to_ratio

WARNING_SHARE = Decimal("0.9")
EXHAUSTED_SHARE = Decimal("1")


@dataclass(frozen=True)
class ContractTerm:
    """A contractor's price for a period of days, both ends included."""

    code: str
    contractor_code: str
    start: date
    end: date
    unit_price: Decimal

    def covers(self, day: date) -> bool:
        return self.start <= day <= self.end


def validate_terms(terms: Sequence[ContractTerm], unit_price_cap: Decimal | None = None) -> None:
    """Terms of one contractor must not overlap, must have a positive price under the cap."""
    problems: list[dict[str, Any]] = []
    for index, term in enumerate(terms):
        name = f"terms[{index}]"
        if term.end < term.start:
            problems.append({"field": f"{name}.end", "message": "ends before it starts"})
        if term.unit_price <= ZERO:
            problems.append({"field": f"{name}.unit_price", "message": "must be > 0"})
        if unit_price_cap is not None and term.unit_price > unit_price_cap:
            problems.append(
                {
                    "field": f"{name}.unit_price",
                    "code": "above_price_cap",
                    "message": f"unit price {term.unit_price} exceeds the city's cap {unit_price_cap}",
                }
            )
    by_contractor: dict[str, list[ContractTerm]] = {}
    for term in terms:
        by_contractor.setdefault(term.contractor_code, []).append(term)
    for contractor, own in by_contractor.items():
        own.sort(key=lambda t: t.start)
        for left, right in zip(own, own[1:], strict=False):
            if right.start <= left.end:
                problems.append(
                    {
                        "field": "terms",
                        "message": f"{contractor}: {left.code} and {right.code} overlap",
                    }
                )
    if problems:
        raise ValidationError(
            "invalid contract terms", code="invalid_contract_term", details=problems
        )


def term_for(terms: Iterable[ContractTerm], contractor_code: str, day: date) -> ContractTerm | None:
    """The contractor's term covering ``day``, or ``None`` (work outside a contract)."""
    for term in terms:
        if term.contractor_code == contractor_code and term.covers(day):
            return term
    return None


@dataclass(frozen=True)
class BudgetStatus:
    """How much of a city's monthly outsourced-volume budget is used, and the alert it raises."""

    used_items: int
    budget_items: int
    share: Decimal | None
    alert: str | None  # None | "warning" (>= 90%) | "exhausted" (>= 100%)


def budget_status(used_items: int, budget_items: int) -> BudgetStatus:
    """Consumption of the volume budget; alerts fire at 90% and at 100% (edges included)."""
    if budget_items <= 0:
        alert = "exhausted" if used_items > 0 else None
        return BudgetStatus(used_items, budget_items, None, alert)
    share = Decimal(used_items) / Decimal(budget_items)
    if share >= EXHAUSTED_SHARE:
        alert = "exhausted"
    elif share >= WARNING_SHARE:
        alert = "warning"
    else:
        alert = None
    return BudgetStatus(used_items, budget_items, to_ratio(share), alert)


def all_in_unit_price(charges: Decimal, items: int) -> Decimal | None:
    """Outsourced charges / outsourced items, to four places; ``None`` with no items."""
    if items <= 0:
        return None
    return to_ratio(charges / items)
