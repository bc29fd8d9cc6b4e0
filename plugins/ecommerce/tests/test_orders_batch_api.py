"""A batch of e-shop orders with some bad rows, through HTTP: each bad row named with its field,
nothing written; the corrected batch creates each order and its lines once, and re-posting it
creates nothing (issue 17 §4: the batched ingest keeps its per-row report and idempotency)."""

from __future__ import annotations

from postalops.testing import count_rows
from postalops_ecommerce.models import Order, OrderLine, PendingDelta

URL = "/api/v1/ecommerce/orders"
BRANCH = "cn.hebei.shijiazhuang"


def test_bad_rows_are_each_named_and_the_fixed_batch_is_taken_once(po_app, world, ecom, make_token):
    eshop = make_token("cn.hebei", "ecommerce.ingest")
    good = [
        ecom.order("YL1", "10.00", 2),
        ecom.order("YL2", "5.50", leader="HB-L2", session="HB-S2"),
        ecom.order("R1", "99.90", channel="retail", branch=BRANCH),
        ecom.order("YL3", "1.00", 3),
        ecom.order("R2", "0.10", channel="retail", branch=BRANCH),
    ]
    batch = [dict(o) for o in good]
    batch[1] = ecom.order("YL2", "5.50", leader="HB-L1", session="HB-S2")  # HB-L2's session
    batch[3] = {**good[3], "paid_at": "yesterday"}
    batch[4] = ecom.order("R2", "0.10", channel="retail", branch="cn.henan.zhengzhou")
    resp = eshop.post(URL, json=batch)
    assert resp.status_code == 422, resp.get_json()
    details = resp.get_json()["error"]["details"]
    assert [(d["row"], [e["field"] for e in d["errors"]]) for d in details] == [
        (1, ["session"]),
        (3, ["paid_at"]),
        (4, ["branch"]),  # outside the e-shop's province
    ]
    assert count_rows(po_app, Order) == 0  # a refused batch writes nothing
    assert count_rows(po_app, PendingDelta) == 0

    first = eshop.post(URL, json=good)
    assert first.status_code == 200, first.get_json()
    body = first.get_json()
    assert (body["created"], body["duplicate"]) == (5, 0)
    assert [(r["row"], r["order_no"], r["status"]) for r in body["rows"]] == [
        (0, "YL1", "created"),
        (1, "YL2", "created"),
        (2, "R1", "created"),
        (3, "YL3", "created"),
        (4, "R2", "created"),
    ]
    assert (count_rows(po_app, Order), count_rows(po_app, OrderLine)) == (5, 5)

    again = eshop.post(URL, json=good).get_json()
    assert (again["created"], again["duplicate"]) == (0, 5)
    assert {r["status"] for r in again["rows"]} == {"duplicate"}
    assert (count_rows(po_app, Order), count_rows(po_app, OrderLine)) == (5, 5)

    # known and new orders with one bad row: refused whole naming it; fixed, only the new ones
    mixed = [good[0], ecom.order("YL4", "2.00"), ecom.order("YL5", "2.00", session="NOPE")]
    resp = eshop.post(URL, json=mixed)
    assert resp.status_code == 422
    assert [d["row"] for d in resp.get_json()["error"]["details"]] == [2]
    mixed[2] = ecom.order("YL5", "2.00")
    body = eshop.post(URL, json=mixed).get_json()
    assert [r["status"] for r in body["rows"]] == ["duplicate", "created", "created"]
    assert (count_rows(po_app, Order), count_rows(po_app, OrderLine)) == (7, 7)
    ecom.refresh("cn.hebei")
    # 2 × 10.00 + 5.50 + 99.90 + 3 × 1.00 + 0.10 + 2.00 + 2.00 = 132.50 from 7 orders, once each
    assert ecom.kpis("cn.hebei")["retail_turnover"] == "132.50"
    assert ecom.kpis("cn.hebei")["orders"] == 7
