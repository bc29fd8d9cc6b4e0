"""/api/v1/docs in headless Chromium: Swagger UI 5, served from the package with no CDN,
renders the OpenAPI 3.1 document (Swagger UI 4 showed "Unable to render this definition")."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "test-artifacts" / "browser"
CHROMIUM = os.environ.get("POSTALOPS_CHROMIUM", "/usr/bin/chromium")

pytestmark = pytest.mark.browser


@pytest.fixture
def server(po_app, tenants):
    srv = make_server("127.0.0.1", 0, po_app, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_port}"
    srv.shutdown()


@pytest.fixture
def page(server):
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.fail("Debian's chromium is required for the browser tests (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        context = browser.new_context(locale="zh-CN", viewport={"width": 1440, "height": 900})
        page = context.new_page()
        outside: list[str] = []
        page.on(
            "request",
            lambda r: outside.append(r.url) if not r.url.startswith((server, "data:")) else None,
        )
        page.outside_requests = outside  # type: ignore[attr-defined]
        yield page
        browser.close()


def test_api_docs_list_the_operations(po_app, server, page, make_user):
    make_user("docs_admin", "cn", "admin")
    page.goto(server + "/login")
    page.fill("#username", "docs_admin")
    page.fill("#password", "test-password-1")
    page.click("#login-submit")
    page.wait_for_url(server + "/")

    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(server + "/api/v1/docs")
    page.wait_for_selector(".opblock-summary", timeout=60_000)
    text = page.inner_text("#swagger-ui")
    assert "Unable to render this definition" not in text
    assert "PostalOps API" in text
    summaries = page.locator(".opblock-summary-path").all_inner_texts()
    assert "/api/v1/jobs/{job_id}" in [s.replace("\u200b", "") for s in summaries]
    documented = sum(
        len(v) for v in po_app.test_client().get("/api/v1/openapi.json").json["paths"].values()
    )
    assert page.locator(".opblock").count() == documented
    # Swagger UI 5 stamps the document's version; 4.x could not read 3.1 at all
    assert "OAS 3.1" in page.inner_text(".info .version-stamp")
    assert errors == []
    assert page.outside_requests == []  # type: ignore[attr-defined]
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "api-docs.png"))
