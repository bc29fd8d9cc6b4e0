"""Agent-fee agreements (代办费/代投费) with pickup-point operators.

DOMAIN.md §2: the agent fee for an item handed to a pickup point is paid by the company but
taken out of the courier's delivery fee, so the company pays nothing extra: agent fee + courier
fee for a pickup-point item must not exceed the courier's piece rate for door delivery.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from postalops.errors import ValidationError
from postalops.money import ZERO, parse_amount, to_fen


def money(value, field: str) -> Decimal:
    """A non-negative amount in yuan, rounded half up to the fen; errors (422
    ``invalid_amount``) name ``field`` in one wording, which the import page translates. A float
    from a spreadsheet is read through ``str``."""
    try:
        return parse_amount(value, field, extra_places="round", minimum=ZERO, allow_float=True)
    except ValidationError:
        raise ValidationError(
            f"{field} must be a non-negative amount",
            code="invalid_amount",
            details=[{"field": field, "message": f"{value!r} is not a non-negative amount"}],
        ) from None


@dataclass(frozen=True)
class AgentFeeAgreement:
    fee_per_item: Decimal
    valid_from: dt.date
    valid_to: dt.date | None = None

    def __post_init__(self) -> None:
        if self.valid_to is not None and self.valid_to < self.valid_from:
            raise ValidationError(
                "agreement ends before it starts",
                code="invalid_period",
                details=[{"field": "agreement.valid_to", "message": "before valid_from"}],
            )

    def in_force(self, day: dt.date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


def check_within_door_rate(agent_fee: Decimal, courier_fee: Decimal, door_rate: Decimal) -> None:
    """Refuse an agreement whose fee plus the courier's fee exceeds the door piece rate."""
    if agent_fee + courier_fee > door_rate:
        raise ValidationError(
            "agent fee plus courier fee exceeds the door-delivery piece rate",
            code="agent_fee_too_high",
            details=[
                {
                    "field": "agreement.fee_per_item",
                    "message": f"{agent_fee} + {courier_fee} > {door_rate}",
                }
            ],
        )


def fees_due(items: int, agreement: AgentFeeAgreement) -> Decimal:
    """Agent fees for ``items`` handled: the per-item fee (already in cents) times the count."""
    return to_fen(agreement.fee_per_item * items)
