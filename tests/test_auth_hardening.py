"""Issue 15 §3: login throttling that forged addresses cannot bypass."""

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
