"""Pickup points and service areas as plain values: kinds, statuses, and status on a date.

The vocabulary staff use (DOMAIN.md §3) maps to these codes:

=================== ==================== ================================================
code                Chinese              meaning
=================== ==================== ================================================
own                 易邮自提点            the post's own pickup point
partner_shop        社会自提点            a partner shop acting as pickup point
smart_locker        智能包裹柜            smart parcel locker
village_station     邮乐购站点            village 邮乐购 e-commerce station (collects too)
township_counter    乡镇支局              township branch counter (转窗投)
=================== ==================== ================================================
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from postalops.errors import ValidationError


class PointType(StrEnum):
    OWN = "own"
    PARTNER_SHOP = "partner_shop"
    SMART_LOCKER = "smart_locker"
    VILLAGE_STATION = "village_station"
    TOWNSHIP_COUNTER = "township_counter"


POINT_TYPE_LABELS: dict[PointType, tuple[str, str]] = {
    PointType.OWN: ("易邮自提点", "Own pickup point"),
    PointType.PARTNER_SHOP: ("社会自提点", "Partner shop"),
    PointType.SMART_LOCKER: ("智能包裹柜", "Smart locker"),
    PointType.VILLAGE_STATION: ("邮乐购站点", "Village 邮乐购 station"),
    PointType.TOWNSHIP_COUNTER: ("乡镇支局窗口", "Township branch counter"),
}


class PointStatus(StrEnum):
    """``planned`` (筹建): created from a planned site, not yet open; like suspended and closed
    points it serves and covers nobody until set ``active``."""

    PLANNED = "planned"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    CLOSED = "closed"


class AreaCategory(StrEnum):
    URBAN_COMMUNITY = "urban_community"
    VILLAGE = "village"
    MAILROOM = "mailroom"


AREA_CATEGORY_LABELS: dict[AreaCategory, tuple[str, str]] = {
    AreaCategory.URBAN_COMMUNITY: ("城市小区", "Urban residential community"),
    AreaCategory.VILLAGE: ("行政村", "Administrative village"),
    AreaCategory.MAILROOM: ("单位收发室", "Institutional mailroom"),
}


@dataclass(frozen=True)
class StatusChange:
    """From ``effective`` on (inclusive) the point has this status and type."""

    effective: dt.date
    status: PointStatus
    point_type: PointType


def state_on(changes: Iterable[StatusChange], day: dt.date) -> StatusChange | None:
    """The change in force on ``day``: the latest one effective on or before it.

    None when the point did not exist yet. When two changes share a date, the later one in the
    list wins, so a same-day correction replaces the first entry.
    """
    current: StatusChange | None = None
    for change in sorted(changes, key=lambda c: c.effective):
        if change.effective <= day:
            current = change
        else:
            break
    return current


def is_active_on(changes: Iterable[StatusChange], day: dt.date) -> bool:
    """True when the point is active on ``day`` (a suspended or closed point serves nobody)."""
    state = state_on(changes, day)
    return state is not None and state.status is PointStatus.ACTIVE


def parse_enum(enum_cls, value, field: str):
    """``enum_cls(value)`` or a ValidationError naming ``field`` and the allowed values."""
    try:
        return enum_cls(str(value).strip())
    except ValueError:
        allowed = ", ".join(m.value for m in enum_cls)
        raise ValidationError(
            f"{field} must be one of: {allowed}",
            code="invalid_choice",
            details=[{"field": field, "message": f"{value!r} is not one of {allowed}"}],
        ) from None


def parse_lon_lat(lon, lat, field_prefix: str = "") -> tuple[float, float]:
    """Validated (lon, lat) in degrees; errors name the offending field."""
    errors = []
    values = []
    for name, raw, limit in (("lon", lon, 180.0), ("lat", lat, 90.0)):
        field = f"{field_prefix}{name}"
        try:
            value = float(raw)
        except (TypeError, ValueError):
            errors.append({"field": field, "message": f"{raw!r} is not a number"})
            continue
        if not (-limit <= value <= limit):
            errors.append({"field": field, "message": f"{value} is outside ±{limit}"})
        values.append(value)
    if errors:
        raise ValidationError("invalid coordinates", code="invalid_coordinates", details=errors)
    return values[0], values[1]
