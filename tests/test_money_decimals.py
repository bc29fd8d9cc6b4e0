"""postalops.money beyond amounts: ratios to four places, decimals that are not amounts (rates,
fractions, quantities) and exact money sums in SQL on either backend (issue 18 §10: payroll's
own money module moved onto the core's)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
import sqlalchemy as sa
from postalops.errors import ValidationError
from postalops.money import fen_of, money_value, parse_decimal, sum_money, to_ratio
from sqlmodel import Session


def test_to_ratio_rounds_half_up_to_four_places():
    assert to_ratio(D("1.07125")) == D("1.0713")  # 5 in the fifth place rounds up
    assert str(to_ratio(D("2") / D("3"))) == "0.6667"  # 0.66666... -> 0.6667
    assert str(to_ratio(D("-0.00005"))) == "-0.0001"  # half away from zero
    assert str(to_ratio(D("1"))) == "1.0000"


def test_parse_decimal_reads_rates_at_any_precision_and_floats_by_their_repr():
    assert parse_decimal("0.585", "rate") == D("0.585")  # no quantising: a rate keeps its places
    assert parse_decimal(" 12 ", "rate") == D("12")
    assert parse_decimal(1.1, "rate") == D("1.1")  # repr(1.1) == "1.1": no binary noise
    assert parse_decimal(7, "rate") == D("7")
    assert parse_decimal(None, "rate", allow_none=True) is None
    assert parse_decimal("", "rate", allow_none=True) is None
    assert parse_decimal("-1", "delta", minimum=None) == D("-1")


@pytest.mark.parametrize(
    ("value", "code", "detail"),
    [
        (None, "required", {"field": "uplift", "message": "required"}),
        ("  ", "required", {"field": "uplift", "message": "required"}),
        (True, "not_a_number", {"field": "uplift", "message": "not a number", "value": "True"}),
        ("abc", "not_a_number", {"field": "uplift", "message": "not a number", "value": "abc"}),
        ("NaN", "not_a_number", {"field": "uplift", "message": "not a number", "value": "NaN"}),
        ("-0.01", "out_of_range", {"field": "uplift", "message": "must be >= 0", "value": "-0.01"}),
    ],
)
def test_parse_decimal_names_the_field_of_a_refused_value(value, code, detail):
    with pytest.raises(ValidationError) as raised:
        parse_decimal(value, "uplift")
    assert raised.value.code == code
    assert raised.value.details == [detail]


def test_a_minimum_other_than_zero():
    with pytest.raises(ValidationError) as raised:
        parse_decimal("0.5", "multiplier", minimum=D("1"))
    assert raised.value.details[0]["message"] == "must be >= 1"


def test_money_sums_in_sql_are_exact_to_the_fen(po_app):
    """0.10 + 0.20 + 1234567.89 = 1234568.19 (a float sum would give ...18.999...); on SQLite
    the sum is taken over integer fen, on PostgreSQL over NUMERIC."""
    engine = po_app.extensions["postalops.db"].engine
    amounts = ["0.10", "0.20", "1234567.89"]
    with Session(engine) as session:
        rows = sa.union_all(*(sa.select(sa.literal(a).label("amount")) for a in amounts)).subquery()
        dialect = session.get_bind().dialect.name
        column = rows.c.amount if dialect == "sqlite" else sa.cast(rows.c.amount, sa.Numeric)
        total = session.execute(sa.select(sum_money(session, column))).scalar_one()
        fen = session.execute(sa.select(fen_of(session, column)).limit(1)).scalar_one()
        empty = session.execute(
            sa.select(sum_money(session, column)).where(sa.false())
        ).scalar_one()
    assert money_value(session, total) == D("1234568.19")
    assert str(money_value(session, empty)) == "0.00"
    assert int(fen) == 10  # 0.10 yuan is 10 fen
