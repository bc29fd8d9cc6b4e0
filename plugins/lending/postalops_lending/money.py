"""lending's reading of a client's amount; the money helpers are the core's (postalops.money).

Amounts are ``Decimal`` yuan to the fen, rounded half up at each line (``postalops.money.to_fen``);
totals are sums of rounded lines. Rates are annual fractions (0.0435, not 4.35).
"""

from __future__ import annotations

from decimal import Decimal

from postalops import money


def parse_amount(value: object, field: str, *, allow_zero: bool = False) -> Decimal:
    """Parse a JSON amount (string or int; never float) into fen-exact Decimal.

    Raises ValidationError (``invalid_amount``) naming ``field`` for floats, garbage, negatives,
    zero unless ``allow_zero``, or more than two decimals, so a client cannot smuggle in
    0.1 + 0.2 rounding.
    """
    return money.parse_amount(value, field, minimum=money.ZERO, allow_zero=allow_zero)
