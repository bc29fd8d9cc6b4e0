"""A plugin's data hooks called for a parent unit never count the units below it where the
plugin is off: metrics (``GET /api/v1/metrics``, the metrics cache, the dashboards), journal
entries (``GET /api/v1/journal``), workbench tasks and the plugin's dashboard page.

The toy plugin ``cutter`` is on at ``cn`` and switched off in Kaifeng; one probe row
(``core_job_probe``, a tenant table) in Henan, Zhengzhou, Jinshui and Kaifeng. Every hook of it
counts the probe rows its session sees (ORM, and on PostgreSQL raw SQL too, which only
row-level security cuts): at Henan that is 3 (Henan, Zhengzhou, Jinshui), never 4. The core
runs each plugin's hook under the caller's scope narrowed for that plugin and restores the
caller's scope afterwards: the core's own reads in the same request still see Kaifeng.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
import sqlalchemy as sa
from postalops import hookimpl
from postalops.builtin.probe import JobProbe
from postalops.db import in_scope_clause
from postalops.journal import JournalLine
from postalops.metrics import kpi
from postalops.models import PluginEnablement
from postalops.plugins import DashboardPage, Task
from postalops.tenancy import Scope
from postalops.testing import PASSWORD, ApiClient, PortalClient, system_scope
from sqlmodel import func, select

from tests.fixtures.toy_plugins import Toy, toy_app
from tests.test_dashboards import dash_update
from tests.test_plugin_scope_cut import Cutter

HN, ZZ, JS, KF = (
    "cn.henan",
    "cn.henan.zhengzhou",
    "cn.henan.zhengzhou.jinshui",
    "cn.henan.kaifeng",
)
MARCH = "from=2025-03-01&to=2025-03-31"


def _seen(session, tenant: str) -> tuple[int, int | None]:
    """Probe rows of ``tenant``'s subtree the hook's session sees: (ORM, raw SQL on
    PostgreSQL / None on SQLite)."""
    orm = session.exec(
        select(func.count())
        .select_from(JobProbe)
        .where(in_scope_clause(JobProbe.tenant_code, tenant))
    ).one()
    raw = None
    if session.get_bind().dialect.name == "postgresql":
        q = "SELECT count(*) FROM core_job_probe WHERE tenant_code = :t OR tenant_code LIKE :p"
        raw = session.execute(sa.text(q), {"t": tenant, "p": tenant + ".%"}).scalar_one()
    return orm, raw


class CutterHooks(Cutter):
    """``cutter`` with data hooks that count the probe rows they see."""

    @hookimpl
    def postalops_metrics(self, session, tenant, date_from, date_to):
        orm, raw = _seen(session, tenant)
        out = {"probes": kpi(orm, "count", "探针", "Probes")}
        if raw is not None:
            out["raw_probes"] = kpi(raw, "count", "探针（SQL）", "Probes (SQL)")
        return out

    @hookimpl
    def postalops_journal_entries(self, session, tenant, date_from, date_to):
        orm, raw = _seen(session, tenant)
        amount = Decimal(orm if raw is None else min(orm, raw))  # 1.00 yuan a row seen
        day = dt.date(2025, 3, 31)
        return [
            JournalLine(day, "selling_expenses", amount, Decimal(0), tenant, "cutter:1", "探针"),
            JournalLine(day, "bank", Decimal(0), amount, tenant, "cutter:1", "探针"),
        ]

    @hookimpl
    def postalops_tasks(self, session, user, unit):
        orm, raw = _seen(session, unit)
        return [Task(f"seen-{orm}-{raw}", "探针", "Probes", "/p/cutter/count", count=orm)]

    @hookimpl
    def postalops_dashboard_pages(self, dash_app):
        from dash import html

        def layout(view):
            orm, raw = _seen(view.session, view.tenant)
            return html.Div(f"seen-{orm}-{raw}", id="cutter-seen")

        return [DashboardPage("cutter-probes", "探针", "Probes", layout)]


def _expected(app, n: int) -> str:
    return f"seen-{n}-{n if app.extensions['postalops.db'].is_postgres else None}"


@pytest.fixture
def hook_app(po_app, tenants):
    app = toy_app(po_app, CutterHooks())
    with app.extensions["postalops.db"].transaction(system_scope()) as s:
        s.add(PluginEnablement(unit_code="cn", plugin_key="cutter", enabled=True))
        s.add(PluginEnablement(unit_code=KF, plugin_key="cutter", enabled=False))
        for unit in (HN, ZZ, JS, KF):
            s.add(JobProbe(job_id=f"seed:{unit}", step=1, tenant_code=unit))
    return app


def _token(app, unit, *perms) -> ApiClient:
    from postalops.auth import create_token

    with app.extensions["postalops.db"].transaction(system_scope()) as s:
        token, secret = create_token(
            s,
            app.extensions["postalops.plugins"],
            name="t",
            unit_code=unit,
            permissions=perms,
            created_by="test",
        )
        token_id = token.id
    return ApiClient(app.test_client(), secret, token_id)


def _probes(api, tenant=HN) -> dict:
    resp = api.get(f"/api/v1/metrics?tenant={tenant}&{MARCH}&plugin=cutter")
    assert resp.status_code == 200, resp.get_json()
    return {k: v["value"] for k, v in resp.get_json()["metrics"]["cutter"].items()}


def _n(app, n: int) -> dict:
    out = {"probes": n}
    if app.extensions["postalops.db"].is_postgres:
        out["raw_probes"] = n  # row-level security cuts the raw SQL too
    return out


def _switch(app, unit: str, on: bool) -> None:
    db = app.extensions["postalops.db"]
    with db.transaction(system_scope()) as s:
        app.extensions["postalops.plugins"].set_enabled(s, unit, "cutter", on, "test")


def test_province_metrics_leave_out_the_city_where_the_plugin_is_off(hook_app):
    api = _token(hook_app, HN, "core.metrics.read")
    assert _probes(api) == _n(hook_app, 3)  # Henan, Zhengzhou, Jinshui; not Kaifeng
    assert _probes(api, ZZ) == _n(hook_app, 2)


def test_a_group_caller_gets_the_same_cut_where_the_plugin_is_on_only_in_the_province(hook_app):
    # on in Henan only (not at cn), off in Kaifeng: a group token asking for Henan
    db = hook_app.extensions["postalops.db"]
    with db.transaction(system_scope()) as s:
        row = s.exec(
            select(PluginEnablement).where(
                PluginEnablement.unit_code == "cn", PluginEnablement.plugin_key == "cutter"
            )
        ).one()
        row.unit_code = HN
    assert _probes(_token(hook_app, "cn", "core.metrics.read")) == _n(hook_app, 3)
    assert _probes(_token(hook_app, HN, "core.metrics.read")) == _n(hook_app, 3)
    # the group caller's cut: exactly where the plugin is off, the group unit itself included
    with db.transaction(Scope.unit("cn")) as s:
        cut = hook_app.extensions["postalops.plugins"].hook_scopes(s)("cutter")
    allowed = [u for u in ("cn", HN, ZZ, JS, KF, "cn.hebei") if cut.allows(u)]
    assert allowed == [HN, ZZ, JS]


def test_the_metrics_cache_follows_a_switch_off_and_on(hook_app):
    from postalops import metrics_cache

    api = _token(hook_app, HN, "core.metrics.read")
    cache = metrics_cache.for_bind(hook_app.extensions["postalops.db"].engine)
    cache.clear()
    assert _probes(api) == _n(hook_app, 3)
    hits = cache.hits
    assert _probes(api) == _n(hook_app, 3)  # served from the cache
    assert cache.hits == hits + 1
    _switch(hook_app, KF, True)  # back on in Kaifeng: the next answer counts it
    assert _probes(api) == _n(hook_app, 4)
    _switch(hook_app, ZZ, False)  # off in Zhengzhou (and so in Jinshui)
    assert _probes(api) == _n(hook_app, 2)
    _switch(hook_app, ZZ, True)
    _switch(hook_app, KF, False)
    assert _probes(api) == _n(hook_app, 3)
    assert _probes(api) == _n(hook_app, 3)
    assert cache.hits == hits + 2


def test_the_core_reads_of_the_same_session_are_not_cut_after_the_hooks(hook_app):
    from postalops import context
    from postalops.context import CallContext, Principal
    from postalops.metrics import collect

    db = hook_app.extensions["postalops.db"]
    registry = hook_app.extensions["postalops.plugins"]
    ctx = CallContext(db=db, scope=Scope.unit(HN), principal=Principal.system("t"), unit=HN)
    with context.activate(ctx) as c:
        s = c.session
        assert _seen(s, HN)[0] == 4  # the core's own read, in the transaction, before
        out = collect(registry, s, HN, dt.date(2025, 3, 1), dt.date(2025, 3, 31), "cutter")
        assert out["metrics"]["cutter"]["probes"]["value"] == 3
        assert s.info["scope"] == Scope.unit(HN)
        assert _seen(s, HN) == (4, 4 if db.is_postgres else None)  # restored, RLS included


def test_the_journal_books_only_what_the_plugin_sees_where_it_is_on(hook_app):
    api = _token(hook_app, HN, "core.journal.read")
    resp = api.get(f"/api/v1/journal?tenant={HN}&{MARCH}")
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["degraded"] == []
    # one voucher of 1.00 per probe row the hook saw: Henan, Zhengzhou, Jinshui
    assert (body["totals"]["debit"], body["totals"]["credit"]) == ("3.00", "3.00")


def test_the_workbench_task_counts_no_kaifeng_row(hook_app):
    from tests.test_plugin_faults import client_for

    c = client_for(hook_app, "hn_ops", HN, "ops")
    html = c.get("/").get_data(as_text=True)
    assert f'data-task="cutter:{_expected(hook_app, 3)}"' in html, html


def test_the_plugins_dashboard_page_and_overview_count_no_kaifeng_row(hook_app):
    from postalops.auth import create_user

    with hook_app.extensions["postalops.db"].transaction(system_scope()) as s:
        create_user(
            s,
            hook_app.extensions["postalops.plugins"],
            username="hn_viewer",
            password=PASSWORD,
            unit_code=HN,
            roles=("ops",),
        )
    c = PortalClient(hook_app.test_client())
    assert c.login("hn_viewer").status_code == 302
    page = dash_update(c.client, HN, path="/dashboards/cutter-probes").get_data(as_text=True)
    assert _expected(hook_app, 3) in page, page
    overview = dash_update(c.client, HN, "2025-03-01", "2025-03-31").get_data(as_text=True)
    card = re.search(
        r'"children":"(\d+) 次","className":"value"[^\]]*\],"className":"kpi",'
        r'"data-kpi":"cutter.probes"',
        overview,
    )
    assert card is not None and card.group(1) == "3", overview


class Breaker(Toy):
    """A plugin whose metrics hook fails on a bad statement (PostgreSQL: an aborted SAVEPOINT),
    answered before ``cutter`` (plugins answer in key order)."""

    @hookimpl
    def postalops_metrics(self, session, tenant, date_from, date_to):
        session.execute(sa.text("SELECT * FROM no_such_table"))


def test_a_failing_hook_under_its_cut_leaves_the_next_plugins_cut_and_the_callers_scope(
    po_app, tenants
):
    from postalops import context
    from postalops.context import CallContext, Principal
    from postalops.metrics import collect

    app = toy_app(po_app, Breaker("breaker"), CutterHooks())
    db = app.extensions["postalops.db"]
    with db.transaction(system_scope()) as s:
        for key in ("breaker", "cutter"):
            s.add(PluginEnablement(unit_code="cn", plugin_key=key, enabled=True))
        s.add(PluginEnablement(unit_code=ZZ, plugin_key="breaker", enabled=False))
        s.add(PluginEnablement(unit_code=KF, plugin_key="cutter", enabled=False))
        for unit in (HN, ZZ, JS, KF):
            s.add(JobProbe(job_id=f"seed:{unit}", step=1, tenant_code=unit))
    ctx = CallContext(db=db, scope=Scope.unit(HN), principal=Principal.system("t"), unit=HN)
    with context.activate(ctx) as c:
        s = c.session
        registry = app.extensions["postalops.plugins"]
        out = collect(registry, s, HN, dt.date(2025, 3, 1), dt.date(2025, 3, 31))["metrics"]
        assert "breaker" not in out and registry.plugins["breaker"].degraded
        assert {k: v["value"] for k, v in out["cutter"].items()} == _n(app, 3)
        assert s.info["scope"] == Scope.unit(HN)
        assert _seen(s, HN) == (4, 4 if db.is_postgres else None)


def test_the_metrics_cli_at_a_province_leaves_out_the_city_where_a_plugin_is_off(
    po_app, tenants, enable_plugin, monkeypatch
):
    """``postalops metrics`` (the same ``collect``, a Henan scope) with a business plugin:
    pickup points' ``active_points`` counts one point in Zhengzhou and one in Kaifeng; with
    pickup points off in Kaifeng, Henan's figure is 1."""
    import json

    from click.testing import CliRunner
    from postalops.cli import main
    from postalops_pickup_points.models import PickupPoint, PickupStatusChange

    with po_app.extensions["postalops.db"].transaction(system_scope()) as s:
        for n, unit in enumerate((ZZ, KF)):
            point = PickupPoint(
                tenant_code=unit,
                code=f"P{n}",
                name=f"点{n}",
                point_type="own",
                county="县",
                lon=113.6,
                lat=34.7,
                opened_on=dt.date(2022, 1, 1),
            )
            s.add(point)
            s.flush()
            s.add(
                PickupStatusChange(
                    tenant_code=unit,
                    point_id=point.id,
                    effective=dt.date(2022, 1, 1),
                    status="active",
                    point_type="own",
                )
            )
    settings = po_app.extensions["postalops.settings"]
    monkeypatch.setenv("POSTALOPS_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("POSTALOPS_INSTANCE_PATH", str(settings.instance_path))

    def active_points() -> int:
        args = ["metrics", "--tenant", HN, "--from", "2022-09-01", "--to", "2022-09-30"]
        result = CliRunner().invoke(main, [*args, "--plugin", "pickup_points", "--json"])
        assert result.exit_code == 0, result.output
        return json.loads(result.output)["metrics"]["pickup_points"]["active_points"]["value"]

    assert active_points() == 2
    enable_plugin("ecommerce", KF, on=False)  # it requires pickup points
    enable_plugin("pickup_points", KF, on=False)
    assert active_points() == 1
