"""Portal login, throttling, CSRF, API tokens and permissions."""

from __future__ import annotations

import datetime as dt

from postalops.auth import hash_password, verify_password
from postalops.testing import PortalClient, system_scope

ZZ = "cn.henan.zhengzhou"


def test_passwords_are_argon2_hashed():
    h = hash_password("correct horse")
    assert h.startswith("$argon2id$")
    assert verify_password(h, "correct horse") and not verify_password(h, "wrong horse")


def test_wrong_password_gives_401_and_no_session(po_app, make_user):
    make_user("alice", ZZ, "ops")
    c = PortalClient(po_app.test_client())
    resp = c.login("alice", "not-the-password")
    assert resp.status_code == 401
    assert c.get("/").status_code == 302  # still redirected to login
    assert c.get("/api/v1/tree").status_code == 401


def test_sixth_failure_within_a_minute_gives_429_even_with_right_password(po_app, make_user):
    make_user("bob", ZZ, "ops")
    c = PortalClient(po_app.test_client())
    codes = [c.login("bob", "wrong-password").status_code for _ in range(5)]
    assert codes == [401] * 5
    assert c.login("bob", "test-password-1").status_code == 429


def test_throttle_is_per_user_and_address(po_app, make_user):
    make_user("carol", ZZ, "ops")
    make_user("dave", ZZ, "ops")
    c = PortalClient(po_app.test_client())
    for _ in range(5):
        c.login("carol", "wrong-password")
    assert c.login("dave", "test-password-1").status_code == 302


def test_login_cookie_flags(po_app, make_user):
    make_user("erin", ZZ, "ops")
    c = PortalClient(po_app.test_client())
    c.refresh_csrf()
    resp = c.client.post(
        "/login", data={"username": "erin", "password": "test-password-1", "csrf_token": c.csrf}
    )
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_form_post_without_csrf_token_gives_400(po_app, make_user, login):
    c = login(make_user("frank", ZZ, "ops"))
    resp = c.client.post("/unit", data={"unit": ZZ})
    assert resp.status_code == 400
    resp = c.client.post("/api/v1/jobs/probe", json={"steps": 1})
    assert resp.status_code == 400
    assert resp.json["error"]["code"] == "csrf"


def test_login_form_itself_requires_csrf(po_app, make_user):
    make_user("gina", ZZ, "ops")
    resp = po_app.test_client().post(
        "/login", data={"username": "gina", "password": "test-password-1"}
    )
    assert resp.status_code == 400


def test_token_without_permission_gives_403(make_token):
    api = make_token(ZZ, "core.jobs.view")
    assert api.get("/api/v1/jobs").status_code == 200
    resp = api.get("/api/v1/metrics")
    assert resp.status_code == 403
    assert resp.json["error"]["code"] == "missing_permission"


def test_token_needs_no_csrf(make_token):
    api = make_token(ZZ, "core.jobs.run")
    assert api.post("/api/v1/jobs/probe", json={"steps": 1, "delay_ms": 0}).status_code == 202


def test_expired_token_gives_401(make_token):
    api = make_token(
        ZZ, "core.jobs.view", expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    )
    resp = api.get("/api/v1/jobs")
    assert resp.status_code == 401 and resp.json["error"]["code"] == "token_expired"


def test_revoked_token_gives_401(po_app, make_token, make_user, login):
    api = make_token(ZZ, "core.jobs.view")
    admin = login(make_user("root", "cn", "admin"))
    assert admin.delete(f"/api/v1/tokens/{api.token_id}").status_code == 200
    resp = api.get("/api/v1/jobs")
    assert resp.status_code == 401 and resp.json["error"]["code"] == "token_revoked"


def test_unknown_token_and_bad_header_give_401(po_app, tenants):
    c = po_app.test_client()
    assert c.get("/api/v1/jobs", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert c.get("/api/v1/jobs", headers={"Authorization": "Basic abc"}).status_code == 401


def test_tokens_are_stored_hashed_and_secret_shown_once(po_app, make_user, login):
    from postalops.models import ApiToken
    from sqlmodel import select

    admin = login(make_user("root", "cn", "admin"))
    resp = admin.post(
        "/api/v1/tokens", json={"name": "sorter-1", "unit": ZZ, "permissions": ["core.jobs.view"]}
    )
    assert resp.status_code == 201
    secret = resp.json["secret"]
    with po_app.extensions["postalops.db"].session(system_scope()) as s:
        row = s.exec(select(ApiToken)).one()
        assert secret not in (row.token_hash, row.prefix) and len(row.token_hash) == 64
    listed = admin.get("/api/v1/tokens").json["items"]
    assert "secret" not in listed[0]
    api = po_app.test_client()
    assert api.get("/api/v1/jobs", headers={"Authorization": f"Bearer {secret}"}).status_code == 200


def test_token_scope_is_its_unit(po_app, make_token):
    api = make_token(ZZ, "core.tree.read")
    assert [u["code"] for u in api.get("/api/v1/tree").json["items"]] == [ZZ, ZZ + ".jinshui"]


def test_user_creation_is_audited_and_scoped(po_app, make_user, login):
    admin = login(make_user("hn_admin", "cn.henan", "admin"))
    ok = admin.post(
        "/api/v1/users",
        json={"username": "new1", "password": "long-enough-1", "unit": ZZ, "roles": ["ops"]},
    )
    assert ok.status_code == 201
    outside = admin.post(
        "/api/v1/users",
        json={
            "username": "new2",
            "password": "long-enough-1",
            "unit": "cn.hebei",
            "roles": ["ops"],
        },
    )
    assert outside.status_code == 403
    audit = admin.get("/api/v1/audit?action=core.user.create").json["items"]
    assert [a["target_id"] for a in audit] == ["new1"]


def test_logout_ends_the_session(po_app, make_user, login):
    c = login(make_user("henry", ZZ, "ops"))
    assert c.get("/").status_code == 200
    c.post("/logout", data={"csrf_token": c.csrf})
    assert c.get("/").status_code == 302
