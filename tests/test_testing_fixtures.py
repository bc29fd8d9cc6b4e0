"""The fixtures plugin authors get from ``postalops.testing`` (issue 18 §9): each works through the
real entry points (enablement, the broker, the login form, bearer tokens)."""

from __future__ import annotations

import datetime as dt

import pytest
from postalops import clock

ZZ, KF = "cn.henan.zhengzhou", "cn.henan.kaifeng"


def test_enable_plugin_switches_one_city_on_and_its_sibling_stays_off(enable_plugin, token_for):
    enable_plugin("payroll", "cn", on=False)
    enable_plugin("payroll", ZZ)
    assert token_for("admin", ZZ).get("/api/v1/payroll/rate-cards").status_code == 200
    assert token_for("admin", KF).get("/api/v1/payroll/rate-cards").status_code == 404
    enable_plugin("payroll", ZZ, on=False)
    assert token_for("admin", ZZ).get("/api/v1/payroll/rate-cards").status_code == 404


def test_enable_plugin_is_audited_like_the_cli(po_app, enable_plugin, login_as):
    enable_plugin("payroll", KF, on=False)
    html = login_as("admin", "cn").get("/admin/audit").get_data(as_text=True)
    assert "core.plugin.disable" in html or "停用插件" in html


def test_run_job_returns_the_finished_job_in_the_units_scope(run_job):
    job = run_job("core.probe", {"steps": 3, "delay_ms": 0}, ZZ)
    assert job.status == "succeeded", job.error
    assert (job.done, job.total) == (3, 3)
    assert job.tenant_code == ZZ and job.result == {"steps": 3, "unit": ZZ}


def test_run_job_with_an_idempotency_key_returns_the_same_job(run_job):
    first = run_job("core.probe", {"steps": 1, "delay_ms": 0}, KF, idempotency_key="k-1")
    again = run_job("core.probe", {"steps": 1, "delay_ms": 0}, KF, idempotency_key="k-1")
    assert first.id == again.id and again.status == "succeeded"


def test_frozen_clock_moves_by_day_and_by_time_of_day(frozen_today):
    assert clock.today() == dt.date(2025, 3, 12)
    assert clock.now().hour == 10
    frozen_today.set("2025-03-12 23:30")
    assert clock.today() == dt.date(2025, 3, 12) and clock.now().minute == 30
    frozen_today.advance(hours=1)
    assert clock.today() == dt.date(2025, 3, 13)  # past midnight in Shanghai
    frozen_today.advance(days=2)
    assert frozen_today.day == clock.today() == dt.date(2025, 3, 15)


def test_login_as_any_role_in_one_line(login_as):
    hr = login_as("payroll_hr", ZZ)
    assert "payroll_hr" in str(hr.user.roles) and hr.user.home_unit_code == ZZ
    assert hr.get("/p/payroll/").status_code == 200
    courier = login_as("courier", ZZ)  # a second user of another role, same unit
    assert courier.get("/p/payroll/rate-cards").status_code == 403


def test_token_for_holds_exactly_the_roles_permissions(token_for):
    viewer = token_for("viewer", ZZ)
    assert viewer.get("/api/v1/metrics?tenant=cn.henan.zhengzhou").status_code == 200
    assert viewer.get("/api/v1/jobs").status_code == 200  # viewer holds core.jobs.view
    courier = token_for("courier", ZZ)
    assert courier.get("/api/v1/metrics?tenant=cn.henan.zhengzhou").status_code == 403
    with pytest.raises(ValueError, match="unknown role"):
        token_for("no_such_role", ZZ)


def test_scheduler_tick_fires_a_per_city_schedule_only_where_the_plugin_is_on(
    po_app, enable_plugin, workers
):
    from postalops.testing import jobs_of, scheduler_tick

    enable_plugin("pickup_points", "cn", on=False)
    enable_plugin("pickup_points", ZZ)
    at = dt.datetime(2025, 3, 12, 2, 30, 5, tzinfo=dt.UTC)  # pickup_points' coverage, per city
    assert "pickup_points.coverage" in scheduler_tick(po_app, at)
    jobs = jobs_of(po_app, "pickup_points.recompute_coverage")
    assert [j.tenant_code for j in jobs] == [ZZ]
    assert "pickup_points.coverage" not in scheduler_tick(po_app, at)  # the same minute: once
