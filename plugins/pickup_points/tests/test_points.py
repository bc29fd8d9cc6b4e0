"""A point's type and status on a date (what other plugins read through the hook)."""

from __future__ import annotations

import datetime as dt

from postalops_pickup_points.points import (
    PointStatus,
    PointType,
    StatusChange,
    is_active_on,
    state_on,
)

D = dt.date
HISTORY = [
    StatusChange(D(2022, 9, 20), PointStatus.SUSPENDED, PointType.PARTNER_SHOP),
    StatusChange(D(2022, 6, 1), PointStatus.ACTIVE, PointType.PARTNER_SHOP),
    StatusChange(D(2022, 10, 1), PointStatus.ACTIVE, PointType.SMART_LOCKER),
]


def test_status_on_a_date_is_the_latest_change_on_or_before_it():
    assert state_on(HISTORY, D(2022, 5, 31)) is None  # not opened yet
    assert state_on(HISTORY, D(2022, 6, 1)).status is PointStatus.ACTIVE
    assert state_on(HISTORY, D(2022, 9, 20)).status is PointStatus.SUSPENDED
    assert state_on(HISTORY, D(2022, 10, 2)).point_type is PointType.SMART_LOCKER


def test_only_active_points_serve():
    assert [is_active_on(HISTORY, D(2022, 9, d)) for d in (19, 20, 30)] == [True, False, False]
