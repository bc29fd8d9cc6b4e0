"""Agent-fee agreements with pickup-point operators (代办费)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from postalops.errors import ValidationError
from postalops_pickup_points.agent_fee import (
    AgentFeeAgreement,
    check_within_door_rate,
    fees_due,
    money,
)


def test_agent_fee_plus_courier_fee_cannot_exceed_door_rate():
    # Door piece rate 1.10; agent 0.40 + courier 0.70 = 1.10 is allowed, 0.41 + 0.70 is not.
    check_within_door_rate(Decimal("0.40"), Decimal("0.70"), Decimal("1.10"))
    with pytest.raises(ValidationError) as err:
        check_within_door_rate(Decimal("0.41"), Decimal("0.70"), Decimal("1.10"))
    assert err.value.details[0]["field"] == "agreement.fee_per_item"


def test_fees_due_are_whole_cents():
    # 137 items at 0.35 yuan = 47.95 yuan
    agreement = AgentFeeAgreement(money("0.35", "fee"), dt.date(2022, 9, 1))
    assert fees_due(137, agreement) == Decimal("47.95")


@pytest.mark.parametrize("raw", ["-1", "abc", "NaN", None])
def test_bad_amounts_name_the_field(raw):
    with pytest.raises(ValidationError) as err:
        money(raw, "agent_fee")
    assert err.value.details[0]["field"] == "agent_fee"


def test_agreement_in_force_on_its_dates_only():
    a = AgentFeeAgreement(Decimal("0.30"), dt.date(2022, 9, 1), dt.date(2022, 9, 30))
    assert [a.in_force(dt.date(2022, 9, d)) for d in (1, 30)] == [True, True]
    assert a.in_force(dt.date(2022, 10, 1)) is False
    with pytest.raises(ValidationError):
        AgentFeeAgreement(Decimal("0.30"), dt.date(2022, 9, 30), dt.date(2022, 9, 1))
