"""Direct delivery (串点直投): the 40-a-day threshold at its edges, and the diverted share."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from postalops.errors import ValidationError
from postalops_pickup_points.direct_delivery import (
    DirectDeliveryRules,
    PointVolume,
    average_per_day,
    diverted_share,
    propose,
    switched_on,
)
from postalops_pickup_points.points import PointStatus, PointType

TEN_DAYS = DirectDeliveryRules(threshold_per_day=Decimal("40"), window_days=10)
ACTIVE = PointStatus.ACTIVE


def vol(pid, items, ptype=PointType.OWN, status=ACTIVE, direct=False):
    return PointVolume(pid, ptype, status, items, direct)


def test_threshold_edges_39_9_versus_40_0_per_day():
    # 399 items in 10 days = 39.9/day (below); 400 items = 40.0/day (meets the threshold).
    proposals = propose([vol("below", 399), vol("edge", 400)], TEN_DAYS)
    assert [(p.point_id, p.average_per_day) for p in proposals] == [("edge", Decimal("40"))]
    assert average_per_day(399, 10) == Decimal("39.9")


def test_only_active_eligible_points_not_yet_direct_are_proposed():
    volumes = [
        vol("college", 900),  # 90/day
        vol("suspended", 900, status=PointStatus.SUSPENDED),
        vol("closed", 900, status=PointStatus.CLOSED),
        vol("counter", 900, ptype=PointType.TOWNSHIP_COUNTER),
        vol("already", 900, direct=True),
        vol("locker", 450, ptype=PointType.SMART_LOCKER),  # 45/day
    ]
    assert [p.point_id for p in propose(volumes, TEN_DAYS)] == ["college", "locker"]


def test_the_window_counts_calendar_days():
    rules = DirectDeliveryRules(window_days=30)
    assert rules.window(dt.date(2022, 8, 31)) == (dt.date(2022, 8, 2), dt.date(2022, 8, 31))


def test_threshold_and_window_are_configurable():
    rules = DirectDeliveryRules(threshold_per_day=Decimal("25"), window_days=4)
    assert [p.point_id for p in propose([vol("x", 100), vol("y", 99)], rules)] == ["x"]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"window_days": 0}, "window_days"),
        ({"threshold_per_day": Decimal("0")}, "threshold_per_day"),
    ],
)
def test_bad_rules_name_the_field(kwargs, field):
    with pytest.raises(ValidationError) as err:
        DirectDeliveryRules(**kwargs)
    assert err.value.details[0]["field"] == field


def test_diverted_share_of_city_volume():
    # 13,700 items at direct points out of 137,000 city deliveries = 0.1000
    assert diverted_share(13_700, 137_000) == Decimal("0.1000")
    assert diverted_share(0, 0) is None


def test_diverted_volume_cannot_exceed_city_volume():
    with pytest.raises(ValidationError) as err:
        diverted_share(11, 10)
    assert err.value.details[0]["field"] == "city_delivery_items"


def test_switch_takes_effect_on_its_date():
    switches = {"a": dt.date(2022, 9, 1), "b": dt.date(2022, 9, 15)}
    assert switched_on(switches, dt.date(2022, 9, 14)) == {"a"}
    assert switched_on(switches, dt.date(2022, 9, 15)) == {"a", "b"}
