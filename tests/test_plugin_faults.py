"""A broken plugin must not take the platform down (issue 15 §1).

The fault-injection plugin ``faulty`` (tests/fixtures/faulty_plugin.py) raises in one hook at a
time. Whatever the hook: the portal pages, the error page, ``/api/v1/metrics``, ``/healthz``
and ``/readyz`` answer; the other plugin (``alpha``) keeps its nav entry and KPIs; ``faulty`` is
shown failed (a hook needed to serve it at boot) or degraded (its hook, error and time), on the
admin plugins page, in ``/readyz`` and in ``postalops plugins``; the failure is logged once.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from postalops.tenancy import Scope

from tests.fixtures import faulty_plugin
from tests.fixtures.toy_plugins import Toy, toy_app

ROOT = Path(__file__).resolve().parents[1]
ZZ = "cn.henan.zhengzhou"
PERIOD = "from=2022-08-17&to=2022-08-31"

# Hooks without which the plugin cannot be served at all: the plugin is failed, not degraded.
BOOT = {
    "postalops_plugin_info",
    "postalops_blueprints",
    "postalops_actors",
    "postalops_dashboard_pages",
}
RUNTIME = [
    "postalops_app_created",
    "postalops_permissions",
    "postalops_roles",
    "postalops_nav_items",
    "postalops_schedules",
    "postalops_migrations",
    "postalops_metrics",
    "postalops_health",
    "postalops_tenant_enabled",
    "postalops_tenant_disabled",
    "postalops_tasks",
]


def client_for(app, username, unit, *roles):
    from postalops.auth import create_user
    from postalops.testing import PASSWORD, PortalClient

    with app.extensions["postalops.db"].transaction(Scope.system_scope()) as s:
        create_user(
            s,
            app.extensions["postalops.plugins"],
            username=username,
            password=PASSWORD,
            unit_code=unit,
            roles=roles,
        )
    c = PortalClient(app.test_client())
    assert c.login(username, PASSWORD).status_code == 302
    return c


def faulty_app(po_app, monkeypatch, hook):
    from postalops.models import PluginEnablement

    monkeypatch.setenv(faulty_plugin.ENV, hook)
    app = toy_app(po_app, Toy("alpha"), faulty_plugin)
    with app.extensions["postalops.db"].transaction(Scope.system_scope()) as s:
        for key in ("alpha", "faulty"):
            s.add(PluginEnablement(unit_code="cn", plugin_key=key, enabled=True))
    return app


def nav_keys(html):
    return set(re.findall(r'data-nav="([a-z_]+)"', html))


@pytest.mark.parametrize("hook", sorted(BOOT) + RUNTIME + ["none"])
def test_a_hook_that_raises_leaves_the_platform_and_other_plugins_working(
    po_app, tenants, monkeypatch, caplog, hook
):
    caplog.set_level(logging.ERROR, logger="postalops.plugins")
    app = faulty_app(po_app, monkeypatch, hook)
    reg = app.extensions["postalops.plugins"]
    admin = client_for(app, "root", "cn", "admin")
    ops = client_for(app, "zz", ZZ, "ops")
    if hook in ("postalops_tenant_enabled", "postalops_tenant_disabled"):
        enabled = hook == "postalops_tenant_enabled"
        resp = admin.put(f"/api/v1/tenants/{ZZ}/plugins/faulty", json={"enabled": enabled})
        assert resp.status_code == 200, resp.json  # the switch itself is saved
        assert resp.json["enabled"] is enabled

    for _ in range(2):  # twice: the failure is logged once, not per request
        home = ops.get("/")
        assert home.status_code == 200, home.get_data(as_text=True)[:2000]
        assert "alpha" in nav_keys(home.get_data(as_text=True))
        assert ops.get("/p/alpha/").status_code == 200
        missing = ops.get("/no/such/page")
        assert missing.status_code == 404  # the error page renders with the shell around it
        assert "alpha" in nav_keys(missing.get_data(as_text=True))
        metrics = ops.get(f"/api/v1/metrics?{PERIOD}")
        assert metrics.status_code == 200, metrics.json
        assert metrics.json["metrics"]["alpha"]["days"]["value"] == 15
    assert app.test_client().get("/healthz").status_code == 200
    ready = app.test_client().get("/readyz")
    assert ready.status_code == 200, ready.json
    reg.probe()

    # Without its info the plugin has no key: it is listed under its module's name.
    key = faulty_plugin.__name__ if hook == "postalops_plugin_info" else "faulty"
    faulty = reg.plugins[key]
    page = admin.get("/admin/plugins").get_data(as_text=True)
    if hook == "none":
        assert faulty.state == "loaded"
        assert "faulty" in metrics.json["metrics"] and "faulty" in nav_keys(
            home.get_data(as_text=True)
        )
        assert not reg.degraded()
        assert not [r for r in caplog.records if "faulty" in r.getMessage()]
        return
    if hook in BOOT:
        assert faulty.state == "failed" and hook in (faulty.error or "")
        assert key in ready.json["plugins"]["failed"]
        assert ops.get("/p/faulty/").status_code == 404
        assert "faulty" not in metrics.json["metrics"]
        assert "faulty" not in nav_keys(home.get_data(as_text=True))
        return
    assert faulty.state == "degraded"
    failure = faulty.failures[hook]
    assert "injected fault" in failure.error and failure.at.tzinfo is not None
    assert 'data-status="degraded"' in page and hook in page and "injected fault" in page
    logged = [r for r in caplog.records if "faulty" in r.getMessage() and hook in r.getMessage()]
    assert len(logged) == 1, [r.getMessage() for r in logged]
    if hook == "postalops_metrics":
        assert "faulty" not in metrics.json["metrics"]
    if hook == "postalops_nav_items":
        assert "faulty" not in nav_keys(home.get_data(as_text=True))
        assert ops.get("/p/faulty/").status_code == 200  # only the nav entry is left out
    if hook == "postalops_tasks":  # the workbench shows the other plugins' tasks and KPIs
        page = home.get_data(as_text=True)
        assert 'data-task="alpha:' in page and 'data-task="faulty:' not in page
        assert 'id="kpis"' in page
    if hook == "postalops_health":
        assert {"key": "faulty", "hooks": [{"hook": hook, "at": failure.as_dict()["at"]}]} in (
            ready.json["plugins"]["degraded"]
        )


def test_a_hook_that_answers_again_is_no_longer_degraded(po_app, tenants, monkeypatch):
    app = faulty_app(po_app, monkeypatch, "postalops_nav_items")
    ops = client_for(app, "zz", ZZ, "ops")
    assert ops.get("/").status_code == 200
    reg = app.extensions["postalops.plugins"]
    assert reg.plugins["faulty"].state == "degraded"
    monkeypatch.setenv(faulty_plugin.ENV, "none")
    assert "faulty" in nav_keys(ops.get("/").get_data(as_text=True))
    assert reg.plugins["faulty"].state == "loaded"


def test_a_malformed_metrics_answer_is_a_failure_of_that_plugin_only(po_app, tenants, monkeypatch):
    app = faulty_app(po_app, monkeypatch, "none")
    monkeypatch.setattr(faulty_plugin, "kpi", lambda *a, **k: {"value": 1})  # lacks unit, labels
    ops = client_for(app, "zz", ZZ, "ops")
    resp = ops.get(f"/api/v1/metrics?{PERIOD}")
    assert resp.status_code == 200, resp.json
    assert "faulty" not in resp.json["metrics"] and "alpha" in resp.json["metrics"]
    assert (
        "lacks"
        in app.extensions["postalops.plugins"].plugins["faulty"].failures["postalops_metrics"].error
    )


def test_readyz_is_503_when_the_database_is_down(po_app, tmp_path):
    from postalops.app import create_app
    from postalops.testing import make_settings

    settings = make_settings(tmp_path, database_url="postgresql+psycopg://nobody@127.0.0.1:1/x")
    app = create_app(settings, entry_points=False)
    assert app.test_client().get("/healthz").status_code == 200  # liveness only
    resp = app.test_client().get("/readyz")
    assert resp.status_code == 503
    assert resp.json["status"] == "not_ready"
    assert resp.json["checks"]["database"]["status"] == "error"
    assert resp.json["checks"]["broker"]["status"] == "ok"


def test_readyz_reports_database_timing_and_broker(po_app):
    body = po_app.test_client().get("/readyz").json
    assert body["status"] == "ready"
    assert body["checks"]["database"]["status"] == "ok"
    assert isinstance(body["checks"]["database"]["ms"], float)
    kind = "redis" if po_app.extensions["postalops.settings"].redis_url else "in-process"
    assert body["checks"]["broker"] == {**body["checks"]["broker"], "status": "ok", "kind": kind}
    assert po_app.test_client().get("/api/v1/readyz").status_code == 200


# --- the CLI, with the plugin installed as a distribution (the CLI builds its app from entry
# points) -----------------------------------------------------------------------------------


@pytest.fixture
def installed_faulty(po_app, tenants, tmp_path, monkeypatch):
    site = faulty_plugin.install_entry_point(tmp_path / "site")
    monkeypatch.syspath_prepend(str(site))
    url = po_app.extensions["postalops.settings"].database_url
    monkeypatch.setenv("POSTALOPS_DATABASE_URL", url)
    monkeypatch.setenv("POSTALOPS_INSTANCE_PATH", str(tmp_path / "instance"))
    return site


def cli(*args):
    from postalops.cli import main

    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.mark.parametrize("hook", ["postalops_plugin_info", "postalops_nav_items", "none"])
def test_postalops_plugins_lists_a_broken_plugin_instead_of_exiting(
    installed_faulty, monkeypatch, hook
):
    monkeypatch.setenv(faulty_plugin.ENV, hook)
    result = cli("plugins", "--json")
    assert result.exit_code == 0, result.output
    rows = {r["key"]: r for r in json.loads(result.stdout)}
    assert rows["faulty"]["distribution"] == "postalops-faulty"
    if hook == "postalops_plugin_info":
        assert rows["faulty"]["status"] == "failed"
        assert "postalops_plugin_info" in rows["faulty"]["error"]
    elif hook == "postalops_nav_items":
        assert rows["faulty"]["status"] == "degraded"
        assert rows["faulty"]["degraded"][0]["hook"] == hook
        assert "injected fault" in rows["faulty"]["degraded"][0]["error"]
        text = cli("plugins").output
        assert re.search(r"^faulty\s+0\.0\.1\s+degraded", text, re.M), text
        assert "postalops_nav_items failed at" in text
    else:
        assert rows["faulty"]["status"] == "loaded" and rows["faulty"]["degraded"] == []


def test_postalops_metrics_leaves_out_a_failing_plugin_and_keeps_exit_2_for_bad_input(
    installed_faulty, monkeypatch
):
    from postalops.models import PluginEnablement

    monkeypatch.setenv(faulty_plugin.ENV, "none")
    from postalops.app import create_app

    app = create_app()
    with app.extensions["postalops.db"].transaction(Scope.system_scope()) as s:
        s.add(PluginEnablement(unit_code="cn", plugin_key="faulty", enabled=True))
    args = ["metrics", "--tenant", ZZ, "--from", "2022-08-17", "--to", "2022-08-31", "--json"]
    ok = cli(*args)
    assert ok.exit_code == 0, ok.output
    assert "faulty" in json.loads(ok.stdout)["metrics"]
    monkeypatch.setenv(faulty_plugin.ENV, "postalops_metrics")
    broken = cli(*args)
    assert broken.exit_code == 0, broken.output
    assert "Traceback" not in broken.output
    assert "faulty" not in json.loads(broken.stdout)["metrics"]
    bad = cli("metrics", "--tenant", ZZ, "--from", "17/08/2022", "--to", "2022-08-31")
    assert bad.exit_code == 2
    assert json.loads(bad.stderr)["error"]["details"][0]["field"] == "from"


# --- postalops serve, the real process ----------------------------------------------------------


def test_postalops_serve_starts_with_a_plugin_whose_info_hook_raises(tmp_path):
    import socket

    import requests

    site = faulty_plugin.install_entry_point(tmp_path / "site")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(site), str(ROOT)]),
        POSTALOPS_INSTANCE_PATH=str(tmp_path / "instance"),
        POSTALOPS_FAULTY_HOOK="postalops_plugin_info",
    )
    env.pop("POSTALOPS_DATABASE_URL", None)
    env.pop("POSTALOPS_REDIS_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "postalops.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            try:
                resp = requests.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "serve never came up"
                time.sleep(0.5)
        assert resp.status_code == 200, resp.text
        assert "faulty" in resp.json()["plugins"]["failed"]
        assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
