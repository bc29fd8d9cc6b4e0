"""Issue 15 §3: login throttling that forged addresses cannot bypass, server-side logout,
401 for unauthenticated writes and the real cookie name in the OpenAPI document."""

from __future__ import annotations

import dataclasses

from postalops.testing import PASSWORD, PortalClient

ZZ = "cn.henan.zhengzhou"
KF = "cn.henan.kaifeng"
COOKIE = "postalops_session"


def _client(app, address: str = "127.0.0.1") -> PortalClient:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return PortalClient(client)


# --- 1. login throttle -------------------------------------------------------------------------


def test_forged_forwarded_for_does_not_bypass_the_throttle(po_app, make_user):
    make_user("ivy", ZZ, "ops")
    c = _client(po_app)
    codes = []
    for i in range(30):
        c.client.environ_base["HTTP_X_FORWARDED_FOR"] = f"203.0.113.{i}"
        codes.append(c.login("ivy", "wrong-password").status_code)
    assert codes[:5] == [401] * 5
    assert set(codes[5:]) == {429}, codes
    assert c.login("ivy", PASSWORD).status_code == 429


def test_account_is_throttled_whatever_the_real_address(po_app, make_user):
    """Thirty wrong passwords for one user from thirty addresses: back-off, then a lock that
    refuses the right password too, from any address."""
    make_user("jack", ZZ, "ops")
    codes = [
        _client(po_app, f"198.51.100.{i}").login("jack", "wrong").status_code for i in range(30)
    ]
    assert codes[:5] == [401] * 5
    assert set(codes[5:]) == {429}, codes
    fresh = _client(po_app, "192.0.2.77")
    resp = fresh.login("jack", PASSWORD)
    assert resp.status_code == 429
    assert "locked" in resp.get_data(as_text=True).lower() or "锁定" in resp.get_data(as_text=True)
    assert fresh.get("/api/v1/tree").status_code == 401


def test_one_address_is_throttled_across_accounts(po_app, make_user):
    make_user("kate", ZZ, "ops")
    settings = po_app.extensions["postalops.settings"]
    attacker = _client(po_app, "198.51.100.200")
    for i in range(settings.login_address_max_failures):
        assert attacker.login(f"nobody{i}", "wrong").status_code == 401
    assert attacker.login("kate", PASSWORD).status_code == 429
    assert _client(po_app, "198.51.100.201").login("kate", PASSWORD).status_code == 302


def test_success_clears_the_account_failures(po_app, make_user):
    make_user("liam", ZZ, "ops")
    for i in range(4):
        assert _client(po_app, f"198.51.100.{i}").login("liam", "wrong").status_code == 401
    assert _client(po_app).login("liam", PASSWORD).status_code == 302
    for i in range(4):
        assert _client(po_app, f"198.51.100.{i}").login("liam", "wrong").status_code == 401


def test_forwarded_for_is_trusted_only_behind_configured_proxies(po_app, make_user):
    """Behind one trusted proxy the address is the proxy's last X-Forwarded-For entry."""
    from postalops.app import create_app

    make_user("mia", ZZ, "ops")
    settings = dataclasses.replace(po_app.extensions["postalops.settings"], trusted_proxies=1)
    proxied = create_app(settings, entry_points=False)
    limit = settings.login_address_max_failures
    attacker = PortalClient(proxied.test_client())
    attacker.client.environ_base["HTTP_X_FORWARDED_FOR"] = "198.51.100.9"
    for i in range(limit):
        assert attacker.login(f"nobody{i}", "wrong").status_code == 401
    assert attacker.login("mia", PASSWORD).status_code == 429  # that forwarded address is held
    other = PortalClient(proxied.test_client())
    other.client.environ_base["HTTP_X_FORWARDED_FOR"] = "198.51.100.10"
    assert other.login("mia", PASSWORD).status_code == 302
    # without a trusted proxy the header is ignored: this is 127.0.0.1, which failed nothing
    direct = _client(po_app)
    direct.client.environ_base["HTTP_X_FORWARDED_FOR"] = "198.51.100.9"
    assert direct.login("mia", PASSWORD).status_code == 302


# --- 2. server-side session invalidation -------------------------------------------------------


def _cookie(client: PortalClient) -> str:
    return client.client.get_cookie(COOKIE).value


def _with_cookie(app, value: str):
    c = app.test_client()
    c.set_cookie(COOKIE, value)
    return c


def test_cookie_from_before_logout_is_refused(po_app, make_user, login):
    c = login(make_user("nora", ZZ, "admin"))
    kept = _cookie(c)
    assert _with_cookie(po_app, kept).get("/api/v1/sorter/devices").status_code == 200
    assert c.post("/logout", data={"csrf_token": c.csrf}).status_code == 302
    resp = _with_cookie(po_app, kept).get("/api/v1/sorter/devices")
    assert resp.status_code == 401
    assert resp.json["error"]["code"] == "unauthenticated"


def test_logout_ends_every_session_of_the_user(po_app, make_user, login):
    user = make_user("olga", ZZ, "ops")
    first, second = login(user), login(user)
    first.post("/logout", data={"csrf_token": first.csrf})
    assert second.get("/api/v1/tree").status_code == 401


def test_password_change_and_disabling_end_sessions(po_app, make_user, login):
    admin = login(make_user("root", "cn", "admin"))
    user = make_user("pete", ZZ, "ops")
    old = login(user)
    assert old.get("/api/v1/tree").status_code == 200
    resp = admin.patch(f"/api/v1/users/{user.id}", json={"password": "a-new-password-2"})
    assert resp.status_code == 200, resp.json
    assert old.get("/api/v1/tree").status_code == 401
    assert PortalClient(po_app.test_client()).login("pete", PASSWORD).status_code == 401
    new = login(user, "a-new-password-2")
    assert new.get("/api/v1/tree").status_code == 200
    assert admin.patch(f"/api/v1/users/{user.id}", json={"active": False}).status_code == 200
    assert new.get("/api/v1/tree").status_code == 401
    assert PortalClient(po_app.test_client()).login("pete", "a-new-password-2").status_code == 401
    # changing one's own password keeps the session that did it, ends the others
    other_admin_session = login("root")
    resp = admin.patch(f"/api/v1/users/{_id(po_app, 'root')}", json={"password": "root-pass-3x"})
    assert resp.status_code == 200
    assert admin.get("/api/v1/tree").status_code == 200
    assert other_admin_session.get("/api/v1/tree").status_code == 401


def test_user_update_is_scoped_validated_and_audited(po_app, make_user, login):
    hn = login(make_user("hn_admin", "cn.henan", "admin"))
    hebei = make_user("quinn", "cn.hebei", "ops")
    local = make_user("rosa", KF, "ops")
    assert hn.patch(f"/api/v1/users/{hebei.id}", json={"active": False}).status_code == 404
    assert hn.patch("/api/v1/users/999999", json={"active": False}).status_code == 404
    bad = hn.patch(f"/api/v1/users/{local.id}", json={"password": "short"})
    assert bad.status_code == 422 and bad.json["error"]["details"][0]["field"] == "password"
    assert hn.patch(f"/api/v1/users/{local.id}", json={"active": False}).status_code == 200
    audit = hn.get("/api/v1/audit?action=core.user.update").json["items"]
    assert [a["target_id"] for a in audit] == ["rosa"]
    assert audit[0]["after"]["active"] is False and "password" not in str(audit[0]["after"])


def _id(app, username: str) -> int:
    from postalops.models import User
    from postalops.tenancy import Scope
    from sqlmodel import select

    with app.extensions["postalops.db"].session(Scope.system_scope()) as s:
        return s.exec(select(User.id).where(User.username == username)).one()


# --- 5. unauthenticated writes and the OpenAPI cookie ------------------------------------------


def test_unauthenticated_write_is_401_not_csrf(po_app, tenants):
    c = po_app.test_client()
    for method, url in [
        ("post", "/api/v1/jobs/probe"),
        ("put", f"/api/v1/tenants/{ZZ}/plugins/sorter"),
        ("delete", "/api/v1/tokens/1"),
        ("post", "/api/v1/sorter/devices"),
    ]:
        resp = getattr(c, method)(url, json={})
        assert resp.status_code == 401, (method, url, resp.status_code)
        assert resp.json["error"]["code"] == "unauthenticated"
    # the portal's forms too; the login form itself still needs its CSRF token
    assert c.post("/unit", data={"unit": ZZ}).status_code == 401
    assert c.post("/login", data={"username": "x", "password": "y"}).status_code == 400


def test_openapi_cookie_scheme_names_the_real_cookie(po_app, make_user, login):
    doc = po_app.test_client().get("/api/v1/openapi.json").json
    scheme = doc["components"]["securitySchemes"]["session"]
    assert scheme == {"type": "apiKey", "in": "cookie", "name": COOKIE}
    c = login(make_user("sam", ZZ, "ops"))
    assert c.client.get_cookie(scheme["name"]) is not None
    responses = doc["paths"]["/api/v1/jobs/probe"]["post"]["responses"]
    assert "401" in responses
