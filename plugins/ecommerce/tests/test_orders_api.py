"""Orders from the e-shop through the API: idempotency, refunds, cancellations, bad input."""

from __future__ import annotations

from postalops.testing import count_rows
from postalops_ecommerce.models import Order, OrderLine, PendingDelta, Refund

URL = "/api/v1/ecommerce/orders"
EVENTS = "/api/v1/ecommerce/events"
HEBEI_BRANCH = "cn.hebei.shijiazhuang"


def test_a_retried_batch_is_reported_as_duplicates_and_changes_nothing(
    po_app, world, ecom, make_token
):
    eshop = make_token("cn.hebei", "ecommerce.ingest")
    batch = [ecom.order("YL1", "10.00", 2), ecom.order("YL2", "5.50")]
    first = eshop.post(URL, json=batch)
    assert first.status_code == 200, first.get_json()
    assert [r["status"] for r in first.get_json()["rows"]] == ["created", "created"]
    again = eshop.post(URL, json=batch + [ecom.order("YL3", "1.00")])
    assert [r["status"] for r in again.get_json()["rows"]] == ["duplicate", "duplicate", "created"]
    assert count_rows(po_app, Order) == 3
    assert count_rows(po_app, OrderLine) == 3
    ecom.refresh("cn.hebei")
    # 2 × 10.00 + 5.50 + 1.00 = 26.50 from 3 orders
    assert ecom.kpis("cn.hebei")["retail_turnover"] == "26.50"
    assert ecom.kpis("cn.hebei")["orders"] == 3


def test_refunds_and_cancellations_change_the_figures(po_app, world, ecom, make_token):
    eshop = make_token("cn.hebei", "ecommerce.ingest")
    eshop.post(
        URL,
        json=[
            ecom.order("YL1", "100.00"),
            ecom.order("YL2", "50.00"),
            ecom.order("YL3", "30.00"),
            ecom.order("R1", "200.00", channel="retail", branch=HEBEI_BRANCH),
        ],
    )
    resp = eshop.post(
        EVENTS,
        json=[
            {
                "type": "refund",
                "order_no": "YL1",
                "refund_no": "RF1",
                "amount": "20.00",
                "at": "2022-09-03T10:00:00+08:00",
            },
            {"type": "cancel", "order_no": "YL3", "at": "2022-09-02T10:00:00+08:00"},
            {
                "type": "refund",
                "order_no": "YL1",
                "refund_no": "RF1",
                "amount": "20.00",
                "at": "2022-09-03T10:00:00+08:00",
            },
            {
                "type": "refund",
                "order_no": "R1",
                "refund_no": "RF2",
                "amount": "200.00",
                "at": "2022-09-03T10:00:00+08:00",
            },
        ],
    )
    assert resp.status_code == 200, resp.get_json()
    assert [r["status"] for r in resp.get_json()["rows"]] == [
        "applied",
        "applied",
        "duplicate",
        "applied",
    ]
    ecom.refresh("cn.hebei")
    k = ecom.kpis("cn.hebei")
    # Group-buy: 100 − 20 + 50 = 130.00 (YL3 cancelled); retail R1 fully refunded → 0.
    # Turnover (all channels) 130.00 vs plan 1,000.00 → 0.13; group-buy 130 / 500 → 0.26.
    assert k["retail_turnover"] == "130.00"
    assert k["groupbuy_turnover"] == "130.00"
    assert k["retail_attainment"] == 0.13
    assert k["groupbuy_attainment"] == 0.26
    assert k["orders"] == 2
    assert count_rows(po_app, Refund) == 2


def test_a_bad_row_rejects_the_whole_batch_naming_row_and_field(po_app, world, ecom, make_token):
    eshop = make_token("cn.hebei", "ecommerce.ingest")
    bad = ecom.order("YL2", "5.50")
    bad["lines"][0]["unit_price"] = 5.5  # a float: refused
    resp = eshop.post(URL, json=[ecom.order("YL1"), bad, ecom.order("YL3", leader="NOBODY")])
    assert resp.status_code == 422
    details = resp.get_json()["error"]["details"]
    # every bad row at once: the float price (shape) and the unknown leader (reference)
    assert [(d["row"], d["errors"][0]["field"]) for d in details] == [
        (1, "lines[0].unit_price"),
        (2, "leader"),
    ]
    resp = eshop.post(URL, json=[ecom.order("YL1"), ecom.order("YL3", leader="NOBODY")])
    assert resp.status_code == 422
    assert resp.get_json()["error"]["details"][0]["errors"][0]["field"] == "leader"
    assert count_rows(po_app, Order) == 0
    assert count_rows(po_app, PendingDelta) == 0


def test_malformed_json_and_missing_permission_are_refused(po_app, world, ecom, make_token):
    eshop = make_token("cn.hebei", "ecommerce.ingest")
    resp = eshop.post(URL, data="[{", content_type="application/json")
    assert resp.status_code == 400
    assert resp.get_json()["error"]["code"] == "malformed_json"
    viewer = make_token("cn.hebei", "ecommerce.view")
    assert viewer.post(URL, json=[ecom.order("YL1")]).status_code == 403


def test_a_refund_larger_than_what_is_left_changes_nothing(po_app, world, ecom, make_token):
    eshop = make_token("cn.hebei", "ecommerce.ingest")
    eshop.post(URL, json=[ecom.order("YL1", "30.00")])
    resp = eshop.post(
        EVENTS,
        json=[
            {
                "type": "refund",
                "order_no": "YL1",
                "refund_no": "RF1",
                "amount": "20.00",
                "at": "2022-09-03T10:00:00+08:00",
            },
            {
                "type": "refund",
                "order_no": "YL1",
                "refund_no": "RF2",
                "amount": "10.01",
                "at": "2022-09-03T11:00:00+08:00",
            },
        ],
    )
    assert resp.status_code == 422
    detail = resp.get_json()["error"]["details"][0]
    assert detail["row"] == 1 and detail["errors"][0]["field"] == "amount"
    assert count_rows(po_app, Refund) == 0
    ecom.refresh("cn.hebei")
    assert ecom.kpis("cn.hebei")["retail_turnover"] == "30.00"


def test_orders_are_attributed_to_shanghai_days(po_app, world, ecom, make_token):
    eshop = make_token("cn.hebei", "ecommerce.ingest")
    # 31 Aug 16:30 UTC is 1 Sep 00:30 in Shanghai: outside a period ending 31 Aug.
    eshop.post(
        URL,
        json=[
            ecom.order("YL1", "10.00", paid_at="2022-08-31T16:30:00Z"),
            ecom.order("YL2", "7.00", paid_at="2022-08-31T15:59:00Z"),
        ],
    )
    ecom.refresh("cn.hebei")
    assert ecom.kpis("cn.hebei", to="2022-08-31")["retail_turnover"] == "7.00"
    assert ecom.kpis("cn.hebei", frm="2022-09-01", to="2022-09-01")["retail_turnover"] == "10.00"


def test_csv_upload_is_imported_by_a_tracked_job(po_app, world, ecom, make_token, workers):
    from postalops.jobs import wait_for

    eshop = make_token("cn.hebei", "ecommerce.ingest")
    csv_text = (
        "order_no,paid_at,channel,branch,leader,session,pickup_point,campaign,sku,quantity,unit_price\n"
        "YL1,2022-09-01T08:00:00+08:00,groupbuy,,HB-L1,HB-S1,,,P1,2,10.00\n"
        "YL1,2022-09-01T08:00:00+08:00,groupbuy,,HB-L1,HB-S1,,,P2,1,3.50\n"
        f"R1,2022-09-01T09:00:00+08:00,retail,{HEBEI_BRANCH},,,,,P3,1,99.00\n"
    )
    resp = eshop.post(URL, data=csv_text.encode(), content_type="text/csv")
    assert resp.status_code == 202, resp.get_json()
    job = wait_for(po_app.extensions["postalops.db"], resp.get_json()["job"])
    assert job.status == "succeeded", job.error
    assert job.result["created"] == 2
    # 2 × 10.00 + 3.50 = 23.50 group-buy; + 99.00 retail = 122.50
    assert ecom.kpis("cn.hebei")["retail_turnover"] == "122.50"
    assert ecom.kpis("cn.hebei")["groupbuy_turnover"] == "23.50"


def test_a_csv_with_a_bad_row_names_its_spreadsheet_row(po_app, world, ecom, make_token):
    eshop = make_token("cn.hebei", "ecommerce.ingest")
    csv_text = (
        "order_no,paid_at,channel,branch,leader,session,pickup_point,campaign,sku,quantity,unit_price\n"
        "YL1,2022-09-01T08:00:00+08:00,groupbuy,,HB-L1,HB-S1,,,P1,2,10.00\n"
        "YL2,2022-09-01T08:00:00+08:00,groupbuy,,HB-L1,HB-S1,,,P1,zero,10.00\n"
    )
    resp = eshop.post(URL, data=csv_text.encode(), content_type="text/csv")
    assert resp.status_code == 422
    detail = resp.get_json()["error"]["details"][0]
    assert detail["row"] == 3 and detail["errors"][0]["field"] == "lines[0].quantity"
    assert count_rows(po_app, Order) == 0


def test_an_xlsx_upload_goes_through_the_same_import(po_app, world, ecom, make_token, workers):
    import io

    from openpyxl import Workbook
    from postalops.jobs import wait_for

    wb = Workbook()
    ws = wb.active
    ws.append(
        [
            "order_no",
            "paid_at",
            "channel",
            "branch",
            "leader",
            "session",
            "pickup_point",
            "campaign",
            "sku",
            "quantity",
            "unit_price",
        ]
    )
    ws.append(
        [
            "X1",
            "2022-09-01T08:00:00+08:00",
            "groupbuy",
            None,
            "HB-L1",
            "HB-S1",
            None,
            None,
            "P1",
            3,
            "19.90",
        ]
    )
    buf = io.BytesIO()
    wb.save(buf)
    eshop = make_token("cn.hebei", "ecommerce.ingest")
    resp = eshop.post(
        URL,
        data={"file": (io.BytesIO(buf.getvalue()), "orders.xlsx")},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 202, resp.get_json()
    job = wait_for(po_app.extensions["postalops.db"], resp.get_json()["job"])
    assert job.status == "succeeded", job.error
    # 3 × 19.90 = 59.70
    assert ecom.kpis("cn.hebei")["groupbuy_turnover"] == "59.70"
