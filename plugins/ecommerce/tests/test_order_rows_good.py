"""A plainly good order is read the short way (issue 17 §4); the result must be exactly what the
field-by-field reading gives, and any other order must get that reading's answer.

Orders are built from good ones with fields replaced by variants: canonical, valid but not
canonical (numbers as text, padded codes, amounts with more than two decimals, a declared
amount), and invalid.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from postalops_ecommerce.order_rows import (
    RowErrors,
    _good_order,
    _parse_each,
    parse_numbered,
    parse_order,
)

GROUPBUY = {
    "order_no": "YL1",
    "channel": "groupbuy",
    "paid_at": "2022-08-31T16:30:00+08:00",
    "leader": "L1",
    "session": "S1",
    "lines": [{"sku": "A", "quantity": 3, "unit_price": "19.90"}],
}
RETAIL = {
    "order_no": "YL2",
    "channel": "retail",
    "paid_at": "2022-08-31T08:30:00Z",
    "branch": "cn.hebei.handan.station1",
    "lines": [{"sku": "P9", "quantity": 1, "unit_price": "2.90"}],
}

ORDER_VARIANTS = {
    "order_no": ["YL9", " YL9 ", "", "   ", None, 123, True, "x" * 64, "x" * 65],
    "channel": ["retail", "groupbuy", "Retail", "", None],
    "paid_at": [
        "2022-08-31 16:30",
        "2022-08-31T16:30:00Z",
        " 2022-08-31T08:30:00+00:00 ",
        "31/08/2022",
        "",
        None,
        20220831,
    ],
    "branch": ["cn.hebei.handan.station2", " cn.x ", "", None, 7, "b" * 65],
    "leader": ["L2", " L2", "", None, 42, False],
    "session": ["S2", "", None, "s" * 64, "s" * 65],
    "pickup_point": ["PP1", "", None, "  PP2  ", ["PP1"]],
    "campaign": ["919", "", None, 919],
    "amount": [None, "59.70", "59.7", "59.699", "2.90", "0", 59.7, "abc", 3],
    "lines": [[], None, "A", [{"sku": "A", "quantity": 1, "unit_price": "1.00"}] * 2],
}
LINE_VARIANTS = {
    "sku": ["B", " B ", "", None, 5, "s" * 65],
    "quantity": [1, 2, 0, -1, "2", " 3 ", True, 1.0, None],
    "unit_price": [
        "19.90",
        "19.9",
        "19.905",
        "19.904",
        " 5.05 ",
        "0",
        "-1",
        "0.001",
        "1e2",
        "NaN",
        "Infinity",
        "1_000",
        19.9,
        5,
        None,
        "",
        "abc",
    ],
}


@st.composite
def orders(draw: st.DrawFn) -> object:
    order = dict(draw(st.sampled_from([GROUPBUY, RETAIL])))
    order["lines"] = [dict(line) for line in order["lines"]]
    for name in draw(st.sets(st.sampled_from(sorted(ORDER_VARIANTS)), max_size=3)):
        value = draw(st.sampled_from(ORDER_VARIANTS[name]))
        if value is None and draw(st.booleans()):
            order.pop(name, None)
        else:
            order[name] = value
    if isinstance(order.get("lines"), list) and order["lines"]:
        line = dict(order["lines"][0])
        for name in draw(st.sets(st.sampled_from(sorted(LINE_VARIANTS)), max_size=2)):
            line[name] = draw(st.sampled_from(LINE_VARIANTS[name]))
        order["lines"] = [line, *order["lines"][1:]]
    return order if draw(st.integers(0, 30)) else draw(st.sampled_from([None, [order], "x"]))


def _answer(read, raw):
    try:
        return read(raw)
    except RowErrors as exc:
        return ("refused", exc.details)


@settings(max_examples=800, deadline=None)
@given(orders())
def test_an_order_reads_the_same_the_short_way_and_field_by_field(raw):
    good = _good_order(raw)
    each = _answer(lambda r: _parse_each(r, 5), raw)
    if good is not None:
        assert good == each
        assert good.amount == each.amount and good.day == each.day
    assert _answer(lambda r: parse_order(r, 5), raw) == each


@pytest.mark.parametrize("order", [GROUPBUY, RETAIL])
def test_canonical_orders_take_the_short_way(order):
    assert _good_order(order) == _parse_each(order, 1)
    assert _good_order({**order, "amount": "59.70" if order is GROUPBUY else "2.90"}) is not None


def test_a_batch_still_reports_every_bad_field_of_a_bad_order():
    bad = {**RETAIL, "order_no": "YL3", "branch": None, "lines": [{"sku": "", "quantity": 0}]}
    valid, errors = parse_numbered([(0, GROUPBUY), (1, bad)])
    assert [row for row, _ in valid] == [0]
    assert valid[0][1].amount == Decimal("59.70")
    assert errors == [
        {
            "row": 1,
            "errors": [
                {"row": 1, "field": "branch", "message": "required for retail orders"},
                {"row": 1, "field": "sku", "message": "required"},  # as before: not the line
                {"row": 1, "field": "lines[0].quantity", "message": "a whole number ≥ 1"},
            ],
        }
    ]
