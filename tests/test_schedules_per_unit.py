"""Schedules that fan out per enabled unit (issue 18 §3), driven through the scheduler's tick.

pickup_points' nightly coverage schedule is ``per_unit="city"``: with the plugin on in
Zhengzhou and off in Kaifeng, one tick at 02:30 UTC sends one job, for Zhengzhou; Kaifeng gets
none, and a job submitted for Kaifeng is refused at submission and, sent past the checks, at
its start.
"""

from __future__ import annotations

import datetime as dt

import pytest
from postalops import context
from postalops.jobs import wait_for
from postalops.models import Job
from postalops.scheduler import schedules, tick
from postalops.testing import system_context, system_scope
from sqlmodel import select

ZZ, KF = "cn.henan.zhengzhou", "cn.henan.kaifeng"
KIND = "pickup_points.recompute_coverage"
AT = dt.datetime(2025, 3, 12, 2, 30, 5, tzinfo=dt.UTC)


def _jobs(app, kind=KIND):
    with app.extensions["postalops.db"].transaction(system_scope()) as s:
        rows = s.exec(select(Job).where(Job.kind == kind)).all()
        for r in rows:
            s.expunge(r)
    return rows


@pytest.fixture
def zz_only(po_app, tenants, enable_plugin):
    enable_plugin("pickup_points", "cn", on=False)
    enable_plugin("pickup_points", ZZ)
    return po_app


def test_the_coverage_schedule_is_per_city(po_app):
    (sched,) = [s for s in schedules(po_app) if s.name == "pickup_points.coverage"]
    assert (sched.per_unit, sched.tenant) == ("city", "cn")


def test_a_tick_runs_the_job_for_zhengzhou_only(zz_only, workers):
    app = zz_only
    fired = tick(app, AT)
    assert "pickup_points.coverage" in fired
    rows = _jobs(app)
    assert [r.tenant_code for r in rows] == [ZZ]
    assert rows[0].idempotency_key == f"schedule:pickup_points.coverage:{ZZ}:2025-03-12T02:30:00"
    assert rows[0].started_by == "scheduler:pickup_points.coverage"
    done = wait_for(app.extensions["postalops.db"], rows[0].id)
    assert done.status == "succeeded", done.error
    # the same minute again (a second scheduler, a restart): nothing more is sent
    assert "pickup_points.coverage" not in tick(app, AT + dt.timedelta(seconds=10))
    # outside the grace after the cron time: not due
    assert "pickup_points.coverage" not in tick(app, AT + dt.timedelta(minutes=5))
    assert len(_jobs(app)) == 1


def test_the_schedule_fires_although_the_plugin_is_off_at_its_tenant(zz_only):
    # cn itself is off: a per-unit schedule still reaches the city where it is on
    fired = tick(zz_only, AT)
    assert "pickup_points.coverage" in fired
    assert [r.tenant_code for r in _jobs(zz_only)] == [ZZ]


def test_no_city_enabled_sends_nothing(po_app, tenants, enable_plugin):
    enable_plugin("pickup_points", "cn", on=False)
    assert "pickup_points.coverage" not in tick(po_app, AT)
    assert _jobs(po_app) == []


def test_a_job_for_kaifeng_is_refused(zz_only, workers):
    app = zz_only
    jobs = app.extensions["postalops.jobs"]
    with context.activate(system_context(app, KF)):
        with pytest.raises(Exception) as exc:
            jobs.submit(KIND, {}, tenant=KF)
    assert getattr(exc.value, "status", None) == 404
    assert "not enabled" in str(exc.value)
    # a message that got past submission (sent directly) is refused when it starts
    row = jobs.send(KIND, {}, tenant=KF, actor="test")
    done = wait_for(app.extensions["postalops.db"], row.id)
    assert done.status == "failed"
    assert "disabled" in done.error
