"""The finance page in headless Chromium at 390×844 and 1440×900 (zh): nothing wider than the
window, no console error, no serious or critical axe violation; screenshots under
test-artifacts/browser/journal-<width>.png. The toy plugin of tests/test_journal.py books the
vouchers (one of them unbalanced)."""

from __future__ import annotations

import threading

import pytest
from werkzeug.serving import make_server

from tests.test_browser import SHOTS, browser  # noqa: F401 (fixture)
from tests.test_browser_pages import OVERFLOW_JS, axe_problems
from tests.test_journal import BALANCED, HENAN, UNBALANCED, Books, make_app, portal

pytestmark = pytest.mark.browser


@pytest.fixture
def journal_server(po_app, po_db):
    app = make_app(po_app, Books(lines=BALANCED + UNBALANCED))
    portal(app, "fin", HENAN, "finance")
    srv = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_port}"
    srv.shutdown()


@pytest.mark.parametrize("size", [(390, 844), (1440, 900)])
def test_the_finance_page_fits_a_phone_and_a_laptop(journal_server, browser, size):  # noqa: F811
    from axe_playwright_python.sync_playwright import Axe

    base = journal_server
    page = browser.new_context(
        locale="zh-CN", viewport={"width": size[0], "height": size[1]}
    ).new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(base + "/login")
    page.fill("#username", "fin")
    page.fill("#password", "test-password-1")
    page.click("#login-submit")
    page.wait_for_url(base + "/")
    page.goto(base + "/finance/journal?month=2022-09")
    assert page.locator("tbody.po-voucher").count() == 5
    scroll_width, inner, sticking_out = page.evaluate(OVERFLOW_JS)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"journal-{size[0]}.png"), full_page=True)
    assert scroll_width <= inner, (scroll_width, inner)
    assert sticking_out == []
    assert errors == []
    assert axe_problems(Axe(), page) == []
