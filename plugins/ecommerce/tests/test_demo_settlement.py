"""The demo's commission part (demo_settlement.py) on a small world: rates, picked-up orders,
one approved and one pending statement, a session cancelled below its minimum; a re-run adds
nothing."""

from __future__ import annotations

from postalops import context
from postalops.testing import count_rows, system_context
from postalops_ecommerce.demo_settlement import build_settlement
from postalops_ecommerce.models import (
    CommissionRate,
    GroupSession,
    Order,
    Pickup,
    Refund,
    Statement,
)
from sqlmodel import select


def test_the_demo_adds_rates_pickups_statements_and_a_cancelled_session_once(
    po_app, world, ecom, make_token
):
    shop = make_token("cn.hebei", "ecommerce.catalogue")
    shop.post("/api/v1/ecommerce/merchants", json=[{"code": "M1", "name": "冀农优品"}])
    product = {"sku": "P1", "merchant": "M1", "name": "赞皇大枣", "category": "dried_fruit",
               "agreed_price": "10.00"}  # fmt: skip
    assert shop.post("/api/v1/ecommerce/products", json=[product]).status_code == 201
    eshop = make_token("cn.hebei", "ecommerce.ingest")
    batch = [ecom.order(f"A{i}") for i in range(3)] + [
        ecom.order(f"B{i}", leader="HB-L2", session="HB-S2") for i in range(2)
    ]
    assert eshop.post("/api/v1/ecommerce/orders", json=batch).status_code == 200
    with context.activate(system_context(po_app, "cn")) as ctx:
        first = build_settlement(ctx.session, lambda *a: None)
    assert first["pickups"] == 5
    assert sorted(first["statements"].values()) == ["approved", "pending"]
    assert first["threshold"]["state"] == "cancelled" and first["threshold"]["refunded"] == 2
    counts = {m: count_rows(po_app, m) for m in (CommissionRate, Pickup, Statement, Order, Refund)}
    assert counts[CommissionRate] == 6  # one per category (no featured product in this world)
    with context.activate(system_context(po_app, "cn")) as ctx:
        again = build_settlement(ctx.session, lambda *a: None)
        states = dict(ctx.session.exec(select(GroupSession.code, GroupSession.state)).all())
    assert again["pickups"] == 0 and again["statements"] == first["statements"]
    assert {m: count_rows(po_app, m) for m in counts} == counts
    assert states["HB-TH-0910"] == "cancelled"
