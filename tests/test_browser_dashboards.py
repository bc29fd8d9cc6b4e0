"""Dashboards in headless Chromium, in zh at 1440 and 390 px (issue 14 §4): the portal's look,
role filtering in the nav and the page, the empty state on every chart, nothing scrolling
sideways, no console error, no snake_case or unit code on screen. Screenshots go to
test-artifacts/browser/dashboards-*.png."""

from __future__ import annotations

import re

import pytest

from tests.test_browser import browser, server, shot  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser

ZZ = "cn.henan.zhengzhou"
RAW = re.compile(r"\b[a-z]+_[a-z_]+\b|\bcn\.[a-z]+")


def open_dashboard(browser, base, username, path, width, height):  # noqa: F811
    context = browser.new_context(locale="zh-CN", viewport={"width": width, "height": height})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(base + "/login")
    page.fill("#username", username)
    page.fill("#password", "test-password-1")
    page.click("#login-submit")
    page.wait_for_url(base + "/")
    page.goto(base + "/dashboards/" + path)
    page.wait_for_selector("#po-page-body, #po-page-forbidden, #po-page-missing", timeout=60000)
    page.wait_for_load_state("networkidle")
    return page, errors


@pytest.mark.parametrize("width,height", [(1440, 900), (390, 844)])
def test_dashboards_in_zh_at_both_widths(po_app, server, browser, make_user, width, height):  # noqa: F811
    make_user("lo_zz", ZZ, "loan_officer")
    make_user("hr_zz", ZZ, "payroll_hr")

    # a loan officer: the overview without payroll, and no way into the payroll page
    page, errors = open_dashboard(browser, server, "lo_zz", "", width, height)
    nav = page.inner_text("#po-dash-nav")
    assert "小微E贷" in nav and "计件工资" not in nav
    body = page.inner_text("#po-page")
    assert "计件工资" not in body and "投递量" not in body
    page.wait_for_selector("#po-overview .js-plotly-plot")
    assert "所选期间没有数据" in page.inner_text("#po-overview-charts")
    assert not RAW.findall(page.inner_text("body")), RAW.findall(page.inner_text("body"))
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert errors == []
    shot(page, f"dashboards-overview-loan-officer-{width}")
    page.goto(server + "/dashboards/payroll")
    page.wait_for_selector("#po-page-forbidden")
    assert "你没有查看此看板的权限" in page.inner_text("#po-page")
    page.context.close()

    # payroll's own staff: the payroll page, in the portal's colours, empty states for the period
    page, errors = open_dashboard(browser, server, "hr_zz", "payroll", width, height)
    assert "计件工资" in page.inner_text("#po-dash-nav")
    assert page.locator(".po-dash-link.active").inner_text() == "计件工资成本"
    header = page.eval_on_selector(".po-dash-header", "e => getComputedStyle(e).backgroundColor")
    assert header == "rgb(11, 110, 58)"  # --po-green
    font = page.eval_on_selector("body", "e => getComputedStyle(e).fontFamily")
    assert "Noto Sans CJK SC" in font
    assert "所选期间尚无工资核算" in page.inner_text("#po-page")
    assert not RAW.findall(page.inner_text("body"))
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert errors == []
    shot(page, f"dashboards-payroll-{width}")
    page.context.close()


def test_the_modebar_speaks_chinese(po_app, server, browser, make_user):  # noqa: F811
    """plotly's modebar tooltips were English in the Chinese portal; its zh-CN locale is loaded
    from the dashboards' own assets (no request leaves the server) and named in each chart."""
    make_user("mb_zz", ZZ, "ops")
    page, errors = open_dashboard(browser, server, "mb_zz", "", 1440, 900)
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(server) else None)
    page.wait_for_selector("#po-overview .js-plotly-plot")
    page.hover("#po-overview .js-plotly-plot")
    titles = page.eval_on_selector_all(".modebar-btn", "els => els.map(e => e.dataset.title)")
    assert "下载图表为PNG格式" in titles and "缩放" in titles, titles
    assert not [t for t in titles if t and re.search(r"[A-Za-z]{4,}", t)], titles
    assert errors == [] and outside == []
    page.context.close()
