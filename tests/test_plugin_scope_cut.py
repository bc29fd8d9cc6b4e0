"""A plugin's work at a parent unit never reaches the units below it where the plugin is off
(issue 18 §3: "a job never touches a unit where its plugin is off: the core checks this").

The toy plugin ``cutter`` is on at ``cn`` and switched off in Kaifeng. Its province-wide job
(started through ``POST /api/v1/jobs`` and by a non-per-unit schedule at ``cn.henan``) and its
API at a Henan token read and write the core's probe rows (``core_job_probe``, a tenant table):
they see and change Henan's and Zhengzhou's rows, never Kaifeng's; a write to Kaifeng is
refused. The core does it, not the plugin: the ORM criteria and write checks on both backends,
and on PostgreSQL the row-level-security policy of the runtime role, which also holds for raw
SQL (checked here through ``text()`` statements, which the ORM criteria never see).
"""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from postalops import context, hookimpl
from postalops.api import ApiBlueprint
from postalops.builtin.probe import JobProbe
from postalops.jobs import JobContext, job, wait_for
from postalops.models import PluginEnablement
from postalops.plugins import Permission, Schedule
from postalops.tenancy import Scope, plugin_exclusions
from postalops.testing import ApiClient, system_scope
from sqlmodel import select

from tests.fixtures.toy_plugins import Toy, toy_app

HN, ZZ, JS, KF = (
    "cn.henan",
    "cn.henan.zhengzhou",
    "cn.henan.zhengzhou.jinshui",
    "cn.henan.kaifeng",
)
AT = dt.datetime(2025, 3, 12, 2, 30, 5, tzinfo=dt.UTC)


def _touch(session, raw: bool) -> dict:
    """What the job and the API do: read every probe row, bump every step by 100 with one ORM
    UPDATE and, on PostgreSQL, read and bump (+1000) with raw SQL too."""
    seen = sorted(session.exec(select(JobProbe.tenant_code)).all())
    session.execute(sa.update(JobProbe).values(step=JobProbe.step + 100))
    out = {"seen": seen}
    if raw:
        q = "SELECT tenant_code FROM core_job_probe ORDER BY tenant_code"
        out["raw_seen"] = list(session.execute(sa.text(q)).scalars())
        session.execute(sa.text("UPDATE core_job_probe SET step = step + 1000"))
    return out


@job("cutter.touch", run_permission="cutter.manage", label_zh="触碰", label_en="Touch")
def touch(ctx: JobContext, write_to: str | None = None) -> dict:
    s = ctx.session
    out = _touch(s, s.get_bind().dialect.name == "postgresql")
    if write_to:
        s.add(JobProbe(job_id=ctx.id, step=1, tenant_code=write_to))
        s.flush()
    return out


class Cutter(Toy):
    def __init__(self) -> None:
        super().__init__("cutter")
        api = ApiBlueprint("cutter_data_api", __name__)

        @api.operation("/probes", permission="cutter.view", summary="probe rows")
        def probes() -> dict:
            s = context.session()
            seen = sorted(s.exec(select(JobProbe.tenant_code)).all())
            q = "SELECT tenant_code FROM core_job_probe ORDER BY tenant_code"
            return {"seen": seen, "raw_seen": list(s.execute(sa.text(q)).scalars())}

        @api.operation("/touch", methods=["POST"], permission="cutter.view", summary="bump")
        def touch_all() -> dict:
            s = context.session()
            out = _touch(s, s.get_bind().dialect.name == "postgresql")
            s.commit()
            return out

        @api.operation("/probes/<unit>", methods=["POST"], permission="cutter.view", summary="add")
        def add(unit: str) -> dict:
            s = context.session()
            s.add(JobProbe(job_id="api", step=1, tenant_code=unit))
            s.commit()
            return {"added": unit}

        self.data_api = api
        self.ui.add_url_rule(
            "/count",
            "cutter_count",
            lambda: str(len(context.session().exec(select(JobProbe)).all())),
        )

    @hookimpl
    def postalops_blueprints(self, app):
        return [self.ui, self.api, self.data_api]

    @hookimpl
    def postalops_permissions(self):
        return [
            Permission("cutter.view", "查看", "View", roles=("ops",)),
            Permission("cutter.manage", "管理", "Manage", roles=("admin",)),
        ]

    @hookimpl
    def postalops_actors(self):
        return [touch]

    @hookimpl
    def postalops_schedules(self):
        return [Schedule("cutter.nightly", "cutter.touch", cron="30 2 * * *", tenant=HN)]


@pytest.fixture
def cut_app(po_app, tenants):
    """The toy app, ``cutter`` on at ``cn`` and off in Kaifeng; one probe row in Henan,
    Zhengzhou, Jinshui (a station of Zhengzhou) and Kaifeng (step 1 each)."""
    app = toy_app(po_app, Cutter())
    db = app.extensions["postalops.db"]
    with db.transaction(system_scope()) as s:
        s.add(PluginEnablement(unit_code="cn", plugin_key="cutter", enabled=True))
        s.add(PluginEnablement(unit_code=KF, plugin_key="cutter", enabled=False))
        for unit in (HN, ZZ, JS, KF):
            s.add(JobProbe(job_id=f"seed:{unit}", step=1, tenant_code=unit))
    jobs = app.extensions["postalops.jobs"]
    jobs.start_workers(1)
    yield app
    jobs.stop_workers()


def _steps(app) -> dict[str, int]:
    with app.extensions["postalops.db"].transaction(system_scope()) as s:
        rows = s.exec(select(JobProbe).where(JobProbe.job_id.like("seed:%"))).all()
        return {r.tenant_code: r.step for r in rows}


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


def _bump(app) -> int:
    """What one touch adds to a row it reaches: 100 (ORM), plus 1000 (raw SQL) on PostgreSQL."""
    return 1100 if app.extensions["postalops.db"].is_postgres else 100


def test_a_province_job_started_over_http_touches_only_units_where_its_plugin_is_on(cut_app):
    api = _token(cut_app, HN, "cutter.manage")
    resp = api.post("/api/v1/jobs", json={"kind": "cutter.touch", "unit": HN})
    assert resp.status_code == 202, resp.get_json()
    done = wait_for(cut_app.extensions["postalops.db"], resp.get_json()["id"])
    assert done.status == "succeeded", done.error
    assert done.result["seen"] == [HN, ZZ, JS]
    if cut_app.extensions["postalops.db"].is_postgres:
        assert done.result["raw_seen"] == [HN, ZZ, JS]  # row-level security, not the ORM
    bump = _bump(cut_app)
    assert _steps(cut_app) == {HN: 1 + bump, ZZ: 1 + bump, JS: 1 + bump, KF: 1}


def test_the_scheduled_province_job_leaves_kaifeng_alone(cut_app):
    from postalops.scheduler import tick

    assert "cutter.nightly" in tick(cut_app, AT)
    from postalops.testing import jobs_of

    (row,) = jobs_of(cut_app, "cutter.touch")
    assert row.tenant_code == HN
    done = wait_for(cut_app.extensions["postalops.db"], row.id)
    assert done.status == "succeeded", done.error
    assert done.result["seen"] == [HN, ZZ, JS]
    assert _steps(cut_app)[KF] == 1


def test_a_province_job_writing_to_kaifeng_fails_and_writes_nothing(cut_app):
    api = _token(cut_app, HN, "cutter.manage")
    body = {"kind": "cutter.touch", "unit": HN, "params": {"write_to": KF}}
    resp = api.post("/api/v1/jobs", json=body)
    assert resp.status_code == 202, resp.get_json()
    done = wait_for(cut_app.extensions["postalops.db"], resp.get_json()["id"])
    assert done.status == "failed"
    assert "outside your scope" in done.error
    assert _steps(cut_app) == {HN: 1, ZZ: 1, JS: 1, KF: 1}  # rolled back as a whole
    # the same job writing to Zhengzhou succeeds
    body["params"]["write_to"] = ZZ
    ok = api.post("/api/v1/jobs", json=body)
    assert wait_for(cut_app.extensions["postalops.db"], ok.get_json()["id"]).status == "succeeded"


def test_switched_on_again_below_an_off_unit_is_reached_again(cut_app):
    # off in Zhengzhou, on again in its station Jinshui; Kaifeng back on (its row removed)
    db = cut_app.extensions["postalops.db"]
    with db.transaction(system_scope()) as s:
        kf = s.exec(select(PluginEnablement).where(PluginEnablement.unit_code == KF)).one()
        s.delete(kf)
        s.add(PluginEnablement(unit_code=ZZ, plugin_key="cutter", enabled=False))
        s.add(PluginEnablement(unit_code=JS, plugin_key="cutter", enabled=True))
    api = _token(cut_app, HN, "cutter.manage")
    resp = api.post("/api/v1/jobs", json={"kind": "cutter.touch", "unit": HN})
    done = wait_for(db, resp.get_json()["id"])
    assert done.status == "succeeded", done.error
    assert done.result["seen"] == [HN, KF, JS]
    if db.is_postgres:
        assert done.result["raw_seen"] == [HN, KF, JS]
    bump = _bump(cut_app)
    assert _steps(cut_app) == {HN: 1 + bump, ZZ: 1, JS: 1 + bump, KF: 1 + bump}


def test_an_api_call_at_province_scope_sees_and_changes_no_kaifeng_row(cut_app):
    api = _token(cut_app, HN, "cutter.view")
    resp = api.get("/api/v1/cutter/probes")
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["seen"] == [HN, ZZ, JS]
    if cut_app.extensions["postalops.db"].is_postgres:
        assert resp.get_json()["raw_seen"] == [HN, ZZ, JS]  # SQLite: raw SQL is not cut
    resp = api.post("/api/v1/cutter/touch")
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["seen"] == [HN, ZZ, JS]
    bump = _bump(cut_app)
    assert _steps(cut_app) == {HN: 1 + bump, ZZ: 1 + bump, JS: 1 + bump, KF: 1}
    refused = api.post(f"/api/v1/cutter/probes/{KF}")
    assert refused.status_code == 403, refused.get_json()
    assert api.post(f"/api/v1/cutter/probes/{ZZ}").status_code == 200
    # Kaifeng's own caller: the plugin is absent there
    assert _token(cut_app, KF, "cutter.view").get("/api/v1/cutter/probes").status_code == 404


def test_a_portal_page_at_province_scope_counts_no_kaifeng_row(cut_app):
    from postalops.auth import create_user
    from postalops.testing import PASSWORD, PortalClient

    with cut_app.extensions["postalops.db"].transaction(system_scope()) as s:
        create_user(
            s,
            cut_app.extensions["postalops.plugins"],
            username="hn_ops",
            password=PASSWORD,
            unit_code=HN,
            roles=("ops",),
        )
    c = PortalClient(cut_app.test_client())
    assert c.login("hn_ops").status_code == 302
    assert c.get("/p/cutter/count").get_data(as_text=True) == "3"


def test_core_routes_are_not_cut(cut_app):
    # The cut is for the plugin's work: outside it (the core's own work at Henan) Kaifeng's
    # rows are in scope as before.
    with context.activate(
        context.CallContext(
            db=cut_app.extensions["postalops.db"],
            scope=Scope.unit(HN),
            principal=context.Principal.system("test"),
            unit=HN,
        )
    ) as ctx:
        assert sorted(ctx.session.exec(select(JobProbe.tenant_code)).all()) == [HN, KF, ZZ, JS]


# --- the cut itself ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rows", "off", "on"),
    [
        ([("cn", True)], (), ()),
        ([("cn", True), (KF, False)], (KF,), ()),
        ([(KF, False), (KF + ".a", False)], (KF,), ()),  # off below off: nothing new
        ([(ZZ, False), (JS, True)], (ZZ,), (JS,)),
        ([(ZZ, True), (JS, True)], (), ()),  # on below on
        ([(HN, False), ("cn.hebei", False)], (), ()),  # at and beside the unit: not below it
        ([(ZZ, False), (JS, True), (JS + ".x", False)], (ZZ, JS + ".x"), (JS,)),
    ],
)
def test_plugin_exclusions_are_the_flips_below_the_unit(rows, off, on):
    assert plugin_exclusions(rows, HN) == (off, on)


def test_the_scope_and_its_postgres_expression_cut_the_same_codes():
    import re

    scope = Scope.unit(HN).for_plugin("p", (ZZ, JS + ".x"), (JS,))
    codes = [HN, ZZ, ZZ + "2", ZZ + ".y", JS, JS + ".b", JS + ".x", JS + ".x.z", KF]
    allowed = [c for c in codes if scope.allows(c)]
    assert allowed == [HN, ZZ + "2", JS, JS + ".b", KF]
    assert [c for c in codes if not re.search(scope.pg_off, c)] == allowed
    assert Scope.unit(HN).pg_off == "" and Scope.system_scope().for_plugin("p", (ZZ,)).pg_off == ""


@pytest.mark.postgres
def test_postgres_applies_the_same_cut(po_app):
    """The tenant policy's condition (``RLS_POLICY``) under the settings a narrowed session
    sets, against ``Scope.allows``."""
    from postalops.db import RLS_POLICY

    db = po_app.extensions["postalops.db"]
    if not db.is_postgres:
        pytest.skip("PostgreSQL only")
    scope = Scope.unit(HN).for_plugin("p", (ZZ, JS + ".x"), (JS,))
    codes = [HN, ZZ, ZZ + "2", ZZ + ".y", JS, JS + ".b", JS + ".x", JS + ".x.z", KF, "cn.hebei"]
    values = ", ".join(f"('{c}')" for c in codes)
    query = sa.text(
        f"SELECT tenant_code FROM (VALUES {values}) AS v(tenant_code) WHERE {RLS_POLICY} "
        "ORDER BY tenant_code"
    )
    settings = {
        "postalops.scope": scope.pg_setting,
        "postalops.off": scope.pg_off,
        "postalops.off_like": scope.pg_off_like,
    }
    with db.engine.begin() as conn:
        for name, value in settings.items():
            conn.execute(sa.text("SELECT set_config(:n, :v, true)"), {"n": name, "v": value})
        assert list(conn.execute(query).scalars()) == sorted(c for c in codes if scope.allows(c))
        # nothing cut out: the empty settings let the whole subtree through
        conn.execute(sa.text("SELECT set_config('postalops.off', '', true)"))
        conn.execute(sa.text("SELECT set_config('postalops.off_like', '', true)"))
        assert list(conn.execute(query).scalars()) == sorted(c for c in codes if c != "cn.hebei")
