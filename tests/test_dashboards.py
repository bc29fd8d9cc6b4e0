"""The dashboard host: behind the login, per-tenant, overview cards and CSV downloads."""

from __future__ import annotations

import json

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
            {"id": "po-period", "property": "start_date", "value": start},
            {"id": "po-period", "property": "end_date", "value": end},
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
            roles=["viewer"],
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
