"""What the request path caches per process never outlives the change it caches (issue 17 §2).

Plugin enablement is read from a per-process cache: a switch committed in this process applies
at the next request, whichever session or statement made it; a switch made elsewhere (another
gunicorn worker or host: here a connection the app does not own) applies within
``enablement_max_age`` seconds. Tokens and users' roles are read on every request, so revoking
a token or changing a role applies at once.
"""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa
from postalops.testing import system_scope

from tests.fixtures.toy_plugins import Toy, toy_app

ZZ, KF = "cn.henan.zhengzhou", "cn.henan.kaifeng"


@pytest.fixture
def toy(po_app, tenants):
    app = toy_app(po_app, Toy("alpha"))
    from postalops.models import PluginEnablement

    with app.extensions["postalops.db"].transaction(system_scope()) as s:
        s.add(PluginEnablement(unit_code="cn", plugin_key="alpha", enabled=True))
    return app


def token(app, unit, *permissions):
    from postalops.auth import create_token

    with app.extensions["postalops.db"].transaction(system_scope()) as s:
        row, secret = create_token(
            s,
            app.extensions["postalops.plugins"],
            name="cache-test",
            unit_code=unit,
            permissions=permissions,
            created_by="test",
        )
        token_id = row.id
    return {"Authorization": f"Bearer {secret}"}, token_id


def set_enabled(app, unit, key, on):
    from postalops import context
    from postalops.testing import system_context

    with context.activate(system_context(app)) as ctx:
        app.extensions["postalops.plugins"].set_enabled(ctx.session, unit, key, on, "test")
        ctx.session.commit()


def test_a_switch_made_in_this_process_applies_at_the_next_request(toy):
    client = toy.test_client()
    zz, _ = token(toy, ZZ, "alpha.view")
    kf, _ = token(toy, KF, "alpha.view")
    assert client.get("/api/v1/alpha/ping", headers=zz).status_code == 200  # cache loaded
    set_enabled(toy, ZZ, "alpha", False)
    assert client.get("/api/v1/alpha/ping", headers=zz).status_code == 404
    assert client.get("/api/v1/alpha/ping", headers=kf).status_code == 200
    set_enabled(toy, ZZ, "alpha", True)
    assert client.get("/api/v1/alpha/ping", headers=zz).status_code == 200


def test_a_row_written_by_another_app_of_this_process_applies_at_once(toy, po_app):
    """Tests, the CLI and fixtures write enablement through other sessions and plain SQL."""
    from postalops.models import PluginEnablement

    client = toy.test_client()
    zz, _ = token(toy, ZZ, "alpha.view")
    assert client.get("/api/v1/alpha/ping", headers=zz).status_code == 200
    with po_app.extensions["postalops.db"].engine.begin() as conn:  # another Database object
        conn.execute(
            sa.update(PluginEnablement.__table__)
            .where(PluginEnablement.__table__.c.unit_code == "cn")
            .values(enabled=False)
        )
    assert client.get("/api/v1/alpha/ping", headers=zz).status_code == 404


def test_a_switch_made_by_another_process_applies_within_the_bound(toy):
    """Another process is a connection this process's engines do not own: the cache does not
    hear of it, and serves its copy for at most ``enablement_max_age`` seconds."""
    from postalops.plugins import ENABLEMENT_MAX_AGE

    registry = toy.extensions["postalops.plugins"]
    assert registry.enablement_max_age == ENABLEMENT_MAX_AGE <= 5  # what docs/deployment.md says
    registry.enablement_max_age = 0.5  # a shorter bound, so the test does not wait long
    client = toy.test_client()
    zz, _ = token(toy, ZZ, "alpha.view")
    assert client.get("/api/v1/alpha/ping", headers=zz).status_code == 200
    other = sa.create_engine(toy.extensions["postalops.db"].url)  # "another process"
    try:
        with other.begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO core_plugin_enablement (unit_code, plugin_key, enabled, changed_at) "
                f"VALUES ('{ZZ}', 'alpha', false, CURRENT_TIMESTAMP)"
            )
    finally:
        other.dispose()
    deadline = time.monotonic() + 0.5 + 2.0  # the bound, plus slack for a loaded machine
    while client.get("/api/v1/alpha/ping", headers=zz).status_code == 200:
        assert time.monotonic() < deadline, "the switch did not reach this process in time"
        time.sleep(0.05)
    assert client.get("/api/v1/alpha/ping", headers=zz).status_code == 404


def test_a_revoked_token_is_refused_at_the_next_request(toy):
    from postalops.auth import revoke_token
    from postalops.context import Principal

    client = toy.test_client()
    zz, token_id = token(toy, ZZ, "alpha.view")
    assert client.get("/api/v1/alpha/ping", headers=zz).status_code == 200
    with toy.extensions["postalops.db"].transaction(system_scope()) as s:
        revoke_token(s, Principal.system(), token_id)
    resp = client.get("/api/v1/alpha/ping", headers=zz)
    assert resp.status_code == 401 and resp.json["error"]["code"] == "token_revoked"


def test_an_expired_token_is_refused(toy):
    from postalops.db import utcnow
    from postalops.models import ApiToken

    client = toy.test_client()
    zz, token_id = token(toy, ZZ, "alpha.view")
    assert client.get("/api/v1/alpha/ping", headers=zz).status_code == 200
    with toy.extensions["postalops.db"].transaction(system_scope()) as s:
        s.get(ApiToken, token_id).expires_at = utcnow()
    resp = client.get("/api/v1/alpha/ping", headers=zz)
    assert resp.status_code == 401 and resp.json["error"]["code"] == "token_expired"


def test_a_role_change_applies_at_the_next_request(toy):
    from postalops.auth import create_user
    from postalops.models import User
    from postalops.testing import PortalClient

    with toy.extensions["postalops.db"].transaction(system_scope()) as s:
        user = create_user(
            s,
            toy.extensions["postalops.plugins"],
            username="rolly",
            password="test-password-1",
            unit_code=ZZ,
            roles=["viewer"],
        )
        user_id = user.id
    client = PortalClient(toy.test_client())
    assert client.login("rolly", "test-password-1").status_code == 302
    assert client.get("/api/v1/alpha/ping").status_code == 403
    with toy.extensions["postalops.db"].transaction(system_scope()) as s:
        s.get(User, user_id).roles = ["ops"]
    assert client.get("/api/v1/alpha/ping").status_code == 200
    with toy.extensions["postalops.db"].transaction(system_scope()) as s:
        s.get(User, user_id).roles = ["viewer"]
    assert client.get("/api/v1/alpha/ping").status_code == 403
