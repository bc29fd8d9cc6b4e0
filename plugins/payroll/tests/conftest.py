"""Fixtures for the payroll rule tests: one small rate card whose every number is in this table.

Door rates, urban tier (yuan/item): letter 0.20, registered 0.50, parcel 1.00, express 1.20,
gov_mail 2.00. Other tiers add: suburban +0.10, rural +0.30, mountain +0.60.
Per tier, the other modes derive from the door rate:
  pickup_point = door - agent fee - 0.10      (so agent fee + pickup rate = door - 0.10 <= door)
  locker       = door - 0.15
  counter      = door - 0.10
Agent fees: letter 0.05, registered 0.10, parcel 0.30, express 0.30, gov_mail 0.50.
Commission (fraction of postage): letter 0.05, registered 0.05, parcel 0.10, express 0.08,
gov_mail 0.
Quota bands: [0, 0.8) x0.9 ; [0.8, 1.0) x1.0 ; [1.0, inf) x1.1.
Volume tiers: items beyond 100 in the month +0.05 ; beyond 150 +0.10.
Monthly collection quota: grade A 1000 yuan, grade B 800 yuan.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D
from typing import Any

import pytest

DOOR_URBAN = {
    "letter": "0.20",
    "registered": "0.50",
    "parcel": "1.00",
    "express": "1.20",
    "gov_mail": "2.00",
}
TIER_ADD = {"urban": "0", "suburban": "0.10", "rural": "0.30", "mountain": "0.60"}
AGENT_FEES = {
    "letter": "0.05",
    "registered": "0.10",
    "parcel": "0.30",
    "express": "0.30",
    "gov_mail": "0.50",
}
COMMISSION = {
    "letter": "0.05",
    "registered": "0.05",
    "parcel": "0.10",
    "express": "0.08",
    "gov_mail": "0",
}


def card_dict(**overrides: Any) -> dict[str, Any]:
    """The fixture card as the JSON an HR user would send."""
    grid: dict[str, dict[str, dict[str, str]]] = {}
    for category, urban in DOOR_URBAN.items():
        fee = D(AGENT_FEES[category])
        for tier, add in TIER_ADD.items():
            door = D(urban) + D(add)
            modes = {
                "door": door,
                "pickup_point": door - fee - D("0.10"),
                "locker": door - D("0.15"),
                "counter": door - D("0.10"),
            }
            for mode, rate in modes.items():
                grid.setdefault(category, {}).setdefault(mode, {})[tier] = str(rate)
    data = {
        "effective_from": "2022-01-01",
        "delivery_rates": grid,
        "volume_tiers": [{"above": 100, "uplift": "0.05"}, {"above": 150, "uplift": "0.10"}],
        "commission_rates": dict(COMMISSION),
        "quota_bands": [
            {"lower": "0", "upper": "0.8", "multiplier": "0.9"},
            {"lower": "0.8", "upper": "1.0", "multiplier": "1.0"},
            {"lower": "1.0", "upper": None, "multiplier": "1.1"},
        ],
        "agent_fees": dict(AGENT_FEES),
        "quotas_by_grade": {"A": "1000", "B": "800"},
        "market_rates": {"parcel": "1.05", "express": "1.30"},
    }
    data.update(overrides)
    return data


@pytest.fixture
def card_data() -> dict[str, Any]:
    return card_dict()


@pytest.fixture
def card():
    from postalops_payroll.rate_card import rate_card_from_dict

    return rate_card_from_dict(card_dict(), version=1, unit_code="cn.henan.zhengzhou")


@pytest.fixture
def jan() -> date:
    return date(2022, 1, 1)
