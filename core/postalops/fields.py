"""Field types for API request models, shared by the core and every plugin.

Use them where a plain ``int``, ``Decimal`` or ``str`` would let a value through that the
database cannot hold or that means nothing::

    from postalops.fields import Money, WebhookUrl

    class RepaymentIn(BaseModel):
        amount: Money              # "866000.00": at most 16 digits before the point, 2 after
        webhook_url: WebhookUrl | None = None

The API layer also bounds every integer of a JSON body or query to a signed 64-bit value and
refuses numbers where a date is expected (``{"as_of": 0}``); see :mod:`postalops.api`.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import BeforeValidator, Field, WithJsonSchema

__all__ = [
    "Money",
    "WebhookUrl",
    "parse_money",
]


INT64_MAX = 2**63 - 1
"""The largest id or count a BIGINT column (and SQLite's INTEGER) holds."""

MONEY_DIGITS = 18
MONEY_PLACES = 2
"""The core's money column is NUMERIC(18, 2) (:class:`postalops.db.Money`)."""


def parse_money(
    value: Any, *, digits: int = MONEY_DIGITS, places: int = MONEY_PLACES, field: str = "amount"
) -> Decimal:
    """A JSON amount (decimal string or integer, never a float) as an exact ``Decimal`` that
    fits NUMERIC(digits, places). Raises ``ValueError`` (pydantic names the field)."""
    if isinstance(value, bool | float) or not isinstance(value, str | int | Decimal):
        raise ValueError(f'{field} must be a decimal string, e.g. "866000.00"')
    try:
        amount = Decimal(value.strip() if isinstance(value, str) else value)
    except (InvalidOperation, ValueError):
        raise ValueError(f"{field} is not a number: {value!r}") from None
    if not amount.is_finite():
        raise ValueError(f"{field} is not a finite number")
    _, figures, exponent = amount.as_tuple()
    assert isinstance(exponent, int)  # finite
    if amount != 0 and len(figures) + exponent > digits - places:
        raise ValueError(f"{field} is too large: at most {digits - places} digits before the point")
    step = Decimal(1).scaleb(-places)
    if -exponent > places and amount != amount.quantize(step):
        raise ValueError(f"{field} has more than {places} decimals")
    return amount.quantize(step)


def _money(value: Any) -> Decimal:
    return parse_money(value)


Money = Annotated[
    Decimal,
    BeforeValidator(_money),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^-?\d{1,16}(\.\d{1,2})?$",
            "examples": ["866000.00"],
            "description": "yuan as a decimal string, at most 2 decimals",
        }
    ),
]
"""A signed amount of yuan: NUMERIC(18, 2), sent as a decimal string."""


def _webhook_url(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("a webhook URL must be a string")
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http(s) URL with a host, e.g. https://ops.example/hook")
    return value.strip()


WebhookUrl = Annotated[
    str,
    BeforeValidator(_webhook_url),
    Field(max_length=500, json_schema_extra={"format": "uri"}),
]
"""An absolute http(s) URL (where the platform posts notifications)."""
