"""Per-unit plugin enablement: inherited down the tree, overridable, checked on every request,
and requirements checked both ways (409 naming the other plugin)."""

from __future__ import annotations

import pytest
from postalops.testing import system_scope

from tests.fixtures.toy_plugins import Toy, toy_app

ZZ, KF = "cn.henan.zhengzhou", "cn.henan.kaifeng"


@pytest.fixture
def app2(po_app, tenants):
    from postalops.testing import build_tree  # noqa: F401 - tree already built by `tenants`

    app = toy_app(po_app, Toy("alpha"), Toy("beta", {"alpha": ">=1.0"}))
    db = app.extensions["postalops.db"]
    from postalops.models import PluginEnablement

    with db.transaction(system_scope()) as s:
        s.add(PluginEnablement(unit_code="cn", plugin_key="alpha", enabled=True))
        s.add(PluginEnablement(unit_code="cn", plugin_key="beta", enabled=True))
    return app


def client_for(app, username, unit, *roles):
    from postalops.auth import create_user
    from postalops.testing import PortalClient

    with app.extensions["postalops.db"].transaction(system_scope()) as s:
        create_user(
            s,
            app.extensions["postalops.plugins"],
            username=username,
            password="test-password-1",
            unit_code=unit,
            roles=roles,
        )
    c = PortalClient(app.test_client())
    assert c.login(username, "test-password-1").status_code == 302
    return c


def nav_keys(client):
    import re

    return set(re.findall(r'data-nav="([a-z_]+)"', client.get("/").get_data(as_text=True)))


def test_disabled_plugin_is_absent_for_that_city_only(app2):
    admin = client_for(app2, "root", "cn", "admin")
    zz = client_for(app2, "zz", ZZ, "ops")
    kf = client_for(app2, "kf", KF, "ops")
    assert zz.get("/p/beta/").status_code == 200
    resp = admin.put(f"/api/v1/tenants/{ZZ}/plugins/beta", json={"enabled": False})
    assert resp.status_code == 200, resp.json
    assert zz.get("/p/beta/").status_code == 404
    assert zz.get("/api/v1/beta/ping").status_code == 404
    assert "beta" not in nav_keys(zz) and "alpha" in nav_keys(zz)
    assert kf.get("/p/beta/").status_code == 200
    assert kf.get("/api/v1/beta/ping").json == {"plugin": "beta"}
    assert "beta" in nav_keys(kf)
    metrics = zz.get("/api/v1/metrics?from=2022-08-17&to=2022-08-31").json["metrics"]
    assert "beta" not in metrics and metrics["alpha"]["days"]["value"] == 15


def test_station_inherits_and_can_override(app2):
    admin = client_for(app2, "root", "cn", "admin")
    admin.put(f"/api/v1/tenants/{ZZ}/plugins/beta", json={"enabled": False})
    station = client_for(app2, "st", ZZ + ".jinshui", "ops")
    assert station.get("/p/beta/").status_code == 404  # inherited from the city
    assert (
        admin.put(f"/api/v1/tenants/{ZZ}.jinshui/plugins/beta", json={"enabled": True}).status_code
        == 200
    )
    assert station.get("/p/beta/").status_code == 200  # overridden below


def test_enabling_plugin_whose_requirement_is_disabled_is_409(app2):
    admin = client_for(app2, "root", "cn", "admin")
    assert (
        admin.put(f"/api/v1/tenants/{KF}/plugins/beta", json={"enabled": False}).status_code == 200
    )
    assert (
        admin.put(f"/api/v1/tenants/{KF}/plugins/alpha", json={"enabled": False}).status_code == 200
    )
    resp = admin.put(f"/api/v1/tenants/{KF}/plugins/beta", json={"enabled": True})
    assert resp.status_code == 409
    assert resp.json["error"]["details"][0]["plugin"] == "alpha"
    assert "alpha" in resp.json["error"]["message"]


def test_disabling_a_requirement_of_an_enabled_plugin_is_409(app2):
    admin = client_for(app2, "root", "cn", "admin")
    resp = admin.put(f"/api/v1/tenants/{ZZ}/plugins/alpha", json={"enabled": False})
    assert resp.status_code == 409
    assert resp.json["error"]["details"][0]["plugin"] == "beta"
    # nothing changed: alpha still on for Zhengzhou
    zz = client_for(app2, "zz", ZZ, "ops")
    assert zz.get("/p/alpha/").status_code == 200


def test_enablement_change_is_audited(app2):
    admin = client_for(app2, "root", "cn", "admin")
    admin.put(f"/api/v1/tenants/{ZZ}/plugins/beta", json={"enabled": False})
    items = admin.get("/api/v1/audit?action=core.plugin.disable").json["items"]
    assert len(items) == 1
    rec = items[0]
    assert (rec["actor"], rec["tenant"], rec["target_id"]) == ("user:root", ZZ, "beta")
    assert rec["before"] == {"enabled": True} and rec["after"] == {"enabled": False}


def test_non_admin_cannot_switch_plugins(app2):
    ops = client_for(app2, "zz", ZZ, "ops")
    assert ops.put(f"/api/v1/tenants/{ZZ}/plugins/beta", json={"enabled": False}).status_code == 403


def test_admin_cannot_switch_plugins_outside_subtree(app2):
    city_admin = client_for(app2, "zzadmin", ZZ, "admin")
    resp = city_admin.put(f"/api/v1/tenants/{KF}/plugins/beta", json={"enabled": False})
    assert resp.status_code == 403


def test_missing_and_cyclic_requirements_fail_the_plugin_but_app_starts(po_app, tenants):
    app = toy_app(
        po_app,
        Toy("gamma", {"nonexistent": ""}),
        Toy("c1", {"c2": ""}),
        Toy("c2", {"c1": ""}),
        Toy("old", {}, version="0.1.0"),
        Toy("needs_new", {"old": ">=2"}),
    )
    reg = app.extensions["postalops.plugins"]
    assert reg.plugins["gamma"].status == "failed"
    assert "nonexistent" in reg.plugins["gamma"].error
    assert reg.plugins["c1"].status == "failed" and "cyclic" in reg.plugins["c1"].error
    assert reg.plugins["needs_new"].status == "failed" and ">=2" in reg.plugins["needs_new"].error
    assert reg.plugins["old"].status == "loaded"
    assert app.test_client().get("/login").status_code == 200
    rules = {r.rule for r in app.url_map.iter_rules()}
    assert "/p/gamma/" not in rules and "/p/old/" in rules
