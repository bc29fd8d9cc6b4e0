"""Issue 15 §3: users, tokens, plugin enablement, plugin settings and webhook endpoints under
row-level security on PostgreSQL. The runtime role, scoped to one city, reads nothing of another city's;
configuration set above the city (enablement, settings) stays readable, not writable."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from postalops.tenancy import Scope

ZZ, KF = "cn.henan.zhengzhou", "cn.henan.kaifeng"


@pytest.fixture
def spread(po_app, tenants, make_user, make_token):
    """A user and a token in Zhengzhou, Kaifeng and Henan; enablement rows at Henan, both
    cities and Hebei; plugin-settings and webhook-endpoint rows at the group, Henan and both
    cities."""
    from postalops.models import PluginEnablement

    for name, unit in [("zz_user", ZZ), ("kf_user", KF), ("hn_user", "cn.henan")]:
        make_user(name, unit, "ops")
        make_token(unit, "core.jobs.view")
    db = po_app.extensions["postalops.db"]
    with db.transaction(Scope.system_scope()) as s:
        for unit in ("cn.henan", ZZ, KF, "cn.hebei"):
            s.add(PluginEnablement(unit_code=unit, plugin_key="sorter", enabled=True))
        for unit in ("cn", "cn.henan", ZZ, KF):
            s.execute(
                sa.text(
                    "INSERT INTO core_plugin_setting "
                    '(unit_code, plugin_key, "values", changed_by, changed_at) '
                    "VALUES (:u, 'pickup_points', '{}', 'test', CURRENT_TIMESTAMP)"
                ),
                {"u": unit},
            )
            s.execute(
                sa.text(
                    "INSERT INTO core_webhook_endpoint (unit_code, url, secret, event_types, "
                    "active, description, created_at) "
                    "VALUES (:u, 'http://x', 's', '[]', true, '', CURRENT_TIMESTAMP)"
                ),
                {"u": unit},
            )
    return db


def _seen(s, sql: str) -> list[str]:
    return sorted(s.execute(sa.text(sql)).scalars().all())


@pytest.mark.postgres
def test_a_city_scope_reads_nothing_of_another_city(spread):
    db = spread
    if not db.is_postgres:
        pytest.skip("row-level security is PostgreSQL only")
    with db.session(Scope.unit(ZZ)) as s:
        assert s.execute(sa.text("SELECT current_user")).scalar() == db.runtime_role
        assert _seen(s, "SELECT username FROM core_user") == ["zz_user"]
        assert _seen(s, "SELECT password_hash FROM core_user WHERE username = 'kf_user'") == []
        assert _seen(s, "SELECT unit_code FROM core_api_token") == [ZZ]
        assert _seen(s, f"SELECT token_hash FROM core_api_token WHERE unit_code = '{KF}'") == []
        # configuration inherited down the tree: the city's own rows and its ancestors'
        assert _seen(s, "SELECT DISTINCT unit_code FROM core_plugin_enablement") == [
            "cn",
            "cn.henan",
            ZZ,
        ]
        for table in ("core_plugin_setting", "core_webhook_endpoint"):
            assert _seen(s, f"SELECT unit_code FROM {table}") == ["cn", "cn.henan", ZZ]
        for table in ("core_plugin_enablement", "core_plugin_setting", "core_webhook_endpoint"):
            assert _seen(s, f"SELECT unit_code FROM {table} WHERE unit_code = '{KF}'") == []


@pytest.mark.postgres
def test_a_city_scope_writes_only_its_own_rows(spread):
    db = spread
    if not db.is_postgres:
        pytest.skip("row-level security is PostgreSQL only")
    with db.session(Scope.unit(ZZ)) as s:
        for sql in (
            "UPDATE core_user SET display_name = 'x' WHERE username IN ('kf_user', 'hn_user')",
            f"UPDATE core_api_token SET revoked_at = now() WHERE unit_code <> '{ZZ}'",
            "DELETE FROM core_plugin_enablement WHERE unit_code IN ('cn', 'cn.henan')",
            "UPDATE core_plugin_setting SET changed_by = 'x' WHERE unit_code = 'cn.henan'",
            "UPDATE core_webhook_endpoint SET url = 'http://evil' WHERE unit_code = 'cn'",
        ):
            assert s.execute(sa.text(sql)).rowcount == 0, sql
        s.rollback()
        with pytest.raises(sa.exc.ProgrammingError):
            s.execute(
                sa.text(
                    "INSERT INTO core_plugin_enablement (unit_code, plugin_key, enabled, "
                    f"changed_at) VALUES ('{KF}', 'lending', true, now())"
                )
            )
        s.rollback()
    with db.session(None) as s:  # no scope at all: fails closed on every one of them
        for table in (
            "core_user",
            "core_api_token",
            "core_plugin_enablement",
            "core_plugin_setting",
            "core_webhook_endpoint",
        ):
            assert s.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one() == 0, table


@pytest.mark.postgres
def test_the_sign_in_lookups_see_only_the_row_they_ask_for(spread):
    db = spread
    if not db.is_postgres:
        pytest.skip("row-level security is PostgreSQL only")
    with db.session(None, lookups={("core_user", "username"): "kf_user"}) as s:
        assert _seen(s, "SELECT username FROM core_user") == ["kf_user"]
        assert _seen(s, "SELECT unit_code FROM core_api_token") == []
    with db.session(None, lookups={("core_user", "username"): "kf_user"}) as s:
        s.commit()  # the lookup is per transaction, like the scope, and applied again
        assert _seen(s, "SELECT username FROM core_user") == ["kf_user"]


def test_sign_in_token_and_admin_flows_work_under_the_policy(spread, po_app, make_user, login):
    """Login finds the user before any scope exists, a token is found by its hash, logout and
    a password change reach the user's row; an admin lists only their subtree."""
    from postalops.testing import PortalClient

    hn_admin = login(make_user("hn_admin", "cn.henan", "admin"))
    users = [u["username"] for u in hn_admin.get("/api/v1/users").json["items"]]
    assert users == ["hn_admin", "hn_user", "kf_user", "zz_user"]
    kf = login("kf_user")
    assert kf.get("/api/v1/tree").status_code == 200
    kf_id = next(
        u["id"] for u in hn_admin.get("/api/v1/users").json["items"] if u["username"] == "kf_user"
    )
    assert (
        hn_admin.patch(f"/api/v1/users/{kf_id}", json={"password": "kf-new-pass-9"}).status_code
        == 200
    )
    assert kf.get("/api/v1/tree").status_code == 401
    assert PortalClient(po_app.test_client()).login("kf_user", "kf-new-pass-9").status_code == 302
    # a name taken in a unit the creator cannot see is still refused cleanly, not a 500
    zz_admin = login(make_user("zz_admin", ZZ, "admin"))
    taken = zz_admin.post(
        "/api/v1/users",
        json={"username": "kf_user", "password": "long-enough-1", "unit": ZZ, "roles": ["ops"]},
    )
    assert taken.status_code == 422
    assert taken.json["error"]["details"] == [{"field": "username", "message": "already taken"}]
    tokens = hn_admin.get("/api/v1/tokens").json["items"]
    assert sorted(t["unit"] for t in tokens) == ["cn.henan", KF, ZZ]
