"""Money and ratio values: Decimal only, rounded half-up to the fen at each line."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from postalops.errors import ValidationError
from sqlmodel import Session

FEN = Decimal("0.01")
ZERO = Decimal("0")
RATIO_PLACES = Decimal("0.0001")


def to_fen(amount: Decimal) -> Decimal:
    """Round an amount half-up to the fen (0.01 yuan); the only rounding a pay line gets."""
    return amount.quantize(FEN, rounding=ROUND_HALF_UP)


def to_ratio(value: Decimal) -> Decimal:
    """Round a ratio or per-item figure half-up to four places for reporting."""
    return value.quantize(RATIO_PLACES, rounding=ROUND_HALF_UP)


def parse_decimal(
    value: object, field: str, *, minimum: Decimal | None = ZERO, allow_none: bool = False
) -> Decimal | None:
    """Parse a money/rate value from JSON, CSV or a form into a Decimal.

    Floats are accepted through their shortest ``repr`` (``1.1`` -> ``Decimal("1.1")``) so a
    JSON number never brings binary noise into pay. Raises ``ValidationError`` naming ``field``.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        if allow_none:
            return None
        raise ValidationError(
            f"{field} is required",
            code="required",
            details=[{"field": field, "message": "required"}],
        )
    if isinstance(value, bool):
        raise _not_a_number(field, value)
    try:
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value).strip())
    except InvalidOperation:
        raise _not_a_number(field, value) from None
    if not number.is_finite():
        raise _not_a_number(field, value)
    if minimum is not None and number < minimum:
        raise ValidationError(
            f"{field} must be at least {minimum}",
            code="out_of_range",
            details=[{"field": field, "message": f"must be >= {minimum}", "value": str(value)}],
        )
    return number


def _not_a_number(field: str, value: object) -> ValidationError:
    return ValidationError(
        f"{field} is not a number",
        code="not_a_number",
        details=[{"field": field, "message": "not a number", "value": str(value)}],
    )


# --- money in SQL -------------------------------------------------------------------------------
# SUM over NUMERIC is exact on PostgreSQL; SQLite keeps money as exact text (``Money``), so there
# every sum is taken over whole fen, an integer, and no float ever touches money.


def fen_of(session: Session, column: Any) -> Any:
    """SQL for a money column in whole fen (an integer) on either backend."""
    if session.get_bind().dialect.name == "sqlite":
        return sa.cast(sa.func.round(sa.cast(column, sa.Numeric) * 100), sa.Integer)
    return sa.cast(sa.func.round(column * 100), sa.BigInteger)


def sum_money(session: Session, column: Any) -> Any:
    """SUM of a money column, exact on both backends (SQLite sums integer fen); 0 when empty."""
    if session.get_bind().dialect.name == "sqlite":
        return sa.func.coalesce(sa.func.sum(fen_of(session, column)), 0)
    return sa.func.coalesce(sa.func.sum(column), 0)


def money_value(session: Session, value: Any) -> Decimal:
    """The Decimal of a :func:`sum_money` result, to the fen."""
    if session.get_bind().dialect.name == "sqlite":
        return (Decimal(int(value or 0)) / 100).quantize(FEN)
    return Decimal(str(value or 0)).quantize(FEN)
