"""Defects found by exercising payroll (issue 15 §5), each through the real entry point."""

from __future__ import annotations

from postalops.jobs import wait_for
from postalops.models import Job
from postalops.testing import count_rows

ZZ, JINSHUI, KF = "cn.henan.zhengzhou", "cn.henan.zhengzhou.jinshui", "cn.henan.kaifeng"
SEPT = {"unit": ZZ, "month": "2022-09"}
HR = (
    "payroll.view",
    "payroll.manage",
    "payroll.ingest",
    "payroll.run",
    "payroll.approve",
    "payroll.reopen",
    "core.jobs.view",
)


def _run(api, po_app, body=SEPT) -> None:
    started = api.post("/api/v1/payroll/runs", json=body)
    assert started.status_code == 202, started.get_json()
    job = wait_for(po_app.extensions["postalops.db"], started.get_json()["job_id"], timeout=60)
    assert job.status == "succeeded", job.error


def _approve(checker, body=SEPT) -> None:
    approved = checker.post("/api/v1/payroll/runs/approve", json=body)
    assert approved.status_code == 200, approved.get_json()


# --- POST /runs on a locked month ----------------------------------------------------------------


def test_a_run_of_a_locked_month_is_409_at_once_and_starts_no_job(
    september_events, make_token, make_user, login, workers, po_app
):
    maker, checker = make_token(ZZ, *HR), make_token(ZZ, *HR)
    _run(maker, po_app)
    _approve(checker)
    jobs = count_rows(po_app, Job)
    refused = maker.post("/api/v1/payroll/runs", json=SEPT)
    assert refused.status_code == 409, refused.get_json()
    assert refused.get_json()["error"]["code"] == "month_locked"
    # a station below the locked city is locked too
    below = maker.post("/api/v1/payroll/runs", json={"unit": JINSHUI, "month": "2022-09"})
    assert below.status_code == 409 and below.get_json()["error"]["code"] == "month_locked"
    assert count_rows(po_app, Job) == jobs
    # the portal's run form says so instead of starting a job that fails
    portal = login(make_user("hr", ZZ, "payroll_hr"))
    page = portal.post(
        "/p/payroll/runs",
        data={"unit": ZZ, "month": "2022-09", "csrf_token": portal.csrf},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "approved and locked" in page
    assert count_rows(po_app, Job) == jobs


def test_a_run_at_a_second_level_is_409_at_once(september_events, make_token, workers, po_app):
    api = make_token(ZZ, *HR)
    _run(api, po_app)
    jobs = count_rows(po_app, Job)
    refused = api.post("/api/v1/payroll/runs", json={"unit": JINSHUI, "month": "2022-09"})
    assert refused.status_code == 409
    assert refused.get_json()["error"]["code"] == "overlapping_run"
    assert count_rows(po_app, Job) == jobs
