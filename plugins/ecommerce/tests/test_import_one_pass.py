"""Imports report every row's every error in one pass: a file with a shape error in one row and
a reference error in another names both at once and writes nothing (issue 15 §5)."""

from __future__ import annotations

import re

from postalops.testing import count_rows
from postalops_ecommerce.models import Leader, Order, Refund

ORDERS = "/api/v1/ecommerce/orders"
HEADER = (
    "order_no,paid_at,channel,branch,leader,session,pickup_point,campaign,sku,quantity,unit_price\n"
)


def fields_by_row(resp):
    assert resp.status_code == 422, resp.get_json()
    err = resp.get_json()["error"]
    assert err["code"] == "invalid_rows"
    return {d["row"]: [e["field"] for e in d["errors"]] for d in err["details"]}


def test_a_json_order_batch_names_shape_and_reference_errors_together(
    po_app, world, ecom, make_token
):
    eshop = make_token("cn.hebei", "ecommerce.ingest")
    bad_shape = ecom.order("A1")
    bad_shape["lines"][0]["quantity"] = "many"  # shape
    unknown_leader = ecom.order("A2", leader="HB-L404")  # reference
    resp = eshop.post(ORDERS, json=[bad_shape, unknown_leader, ecom.order("A3")])
    assert fields_by_row(resp) == {0: ["lines[0].quantity"], 1: ["leader"]}
    assert count_rows(po_app, Order) == 0


def test_a_csv_order_file_names_shape_and_reference_errors_together(po_app, world, make_token):
    eshop = make_token("cn.hebei", "ecommerce.ingest")
    csv_text = (
        HEADER
        + "YL1,2022-09-01T08:00:00+08:00,groupbuy,,HB-L1,HB-S1,,,P1,2,ten\n"  # shape
        + "YL2,2022-09-01T08:00:00+08:00,groupbuy,,HB-L1,HB-S404,,,P1,1,10.00\n"  # reference
        + "YL3,2022-09-01T08:00:00+08:00,groupbuy,,HB-L1,HB-S1,,,P1,1,10.00\n"
    )
    resp = eshop.post(ORDERS, data=csv_text.encode(), content_type="text/csv")
    assert fields_by_row(resp) == {2: ["lines[0].unit_price"], 3: ["session"]}
    assert count_rows(po_app, Order) == 0


def test_an_event_batch_names_shape_and_reference_errors_together(po_app, world, ecom, make_token):
    eshop = make_token("cn.hebei", "ecommerce.ingest")
    assert eshop.post(ORDERS, json=[ecom.order("A1")]).status_code == 200
    resp = eshop.post(
        "/api/v1/ecommerce/events",
        json=[
            {"type": "refund", "order_no": "A1", "refund_no": "R1", "amount": "-1",
             "at": "2022-09-02T08:00:00Z"},  # shape: a negative amount
            {"type": "cancel", "order_no": "NOPE", "at": "2022-09-02T08:00:00Z"},  # reference
            {"type": "refund", "order_no": "A1", "refund_no": "R2", "amount": "1.00",
             "at": "2022-09-02T08:00:00Z"},
        ],
    )  # fmt: skip
    assert fields_by_row(resp) == {0: ["amount"], 1: ["order_no"]}
    assert count_rows(po_app, Refund) == 0


def test_a_leader_batch_names_shape_and_reference_errors_together(
    po_app, world, hebei_points, make_token
):
    groupbuy = make_token("cn.hebei", "ecommerce.groupbuy")
    before = count_rows(po_app, Leader)
    resp = groupbuy.post(
        "/api/v1/ecommerce/leaders",
        json=[
            {"branch": "cn.hebei.shijiazhuang", "code": "HB-L7", "pickup_point": "PP-7"},
            {"branch": "cn.hebei.nowhere", "code": "HB-L8", "name": "赵团长",
             "pickup_point": "PP-8"},
            {"branch": "cn.hebei.shijiazhuang", "code": "HB-L9", "name": "钱团长",
             "pickup_point": "PP-9"},
        ],
    )  # fmt: skip
    assert fields_by_row(resp) == {0: ["name"], 1: ["branch"]}
    assert count_rows(po_app, Leader) == before


def test_a_session_batch_names_shape_and_reference_errors_together(po_app, world, make_token):
    from postalops_ecommerce.models import GroupSession

    groupbuy = make_token("cn.hebei", "ecommerce.groupbuy")
    before = count_rows(po_app, GroupSession)

    def row(
        code, leader="HB-L1", starts="2022-09-03T06:00:00+08:00", ends="2022-09-03T23:00:00+08:00"
    ):
        return {
            "code": code,
            "leader": leader,
            "starts_at": starts,
            "ends_at": ends,
            "skus": ["P1"],
        }

    resp = groupbuy.post(
        f"/api/v1/ecommerce/campaigns/{world['hebei']}/sessions",
        json=[
            row("HB-S7", starts="the third"),  # shape
            row("HB-S8", leader="HB-L404"),  # reference
            row("HB-S9", ends="2022-09-03T05:00:00+08:00"),  # ends before it starts
            row("HB-S10"),
        ],
    )
    assert fields_by_row(resp) == {0: ["starts_at"], 1: ["leader"], 2: ["ends_at"]}
    assert count_rows(po_app, GroupSession) == before


def test_a_product_batch_names_shape_value_and_reference_errors_together(po_app, world, make_token):
    from postalops_ecommerce.models import Product

    admin = make_token("cn.hebei", "ecommerce.catalogue")
    assert (
        admin.post("/api/v1/ecommerce/merchants", json=[{"code": "M1", "name": "冀农优品"}])
    ).status_code == 201
    good = {"merchant": "M1", "name": "赞皇大枣", "category": "dried_fruit", "agreed_price": "9.90"}
    assert admin.post("/api/v1/ecommerce/products", json=[{**good, "sku": "P1"}]).status_code == 201
    resp = admin.post(
        "/api/v1/ecommerce/products",
        json=[
            {**good, "sku": "P2", "name": None},  # shape
            {**good, "sku": "P3", "merchant": "M404"},  # reference: unknown merchant
            {**good, "sku": "P4", "category": "gadgets", "agreed_price": "0"},  # two values
            {**good, "sku": "P1"},  # reference: the SKU is taken
            {**good, "sku": "P5"},
        ],
    )
    assert fields_by_row(resp) == {
        0: ["name"],
        1: ["merchant"],
        2: ["category", "agreed_price"],
        3: ["sku"],
    }
    assert count_rows(po_app, Product) == 1
    # Only a taken SKU: a conflict, naming the row and the field.
    again = admin.post("/api/v1/ecommerce/products", json=[{**good, "sku": "P1"}])
    assert again.status_code == 409
    assert again.get_json()["error"]["details"] == [
        {"row": 0, "errors": [{"field": "sku", "message": "product P1 exists"}]}
    ]


def test_the_portal_order_upload_names_shape_and_reference_errors_together(
    po_app, world, make_user, login
):
    import io

    client = login(make_user("hb_eshop", "cn.hebei", "marketing", "ops"))
    csv_text = (
        HEADER
        + "YL1,2022-09-01T08:00:00+08:00,groupbuy,,HB-L1,HB-S1,,,P1,2,ten\n"  # shape
        + "YL2,2022-09-01T08:00:00+08:00,groupbuy,,HB-L404,HB-S1,,,P1,1,10.00\n"  # reference
    )
    resp = client.post(
        "/p/ecommerce/import",
        data={"csrf_token": client.csrf, "file": (io.BytesIO(csv_text.encode()), "orders.csv")},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 422
    page = resp.get_data(as_text=True)
    table = page[page.index('id="import-errors"') :]
    # Issue 14: the row, a Chinese label (the order's first line's unit price; the file's column
    # as code) and a translated message, not the raw path lines[0].unit_price in English.
    assert "lines[0]" not in table and "not a number" not in table
    assert re.search(
        r'<td class="num">2</td><td>第1行商品 单价（<code>unit_price</code>）：不是数字', table
    )
    assert re.search(r'<td class="num">3</td><td>团长（<code>leader</code>）：未知团长', table)
    assert count_rows(po_app, Order) == 0


def test_a_json_order_row_names_its_shape_and_reference_errors_together(
    po_app, world, ecom, make_token
):
    """A row that fails its shape check is reference-checked on the fields that could be read."""
    eshop = make_token("cn.hebei", "ecommerce.ingest")
    both = ecom.order("A1", leader="HB-L404")  # reference: unknown leader
    both["lines"][0]["quantity"] = "many"  # shape
    late = ecom.order("A2", session="HB-S404")  # reference: unknown session
    late["paid_at"] = "yesterday"  # shape
    other = ecom.order("A3", leader="HB-L405")  # reference only
    resp = eshop.post(ORDERS, json=[both, late, other, ecom.order("A4")])
    assert fields_by_row(resp) == {
        0: ["lines[0].quantity", "leader"],
        1: ["paid_at", "session"],
        2: ["leader"],
    }
    assert count_rows(po_app, Order) == 0


def test_a_csv_order_row_names_its_shape_and_reference_errors_together(po_app, world, make_token):
    eshop = make_token("cn.hebei", "ecommerce.ingest")
    csv_text = (
        HEADER
        + "YL1,2022-09-01T08:00:00+08:00,groupbuy,,HB-L404,HB-S1,,,P1,two,10.00\n"  # both
        + "YL2,the first,retail,cn.hebei.nowhere,,,,,P1,1,10.00\n"  # both, retail
        + "YL3,2022-09-01T08:00:00+08:00,groupbuy,,HB-L1,HB-S404,,,P1,1,10.00\n"  # reference
        + "YL4,2022-09-01T08:00:00+08:00,groupbuy,,HB-L1,HB-S1,,,P1,1,10.00\n"
    )
    resp = eshop.post(ORDERS, data=csv_text.encode(), content_type="text/csv")
    assert fields_by_row(resp) == {
        2: ["lines[0].quantity", "leader"],
        3: ["paid_at", "branch"],
        4: ["session"],
    }
    assert count_rows(po_app, Order) == 0


def test_the_portal_order_upload_names_a_rows_shape_and_reference_errors_together(
    po_app, world, make_user, login
):
    import io

    client = login(make_user("hb_eshop", "cn.hebei", "marketing", "ops"))
    csv_text = (
        HEADER
        + "YL1,2022-09-01T08:00:00+08:00,groupbuy,,HB-L404,HB-S1,,,P1,2,ten\n"  # both
        + "YL2,2022-09-01T08:00:00+08:00,groupbuy,,HB-L1,HB-S1,,,P1,1,10.00\n"
    )
    resp = client.post(
        "/p/ecommerce/import",
        data={"csrf_token": client.csrf, "file": (io.BytesIO(csv_text.encode()), "orders.csv")},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 422
    page = resp.get_data(as_text=True)
    table = page[page.index('id="import-errors"') :]
    row2 = re.search(r'<td class="num">2</td><td>(.*?)</td>', table)[1]
    assert "第1行商品 单价（<code>unit_price</code>）：不是数字" in row2
    assert "团长（<code>leader</code>）：未知团长" in row2  # the same row, both problems
    assert count_rows(po_app, Order) == 0


def test_an_event_row_names_its_shape_and_reference_errors_together(
    po_app, world, ecom, make_token
):
    """An event that fails its shape check is still checked against the stored orders: its
    unknown order, or a refund more than what is left, named with its shape error."""
    eshop = make_token("cn.hebei", "ecommerce.ingest")
    assert eshop.post(ORDERS, json=[ecom.order("A1")]).status_code == 200  # 10.00
    at = "2022-09-02T08:00:00Z"
    resp = eshop.post(
        "/api/v1/ecommerce/events",
        json=[
            {"type": "refund", "order_no": "NOPE", "refund_no": "R1", "amount": "-1",
             "at": at},  # shape: a negative amount; reference: an unknown order
            {"type": "refund", "order_no": "A1", "refund_no": "R2", "amount": "99.00",
             "at": "tomorrow"},  # shape: the time; reference: more than the order's 10.00
            {"type": "cancel", "order_no": "GONE", "at": at},  # reference only
            {"type": "refund", "order_no": "A1", "refund_no": "R3", "amount": "1.00", "at": at},
        ],
    )  # fmt: skip
    assert fields_by_row(resp) == {0: ["amount", "order_no"], 1: ["at", "amount"], 2: ["order_no"]}
    assert count_rows(po_app, Refund) == 0
