"""Issue 19 §3: pickup verification (核销) rules and the group threshold (成团), through the API
with tokens. Hand-computed: HB-S1 has a minimum the orders do not reach, so it is cancelled and
every order refunded in full through the same refund events the e-shop sends."""

from __future__ import annotations

from decimal import Decimal as D

from postalops.testing import count_rows
from postalops_ecommerce.models import Pickup, Refund

WHEN = "2022-09-02T10:00:00+08:00"


def code_of(eshop, order_no):
    resp = eshop.get(f"/api/v1/ecommerce/orders/{order_no}/pickup-code")
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["pickup_code"]


def error(resp):
    return (
        resp.status_code,
        resp.get_json()["error"]["code"],
        [d.get("field") for d in resp.get_json()["error"]["details"]],
    )


def test_a_code_is_verified_once_at_its_own_point(po_app, world, ecom, make_token):
    eshop = make_token("cn.hebei", "ecommerce.ingest")
    assert (
        eshop.post(
            "/api/v1/ecommerce/orders", json=[ecom.order("A1"), ecom.order("A2")]
        ).status_code
        == 200
    )
    code = code_of(eshop, "A1")  # HB-L1's group collects at PP-1
    assert code.split("-")[0].isdigit() and len(code.split("-")[1]) == 6
    pp1 = make_token("cn.hebei", "ecommerce.pickup", subject="pickup_point:PP-1")
    pp2 = make_token("cn.hebei", "ecommerce.pickup", subject="pickup_point:PP-2")
    staff = make_token("cn.hebei", "ecommerce.pickup")  # not bound to a point: names it

    wrong = pp2.post("/api/v1/ecommerce/pickups", json={"code": code, "verified_at": WHEN})
    assert error(wrong) == (422, "wrong_pickup_point", ["pickup_point"])
    assert "PP-1" in wrong.get_json()["error"]["message"]
    unnamed = staff.post("/api/v1/ecommerce/pickups", json={"code": code})
    assert error(unnamed) == (422, "pickup_point_required", ["pickup_point"])
    other = pp1.post("/api/v1/ecommerce/pickups", json={"code": code, "pickup_point": "PP-2"})
    assert error(other) == (422, "wrong_pickup_point", ["pickup_point"])
    for bad in (
        "12345",
        "abc",
        code[:-1] + str((int(code[-1]) + 1) % 10),
        code_of(eshop, "A2")[:-6] + code[-6:],
    ):
        resp = pp1.post("/api/v1/ecommerce/pickups", json={"code": bad})
        assert error(resp) == (422, "pickup_code_invalid", ["code"]), bad
    future = pp1.post(
        "/api/v1/ecommerce/pickups", json={"code": code, "verified_at": "2999-01-01T00:00:00Z"}
    )
    assert error(future) == (422, "verified_at_future", ["verified_at"])
    assert count_rows(po_app, Pickup) == 0  # nothing written by a refused verification

    ok = pp1.post("/api/v1/ecommerce/pickups", json={"code": code, "verified_at": WHEN})
    assert ok.status_code == 201
    assert ok.get_json() == {
        "order_no": "A1",
        "pickup_point": "PP-1",
        "picked_up_on": "2022-09-02",
        "status": "picked_up",
    }
    state = eshop.get("/api/v1/ecommerce/orders/A1/pickup-code").get_json()
    assert (state["status"], state["picked_up_on"]) == ("picked_up", "2022-09-02")
    assert eshop.get("/api/v1/ecommerce/orders/A2/pickup-code").get_json()["status"] == "waiting"
    again = staff.post(
        "/api/v1/ecommerce/pickups", json={"code": code.replace("-", ""), "pickup_point": "PP-1"}
    )
    assert error(again) == (409, "already_picked_up", ["code"])
    assert count_rows(po_app, Pickup) == 1

    # isolation: Henan cannot verify (or even see) a Hebei order; a viewer cannot verify
    henan = make_token("cn.henan", "ecommerce.pickup", subject="pickup_point:PP-1")
    assert error(henan.post("/api/v1/ecommerce/pickups", json={"code": code_of(eshop, "A2")})) == (
        422, "pickup_code_invalid", ["code"],
    )  # fmt: skip
    viewer = make_token("cn.hebei", "ecommerce.view")
    assert viewer.post("/api/v1/ecommerce/pickups", json={"code": code}).status_code == 403

    # picked-up orders and rate: 1 of the 2 counted group-buy orders
    ecom.refresh("cn.hebei")
    kpis = ecom.kpis("cn.hebei", "2022-09-01", "2022-09-30")
    assert kpis["picked_up_orders"] == 1 and kpis["picked_up_rate"] == 0.5


def test_a_session_closing_below_its_minimum_is_cancelled_and_its_orders_refunded(
    po_app, world, ecom, make_token
):
    groupbuy = make_token("cn.hebei", "ecommerce.groupbuy")
    sessions = [
        {"code": "HB-S3", "leader": "HB-L1", "starts_at": "2022-09-03T06:00:00+08:00",
         "ends_at": "2022-09-03T23:00:00+08:00", "skus": ["P1"], "min_orders": 3},
        {"code": "HB-S4", "leader": "HB-L2", "starts_at": "2022-09-03T06:00:00+08:00",
         "ends_at": "2022-09-03T23:00:00+08:00", "skus": ["P1"], "min_orders": 2},
    ]  # fmt: skip
    resp = groupbuy.post(f"/api/v1/ecommerce/campaigns/{world['hebei']}/sessions", json=sessions)
    assert resp.status_code in (200, 201), resp.get_json()
    eshop = make_token("cn.hebei", "ecommerce.ingest")
    at = "2022-09-03T10:00:00+08:00"
    batch = [
        ecom.order("T1", "10.00", session="HB-S3", paid_at=at),
        ecom.order("T2", "15.50", 2, session="HB-S3", paid_at=at),  # 31.00
        ecom.order("U1", "20.00", leader="HB-L2", session="HB-S4", paid_at=at),
        ecom.order("U2", "5.00", leader="HB-L2", session="HB-S4", paid_at=at),
    ]
    assert eshop.post("/api/v1/ecommerce/orders", json=batch).status_code == 200
    # a partial refund before closing: T2 keeps 31.00 − 1.00 = 30.00, still a counted order
    events = [{"type": "refund", "order_no": "T2", "refund_no": "R-T2", "amount": "1.00", "at": at}]
    assert eshop.post("/api/v1/ecommerce/events", json=events).status_code == 200
    ecom.refresh("cn.hebei")
    # group-buy turnover before: 10.00 + 30.00 + 20.00 + 5.00 = 65.00
    assert D(ecom.kpis("cn.hebei", "2022-09-03", "2022-09-03")["groupbuy_turnover"]) == D("65.00")

    # HB-S3: 2 counted orders < 3 -> cancelled, T1 refunded 10.00 and T2 the 30.00 left
    closed = groupbuy.post("/api/v1/ecommerce/sessions/HB-S3/close")
    assert closed.status_code == 200
    assert closed.get_json() == {
        "session": "HB-S3",
        "state": "cancelled",
        "orders": 2,
        "refunded": 2,
    }
    # HB-S4: 2 counted orders ≥ 2 -> closed, nothing refunded
    assert groupbuy.post("/api/v1/ecommerce/sessions/HB-S4/close").get_json() == {
        "session": "HB-S4", "state": "closed", "orders": 2, "refunded": 0,
    }  # fmt: skip
    # closing again changes nothing (the job runs every ten minutes)
    again = groupbuy.post("/api/v1/ecommerce/sessions/HB-S3/close").get_json()
    assert again == {"session": "HB-S3", "state": "cancelled", "orders": 0, "refunded": 0}
    from postalops import context
    from postalops.testing import system_context
    from sqlmodel import select

    with context.activate(system_context(po_app, "cn.hebei")) as ctx:
        refunds = {
            r.refund_no: r.amount
            for r in ctx.session.exec(select(Refund).where(Refund.refund_no.like("TH-%"))).all()
        }
    assert refunds == {"TH-HB-S3-T1": D("10.00"), "TH-HB-S3-T2": D("30.00")}
    assert count_rows(po_app, Refund) == 3  # R-T2 and the two threshold refunds
    ecom.refresh("cn.hebei")
    # after: only HB-S4's 20.00 + 5.00 = 25.00 remain
    assert D(ecom.kpis("cn.hebei", "2022-09-03", "2022-09-03")["groupbuy_turnover"]) == D("25.00")
    # a refunded order cannot be picked up
    pp1 = make_token("cn.hebei", "ecommerce.pickup", subject="pickup_point:PP-1")
    code = code_of(eshop, "T1")
    resp = pp1.post(
        "/api/v1/ecommerce/pickups", json={"code": code, "verified_at": "2022-09-04T10:00:00+08:00"}
    )
    assert error(resp) == (409, "order_cancelled", ["code"])
    unknown = groupbuy.post("/api/v1/ecommerce/sessions/HB-S404/close")
    assert unknown.status_code == 404


def test_ended_sessions_are_closed_by_the_scheduler_tick(po_app, world, ecom, make_token, workers):
    """The ten-minute schedule closes ended sessions that set a minimum; HB-S5 needs 2 orders
    and got 1 (12.00), so it is cancelled and T9 refunded 12.00. HB-S1 sets none: left open."""
    import datetime as dt

    from postalops import context
    from postalops.jobs import wait_for
    from postalops.testing import jobs_of, scheduler_tick, system_context
    from postalops_ecommerce.models import GroupSession, Order
    from sqlmodel import select

    groupbuy = make_token("cn.hebei", "ecommerce.groupbuy")
    row = {"code": "HB-S5", "leader": "HB-L1", "starts_at": "2022-09-05T06:00:00+08:00",
           "ends_at": "2022-09-05T23:00:00+08:00", "skus": ["P1"], "min_orders": 2}  # fmt: skip
    assert groupbuy.post(
        f"/api/v1/ecommerce/campaigns/{world['hebei']}/sessions", json=[row]
    ).status_code in (200, 201)
    eshop = make_token("cn.hebei", "ecommerce.ingest")
    order = ecom.order("T9", "12.00", session="HB-S5", paid_at="2022-09-05T10:00:00+08:00")
    assert eshop.post("/api/v1/ecommerce/orders", json=[order]).status_code == 200
    fired = scheduler_tick(po_app, dt.datetime(2026, 1, 5, 2, 0, tzinfo=dt.UTC))
    assert "ecommerce.close_sessions" in fired
    (job,) = jobs_of(po_app, "ecommerce.close_sessions")
    done = wait_for(po_app.extensions["postalops.db"], job.id)
    assert done.status == "succeeded", done.error
    assert done.result == {"closed": 0, "cancelled": 1, "refunded": 1}
    with context.activate(system_context(po_app, "cn.hebei")) as ctx:
        states = dict(ctx.session.exec(select(GroupSession.code, GroupSession.state)).all())
        t9 = ctx.session.exec(select(Order).where(Order.order_no == "T9")).one()
    assert states["HB-S5"] == "cancelled" and states["HB-S1"] == "open"
    assert t9.refunded == D("12.00") and t9.net_fen == 0
