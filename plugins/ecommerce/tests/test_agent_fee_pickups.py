"""Issue 19 §3: a verified pickup (核销) makes the order picked up, which the pickup-point agent
fee counts. ecommerce answers the core's ``postalops_picked_up_items`` hook; pickup_points' fee
(``GET /api/v1/pickup_points/agent-fees``) adds those orders to each point's items, under
ecommerce's own cut (units where ecommerce is off are out of its reach), and says when ecommerce
is off. Hand-computed: PP-1 is paid 0.50 per item from 1 Aug 2022, PP-2 has no agreement."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from postalops_ecommerce.models import Pickup
from sqlmodel import select

HEBEI_BRANCH = "cn.hebei.shijiazhuang"


def code_of(eshop, order_no):
    return eshop.get(f"/api/v1/ecommerce/orders/{order_no}/pickup-code").get_json()["pickup_code"]


@pytest.fixture
def picked_up(po_app, world, hebei_points, ecom, make_token, as_unit):
    from postalops_pickup_points.models import PickupPoint

    with as_unit(None) as s:
        pp1 = s.exec(select(PickupPoint).where(PickupPoint.code == "PP-1")).one()
        pp1.agent_fee, pp1.agent_fee_from = Decimal("0.50"), dt.date(2022, 8, 1)
        s.commit()
    eshop = make_token("cn.hebei", "ecommerce.ingest")
    batch = [
        ecom.order("A1"),
        ecom.order("A2"),
        ecom.order("A3"),  # never picked up: not counted
        ecom.order("B1", leader="HB-L2", session="HB-S2"),  # HB-L2 collects at PP-2
    ]
    assert eshop.post("/api/v1/ecommerce/orders", json=batch).status_code == 200
    for order_no, point, when in [
        ("A1", "PP-1", "2022-09-02T10:00:00+08:00"),
        ("A2", "PP-1", "2022-09-03T19:00:00+08:00"),
        ("B1", "PP-2", "2022-09-02T11:00:00+08:00"),
    ]:
        agent = make_token("cn.hebei", "ecommerce.pickup", subject=f"pickup_point:{point}")
        r = agent.post(
            "/api/v1/ecommerce/pickups",
            json={"code": code_of(eshop, order_no), "verified_at": when},
        )
        assert r.status_code == 201, r.get_json()
    return make_token("cn.hebei", "pickup_points.view", "core.journal.read")


def fees(api, month="2022-09"):
    r = api.get(f"/api/v1/pickup_points/agent-fees?tenant=cn.hebei&month={month}")
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def test_verified_group_buy_orders_count_in_the_points_agent_fee(po_app, picked_up):
    body = fees(picked_up)
    # PP-1: A1 (2 Sep) and A2 (3 Sep) picked up: 2 x 0.50 = 1.00
    # PP-2: B1 picked up, but PP-2 has no agreement: 1 item without one, 0.00
    assert [
        (p["code"], p["items"], p["items_without_agreement"], p["fee_per_item"], p["fee"])
        for p in body["points"]
    ] == [
        ("PP-1", {"ecommerce": 2}, 0, "0.50", "1.00"),
        ("PP-2", {"ecommerce": 1}, 1, None, "0.00"),
    ]
    assert body["total"] == {"items": {"ecommerce": 3}, "items_total": 3, "fee": "1.00"}
    assert body["sources"] == {"pickup_points": "counted", "ecommerce": "counted"}
    assert body["notes"] == [] and body["unmatched"] == []
    # August has none of them: PP-1 listed for its agreement, nothing due
    assert [
        (p["code"], p["items_total"], p["fee"]) for p in fees(picked_up, "2022-08")["points"]
    ] == [("PP-1", 0, "0.00")]
    # the accrual voucher on 30 Sep balances: Dr 6601 1.00 / Cr 2241 1.00
    j = picked_up.get("/api/v1/journal?tenant=cn.hebei&from=2022-09-01&to=2022-09-30").get_json()
    mine = [v for v in j["items"] if v["plugin"] == "pickup_points"]
    assert [(v["date"], v["unit"], v["debit"], v["credit"], v["balanced"]) for v in mine] == [
        ("2022-09-30", HEBEI_BRANCH, "1.00", "1.00", True)
    ]
    assert [(ln["code"], ln["debit"], ln["credit"]) for ln in mine[0]["lines"]] == [
        ("6601", "1.00", "0.00"),
        ("2241", "0.00", "1.00"),
    ]


def test_the_hook_runs_under_ecommerce_s_cut_and_says_when_ecommerce_is_off(
    po_app, picked_up, enable_plugin
):
    # ecommerce off at Shijiazhuang only: still on at Hebei, but its cut hides the branch where
    # all three pickups are, so none counts (PP-1 stays listed for its agreement)
    enable_plugin("ecommerce", HEBEI_BRANCH, on=False)
    body = fees(picked_up)
    assert [(p["code"], p["items"], p["fee"]) for p in body["points"]] == [("PP-1", {}, "0.00")]
    assert body["sources"] == {"pickup_points": "counted", "ecommerce": "counted"}
    # ecommerce off at Hebei: the fee counts what pickup_points knows, and says so
    enable_plugin("ecommerce", HEBEI_BRANCH, on=True)
    enable_plugin("ecommerce", "cn.hebei", on=False)
    body = fees(picked_up)
    assert body["sources"] == {"pickup_points": "counted", "ecommerce": "off"}
    assert [n["zh"] for n in body["notes"]] == [
        "电商节插件在本单位未启用：其自提核销的订单未计入代办费。"
    ]
    assert body["total"]["fee"] == "0.00"
    # back on: the three pickups count again (nothing was lost)
    enable_plugin("ecommerce", "cn.hebei", on=True)
    assert fees(picked_up)["total"]["items"] == {"ecommerce": 3}


def test_the_hook_answer_per_point_unit_and_day(po_app, picked_up, as_unit):
    from postalops import context
    from postalops.plugins import picked_up_items
    from postalops.testing import system_context

    with context.activate(system_context(po_app, "cn.hebei")) as ctx:
        found = picked_up_items(
            ctx.session, "cn.hebei", dt.date(2022, 9, 1), dt.date(2022, 9, 30),
            registry=po_app.extensions["postalops.plugins"],
        )  # fmt: skip
    assert found.rows["ecommerce"] == [
        {"pickup_point": "PP-1", "unit": HEBEI_BRANCH, "day": dt.date(2022, 9, 2), "items": 1},
        {"pickup_point": "PP-1", "unit": HEBEI_BRANCH, "day": dt.date(2022, 9, 3), "items": 1},
        {"pickup_point": "PP-2", "unit": HEBEI_BRANCH, "day": dt.date(2022, 9, 2), "items": 1},
    ]
    assert found.total() == 3
    with as_unit(None) as s:
        assert len(s.exec(select(Pickup)).all()) == 3
