"""Money as Decimal: parsed from strings, quantised to the fen at each line, summed as rounded lines."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from postalops.errors import ValidationError

FEN = Decimal("0.01")
ZERO = Decimal("0.00")


def to_money(raw: object, *, field: str = "amount") -> Decimal:
    """Parse ``raw`` (str, int or Decimal; never float) into yuan quantised to the fen.

    Floats are refused: a float has already lost the fen it was meant to carry.
    """
    if isinstance(raw, bool) or isinstance(raw, float):
        raise ValidationError(
            f"{field} must be a decimal string, not a float",
            code="money_not_decimal",
            details=[{"field": field, "message": 'send money as a string such as "12.50"'}],
        )
    try:
        value = Decimal(str(raw).strip())
    except (InvalidOperation, ValueError):
        raise ValidationError(
            f"{field} is not a number: {raw!r}",
            code="money_invalid",
            details=[{"field": field, "message": "not a number"}],
        ) from None
    if not value.is_finite():
        raise ValidationError(
            f"{field} is not finite", code="money_invalid", details=[{"field": field}]
        )
    return value.quantize(FEN, rounding=ROUND_HALF_UP)


def line_amount(unit_price: Decimal, quantity: int) -> Decimal:
    """One order line's amount, rounded to the fen (the unit that is summed)."""
    return (unit_price * quantity).quantize(FEN, rounding=ROUND_HALF_UP)


def sum_lines(amounts: list[Decimal]) -> Decimal:
    """Sum of already-rounded line amounts; the total is never rounded again."""
    return sum(amounts, ZERO)
