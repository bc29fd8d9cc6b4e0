"""Money and rate arithmetic shared by the lending rules.

Amounts are ``Decimal`` yuan quantised to the fen (0.01) with ROUND_HALF_UP at each line;
totals are sums of rounded lines. Rates are annual fractions (0.0435, not 4.35).
"""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation

from postalops.errors import ValidationError

FEN = Decimal("0.01")
ZERO = Decimal("0.00")


def fen(value: Decimal) -> Decimal:
    """Round to the fen, half up: the rounding every schedule and allocation line uses."""
    return value.quantize(FEN, rounding=ROUND_HALF_UP)


def floor_to(value: Decimal, unit: Decimal) -> Decimal:
    """Round down to a multiple of ``unit`` (credit lines are granted in whole units)."""
    return (value / unit).to_integral_value(rounding=ROUND_DOWN) * unit


def parse_amount(value: object, field: str, *, allow_zero: bool = False) -> Decimal:
    """Parse a JSON amount (string or int; never float) into fen-exact Decimal.

    Raises ValidationError naming ``field`` for floats, garbage, negatives, or more than
    two decimals, so a client cannot smuggle in 0.1 + 0.2 rounding.
    """
    if isinstance(value, bool) or isinstance(value, float):
        raise ValidationError(
            f"{field} must be a decimal string, not a float",
            code="invalid_amount",
            details=[{"field": field, "message": 'send amounts as strings, e.g. "866000.00"'}],
        )
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ValidationError(
            f"{field} is not a number",
            code="invalid_amount",
            details=[{"field": field, "message": f"not a number: {value!r}"}],
        ) from None
    if not amount.is_finite():
        raise ValidationError(
            f"{field} is not a finite number",
            code="invalid_amount",
            details=[{"field": field, "message": "not finite"}],
        )
    if amount != amount.quantize(FEN):
        raise ValidationError(
            f"{field} has more than two decimals",
            code="invalid_amount",
            details=[{"field": field, "message": "at most 2 decimals (fen)"}],
        )
    if amount < 0 or (amount == 0 and not allow_zero):
        raise ValidationError(
            f"{field} must be positive",
            code="invalid_amount",
            details=[{"field": field, "message": "must be > 0"}],
        )
    return amount.quantize(FEN)
