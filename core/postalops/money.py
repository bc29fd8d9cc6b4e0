"""Money as ``Decimal`` yuan: the one set of helpers the core and every plugin use.

Amounts are quantised to the fen (0.01) half-up at each line; a total is the exact sum of rounded
lines, never rounded again. Floats never carry money (a float has already lost the fen it was
meant to carry)::

    from postalops.money import parse_amount, to_fen, line_amount, sum_lines

    price = parse_amount(row["unit_price"], "unit_price", extra_places="round")
    total = sum_lines([line_amount(price, 3), to_fen(Decimal("2.005"))])

:func:`parse_amount` reads a value sent by a client (JSON, CSV, a form) and raises
``ValidationError`` (422) naming the field; ``postalops.fields.Money`` is the pydantic field type
for request bodies. :func:`parse_decimal` reads a value that is not an amount (a rate, a
fraction) at its own precision; :func:`to_ratio` rounds a ratio or per-item figure for
reporting. :func:`sum_money` sums a money column exactly in SQL on either backend (SQLite sums
integer fen) and :func:`money_value` reads the result back::

    total = money_value(session, session.exec(select(sum_money(session, Slip.total))).one())
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa

from .errors import ValidationError

__all__ = [
    "FEN",
    "ZERO",
    "RATIO_PLACES",
    "to_fen",
    "to_ratio",
    "floor_to",
    "line_amount",
    "sum_lines",
    "parse_amount",
    "parse_decimal",
    "fen_of",
    "sum_money",
    "money_value",
]

FEN = Decimal("0.01")
"""One fen (分), the unit every amount is quantised to."""

ZERO = Decimal("0.00")
"""Zero yuan, to the fen (the start of a sum)."""


RATIO_PLACES = Decimal("0.0001")
"""Four decimal places, what a ratio or per-item figure is reported to."""


def to_fen(value: Decimal) -> Decimal:
    """Round to the fen, half up: the only rounding an amount or a line gets."""
    return value.quantize(FEN, rounding=ROUND_HALF_UP)


def to_ratio(value: Decimal) -> Decimal:
    """Round a ratio or per-item figure half up to four places, for reporting."""
    return value.quantize(RATIO_PLACES, rounding=ROUND_HALF_UP)


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


def parse_decimal(
    value: Any,
    field: str,
    *,
    minimum: Decimal | None = Decimal("0"),
    allow_none: bool = False,
) -> Decimal | None:
    """A client's decimal that is not an amount (a rate, a fraction, a quota) at its own
    precision, from JSON, CSV or a form.

    A float is read through its shortest ``repr`` (``1.1`` -> ``Decimal("1.1")``), so a JSON
    number brings no binary noise. Refused with ``ValidationError`` naming ``field``: empty
    (``required``, unless ``allow_none``: then ``None``), a bool or anything not a finite
    number (``not_a_number``), below ``minimum`` (``out_of_range``; ``None``: no minimum).
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        if allow_none:
            return None
        raise ValidationError(
            f"{field} is required",
            code="required",
            details=[{"field": field, "message": "required"}],
        )

    def not_a_number() -> ValidationError:
        return ValidationError(
            f"{field} is not a number",
            code="not_a_number",
            details=[{"field": field, "message": "not a number", "value": str(value)}],
        )

    if isinstance(value, bool):
        raise not_a_number()
    try:
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value).strip())
    except InvalidOperation:
        raise not_a_number() from None
    if not number.is_finite():
        raise not_a_number()
    if minimum is not None and number < minimum:
        raise ValidationError(
            f"{field} must be at least {minimum}",
            code="out_of_range",
            details=[{"field": field, "message": f"must be >= {minimum}", "value": str(value)}],
        )
    return number


# --- money in SQL -------------------------------------------------------------------------------
# SUM over NUMERIC is exact on PostgreSQL; SQLite keeps money as exact text (``db.Money``), so
# there every sum is taken over whole fen, an integer, and no float ever touches money.


def _on_sqlite(session: Any) -> bool:
    return bool(session.get_bind().dialect.name == "sqlite")


def fen_of(session: Any, column: Any) -> Any:
    """SQL for a money column in whole fen (an integer) on either backend."""
    if _on_sqlite(session):
        return sa.cast(sa.func.round(sa.cast(column, sa.Numeric) * 100), sa.Integer)
    return sa.cast(sa.func.round(column * 100), sa.BigInteger)


def sum_money(session: Any, column: Any) -> Any:
    """SQL: the SUM of a money column, exact on both backends (SQLite sums integer fen); 0 when
    there are no rows. Read the result with :func:`money_value`."""
    if _on_sqlite(session):
        return sa.func.coalesce(sa.func.sum(fen_of(session, column)), 0)
    return sa.func.coalesce(sa.func.sum(column), 0)


def money_value(session: Any, value: Any) -> Decimal:
    """The ``Decimal`` yuan of a :func:`sum_money` result, to the fen."""
    if _on_sqlite(session):
        return (Decimal(int(value or 0)) / 100).quantize(FEN)
    return Decimal(str(value or 0)).quantize(FEN)
