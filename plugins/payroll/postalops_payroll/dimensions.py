"""The words a rate card is indexed by: mail category, delivery mode and difficulty tier."""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

from postalops.errors import ValidationError


class Category(StrEnum):
    """Mail category (邮件种类)."""

    LETTER = "letter"  # 平信
    REGISTERED = "registered"  # 挂号信
    PARCEL = "parcel"  # 包裹
    EXPRESS = "express"  # 快递/EMS
    GOV_MAIL = "gov_mail"  # 政务邮件


class Mode(StrEnum):
    """How the item reached the addressee."""

    DOOR = "door"  # 按址投递
    PICKUP_POINT = "pickup_point"  # 自提点
    LOCKER = "locker"  # 智能包裹柜
    COUNTER = "counter"  # 转窗投


class Tier(StrEnum):
    """Delivery difficulty tier (投递难度)."""

    URBAN = "urban"
    SUBURBAN = "suburban"
    RURAL = "rural"
    MOUNTAIN = "mountain"


LABELS_ZH: dict[str, str] = {
    "letter": "平信",
    "registered": "挂号信",
    "parcel": "包裹",
    "express": "快递/EMS",
    "gov_mail": "政务邮件",
    "door": "按址投递",
    "pickup_point": "自提点",
    "locker": "智能包裹柜",
    "counter": "转窗投",
    "urban": "城区",
    "suburban": "城郊",
    "rural": "农村",
    "mountain": "山区",
}


E = TypeVar("E", bound=StrEnum)


def parse_enum(enum: type[E], value: object, field: str) -> E:
    """Parse ``value`` into ``enum`` or raise a ``ValidationError`` naming ``field``."""
    member = enum._value2member_map_.get(value)  # the common case: already the exact value
    if member is not None:
        return member  # type: ignore[return-value]
    try:
        return enum(str(value).strip().lower())
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        raise ValidationError(
            f"{field} must be one of {allowed}",
            code="invalid_choice",
            details=[{"field": field, "message": f"one of {allowed}", "value": str(value)}],
        ) from None
