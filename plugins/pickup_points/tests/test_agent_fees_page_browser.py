"""The 代办费结算 page in headless Chromium at 390×844 and 1440×900, in zh: nothing wider than
the window on a phone (the table scrolls in its own box), no snake_case token or raw unit code,
no console error, no serious or critical axe-core violation (tests/test_browser_pages.py's
checks), on the hand-computed September of test_agent_fees_page.py."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from postalops.testing import PASSWORD, live_server

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from tests.test_browser_pages import CHROMIUM, axe_problems, check_page  # noqa: E402

from .test_agent_fees_page import ZZ, september  # noqa: E402

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        bool(os.environ.get("POSTALOPS_DATABASE_URL")), reason="pages do not depend on the DB"
    ),
]

SHOTS = os.environ.get("POSTALOPS_SCREENSHOTS")  # a folder: keep the screenshots there


def test_agent_fee_page_on_a_phone_and_a_laptop(
    po_app, make_user, make_token, enable_plugin, frozen_today
):
    from axe_playwright_python.sync_playwright import Axe
    from playwright.sync_api import sync_playwright

    september(make_token, enable_plugin, frozen_today)
    make_user("fees390", ZZ, "ops")
    axe = Axe()
    problems: list[str] = []
    with live_server(po_app) as base, sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        for width, height in ((390, 844), (1440, 900)):
            ctx = browser.new_context(
                locale="zh-CN",
                viewport={"width": width, "height": height},
                is_mobile=width < 768,
                has_touch=width < 768,
            )
            page = ctx.new_page()
            errors: list[str] = []
            page.on("console", lambda m, e=errors: e.append(m.text) if m.type == "error" else None)
            page.goto(base + "/login")
            page.fill("#username", "fees390")
            page.fill("#password", PASSWORD)
            page.click("#login-submit")
            page.wait_for_url(base + "/")
            page.goto(base + "/p/pickup_points/agent-fees")
            page.wait_for_load_state("load")
            # today 5 Oct 2022: the page opens on September
            assert page.input_value("#f-month") == "2022-09"
            problems += [f"{width}: {x}" for x in check_page(page, width, errors, {"fees390"})]
            problems += [f"{width}: {x}" for x in axe_problems(axe, page)]
            if SHOTS:
                page.screenshot(path=f"{SHOTS}/agent-fees-{width}.png", full_page=True)
            # picking October in the list reloads the page on that month (no typing)
            with page.expect_navigation():
                page.select_option("#f-month", "2022-10")
            assert "month=2022-10" in page.url
            ctx.close()
        browser.close()
    assert problems == []
