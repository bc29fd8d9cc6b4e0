"""Issue 19 §3: leader commission (团长佣金) from picked-up orders, monthly statements approved by
maker-checker and paid out, a refund after settlement clawed back in the next period, and the
journal's vouchers. Every figure below was computed by hand (arithmetic in the comments); the
whole path goes through the API with tokens, as the e-shop, the pickup point and staff use it.

Rates (set at cn.hebei):  dried_fruit 5 % from 2022-08-01; product P1 8 % from 2022-09-01 (a
product's rate beats its category's); fresh_produce 10 % from 2022-08-01, 12 % from 2022-10-01.
P1 is dried_fruit, P2 fresh_produce.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

from postalops import context
from postalops.journal import balanced, unbalanced_vouchers
from postalops.testing import system_context

SEP = "2022-09-01T10:00:00+08:00"
OCT = "2022-10-02T10:00:00+08:00"
NOV = "2022-11-02T10:00:00+08:00"


def order(no, lines, *, leader="HB-L1", session="HB-S1", paid_at=SEP):
    return {
        "order_no": no,
        "channel": "groupbuy",
        "paid_at": paid_at,
        "leader": leader,
        "session": session,
        "lines": [{"sku": s, "quantity": q, "unit_price": p} for s, q, p in lines],
    }


def setup_catalogue_and_rates(make_token):
    shop = make_token("cn.hebei", "ecommerce.catalogue")
    assert (
        shop.post(
            "/api/v1/ecommerce/merchants", json=[{"code": "M1", "name": "冀农优品"}]
        ).status_code
        == 201
    )
    products = [
        {"sku": "P1", "merchant": "M1", "name": "赞皇大枣", "category": "dried_fruit", "agreed_price": "12.50"},
        {"sku": "P2", "merchant": "M1", "name": "鲜桃", "category": "fresh_produce", "agreed_price": "19.99"},
    ]  # fmt: skip
    assert shop.post("/api/v1/ecommerce/products", json=products).status_code == 201
    planner = make_token("cn.hebei", "ecommerce.settle", "ecommerce.view")
    rates = [
        {"category": "dried_fruit", "rate": "0.05", "effective_from": "2022-08-01"},
        {"sku": "P1", "rate": "0.08", "effective_from": "2022-09-01"},
        {"category": "fresh_produce", "rate": "0.10", "effective_from": "2022-08-01"},
        {"category": "fresh_produce", "rate": "0.12", "effective_from": "2022-10-01"},
    ]
    resp = planner.post("/api/v1/ecommerce/commission-rates", json=rates)
    assert resp.status_code == 201, resp.get_json()
    return planner


def pick_up(agent, eshop, order_no, when):
    code = eshop.get(f"/api/v1/ecommerce/orders/{order_no}/pickup-code").get_json()["pickup_code"]
    resp = agent.post("/api/v1/ecommerce/pickups", json={"code": code, "verified_at": when})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def statements(client, period):
    items = client.get(f"/api/v1/ecommerce/statements?period={period}").get_json()["items"]
    return {s["leader"]: s for s in items}


def test_commission_is_earned_at_pickup_settled_monthly_and_clawed_back_after_a_refund(
    po_app, world, make_token
):
    planner = setup_catalogue_and_rates(make_token)
    checker = make_token("cn.hebei", "ecommerce.settle_approve", "ecommerce.view")
    eshop = make_token("cn.hebei", "ecommerce.ingest")
    pp1 = make_token("cn.hebei", "ecommerce.pickup", subject="pickup_point:PP-1")
    pp2 = make_token("cn.hebei", "ecommerce.pickup", subject="pickup_point:PP-2")
    batch = [
        order("A1", [("P1", 3, "12.50"), ("P2", 1, "19.99")]),  # 37.50 + 19.99 = 57.49
        order("A2", [("P2", 2, "8.88")]),  # 17.76
        order("A3", [("P1", 1, "10.00")]),  # never picked up: earns nothing
        order("B1", [("P1", 1, "10.00")], leader="HB-L2", session="HB-S2"),  # at PP-2
    ]
    assert eshop.post("/api/v1/ecommerce/orders", json=batch).status_code == 200
    pick_up(pp1, eshop, "A1", "2022-09-05T10:00:00+08:00")
    pick_up(pp1, eshop, "A2", "2022-09-30T23:30:00+08:00")  # still September in Shanghai
    pick_up(pp2, eshop, "B1", "2022-09-06T10:00:00+08:00")

    # September. A1: P1 37.50 × 8 % (product rate, from 09-01) = 3.00; P2 19.99 × 10 %
    # = 1.999 -> 2.00; A1 = 5.00. A2: 17.76 × 10 % = 1.776 -> 1.78. HB-L1: 5.00 + 1.78 = 6.78.
    # B1 (HB-L2): 10.00 × 8 % = 0.80.
    made = planner.post("/api/v1/ecommerce/statements", json={"period": "2022-09"})
    assert made.status_code == 201 and len(made.get_json()["created"]) == 2
    again = planner.post("/api/v1/ecommerce/statements", json={"period": "2022-09"})
    assert again.get_json() == {"created": [], "existing": sorted(made.get_json()["created"])}
    sep = statements(planner, "2022-09")
    assert {k: (v["earned"], v["clawback"], v["payable"], v["status"]) for k, v in sep.items()} == {
        "HB-L1": ("6.78", "0.00", "6.78", "pending"),
        "HB-L2": ("0.80", "0.00", "0.80", "pending"),
    }
    detail = planner.get(f"/api/v1/ecommerce/statements/{sep['HB-L1']['id']}").get_json()
    assert [(ln["order_no"], ln["commission"]) for ln in detail["lines"]] == [
        ("A1", "5.00"), ("A2", "1.78"),
    ]  # fmt: skip

    # maker-checker: the preparer cannot approve (he lacks the permission), nor can a token
    # that holds both when it prepared the statement itself
    assert (
        planner.post(f"/api/v1/ecommerce/statements/{sep['HB-L1']['id']}/approve").status_code
        == 403
    )
    both = make_token("cn.hebei", "ecommerce.settle", "ecommerce.settle_approve")
    own = both.post("/api/v1/ecommerce/statements", json={"period": "2022-08"})
    assert own.get_json()["created"] == []  # nothing was picked up in August
    for s in sep.values():
        ok = checker.post(f"/api/v1/ecommerce/statements/{s['id']}/approve")
        assert ok.status_code == 200 and ok.get_json()["status"] == "approved"
    twice = checker.post(f"/api/v1/ecommerce/statements/{sep['HB-L1']['id']}/approve")
    assert twice.status_code == 409 and twice.get_json()["error"]["code"] == "statement_not_pending"
    for s in sep.values():
        paid = planner.post(
            f"/api/v1/ecommerce/statements/{s['id']}/pay", json={"paid_on": "2022-10-08"}
        )
        assert paid.status_code == 200 and paid.get_json()["status"] == "paid"

    # October: refunds after settlement. A1's P2 line refunded (19.99): A1 keeps 37.50 of
    # 57.49, so it has earned 5.00 × 37.50 / 57.49 = 3.2614… -> 3.26; clawback 3.26 − 5.00
    # = −1.74. B1 cancelled: clawback −0.80. A4: P2 19.99 × 12 % (from 10-01) = 2.3988 -> 2.40.
    events = [
        {"type": "refund", "order_no": "A1", "refund_no": "R1", "amount": "19.99", "at": OCT},
        {"type": "cancel", "order_no": "B1", "at": OCT},
    ]
    assert eshop.post("/api/v1/ecommerce/events", json=events).status_code == 200
    assert (
        eshop.post(
            "/api/v1/ecommerce/orders", json=[order("A4", [("P2", 1, "19.99")], paid_at=OCT)]
        ).status_code
        == 200
    )
    pick_up(pp1, eshop, "A4", "2022-10-10T10:00:00+08:00")
    planner.post("/api/v1/ecommerce/statements", json={"period": "2022-10"})
    octo = statements(planner, "2022-10")
    # HB-L1: 2.40 − 1.74 = 0.66. HB-L2: −0.80, nothing to pay, carried into November.
    assert {
        k: (v["earned"], v["clawback"], v["carried"], v["payable"]) for k, v in octo.items()
    } == {
        "HB-L1": ("2.40", "-1.74", "0.00", "0.66"),
        "HB-L2": ("0.00", "-0.80", "0.00", "-0.80"),
    }
    for s in octo.values():
        assert checker.post(f"/api/v1/ecommerce/statements/{s['id']}/approve").status_code == 200
    assert (
        planner.post(
            f"/api/v1/ecommerce/statements/{octo['HB-L1']['id']}/pay",
            json={"paid_on": "2022-11-08"},
        ).status_code
        == 200
    )
    nothing = planner.post(f"/api/v1/ecommerce/statements/{octo['HB-L2']['id']}/pay", json={})
    assert nothing.status_code == 409 and nothing.get_json()["error"]["code"] == "nothing_to_pay"

    # November: B2 (HB-L2) P1 2 × 10.00 = 20.00 × 8 % = 1.60; carried −0.80; payable 0.80.
    assert (
        eshop.post(
            "/api/v1/ecommerce/orders",
            json=[order("B2", [("P1", 2, "10.00")], leader="HB-L2", session="HB-S2", paid_at=NOV)],
        ).status_code
        == 200
    )
    pick_up(pp2, eshop, "B2", "2022-11-03T10:00:00+08:00")
    planner.post("/api/v1/ecommerce/statements", json={"period": "2022-11"})
    nov = statements(planner, "2022-11")
    assert (nov["HB-L2"]["earned"], nov["HB-L2"]["carried"], nov["HB-L2"]["payable"]) == (
        "1.60",
        "-0.80",
        "0.80",
    )
    assert "HB-L1" not in nov  # nothing new for HB-L1: no statement
    assert (
        checker.post(f"/api/v1/ecommerce/statements/{nov['HB-L2']['id']}/approve").status_code
        == 200
    )

    # KPI: commissions payable = approved, unpaid, positive: November's HB-L2 0.80.
    kpis = (
        make_token("cn.hebei", "core.metrics.read")
        .get("/api/v1/metrics?tenant=cn.hebei&from=2022-09-01&to=2099-12-31&plugin=ecommerce")
        .get_json()["metrics"]["ecommerce"]
    )
    assert D(kpis["commissions_payable"]["value"]) == D("0.80")
    assert (
        planner.post(
            f"/api/v1/ecommerce/statements/{nov['HB-L2']['id']}/pay", json={"paid_on": "2022-12-08"}
        ).status_code
        == 200
    )

    # The payout export: the approved and paid statements as rows, amounts as numbers.
    csv_text = planner.get("/api/v1/ecommerce/statements?export=csv&period=2022-10").get_data(
        as_text=True
    )
    assert "0.66" in csv_text and "-0.80" in csv_text and "¥" not in csv_text

    # Journal: every voucher balances; commissions payable nets to zero once all is paid.
    # Accrued 6.78 + 0.80 + 2.40 + 1.60 = 11.58; clawed back 1.74 + 0.80 = 2.54; paid out
    # 6.78 + 0.80 + 0.66 + 0.80 = 9.04; 11.58 − 2.54 − 9.04 = 0.
    from postalops_ecommerce.journal import journal_entries

    with context.activate(system_context(po_app, "cn.hebei")) as ctx:
        lines = journal_entries(ctx.session, "cn.hebei", dt.date(2022, 1, 1), dt.date(2099, 12, 31))
    assert balanced(lines) and unbalanced_vouchers(lines) == {}
    payable = [ln for ln in lines if ln.account == "commission_payable"]
    assert sum(ln.credit for ln in payable) == D("11.58")
    assert sum(ln.debit for ln in payable) == D("11.58")
    assert sum(ln.credit for ln in lines if ln.account == "bank") == D("9.04")
    expenses = [ln for ln in lines if ln.account == "selling_expenses"]
    assert sum(ln.debit - ln.credit for ln in expenses) == D("9.04")  # 11.58 − 2.54
    payouts = {ln.reference: ln.date for ln in lines if ln.account == "bank"}
    assert sorted(payouts.values()) == [dt.date(2022, 10, 8)] * 2 + [
        dt.date(2022, 11, 8),
        dt.date(2022, 12, 8),
    ]


def test_a_rate_is_for_a_product_or_a_category_and_a_fraction(po_app, world, make_token):
    planner = make_token("cn.hebei", "ecommerce.settle")
    resp = planner.post(
        "/api/v1/ecommerce/commission-rates",
        json=[
            {"sku": "P1", "category": "fresh_produce", "rate": "0.05", "effective_from": "2022-08-01"},
            {"sku": "P1", "rate": "8%", "effective_from": "2022-08-01"},
            {"sku": "P1", "rate": "0.6", "effective_from": "2022-08-01"},
            {"sku": "P1", "rate": "0.08", "effective_from": "2022-08-01"},
        ],
    )  # fmt: skip
    assert resp.status_code == 422
    rows = {
        d["row"]: [e["field"] for e in d["errors"]] for d in resp.get_json()["error"]["details"]
    }
    assert rows == {0: ["sku"], 1: ["rate"], 2: ["rate"]}
    assert planner.get("/api/v1/ecommerce/commission-rates").status_code == 403  # no view
    viewer = make_token("cn.hebei", "ecommerce.view")
    assert viewer.get("/api/v1/ecommerce/commission-rates").get_json()["items"] == []


def test_the_payouts_reach_finance_through_the_core_journal(po_app, world, make_token):
    """Through ``GET /api/v1/journal``: one September statement (A1: 5.00, as above) approved
    and paid on 2022-10-08 gives, in October, one balanced payout voucher 5.00 Dr 其他应付款-团长佣金
    / Cr 银行存款."""
    planner = setup_catalogue_and_rates(make_token)
    checker = make_token("cn.hebei", "ecommerce.settle_approve", "ecommerce.view")
    eshop = make_token("cn.hebei", "ecommerce.ingest")
    pp1 = make_token("cn.hebei", "ecommerce.pickup", subject="pickup_point:PP-1")
    batch = [order("A1", [("P1", 3, "12.50"), ("P2", 1, "19.99")])]
    assert eshop.post("/api/v1/ecommerce/orders", json=batch).status_code == 200
    pick_up(pp1, eshop, "A1", "2022-09-05T10:00:00+08:00")
    (sid,) = planner.post("/api/v1/ecommerce/statements", json={"period": "2022-09"}).get_json()[
        "created"
    ]
    assert checker.post(f"/api/v1/ecommerce/statements/{sid}/approve").status_code == 200
    assert (
        planner.post(
            f"/api/v1/ecommerce/statements/{sid}/pay", json={"paid_on": "2022-10-08"}
        ).status_code
        == 200
    )
    finance = make_token("cn.hebei", "core.journal.read")
    body = finance.get("/api/v1/journal?tenant=cn.hebei&from=2022-10-01&to=2022-10-31").get_json()
    ours = [v for v in body["items"] if v["plugin"] == "ecommerce"]
    assert len(ours) == 1 and ours[0]["balanced"] and ours[0]["debit"] == "5.00"
    assert [(ln["code"], ln["debit"], ln["credit"]) for ln in ours[0]["lines"]] == [
        ("2241.01", "5.00", "0.00"), ("1002", "0.00", "5.00"),
    ]  # fmt: skip
    assert body["totals"]["balanced"] and body["degraded"] == []


# --- issue 19 §3 leftovers ---------------------------------------------------------------------
# Issue 19 §3 leftovers, through the API with tokens (rates and orders as in
# test_commission.py: product P1 8 % from 2022-09-01, so a 10.00 line earns 0.80):
#
# (a) a negative leader balance carries into the next statement until it is offset, whatever the
#     approval state of the statement it came from, and is not counted twice once that statement
#     is approved; a statement whose balance a later one carried cannot be rejected under it;
# (b) the commission accrual (and a clawback) is dated the statement period's last day, the payout
#     its paid day, so a month's journal holds that month's commission.
DEC = "2022-12-02T10:00:00+08:00"


def settle(planner, period):
    resp = planner.post("/api/v1/ecommerce/statements", json={"period": period})
    assert resp.status_code in (200, 201), resp.get_json()
    return statements(planner, period)


def figures(st):
    return (st["earned"], st["clawback"], st["carried"], st["payable"], st["status"])


def hb_l2_paid_in_september(make_token):
    planner = setup_catalogue_and_rates(make_token)
    checker = make_token("cn.hebei", "ecommerce.settle_approve", "ecommerce.view")
    eshop = make_token("cn.hebei", "ecommerce.ingest")
    pp2 = make_token("cn.hebei", "ecommerce.pickup", subject="pickup_point:PP-2")
    b1 = order("B1", [("P1", 1, "10.00")], leader="HB-L2", session="HB-S2")  # 0.80
    assert eshop.post("/api/v1/ecommerce/orders", json=[b1]).status_code == 200
    pick_up(pp2, eshop, "B1", "2022-09-06T10:00:00+08:00")
    sep = settle(planner, "2022-09")["HB-L2"]
    assert checker.post(f"/api/v1/ecommerce/statements/{sep['id']}/approve").status_code == 200
    paid = planner.post(
        f"/api/v1/ecommerce/statements/{sep['id']}/pay", json={"paid_on": "2022-10-08"}
    )
    assert paid.status_code == 200
    # October: B1 cancelled after settlement: clawback −0.80, payable −0.80
    cancel = [{"type": "cancel", "order_no": "B1", "at": OCT}]
    assert eshop.post("/api/v1/ecommerce/events", json=cancel).status_code == 200
    return planner, checker, eshop, pp2, sep


def test_a_pending_negative_balance_carries_until_offset_and_only_once(po_app, world, make_token):
    planner, checker, eshop, pp2, _sep = hb_l2_paid_in_september(make_token)
    octo = settle(planner, "2022-10")["HB-L2"]
    assert figures(octo) == ("0.00", "-0.80", "0.00", "-0.80", "pending")

    # November, October still pending: B2 P1 2 x 10.00 = 20.00 x 8 % = 1.60; carried −0.80
    # from the pending October statement; payable 1.60 − 0.80 = 0.80
    b2 = order("B2", [("P1", 2, "10.00")], leader="HB-L2", session="HB-S2", paid_at=NOV)
    assert eshop.post("/api/v1/ecommerce/orders", json=[b2]).status_code == 200
    pick_up(pp2, eshop, "B2", "2022-11-03T10:00:00+08:00")
    nov = settle(planner, "2022-11")["HB-L2"]
    assert figures(nov) == ("1.60", "0.00", "-0.80", "0.80", "pending")

    # October's balance is carried: rejecting October under November is refused (it would be
    # drawn up again and counted twice); approving it changes nothing already carried
    refused = checker.post(f"/api/v1/ecommerce/statements/{octo['id']}/reject")
    assert refused.status_code == 409
    assert refused.get_json()["error"]["code"] == "statement_carried"
    assert checker.post(f"/api/v1/ecommerce/statements/{octo['id']}/approve").status_code == 200
    assert figures(settle(planner, "2022-11")["HB-L2"]) == ("1.60", "0.00", "-0.80", "0.80",
                                                            "pending")  # fmt: skip

    # December: B3 P1 10.00 x 8 % = 0.80. November (still pending) is positive: nothing carried,
    # and October's −0.80 is not carried a second time: payable 0.80
    b3 = order("B3", [("P1", 1, "10.00")], leader="HB-L2", session="HB-S2", paid_at=DEC)
    assert eshop.post("/api/v1/ecommerce/orders", json=[b3]).status_code == 200
    pick_up(pp2, eshop, "B3", "2022-12-05T10:00:00+08:00")
    dec = settle(planner, "2022-12")["HB-L2"]
    assert figures(dec) == ("0.80", "0.00", "0.00", "0.80", "pending")


def test_a_negative_balance_keeps_carrying_through_a_pending_chain(po_app, world, make_token):
    planner, _checker, eshop, pp2, _sep = hb_l2_paid_in_september(make_token)
    settle(planner, "2022-10")  # −0.80, pending
    # November: B2 P1 0.50 x 8 % = 0.04; carried −0.80; payable −0.76 (pending too)
    b2 = order("B2", [("P1", 1, "0.50")], leader="HB-L2", session="HB-S2", paid_at=NOV)
    assert eshop.post("/api/v1/ecommerce/orders", json=[b2]).status_code == 200
    pick_up(pp2, eshop, "B2", "2022-11-03T10:00:00+08:00")
    assert figures(settle(planner, "2022-11")["HB-L2"]) == ("0.04", "0.00", "-0.80", "-0.76",
                                                            "pending")  # fmt: skip
    # December, nothing new earned: the −0.76 alone still makes a statement, carried
    assert figures(settle(planner, "2022-12")["HB-L2"]) == ("0.00", "0.00", "-0.76", "-0.76",
                                                            "pending")  # fmt: skip


def test_commission_is_accrued_in_its_own_month_and_paid_on_the_paid_day(po_app, world, make_token):
    planner, checker, _eshop, _pp2, sep = hb_l2_paid_in_september(make_token)
    octo = settle(planner, "2022-10")["HB-L2"]
    assert checker.post(f"/api/v1/ecommerce/statements/{octo['id']}/approve").status_code == 200
    finance = make_token("cn.hebei", "core.journal.read")

    def vouchers(frm, to):
        body = finance.get(f"/api/v1/journal?tenant=cn.hebei&from={frm}&to={to}").get_json()
        return sorted(
            (v["reference"].rsplit(":", 1)[0], v["date"], v["debit"], v["balanced"])
            for v in body["items"]
            if v["plugin"] == "ecommerce"
        )

    # September's statement was approved today (years later), yet September holds its accrual
    # of 0.80 on 30 Sep; October holds its payout (8 Oct) and October's clawback (31 Oct)
    assert vouchers("2022-09-01", "2022-09-30") == [
        ("ecommerce:commission", "2022-09-30", "0.80", True)
    ]
    assert vouchers("2022-10-01", "2022-10-31") == [
        ("ecommerce:clawback", "2022-10-31", "0.80", True),
        ("ecommerce:payout", "2022-10-08", "0.80", True),
    ]
    assert sep["period"] == "2022-09"
