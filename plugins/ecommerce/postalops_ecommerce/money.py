"""ecommerce's reading of a client's amount; the money helpers are the core's (postalops.money)."""

from __future__ import annotations

from decimal import Decimal

from postalops.money import FEN as FEN  # still imported from here by ingest.py
from postalops.money import parse_amount


def to_money(raw: object, *, field: str = "amount") -> Decimal:
    """Parse ``raw`` (str, int or Decimal; never float) into yuan rounded half up to the fen.

    Errors (422) name ``field``: ``money_not_decimal`` for a float, ``money_invalid`` otherwise.
    """
    return parse_amount(
        raw, field, extra_places="round", code="money_invalid", float_code="money_not_decimal"
    )
