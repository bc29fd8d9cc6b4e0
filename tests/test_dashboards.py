"""The dashboard host: behind the login, per-tenant, overview cards and CSV downloads."""

from __future__ import annotations

import json
import re

from postalops.testing import system_scope

from tests.fixtures.toy_plugins import Toy, toy_app

ZZ = "cn.henan.zhengzhou"


def dash_update(client, unit, start="2022-08-17", end="2022-08-31", path="/dashboards/"):
    payload = {
        "output": "po-page.children",
        "outputs": {"id": "po-page", "property": "children"},
        "inputs": [
            {"id": "po-url", "property": "pathname", "value": path},
            {"id": "po-unit", "property": "value", "value": unit},
            {"id": "po-from", "property": "value", "value": start},
            {"id": "po-to", "property": "value", "value": end},
        ],
        "changedPropIds": ["po-url.pathname"],
        "state": [],
    }
    return client.post(
        "/dashboards/_dash-update-component",
        data=json.dumps(payload),
        content_type="application/json",
    )


def test_anonymous_requests_to_dash_routes_get_no_data(po_app, tenants):
    c = po_app.test_client()
    assert c.get("/dashboards/").status_code == 302
    for url in ("/dashboards/_dash-layout", "/dashboards/_dash-dependencies"):
        resp = c.get(url)
        assert resp.status_code == 401 and "error" in resp.json, url
    resp = dash_update(c, ZZ)
    assert resp.status_code == 401 and "po-page" not in resp.get_data(as_text=True)


def test_overview_shows_a_card_per_kpi_of_enabled_plugins(po_app, tenants):
    app = toy_app(po_app, Toy("alpha"))
    from postalops.models import PluginEnablement
    from postalops.testing import PortalClient

    with app.extensions["postalops.db"].transaction(system_scope()) as s:
        s.add(PluginEnablement(unit_code="cn", plugin_key="alpha", enabled=True))
        from postalops.auth import create_user

        create_user(
            s,
            app.extensions["postalops.plugins"],
            username="v",
            password="test-pass-1",
            unit_code=ZZ,
            roles=["ops"],  # the toy plugin's alpha.view is held by ops
        )
    c = PortalClient(app.test_client())
    c.login("v", "test-pass-1")
    assert c.get("/dashboards/").status_code == 200
    body = dash_update(c.client, ZZ).get_data(as_text=True)
    assert '"data-kpi": "alpha.days"' in body.replace("'", '"') or "alpha.days" in body
    assert '"15 day"' in body or "15 day" in body  # 17..31 Aug inclusive
    assert "csv" in body.lower()
    # a unit outside the viewer's subtree falls back to their own unit
    other = dash_update(c.client, "cn.hebei").get_data(as_text=True)
    assert ZZ in other and "cn.hebei" not in other.replace("cn.hebei.", "")


def test_metrics_csv_download(po_app, make_user, login):
    c = login(make_user("v", ZZ, "viewer"))
    resp = c.get(f"/dashboards/export/metrics.csv?tenant={ZZ}&from=2022-08-17&to=2022-08-31")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert resp.get_data(as_text=True).lstrip("\ufeff").startswith("tenant,from,to,plugin,kpi")


# --- issue 14 §4: role filtering, empty states, translated titles, names ------------------------


def figures_in(body: str) -> list[tuple[str, dict]]:
    """``(chart name, figure JSON)`` of every dcc.Graph in a Dash callback response."""
    found: list[tuple[str, dict]] = []

    def walk(node):
        if isinstance(node, dict):
            props = node.get("props")
            if node.get("type") == "Graph" and isinstance(props, dict) and "figure" in props:
                found.append((props["id"]["name"], props["figure"]))
                return
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(json.loads(body))
    return found


def nav_pages(client) -> list[str]:
    body = client.get("/dashboards/_dash-layout").get_data(as_text=True)
    return [p.split(":", 1)[1] for p in re.findall(r'"data-page":\s*"([^"]+)"', body)]


def test_a_loan_officer_sees_no_payroll_card_page_or_data(po_app, make_user, login):
    officer = login(make_user("lo_zz", ZZ, "loan_officer"))
    pages = nav_pages(officer.client)
    assert "lending" in pages and "payroll" not in pages
    assert "" in pages  # the overview

    overview = dash_update(officer.client, ZZ, path="/dashboards/").get_data(as_text=True)
    assert '"data-kpi":"lending.' in overview.replace(" ", "")
    assert '"payroll.' not in overview and 'data-plugin":"payroll' not in overview
    assert "计件工资" not in overview

    # the callback refuses server-side, whatever the browser asks for
    resp = dash_update(officer.client, ZZ, path="/dashboards/payroll")
    body = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "po-page-forbidden" in body
    assert "payroll-dashboard" not in body and "payroll." not in body
    assert "你没有查看此看板的权限" in body

    csv = officer.get(f"/dashboards/export/metrics.csv?tenant={ZZ}&from=2022-09-01&to=2022-09-30")
    rows = csv.get_data(as_text=True).splitlines()
    assert any(",lending," in r for r in rows)
    assert not any(",payroll," in r for r in rows)

    # payroll's own staff do see it
    hr = login(make_user("hr_zz", ZZ, "payroll_hr"))
    assert "payroll" in nav_pages(hr.client)
    body = dash_update(hr.client, ZZ, path="/dashboards/payroll").get_data(as_text=True)
    assert "payroll-dashboard" in body and "po-page-forbidden" not in body


def test_every_chart_of_an_empty_period_shows_the_empty_state(po_app, make_user, login):
    ops = login(make_user("ops_zz", ZZ, "ops"))
    pages = nav_pages(ops.client)
    assert {"", "payroll", "lending", "outcall", "sorter", "ecommerce"} <= set(pages)
    charts = 0
    for path in pages:
        body = dash_update(ops.client, ZZ, "2021-03-01", "2021-03-31", "/dashboards/" + path)
        assert body.status_code == 200, path
        for name, fig in figures_in(body.get_data(as_text=True)):
            charts += 1
            layout = fig["layout"]
            assert layout.get("meta", {}).get("po-empty") is True, (path, name)
            texts = [a["text"] for a in layout.get("annotations", [])]
            assert any("所选期间没有数据" in t for t in texts), (path, name, texts)
            assert layout["xaxis"]["visible"] is False and layout["yaxis"]["visible"] is False
    assert charts >= 5


def test_overview_charts_name_units_and_translate_axis_titles(po_app, tenants):
    from postalops.auth import create_user
    from postalops.models import PluginEnablement
    from postalops.testing import PortalClient
    from postalops_dashboards.figures import raw_titles

    app = toy_app(po_app, Toy("alpha"))
    with app.extensions["postalops.db"].transaction(system_scope()) as s:
        s.add(PluginEnablement(unit_code="cn", plugin_key="alpha", enabled=True))
        create_user(
            s,
            app.extensions["postalops.plugins"],
            username="ops_t",
            password="test-pass-1",
            unit_code="cn.henan",
            roles=["ops"],
        )
    c = PortalClient(app.test_client())
    c.login("ops_t", "test-pass-1")
    body = dash_update(c.client, "cn.henan", "2022-08-01", "2022-09-30").get_data(as_text=True)
    figs = dict(figures_in(body))
    assert set(figs) == {"trend-alpha-days", "children-alpha-days"}
    for name, fig in figs.items():
        assert not fig["layout"].get("meta", {}).get("po-empty"), name
        assert raw_titles(fig, ["unit", "name", "value", "to", "from"]) == [], name
        for axis in ("xaxis", "yaxis"):
            title = fig["layout"][axis]["title"]["text"]
            assert re.search(r"[\u4e00-\u9fff]", title), (name, axis, title)
        assert fig["layout"]["template"]["layout"]["font"]["family"].count("Noto Sans CJK SC")
    children = figs["children-alpha-days"]["data"][0]
    # the units below Henan by name, not by code
    assert sorted(children["y"]) == sorted(["郑州", "开封"])
    assert "cn.henan" not in json.dumps(children["y"], ensure_ascii=False)
    # hover and cards through postalops.formatting
    assert children["customdata"] == ["61 day", "61 day"]
    assert children["hovertemplate"].endswith("%{customdata}<extra></extra>")


def test_the_dashboard_page_says_its_language_and_uses_native_controls(po_app, make_user, login):
    """axe (serious/critical) on /dashboards/: <html> had no lang, and Dash's date-range picker
    and dropdown carried ARIA attributes they may not have. The page declares its language and
    the unit and period are native, labelled <select> and date inputs."""
    c = login(make_user("v", ZZ, "viewer"))
    page = c.get("/dashboards/").get_data(as_text=True)
    assert '<html lang="zh-CN">' in page
    c.post("/lang", data={"lang": "en", "csrf_token": c.csrf, "next": "/"})
    assert '<html lang="en">' in c.get("/dashboards/").get_data(as_text=True)
    layout = json.dumps(c.get("/dashboards/_dash-layout").json)
    assert '"po-from"' in layout and '"po-to"' in layout and "DatePickerRange" not in layout
    assert '"htmlFor": "po-unit"' in layout and '"type": "Select"' in layout
    bad = dash_update(c, ZZ, start="2022-13-40")
    assert bad.status_code == 200 and "po-bad-date" in bad.get_data(as_text=True)


def test_charts_speak_the_viewers_language_with_plotlys_locale_served_locally(
    po_app, make_user, login
):
    """The modebar's tooltips (Zoom, Autoscale, Download plot as a png ...) were English in the
    Chinese portal: every chart is configured with plotly's zh-CN locale, whose script the
    dashboards serve themselves (no CDN); English viewers keep plotly's own English."""
    c = login(make_user("loc", ZZ, "ops"))
    page = c.get("/dashboards/").get_data(as_text=True)
    scripts = re.findall(r'<script[^>]*src="([^"]+)"', page)
    locale = [s for s in scripts if "plotly-locale-zh-cn" in s]
    assert locale and all(s.startswith("/dashboards/") for s in scripts), scripts
    js = c.get(locale[0].split("?")[0]).get_data(as_text=True)
    assert "'zh-CN'" in js and "自动缩放" in js and "PlotlyLocales" in js

    def configs(client):
        body = dash_update(client, ZZ).get_data(as_text=True)
        found = []

        def walk(node):
            if isinstance(node, dict):
                if node.get("type") == "Graph":
                    found.append(node["props"].get("config", {}))
                for v in node.values():
                    walk(v)
            elif isinstance(node, list):
                for v in node:
                    walk(v)

        walk(json.loads(body))
        assert found
        return found

    assert {cfg.get("locale") for cfg in configs(c)} == {"zh-CN"}
    c.post("/lang", data={"lang": "en", "csrf_token": c.csrf, "next": "/"})
    assert {cfg.get("locale") for cfg in configs(c)} == {"en"}
