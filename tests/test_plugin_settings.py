"""Plugin settings (issue 18 §6): a schema declared by a plugin (pickup_points, outcall), values
stored by the core per unit and inherited down the tree, validated, on the API and the admin
page, permission-checked and tenancy-scoped."""

from __future__ import annotations

from postalops.models import PluginSetting
from postalops.testing import count_rows

ZZ, KF, HN = "cn.henan.zhengzhou", "cn.henan.kaifeng", "cn.henan"
PERMS = ("pickup_points.view", "pickup_points.configure")
URL = "/api/v1/settings/pickup_points"


def test_a_city_inherits_the_province_value_until_it_sets_its_own(make_token):
    hn, zz, kf = (make_token(u, *PERMS) for u in (HN, ZZ, KF))
    assert zz.get(URL).json["values"]["uncollected_days"] == 3  # the default
    assert zz.get(URL).json["source"]["uncollected_days"] is None
    r = hn.put(URL, json={"values": {"uncollected_days": 4, "radius_village_m": 1500}})
    assert r.status_code == 200, r.json
    assert r.json["own"] == {"uncollected_days": 4, "radius_village_m": 1500.0}
    for city in (zz, kf):
        body = city.get(URL).json
        assert body["values"]["uncollected_days"] == 4
        assert body["source"]["uncollected_days"] == HN and body["own"] == {}
    r = zz.put(URL, json={"values": {"uncollected_days": 2}})
    assert r.status_code == 200
    assert zz.get(URL).json["values"]["uncollected_days"] == 2
    assert zz.get(URL).json["values"]["radius_village_m"] == 1500.0  # still Henan's
    assert kf.get(URL).json["values"]["uncollected_days"] == 4
    # A province reads a city's values with ?unit=, and null gives the field back to Henan.
    assert hn.get(f"{URL}?unit={ZZ}").json["own"] == {"uncollected_days": 2}
    assert zz.put(URL, json={"values": {"uncollected_days": None}}).json["own"] == {}
    assert zz.get(URL).json["values"]["uncollected_days"] == 4
    # Decimals travel as text.
    assert zz.get(URL).json["values"]["feedback_hours"] == "24"


def test_bad_values_are_422_naming_the_field_and_write_nothing(po_app, make_token):
    zz = make_token(ZZ, *PERMS)
    r = zz.put(URL, json={"values": {"uncollected_days": 5, "return_days": 3}})
    assert r.status_code == 422
    assert r.json["error"]["details"][0]["field"] == "return_days"
    r = zz.put(URL, json={"values": {"radius_urban_m": -5, "nonsense": 1}})
    assert r.status_code == 422
    assert [d["field"] for d in r.json["error"]["details"]] == ["nonsense"]
    r = zz.put(URL, json={"values": {"radius_urban_m": -5}})
    assert r.status_code == 422 and r.json["error"]["details"][0]["field"] == "radius_urban_m"
    r = zz.put(URL, json={"values": {"day_basis": "lunar"}})
    assert r.status_code == 422 and r.json["error"]["details"][0]["field"] == "day_basis"
    assert count_rows(po_app, PluginSetting) == 0


def test_scope_permission_and_enablement_are_checked(make_token, enable_plugin):
    zz = make_token(ZZ, *PERMS)
    assert zz.get(f"{URL}?unit={KF}").status_code == 403  # beside the caller
    assert zz.put(f"{URL}?unit={HN}", json={"values": {}}).status_code == 403  # above it
    assert make_token(ZZ, "pickup_points.view").put(URL, json={"values": {}}).status_code == 403
    assert make_token(ZZ, "core.jobs.view").get(URL).status_code == 403
    assert zz.get("/api/v1/settings/nosuchplugin").status_code == 404
    r = make_token("cn", *PERMS).put(f"{URL}?unit=cn.henan.nowhere", json={"values": {}})
    assert r.status_code == 404 and r.json["error"]["details"][0]["field"] == "query.unit"
    assert zz.get("/api/v1/settings/sorter").status_code == 404  # declares no settings
    enable_plugin("pickup_points", KF, on=False)
    kf = make_token(KF, *PERMS)
    r = kf.get(URL)
    assert r.status_code == 404 and r.json["error"]["details"][0]["field"] == "query.unit"


def test_the_settings_route_is_in_the_openapi_document(make_token):
    doc = make_token(ZZ, *PERMS).get("/api/v1/openapi.json").json
    ops = doc["paths"]["/api/v1/settings/{plugin}"]
    assert set(ops) >= {"get", "put"}
    assert any(p["name"] == "unit" for p in ops["get"]["parameters"])


def test_the_old_pickup_points_path_is_an_alias(make_token):
    zz = make_token(ZZ, *PERMS)
    r = zz.put("/api/v1/pickup_points/settings", json={"direct_window_days": 10})
    assert r.status_code == 200 and r.headers["Deprecation"] == "true"
    assert zz.get(URL).json["own"] == {"direct_window_days": 10}
    assert zz.get("/api/v1/pickup_points/settings").json["values"]["direct_window_days"] == 10


def test_the_admin_page_renders_the_form_with_errors_in_place(make_user, login):
    planner = login(make_user("zz_admin", ZZ, "admin"))
    html = planner.get("/admin/settings").get_data(as_text=True)
    assert "/admin/settings/pickup_points" in html and "/admin/settings/outcall" in html
    page = planner.get("/admin/settings/pickup_points")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "城市社区服务半径（米）" in html and 'name="uncollected_days"' in html
    assert "当前生效：3（默认值）" in html
    r = planner.post(
        "/admin/settings/pickup_points",
        data={"unit": ZZ, "uncollected_days": "5", "return_days": "3", "day_basis": "__inherit__"},
    )
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert 'id="f-return_days-error"' in html and 'value="3"' in html
    r = planner.post(
        "/admin/settings/pickup_points",
        data={"unit": ZZ, "uncollected_days": "5", "day_basis": "working"},
    )
    assert r.status_code == 302
    html = planner.get("/admin/settings/pickup_points").get_data(as_text=True)
    assert 'value="5"' in html and "当前生效：5，由" in html
    assert planner.get("/admin/settings/pickup_points?lang=en").status_code == 200


def test_outcall_queue_settings_are_core_settings(make_token, make_user, login):
    api = make_token(ZZ, "outcall.view", "outcall.manage")
    r = api.put("/api/v1/settings/outcall", json={"values": {"calling_start": "8:00"}})
    assert r.status_code == 422 and r.json["error"]["details"][0]["field"] == "calling_start"
    r = api.put("/api/v1/settings/outcall", json={"values": {"waybill_prefix": "ra"}})
    assert r.status_code == 422 and r.json["error"]["details"][0]["field"] == "waybill_prefix"
    r = api.put("/api/v1/settings/outcall", json={"values": {"max_attempts": 5}})
    assert r.status_code == 200 and r.json["values"]["max_attempts"] == 5
    old = api.get("/api/v1/outcall/settings")
    assert old.json["max_attempts"] == 5 and old.headers["Deprecation"] == "true"
    boss = login(make_user("zz_boss", ZZ, "outcall_supervisor"))
    assert boss.get("/p/outcall/settings").headers["Location"].endswith("/admin/settings/outcall")
    assert boss.get("/admin/settings/outcall").status_code == 200
