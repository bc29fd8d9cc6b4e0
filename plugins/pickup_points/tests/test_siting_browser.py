"""The siting pages (list, scenario, promoting a planned site) in headless Chromium at 390×844 and 1440×900, in zh: nothing wider than the
window on a phone, no snake_case token or raw unit code in the text, no console error, and no
serious or critical axe-core violation (the checks of tests/test_browser_pages.py, on a small
network served from this test's app)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from postalops import context
from postalops.testing import PASSWORD, live_server, system_context
from postalops_pickup_points import service

# The portal's own browser checks (tests/test_browser_pages.py), not copies; the repository's
# tests package is importable from the checkout's root.
sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from tests.test_browser_pages import CHROMIUM, axe_problems, check_page  # noqa: E402

from .test_siting_scenario import ZZ, _candidates, network  # noqa: F401  (fixture)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        bool(os.environ.get("POSTALOPS_DATABASE_URL")), reason="pages do not depend on the DB"
    ),
]


@pytest.mark.usefixtures("network")
def test_siting_pages_on_a_phone_and_a_laptop(po_app, make_user):
    from axe_playwright_python.sync_playwright import Axe
    from playwright.sync_api import sync_playwright

    make_user("planner390", ZZ, "pickup_planner", "ops")
    # A finished scenario with sites, so every part of the page is drawn.
    with context.activate(system_context(po_app, ZZ)) as ctx:
        params = service.SitingParams(k=1, candidates=_candidates(), time_limit_s=10)
        row = service.run_scenario(ctx.session, ZZ, params, "browser", "test")
        sid = row.id
        # C1 accepted as a planned site: its row shows the promote button, and its form page.
        site_id = service.accept_sites(ctx.session, row, ["C1"], "test")[0].id
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

            def on_console(m, errors=errors):
                if m.type == "error":
                    errors.append(m.text)

            page.on("console", on_console)
            page.goto(base + "/login")
            page.fill("#username", "planner390")
            page.fill("#password", PASSWORD)
            page.click("#login-submit")
            page.wait_for_url(base + "/")
            for path in (
                "/p/pickup_points/siting",
                f"/p/pickup_points/siting/{sid}",
                f"/p/pickup_points/siting/planned/{site_id}/promote",
            ):
                page.goto(base + path)
                page.wait_for_load_state("load")
                for prob in check_page(page, width, errors, {"planner390"}):
                    problems.append(f"{width} {path}: {prob}")
                for prob in axe_problems(axe, page):
                    problems.append(f"{width} {path}: {prob}")
                errors.clear()
            ctx.close()
        browser.close()
    assert problems == []
