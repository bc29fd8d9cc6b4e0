"""Money as ``Decimal`` yuan: the one set of helpers the core and every plugin use.

Amounts are quantised to the fen (0.01) half-up at each line; a total is the exact sum of rounded
lines, never rounded again. Floats never carry money (a float has already lost the fen it was
meant to carry)::

    from postalops.money import parse_amount, to_fen, line_amount, sum_lines

    price = parse_amount(row["unit_price"], "unit_price", extra_places="round")
    total = sum_lines([line_amount(price, 3), to_fen(Decimal("2.005"))])

:func:`parse_amount` reads a value sent by a client (JSON, CSV, a form) and raises
``ValidationError`` (422) naming the field; ``postalops.fields.Money`` is the pydantic field type
for request bodies.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from .errors import ValidationError

__all__ = [
    "FEN",
    "ZERO",
    "to_fen",
    "floor_to",
    "line_amount",
    "sum_lines",
    "parse_amount",
]

FEN = Decimal("0.01")
"""One fen (分), the unit every amount is quantised to."""

ZERO = Decimal("0.00")
"""Zero yuan, to the fen (the start of a sum)."""


def to_fen(value: Decimal) -> Decimal:
    """Round to the fen, half up: the only rounding an amount or a line gets."""
    return value.quantize(FEN, rounding=ROUND_HALF_UP)


def floor_to(value: Decimal, unit: Decimal) -> Decimal:
    """Round down to a multiple of ``unit`` (e.g. a credit line granted in whole 1,000s)."""
    return (value / unit).to_integral_value(rounding=ROUND_DOWN) * unit


def line_amount(unit_price: Decimal, quantity: int) -> Decimal:
    """One line's amount, price times quantity rounded to the fen (the unit that is summed)."""
    return to_fen(unit_price * quantity)


def sum_lines(amounts: Iterable[Decimal]) -> Decimal:
    """The sum of already-rounded line amounts; the total is never rounded again."""
    return sum(amounts, ZERO)


def parse_amount(
    value: Any,
    field: str = "amount",
    *,
    extra_places: str = "refuse",
    minimum: Decimal | None = None,
    allow_zero: bool = True,
    allow_float: bool = False,
    code: str = "invalid_amount",
    float_code: str | None = None,
) -> Decimal:
    """A client's amount (decimal string, int or Decimal) as yuan to the fen.

    Refused with ``ValidationError`` (``code``, the detail naming ``field``): a bool; a float
    (``float_code``, default ``code``) unless ``allow_float`` (then read through ``str``);
    anything not a finite number; below ``minimum``; zero when not ``allow_zero``; more than two
    decimals when ``extra_places="refuse"`` (``"round"`` rounds them half up instead).
    """

    def refuse(message: str, detail: str, error_code: str = code) -> ValidationError:
        return ValidationError(
            message, code=error_code, details=[{"field": field, "message": detail}]
        )

    if isinstance(value, bool) or (isinstance(value, float) and not allow_float):
        raise refuse(
            f"{field} must be a decimal string, not a float",
            'send amounts as strings, e.g. "12.50"',
            float_code or code,
        )
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise refuse(f"{field} is not a number", f"not a number: {value!r}") from None
    if not amount.is_finite():
        raise refuse(f"{field} is not a finite number", "not finite")
    if amount != amount.quantize(FEN):
        if extra_places != "round":
            raise refuse(f"{field} has more than two decimals", "at most 2 decimals (fen)")
        amount = to_fen(amount)
    if minimum is not None and amount < minimum:
        raise refuse(f"{field} must be at least {minimum}", f"must be >= {minimum}")
    if amount == 0 and not allow_zero:
        raise refuse(f"{field} must be positive", "must be > 0")
    return amount.quantize(FEN)
