"""Issue 19 §3 pages on the UI kit: the pickup point's phone page (errors beside the field, 422
or 409), commission rates with their form, and statements drawn up, approved by someone else
and paid from the portal. Everything in Chinese, numbers formatted."""

from __future__ import annotations

import re

from postalops.testing import assert_readable, count_rows
from postalops_ecommerce.models import CommissionRate, Pickup, Statement


def test_the_pickup_page_verifies_a_code_and_names_the_problem_beside_the_field(
    po_app, world, ecom, make_token, make_user, login
):
    eshop = make_token("cn.hebei", "ecommerce.ingest")
    assert eshop.post("/api/v1/ecommerce/orders", json=[ecom.order("A1")]).status_code == 200
    code = eshop.get("/api/v1/ecommerce/orders/A1/pickup-code").get_json()["pickup_code"]
    agent = login(make_user("hbagent", "cn.hebei.shijiazhuang", "branch_head"))
    page = agent.get("/p/ecommerce/pickup")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert_readable(html)
    assert 'id="f-code"' in html and 'inputmode="numeric"' in html and 'name="viewport"' in html
    wrong = agent.post(
        "/p/ecommerce/pickup", data={"csrf_token": agent.csrf, "pickup_point": "PP-2", "code": code}
    )
    assert wrong.status_code == 422
    assert (
        "该订单在 PP-1 提货"
        in re.search(
            r'id="f-pickup_point-error"[^>]*>(.*?)</div>', wrong.get_data(as_text=True), re.S
        )[1]
    )
    bad = agent.post(
        "/p/ecommerce/pickup",
        data={"csrf_token": agent.csrf, "pickup_point": "PP-1", "code": "123"},
    )
    assert bad.status_code == 422 and 'id="f-code-error"' in bad.get_data(as_text=True)
    ok = agent.post(
        "/p/ecommerce/pickup", data={"csrf_token": agent.csrf, "pickup_point": "PP-1", "code": code}
    )
    assert ok.status_code == 302 and ok.headers["Location"].endswith("point=PP-1")
    after = agent.get(ok.headers["Location"]).get_data(as_text=True)
    assert "A1" in after and "已提货" in after and 'value="PP-1"' in after
    twice = agent.post(
        "/p/ecommerce/pickup", data={"csrf_token": agent.csrf, "pickup_point": "PP-1", "code": code}
    )
    assert twice.status_code == 409
    assert (
        "已核销"
        in re.search(r'id="f-code-error"[^>]*>(.*?)</div>', twice.get_data(as_text=True), re.S)[1]
    )
    assert count_rows(po_app, Pickup) == 1
    viewer = login(make_user("hbviewer", "cn.hebei", "viewer"))
    assert viewer.get("/p/ecommerce/pickup").status_code == 403


def test_rates_and_statements_from_the_portal_with_maker_checker(
    po_app, world, ecom, make_token, make_user, login
):
    maker = login(make_user("hbmaker", "cn.hebei", "marketing"))
    bad = maker.post(
        "/p/ecommerce/commission",
        data={
            "csrf_token": maker.csrf,
            "target": "sku",
            "sku": "P1",
            "rate_percent": "80",
            "effective_from": "2022-08-01",
        },
    )
    assert bad.status_code == 422 and 'id="f-rate_percent-error"' in bad.get_data(as_text=True)
    assert count_rows(po_app, CommissionRate) == 0
    ok = maker.post(
        "/p/ecommerce/commission",
        data={
            "csrf_token": maker.csrf,
            "target": "sku",
            "sku": "P1",
            "rate_percent": "8",
            "effective_from": "2022-08-01",
        },
    )
    assert ok.status_code == 302
    rates = maker.get("/p/ecommerce/commission").get_data(as_text=True)
    assert "8.0%" in assert_readable(rates)

    # two orders of 10.00 picked up in September: 2 × 10.00 × 8 % = 1.60
    eshop = make_token("cn.hebei", "ecommerce.ingest")
    pp1 = make_token("cn.hebei", "ecommerce.pickup", subject="pickup_point:PP-1")
    assert (
        eshop.post(
            "/api/v1/ecommerce/orders", json=[ecom.order("A1"), ecom.order("A2")]
        ).status_code
        == 200
    )
    for no in ("A1", "A2"):
        code = eshop.get(f"/api/v1/ecommerce/orders/{no}/pickup-code").get_json()["pickup_code"]
        assert (
            pp1.post(
                "/api/v1/ecommerce/pickups",
                json={"code": code, "verified_at": "2022-09-03T10:00:00+08:00"},
            ).status_code
            == 201
        )
    made = maker.post(
        "/p/ecommerce/statements", data={"csrf_token": maker.csrf, "period": "2022-09"}
    )
    assert made.status_code == 302
    badmonth = maker.post(
        "/p/ecommerce/statements", data={"csrf_token": maker.csrf, "period": "Sept"}
    )
    assert badmonth.status_code == 422 and 'id="f-period-error"' in badmonth.get_data(as_text=True)
    listing = maker.get("/p/ecommerce/statements?period=2022-09").get_data(as_text=True)
    text = assert_readable(listing)
    assert "¥1.60" in text and "待审批" in text
    sid = re.search(r'href="/p/ecommerce/statements/(\d+)"', listing)[1]
    own = maker.get(f"/p/ecommerce/statements/{sid}").get_data(as_text=True)
    assert "someone else" not in own and "必须由他人审批" in own and 'id="decide"' in own
    refused = maker.post(
        f"/p/ecommerce/statements/{sid}",
        data={"csrf_token": maker.csrf, "action": "approve", "confirmed": "1"},
    )
    assert refused.status_code == 302
    checker = login(make_user("hbchecker", "cn.hebei", "marketing"))
    # the workbench: the statement waits for the checker, not for who drew it up
    inbox = checker.get("/").get_data(as_text=True)
    task = re.search(r'data-task="ecommerce:approve_statements">(.*?)</li>', inbox, re.S)[1]
    assert "团长佣金结算单待审批" in task and "¥1.60" in task
    assert 'href="/p/ecommerce/statements?status=pending"' in inbox
    assert "approve_statements" not in maker.get("/").get_data(as_text=True)
    page = checker.get(f"/p/ecommerce/statements/{sid}").get_data(as_text=True)
    assert_readable(page)
    assert "批准" in page or "审批" in page
    ask = checker.post(
        f"/p/ecommerce/statements/{sid}", data={"csrf_token": checker.csrf, "action": "approve"}
    )
    assert ask.status_code == 200 and "审批结算单" in ask.get_data(as_text=True)  # asked first
    approved = checker.post(
        f"/p/ecommerce/statements/{sid}",
        data={"csrf_token": checker.csrf, "action": "approve", "confirmed": "1"},
    )
    assert approved.status_code == 302
    paid = maker.post(
        f"/p/ecommerce/statements/{sid}",
        data={"csrf_token": maker.csrf, "action": "pay", "paid_on": "2022-10-08"},
    )
    assert paid.status_code == 302
    final = maker.get(f"/p/ecommerce/statements/{sid}").get_data(as_text=True)
    assert "已付款" in assert_readable(final) and "2022-10-08" in final
    export = maker.get("/p/ecommerce/statements?period=2022-09&export=xlsx")
    assert export.status_code == 200 and export.data[:2] == b"PK"
    from io import BytesIO

    from openpyxl import load_workbook

    ws = load_workbook(BytesIO(export.data)).active
    header = [c.value for c in ws[1]]
    row = [c.value for c in ws[2]]
    payable = row[header.index("应付金额")]
    assert isinstance(payable, (int, float)) and abs(payable - 1.60) < 1e-9  # a number, not text
    assert count_rows(po_app, Statement) == 1
