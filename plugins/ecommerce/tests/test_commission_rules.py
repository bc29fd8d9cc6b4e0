"""commission.py's rules by hand-computed tables (no database)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
from postalops_ecommerce import commission as c

AUG1, SEP1, OCT1 = dt.date(2022, 8, 1), dt.date(2022, 9, 1), dt.date(2022, 10, 1)
RATES = [
    c.Rate("cn.hebei", "", "dried_fruit", D("0.05"), AUG1),
    c.Rate("cn.hebei", "P1", "", D("0.08"), SEP1),
    c.Rate("cn.hebei.shijiazhuang", "", "dried_fruit", D("0.06"), AUG1),  # nearer the branch
    c.Rate("cn.hebei", "", "fresh_produce", D("0.10"), AUG1),
    c.Rate("cn.hebei", "", "fresh_produce", D("0.12"), OCT1),
    c.Rate("cn.henan", "", "fresh_produce", D("0.50"), AUG1),  # another province: never here
]
SJZ = "cn.hebei.shijiazhuang.station1"
BD = "cn.hebei.baoding.station1"


@pytest.mark.parametrize(
    ("branch", "sku", "category", "day", "rate"),
    [
        (BD, "P2", "dried_fruit", dt.date(2022, 8, 31), "0.05"),  # the province's category rate
        (SJZ, "P2", "dried_fruit", dt.date(2022, 8, 31), "0.06"),  # the city's, nearer
        (BD, "P1", "dried_fruit", dt.date(2022, 8, 31), "0.05"),  # P1's own rate not yet in force
        (SJZ, "P1", "dried_fruit", SEP1, "0.08"),  # a product's rate beats any category's
        (BD, "P3", "fresh_produce", dt.date(2022, 9, 30), "0.10"),
        (BD, "P3", "fresh_produce", OCT1, "0.12"),  # effective-dated
        (BD, "P4", "seasonings", OCT1, "0"),  # no rate: no commission
        (BD, "P3", "fresh_produce", dt.date(2022, 7, 31), "0"),  # before any rate
    ],
)
def test_the_rate_in_force(branch, sku, category, day, rate):
    assert c.rate_for(RATES, branch, sku, category, day) == D(rate)


def test_an_orders_commission_is_the_sum_of_its_rounded_lines():
    lines = [
        c.Line("P1", "dried_fruit", D("37.50")),  # × 0.08 = 3.00
        c.Line("P3", "fresh_produce", D("19.99")),  # × 0.10 = 1.999 -> 2.00
        c.Line("P5", "fresh_produce", D("0.05")),  # × 0.10 = 0.005 -> 0.01 (half up)
    ]
    assert c.order_commission(RATES, BD, lines, SEP1) == D("5.01")


@pytest.mark.parametrize(
    ("commission", "amount", "net", "earned"),
    [
        ("5.00", "57.49", "57.49", "5.00"),  # nothing refunded
        ("5.00", "57.49", "37.50", "3.26"),  # 5.00 × 37.50 / 57.49 = 3.2614…
        ("1.78", "17.76", "8.88", "0.89"),  # half refunded
        ("0.01", "10.00", "5.00", "0.01"),  # 0.005 rounds half up
        ("5.00", "57.49", "0.00", "0.00"),  # refunded in full or cancelled
    ],
)
def test_what_an_order_has_earned_after_refunds(commission, amount, net, earned):
    assert c.earned(D(commission), D(amount), D(net)) == D(earned)


def test_statement_lines_earn_new_orders_and_claw_back_refunds_after_settlement():
    day = dt.date(2022, 10, 10)
    dues = [
        c.Due(1, "A1", dt.date(2022, 9, 5), D("37.50"), D("3.26"), D("5.00")),  # settled 5.00
        c.Due(2, "A2", dt.date(2022, 9, 30), D("17.76"), D("1.78"), D("1.78")),  # unchanged
        c.Due(4, "A4", day, D("19.99"), D("2.40"), D("0.00")),  # new
    ]
    lines = c.statement_lines(dues)
    assert [(ln.order_no, ln.kind, ln.commission) for ln in lines] == [
        ("A1", "clawback", D("-1.74")),
        ("A4", "earned", D("2.40")),
    ]
    assert c.totals(lines, D("-0.30")) == {
        "earned": D("2.40"), "clawback": D("-1.74"), "carried": D("-0.30"),
        "payable": D("0.36"),  # 2.40 − 1.74 − 0.30
    }  # fmt: skip


def test_month_bounds_and_pickup_codes():
    assert c.month_bounds("2022-02") == (dt.date(2022, 2, 1), dt.date(2022, 2, 28))
    assert c.month_bounds("2022-12") == (dt.date(2022, 12, 1), dt.date(2022, 12, 31))
    code = c.pickup_code("secret", 1234, "A1")
    assert code.startswith("1234-") and len(code) == 11
    assert c.code_order_id(code) == 1234 and c.code_order_id(code.replace("-", " ")) == 1234
    assert c.code_matches("secret", code, 1234, "A1")
    assert not c.code_matches("other secret", code, 1234, "A1")
    assert not c.code_matches("secret", code, 1234, "A2")
    assert c.code_order_id("123456") is None and c.code_order_id("12ab-345678") is None
