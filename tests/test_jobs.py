"""Tracked jobs on the configured broker (in-process, or Redis when POSTALOPS_REDIS_URL is set):
progress, cancellation, idempotency, tenant scope, redelivery and the scheduler guard."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from postalops.builtin.probe import JobProbe
from postalops.jobs import wait_for
from postalops.models import Job, ScheduledRun
from postalops.tenancy import Scope
from postalops.testing import count_rows
from sqlmodel import func, select

ZZ, KF = "cn.henan.zhengzhou", "cn.henan.kaifeng"


def submit(po_app, unit, kind="core.probe", params=None, **kw):
    from postalops import context
    from postalops.testing import system_context

    with context.activate(system_context(po_app, unit)):
        return po_app.extensions["postalops.jobs"].submit(kind, params or {}, **kw)


def test_job_sent_over_http_succeeds_with_full_progress(po_app, make_user, login, workers):
    c = login(make_user("zz_admin", ZZ, "admin"))  # the probe is for administrators
    resp = c.post("/api/v1/jobs/probe", json={"steps": 5, "delay_ms": 10})
    assert resp.status_code == 202
    job = wait_for(po_app.extensions["postalops.db"], resp.json["id"])
    assert job.status == "succeeded", job.error
    assert (job.done, job.total) == (5, 5)
    body = c.get(f"/api/v1/jobs/{job.id}").json
    assert body["status"] == "succeeded" and body["result"] == {"steps": 5, "unit": ZZ}
    assert body["started_by"] == "user:zz_admin" and body["tenant"] == ZZ
    assert count_rows(po_app, JobProbe) == 5


def test_cancellation_stops_a_running_job_at_its_next_step(
    po_app, tenants, make_user, login, workers
):
    c = login(make_user("zz_admin", ZZ, "admin"))
    job_id = c.post("/api/v1/jobs/probe", json={"steps": 200, "delay_ms": 50}).json["id"]
    wait_for(po_app.extensions["postalops.db"], job_id, statuses=("running",))
    time.sleep(0.3)
    assert c.post(f"/api/v1/jobs/{job_id}/cancel").status_code == 200
    job = wait_for(po_app.extensions["postalops.db"], job_id)
    assert job.status == "cancelled"
    assert 0 < job.done < 200
    rows = count_rows(po_app, JobProbe)
    time.sleep(0.3)
    assert count_rows(po_app, JobProbe) == rows  # nothing more written after cancelling


def test_cancelling_a_queued_job_means_it_never_runs(po_app, tenants):
    job = submit(po_app, ZZ, params={"steps": 3, "delay_ms": 0})  # no workers running
    from postalops import context
    from postalops.testing import system_context

    with context.activate(system_context(po_app, ZZ)):
        po_app.extensions["postalops.jobs"].cancel(job.id)
    jobs = po_app.extensions["postalops.jobs"]
    jobs.start_workers(1)
    try:
        time.sleep(0.5)
        final = wait_for(po_app.extensions["postalops.db"], job.id)
    finally:
        jobs.stop_workers()
    assert final.status == "cancelled" and count_rows(po_app, JobProbe) == 0


def test_idempotency_key_returns_the_same_job(po_app, tenants, workers):
    a = submit(po_app, ZZ, params={"steps": 2, "delay_ms": 0}, idempotency_key="import-42")
    b = submit(po_app, ZZ, params={"steps": 2, "delay_ms": 0}, idempotency_key="import-42")
    assert a.id == b.id
    wait_for(po_app.extensions["postalops.db"], a.id)
    assert count_rows(po_app, Job) == 1

    assert count_rows(po_app, JobProbe) == 2


def test_redelivered_message_of_finished_job_does_nothing(po_app, tenants, workers):
    jobs = po_app.extensions["postalops.jobs"]
    job = submit(po_app, ZZ, params={"steps": 3, "delay_ms": 0})
    assert wait_for(po_app.extensions["postalops.db"], job.id).status == "succeeded"
    jobs.actors["core.probe"].send(job.id)  # the broker delivers the same message again
    time.sleep(1.0)
    final = wait_for(po_app.extensions["postalops.db"], job.id)
    assert final.attempts == 1 and count_rows(po_app, JobProbe) == 3


def test_job_started_by_a_city_user_touches_only_that_city(po_app, tenants, workers):
    job = submit(po_app, ZZ, params={"steps": 2, "delay_ms": 0, "unit": KF})
    final = wait_for(po_app.extensions["postalops.db"], job.id, timeout=60)
    assert final.status == "failed"  # refused at once: a scope error is not retried

    assert "outside your scope" in (final.error or "")
    with po_app.extensions["postalops.db"].session(None) as s:
        s.info["scope"] = None
    assert count_rows(po_app, JobProbe) == 0
    ok = submit(po_app, "cn.henan", params={"steps": 2, "delay_ms": 0, "unit": KF})
    assert wait_for(po_app.extensions["postalops.db"], ok.id).status == "succeeded"
    assert count_rows(po_app, JobProbe) == 2


def test_job_for_a_plugin_disabled_at_the_unit_is_refused(po_app, tenants):
    from postalops.errors import NotFound

    from tests.fixtures.toy_plugins import Toy, toy_app

    app = toy_app(po_app, Toy("alpha"))
    from postalops import context
    from postalops.jobs import job as job_decorator
    from postalops.testing import system_context

    spec_fn = job_decorator("alpha.noop")(lambda ctx: {"ok": True})
    app.extensions["postalops.jobs"]._declare(spec_fn.__postalops_job__, "alpha")
    with context.activate(system_context(app, ZZ)), pytest.raises(NotFound):
        app.extensions["postalops.jobs"].submit("alpha.noop", {})


def test_bad_job_params_are_refused_before_queueing(po_app, tenants):
    from postalops.errors import NotFound, ValidationError

    with pytest.raises(ValidationError):
        submit(po_app, ZZ, params={"when": object()})
    with pytest.raises(NotFound):
        submit(po_app, ZZ, kind="no.such.job")
    with pytest.raises(ValidationError) as err:
        submit(po_app, ZZ, params={"stepz": 3})
    assert err.value.details[0]["field"] == "params"

    assert count_rows(po_app, Job) == 0


def test_two_schedulers_racing_fire_each_period_once(po_app, tenants):
    from postalops.plugins import Schedule
    from postalops.scheduler import fire

    sched = Schedule("core.housekeeping", "core.housekeeping", cron="* * * * *", tenant="cn")
    results = []
    barrier = threading.Barrier(4)

    def racer():
        barrier.wait()
        results.append(fire(po_app, sched, "2026-11-27T03:17:00"))

    threads = [threading.Thread(target=racer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len([r for r in results if r]) == 1
    with po_app.extensions["postalops.db"].session(None) as s:
        assert s.exec(select(func.count()).select_from(ScheduledRun)).one() == 1


def test_period_key_is_the_scheduled_time():
    import datetime as dt

    from postalops.scheduler import period_of, trigger_for

    now = dt.datetime(2026, 11, 27, 3, 17, 4, 900000, tzinfo=dt.UTC)
    assert period_of(trigger_for("*/5 * * * * *"), now) == "2026-11-27T03:17:00"
    assert period_of(trigger_for("17 3 * * *"), now) == "2026-11-27T03:17:00"


def _env(po_app, **extra):
    settings = po_app.extensions["postalops.settings"]
    env = dict(
        os.environ,
        POSTALOPS_DATABASE_URL=settings.database_url,
        POSTALOPS_INSTANCE_PATH=str(settings.instance_path),
        **extra,
    )
    if settings.redis_url:
        env["POSTALOPS_REDIS_URL"] = settings.redis_url
    return env


@pytest.mark.slow
def test_two_scheduler_processes_fire_a_periodic_job_once_per_period(po_app, tenants):
    env = _env(po_app, POSTALOPS_HOUSEKEEPING_CRON="*/2 * * * * *")
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "postalops.cli", "scheduler"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        for p in procs:  # both must be up before the window opens
            assert "scheduler running" in p.stdout.readline()
        time.sleep(9)

    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(10)
    with po_app.extensions["postalops.db"].session(None) as s:
        # plugins' own schedules may fire in the window too; look at the housekeeping one
        runs = s.exec(
            select(ScheduledRun).where(ScheduledRun.schedule == "core.housekeeping")
        ).all()
        periods = [r.period for r in runs]
    with po_app.extensions["postalops.db"].session(Scope.system_scope()) as s:
        jobs = s.exec(
            select(func.count()).select_from(Job).where(Job.kind == "core.housekeeping")
        ).one()

    assert len(periods) >= 3
    assert len(periods) == len(set(periods))  # each period once, never twice
    assert jobs == len(periods)


@pytest.mark.slow
@pytest.mark.redis
def test_worker_process_killed_mid_job_is_redelivered_without_duplicates(po_app, tenants):
    settings = po_app.extensions["postalops.settings"]
    if not settings.redis_url:
        pytest.skip("redelivery across processes needs the Redis broker")
    env = _env(po_app, POSTALOPS_REDIS_HEARTBEAT_MS="2000")
    cmd = [sys.executable, "-m", "postalops.cli", "worker", "--threads", "1"]
    first = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    db = po_app.extensions["postalops.db"]
    try:
        job = submit(po_app, ZZ, params={"steps": 30, "delay_ms": 150})
        deadline = time.monotonic() + 60
        while True:
            with db.session(Scope.system_scope()) as s:
                row = s.get(Job, job.id)

            if row.done >= 5:
                break
            assert time.monotonic() < deadline, "worker never started the job"
            time.sleep(0.1)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        killed_at = row.done
    finally:
        if first.poll() is None:
            first.kill()
    second = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        final = wait_for(db, job.id, timeout=120)
    finally:
        second.terminate()
        second.wait(20)
    assert final.status == "succeeded", final.error
    assert (final.done, final.total) == (30, 30)
    assert final.attempts == 2 and killed_at < 30
    assert count_rows(po_app, JobProbe) == 30  # the steps done before the kill were not redone
