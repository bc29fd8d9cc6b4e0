"""The pickup point's page on a phone (issue 19 §3, issue 14 §7 conventions): at 390×844 in
headless Chromium nothing scrolls sideways, the field and button are at least 44 px tall, and a
code typed and submitted hands the order over. The browser's requests are answered by the app's
test client (``page.route``), so no server or demo is needed."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest

CHROMIUM = os.environ.get("POSTALOPS_CHROMIUM", "/usr/bin/chromium")
pytestmark = pytest.mark.browser


def test_the_pickup_page_works_at_390_px(po_app, world, ecom, make_token, make_user, login):
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.skip("needs Debian's chromium")
    from playwright.sync_api import sync_playwright

    eshop = make_token("cn.hebei", "ecommerce.ingest")
    assert eshop.post("/api/v1/ecommerce/orders", json=[ecom.order("A1")]).status_code == 200
    code = eshop.get("/api/v1/ecommerce/orders/A1/pickup-code").get_json()["pickup_code"]
    client = login(make_user("hbagent", "cn.hebei.shijiazhuang", "branch_head"))

    def answer(route):
        req = route.request
        parts = urlsplit(req.url)
        resp = client.client.open(
            parts.path + (f"?{parts.query}" if parts.query else ""),
            method=req.method,
            data=req.post_data_buffer,
            headers={
                k: v for k, v in req.headers.items() if k.lower() in ("content-type", "accept")
            },
            follow_redirects=True,  # the browser is not asked to follow the app's redirect
        )
        headers = {k: v for k, v in resp.headers.items() if k.lower() not in ("content-length",)}
        route.fulfill(status=resp.status_code, headers=headers, body=resp.get_data())

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-gpu"])  # fmt: skip
        try:
            page = browser.new_context(
                viewport={"width": 390, "height": 844}, locale="zh-CN"
            ).new_page()
            errors = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.route("http://portal.test/**", answer)
            page.goto("http://portal.test/p/ecommerce/pickup")
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
            for selector in ("#f-code", "#f-pickup_point", "#verify-pickup button[type=submit]"):
                assert page.locator(selector).bounding_box()["height"] >= 44, selector
            page.fill("#f-pickup_point", "PP-1")
            page.fill("#f-code", code)
            page.click("#verify-pickup button[type=submit]")
            page.wait_for_load_state()
            assert "订单 A1 已提货" in page.inner_text("body")
            assert page.input_value("#f-pickup_point") == "PP-1"  # kept for the next customer
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
            assert errors == []
        finally:
            browser.close()
