"""Outsourcing: contract terms, the monthly volume budget's alerts, the all-in unit price."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest
from postalops.errors import ValidationError
from postalops_payroll.outsourcing import (
    ContractTerm,
    all_in_unit_price,
    budget_status,
    term_for,
    validate_terms,
)

H1 = ContractTerm("T1", "SHUNLI", date(2022, 1, 1), date(2022, 6, 30), D("1.30"))
H2 = ContractTerm("T2", "SHUNLI", date(2022, 7, 1), date(2022, 12, 31), D("1.05"))


@pytest.mark.parametrize(
    ("used", "budget", "share", "alert"),
    [
        (8999, 10000, "0.8999", None),
        (9000, 10000, "0.9000", "warning"),
        (9999, 10000, "0.9999", "warning"),
        (10000, 10000, "1.0000", "exhausted"),
        (12000, 10000, "1.2000", "exhausted"),
    ],
)
def test_budget_alerts_fire_at_90_and_100_percent(used, budget, share, alert):
    status = budget_status(used, budget)
    assert (status.share, status.alert) == (D(share), alert)


def test_work_without_a_budget_is_already_over_it():
    assert budget_status(1, 0).alert == "exhausted"
    assert budget_status(0, 0).alert is None


def test_the_term_covering_a_day_sets_the_price():
    assert term_for([H1, H2], "SHUNLI", date(2022, 6, 30)) is H1
    assert term_for([H1, H2], "SHUNLI", date(2022, 7, 1)) is H2
    assert term_for([H1, H2], "OTHER", date(2022, 7, 1)) is None


def test_overlapping_terms_and_prices_above_the_cap_are_refused():
    overlapping = ContractTerm("T3", "SHUNLI", date(2022, 6, 1), date(2022, 8, 1), D("1.20"))
    with pytest.raises(ValidationError) as caught:
        validate_terms([H1, H2, overlapping], unit_price_cap=D("1.15"))
    messages = [d["message"] for d in caught.value.details]
    assert any("overlap" in m for m in messages)
    assert sum("exceeds the city's cap" in m for m in messages) == 2  # T1 1.30 and T3 1.20
    validate_terms([H1, H2], unit_price_cap=D("1.30"))  # cap is inclusive


def test_all_in_unit_price_is_charges_over_items():
    # 1300.00 + 525.00 over 1500 items = 1.21666.. -> 1.2167
    assert all_in_unit_price(D("1825.00"), 1500) == D("1.2167")
    assert all_in_unit_price(D("0"), 0) is None
