"""Generic job submission (issue 18 §4): a job a plugin declares startable (``run_permission``,
``params_model``) started through ``POST /api/v1/jobs``, ``postalops jobs run`` and the jobs
page's "run now" button of its schedule. pickup_points' coverage recompute and sorter's rollup
are startable; pickup_points is on in Zhengzhou and off in Kaifeng."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from postalops.cli import main
from postalops.jobs import wait_for
from postalops.models import Job
from postalops.testing import count_rows, system_scope
from sqlmodel import select

ZZ, KF = "cn.henan.zhengzhou", "cn.henan.kaifeng"
COVERAGE = "pickup_points.recompute_coverage"


@pytest.fixture
def zz_only(po_app, tenants, enable_plugin):
    enable_plugin("pickup_points", "cn", on=False)
    enable_plugin("pickup_points", ZZ)
    return po_app


def _jobs(app, kind=COVERAGE):
    with app.extensions["postalops.db"].transaction(system_scope()) as s:
        rows = s.exec(select(Job).where(Job.kind == kind).order_by(Job.created_at)).all()
        for r in rows:
            s.expunge(r)
    return rows


def test_kinds_are_listed_with_permission_and_schema(zz_only, make_token):
    api = make_token("cn", "core.jobs.view")
    resp = api.get("/api/v1/jobs/kinds")
    assert resp.status_code == 200
    kinds = {k["kind"]: k for k in resp.get_json()["items"]}
    assert kinds[COVERAGE]["permission"] == "pickup_points.manage"
    assert "day" in kinds[COVERAGE]["params_schema"]["properties"]
    assert kinds["sorter.rollup"]["permission"] == "sorter.manage"
    assert "pickup_points.propose_direct_delivery" not in kinds  # not declared startable


def test_post_jobs_starts_a_startable_job(zz_only, make_token, workers):
    api = make_token("cn.henan", "pickup_points.manage", "sorter.manage")
    body = {"kind": COVERAGE, "unit": ZZ, "params": {"day": "2025-03-12"}, "idempotency_key": "k1"}
    resp = api.post("/api/v1/jobs", json=body)
    assert resp.status_code == 202, resp.get_json()
    job = resp.get_json()
    assert (job["kind"], job["tenant"]) == (COVERAGE, ZZ)
    done = wait_for(zz_only.extensions["postalops.db"], job["id"])
    assert done.status == "succeeded", done.error
    assert done.params == {"day": "2025-03-12"}
    again = api.post("/api/v1/jobs", json=body)  # same key: the same job
    assert again.status_code == 202 and again.get_json()["id"] == job["id"]
    assert len(_jobs(zz_only)) == 1
    rollup = api.post("/api/v1/jobs", json={"kind": "sorter.rollup", "unit": "cn.henan"})
    assert rollup.status_code == 202, rollup.get_json()
    assert wait_for(zz_only.extensions["postalops.db"], rollup.get_json()["id"]).status == (
        "succeeded"
    )


def _fields(resp):
    return {d.get("field") for d in resp.get_json()["error"].get("details", [])}


def test_post_jobs_refusals_name_the_problem(zz_only, make_token):
    api = make_token("cn.henan", "pickup_points.manage", "sorter.manage")
    before = count_rows(zz_only, Job)
    bad_day = api.post("/api/v1/jobs", json={"kind": COVERAGE, "unit": ZZ, "params": {"day": "x"}})
    assert bad_day.status_code == 422 and "params.day" in _fields(bad_day)
    extra = api.post("/api/v1/jobs", json={"kind": "sorter.rollup", "unit": ZZ, "params": {"a": 1}})
    assert extra.status_code == 422 and "params.a" in _fields(extra)
    no_kind = api.post("/api/v1/jobs", json={"unit": ZZ})
    assert no_kind.status_code == 422 and "kind" in json.dumps(no_kind.get_json())
    not_startable = api.post(
        "/api/v1/jobs", json={"kind": "pickup_points.propose_direct_delivery", "unit": ZZ}
    )
    assert not_startable.status_code == 404 and "kind" in _fields(not_startable)
    unknown_unit = api.post("/api/v1/jobs", json={"kind": COVERAGE, "unit": "cn.henan.nowhere"})
    assert unknown_unit.status_code == 404 and "unit" in _fields(unknown_unit)
    kaifeng = api.post("/api/v1/jobs", json={"kind": COVERAGE, "unit": KF})
    assert kaifeng.status_code == 404
    assert "not enabled" in kaifeng.get_json()["error"]["message"]
    viewer = make_token("cn.henan", "core.jobs.view")
    forbidden = viewer.post("/api/v1/jobs", json={"kind": COVERAGE, "unit": ZZ})
    assert forbidden.status_code == 403
    assert count_rows(zz_only, Job) == before


def test_openapi_documents_post_jobs(po_app):
    doc = po_app.test_client().get("/api/v1/openapi.json").get_json()
    post = doc["paths"]["/api/v1/jobs"]["post"]
    assert "202" in post["responses"]
    assert "/api/v1/jobs/kinds" in doc["paths"]


@pytest.fixture
def cli(zz_only, monkeypatch):
    settings = zz_only.extensions["postalops.settings"]
    monkeypatch.setenv("POSTALOPS_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("POSTALOPS_INSTANCE_PATH", str(settings.instance_path))

    def invoke(*args):
        return CliRunner().invoke(main, list(args), catch_exceptions=False)

    return invoke


def test_cli_jobs_run(cli, zz_only, workers):
    ok = cli("jobs", "run", COVERAGE, "--unit", ZZ, "--param", "day=2025-03-12")
    assert ok.exit_code == 0, ok.output
    out = json.loads(ok.output.strip().splitlines()[-1])
    assert (out["status"], out["unit"]) == ("succeeded", ZZ)
    assert [j.params for j in _jobs(zz_only)] == [{"day": "2025-03-12"}]


def test_cli_jobs_run_refusals(cli, zz_only):
    bad = cli("jobs", "run", COVERAGE, "--unit", ZZ, "--param", "day=tomorrowish")
    assert bad.exit_code != 0 and "params.day" in bad.output
    kaifeng = cli("jobs", "run", COVERAGE, "--unit", KF)
    assert kaifeng.exit_code != 0 and "not enabled" in kaifeng.output
    unknown = cli("jobs", "run", "pickup_points.nothing", "--unit", ZZ)
    assert unknown.exit_code != 0 and "kind" in unknown.output
    malformed = cli("jobs", "run", COVERAGE, "--unit", ZZ, "--param", "day")
    assert malformed.exit_code != 0 and "k=v" in malformed.output
    assert _jobs(zz_only) == []


RUN = "/jobs/schedules/pickup_points.coverage/run"


def test_the_jobs_page_runs_a_schedule_now(zz_only, login_as, workers):
    ops = login_as("ops", ZZ)
    page = ops.get("/jobs").get_data(as_text=True)
    assert 'data-schedule="pickup_points.coverage"' in page
    assert f'action="{RUN}"' in page and "立即运行" in page
    first = ops.post(RUN, data={"csrf_token": ops.csrf})  # no JavaScript: confirm first
    assert first.status_code == 200 and 'name="confirmed" value="1"' in first.get_data(as_text=True)
    assert _jobs(zz_only) == []
    resp = ops.post(RUN, data={"csrf_token": ops.csrf, "confirmed": "1"})
    assert resp.status_code == 302
    (job,) = _jobs(zz_only)
    assert job.tenant_code == ZZ and ops.user.username in job.started_by
    assert wait_for(zz_only.extensions["postalops.db"], job.id).status == "succeeded"


def test_run_now_at_henan_fans_out_to_enabled_cities_only(zz_only, login_as):
    ops = login_as("ops", "cn.henan")
    resp = ops.post(RUN, data={"csrf_token": ops.csrf, "confirmed": "1"})
    assert resp.status_code == 302
    assert [j.tenant_code for j in _jobs(zz_only)] == [ZZ]


def test_run_now_where_the_plugin_is_off_or_without_permission(zz_only, login_as):
    kf = login_as("ops", KF)
    page = kf.get("/jobs").get_data(as_text=True)
    assert 'data-schedule="pickup_points.coverage"' not in page
    resp = kf.post(RUN, data={"csrf_token": kf.csrf, "confirmed": "1"})
    assert resp.status_code == 302
    viewer = login_as("viewer", ZZ)
    assert 'data-schedule="pickup_points.coverage"' not in viewer.get("/jobs").get_data(
        as_text=True
    )
    assert viewer.post(RUN, data={"csrf_token": viewer.csrf, "confirmed": "1"}).status_code == 403
    assert _jobs(zz_only) == []
