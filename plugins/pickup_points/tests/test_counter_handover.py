"""转窗投 share at township branches and its trend."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from postalops.errors import ValidationError
from postalops_pickup_points.counter_handover import handover_share, trend


def test_share_and_month_on_month_change():
    # Jul 30/100 = 0.3000; Aug 45/120 = 0.3750 (+0.0750); Sep nothing arrived.
    points = trend([("2022-07", 30, 100), ("2022-08", 45, 120), ("2022-09", 0, 0)])
    assert [(p.period, p.share, p.change) for p in points] == [
        ("2022-07", Decimal("0.3000"), None),
        ("2022-08", Decimal("0.3750"), Decimal("0.0750")),
        ("2022-09", None, None),
    ]


def test_more_handed_over_than_arrived_is_refused():
    with pytest.raises(ValidationError) as err:
        handover_share(5, 4)
    assert err.value.details[0]["field"] == "counter_items"


@given(st.integers(0, 10_000), st.integers(0, 10_000))
def test_share_is_a_fraction_between_zero_and_one(a, b):
    counter, inbound = min(a, b), max(a, b)
    share = handover_share(counter, inbound)
    assert share is None if inbound == 0 else Decimal(0) <= share <= Decimal(1)
