"""The issue 20 pages at 390 px in headless Chromium: nothing wider than the phone, no console
error, no snake_case or raw unit code in the visible text. Skipped without Chromium."""

import datetime as dt
import os
import re
import threading
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("POSTALOPS_CHROMIUM", "/usr/bin/chromium")
JINSHUI = "cn.henan.zhengzhou.jinshui"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="no Chromium"),
]

OVERFLOW_JS = """() => {
  const W = window.innerWidth, out = [];
  const boxed = (el) => {
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      if (getComputedStyle(p).overflowX !== 'visible') return true;
    }
    return false;
  };
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0 || r.right <= W + 1) continue;
    const cs = getComputedStyle(el);
    if (cs.visibility === 'hidden' || cs.position === 'fixed') continue;
    if (boxed(el)) continue;
    out.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + ' right=' + Math.round(r.right));
    if (out.length >= 5) break;
  }
  return [document.documentElement.scrollWidth, W, out];
}"""


@pytest.fixture
def server(po_app):
    from werkzeug.serving import make_server

    srv = make_server("127.0.0.1", 0, po_app, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_port}"
    srv.shutdown()


def test_the_issue_20_pages_fit_a_phone(po_app, server, make_user, make_device, tel, token_for):
    from playwright.sync_api import sync_playwright
    from postalops import context
    from postalops.testing import PASSWORD, system_context
    from postalops_sorter import alerting
    from postalops_sorter.alerts import AlertKind
    from postalops_sorter.models import Device

    token_for("ops", JINSHUI).put(
        "/api/v1/sorter/calendar/shifts",
        json=[{"number": 1, "name": "白班", "start": "08:00", "end": "12:00"}],
    )
    device_id, machine = make_device(rated=3600)
    tel.post(
        machine,
        device_id,
        [
            tel.state(0, tel.at(8, 0), "running"),
            tel.item(1, tel.at(8, 1)),
            tel.state(2, tel.at(8, 10), "fault"),
            tel.state(3, tel.at(8, 20), "running"),
            tel.beat(4, tel.at(8, 30)),
        ],
    )
    tel.rollup()
    with context.activate(system_context(po_app)) as ctx:
        d = ctx.session.get(Device, device_id)
        a = alerting.raise_alert(
            ctx.session, d, AlertKind.SILENT, "no telemetry for 5+ minutes", dt.datetime.now(dt.UTC)
        )
        alerting.comment(ctx.session, a.id, "head", "已派人到场", dt.datetime.now(dt.UTC))
        ctx.session.commit()
        alert_id = a.id
    make_user("head390", JINSHUI, "station_head", "ops")
    q = f"from={tel.day}&to={tel.day}"
    paths = [
        f"/p/sorter/losses?{q}",
        f"/p/sorter/calendar?{q}",
        "/p/sorter/alerts",
        f"/p/sorter/alerts/{alert_id}",
        "/p/sorter/alarm-rules",
        f"/p/sorter/maintenance?{q}",
    ]
    problems = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_context(
            locale="zh-CN", viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
        ).new_page()
        errors = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(server + "/login")
        page.fill("#username", "head390")
        page.fill("#password", PASSWORD)
        page.click("#login-submit")
        page.wait_for_url(server + "/")
        for path in paths:
            resp = page.goto(server + path)
            assert resp.status == 200, path
            width, inner, out = page.evaluate(OVERFLOW_JS)
            if width > inner or out:
                problems.append(f"{path}: scrollWidth {width} > {inner} {out}")
            text = page.inner_text("main") if page.query_selector("main") else ""
            snake = [t for t in re.findall(r"\b[a-z]+_[a-z_]+\b", text) if t != "head390"]
            if snake:
                problems.append(f"{path}: snake_case {snake[:5]}")
        browser.close()
    assert problems == [] and errors == [], (problems, errors)
