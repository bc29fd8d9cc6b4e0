"""The jobs page (issue 14 §6), through the portal: the scheduler's housekeeping is hidden until
asked for (and the choice survives paging); a finished job links to what it produced (its kind's
``result_url`` or the link the job recorded); statuses, kinds and who started a job read in
words; the diagnostic form is for administrators; a running job can be cancelled."""

from __future__ import annotations

import datetime as dt
import re
import uuid

from postalops.jobs import wait_for
from postalops.models import Job
from postalops.plugins import Schedule
from postalops.scheduler import fire
from postalops.tenancy import Scope

ZZ = "cn.henan.zhengzhou"


def add_job(app, kind="core.probe", status="succeeded", started_by="user:ops1", **kw) -> str:
    job_id = str(uuid.uuid4())
    with app.extensions["postalops.db"].transaction(Scope.system_scope()) as s:
        s.add(
            Job(id=job_id, kind=kind, status=status, started_by=started_by,
                tenant_code=kw.pop("tenant_code", ZZ), **kw)
        )  # fmt: skip
    return job_id


def rows(html: str) -> list[str]:
    return re.findall(r'<tr data-job="([^"]+)"', html)


def text(html: str) -> str:
    """The visible text of the page body (tags and attributes dropped)."""
    body = html.split("<main", 1)[-1]
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", body, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body))


def test_scheduled_housekeeping_is_hidden_unless_asked_for(po_app, tenants, make_user, login):
    mine = add_job(po_app, started_by="user:ops1")
    fired = fire(po_app, Schedule("core.housekeeping", "core.housekeeping", cron="* * * * *"))
    assert fired is not None
    chained = add_job(po_app, kind="core.webhooks.deliver", started_by=f"job:{fired}(scheduler:x)",
                      tenant_code="cn")  # fmt: skip
    admin = login(make_user("root", "cn", "admin"))
    html = admin.get("/jobs").get_data(as_text=True)
    assert rows(html) == [mine]
    assert "显示定时维护作业" in html and "已隐藏 2 个" in html
    html = admin.get("/jobs?scheduled=1").get_data(as_text=True)
    assert set(rows(html)) == {mine, fired, chained}
    assert "定时任务" in text(html) and "系统清理" in text(html)
    # the choice is kept by sorting and paging links
    assert 'href="?scheduled=1&amp;sort=' in html
    for n in range(60):
        add_job(po_app, started_by="scheduler:core.housekeeping", status="succeeded",
                created_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=n))  # fmt: skip
    html = admin.get("/jobs?scheduled=1").get_data(as_text=True)
    assert len(rows(html)) == 50 and "共 63 条" in html
    assert 'href="?scheduled=1&amp;page=2"' in html
    assert len(rows(admin.get("/jobs?scheduled=1&page=2").get_data(as_text=True))) == 13
    assert rows(admin.get("/jobs").get_data(as_text=True)) == [mine]


def test_a_finished_job_links_to_its_result(po_app, tenants, make_user, login):
    run = add_job(po_app, kind="payroll.run", result={"run_id": 42, "month": "2022-09"})
    own = add_job(po_app, kind="core.probe", result={"result_url": "/p/outcall/cases?batch=7"})
    broken = add_job(po_app, kind="payroll.run", result={"month": "2022-09"})  # no run id
    failed = add_job(po_app, kind="payroll.run", status="failed", error="ValueError: boom")
    plain = add_job(po_app, kind="core.probe", result={"steps": 1})
    admin = login(make_user("root", "cn", "admin"))
    html = admin.get("/jobs").get_data(as_text=True)
    assert set(rows(html)) == {run, own, broken, failed, plain}

    def result_cell(job_id):
        row = html.split(f'data-job="{job_id}"', 1)[1].split("</tr>", 1)[0]
        return row.split('class="po-job-result"', 1)[1]

    assert 'href="/p/payroll/runs/42"' in result_cell(run) and "查看结果" in result_cell(run)
    assert 'href="/p/outcall/cases?batch=7"' in result_cell(own)
    for job_id in (broken, plain):
        assert "href" not in result_cell(job_id)
    assert "href" not in result_cell(failed) and "错误详情" in result_cell(failed)


def test_statuses_kinds_and_people_read_in_words(po_app, tenants, make_user, login):
    for status in ("queued", "running", "succeeded", "failed", "cancelled"):
        add_job(po_app, kind="payroll.run", status=status, done=3, total=10,
                started_by="token:7 e-shop" if status == "queued" else "user:ops1")  # fmt: skip
    ops = login(make_user("ops1", ZZ, "ops"))
    html = ops.get("/jobs").get_data(as_text=True)
    visible = text(html)
    for word in ("排队中", "运行中", "已完成", "失败", "已取消", "工资核算", "接口令牌 e-shop"):
        assert word in visible, word
    for raw in ("succeeded", "queued", "cancelled", "payroll.run", ZZ, "token:7"):
        assert raw not in visible, raw
    assert "郑州" in visible and 'title="cn.henan.zhengzhou"' in html  # the unit by name
    assert 'aria-valuenow="3"' in html and "3/10" in visible
    assert "错误详情" not in visible  # technical errors are for administrators
    # filters: by status, with its label in the choice list
    assert len(rows(ops.get("/jobs?status=failed").get_data(as_text=True))) == 1
    ops.post("/lang", data={"lang": "en", "csrf_token": ops.csrf, "next": "/"})
    visible = text(ops.get("/jobs").get_data(as_text=True))
    assert "Succeeded" in visible and "Payroll run" in visible and "Show scheduled" in visible


def test_the_diagnostic_form_is_for_administrators(po_app, tenants, make_user, login, workers):
    ops = login(make_user("ops1", ZZ, "ops"))
    html = ops.get("/jobs").get_data(as_text=True)
    assert 'id="probe-form"' not in html and "系统诊断" not in html
    assert ops.post("/jobs/probe", data={"csrf_token": ops.csrf, "steps": "1"}).status_code == 403
    assert ops.post("/api/v1/jobs/probe", json={"steps": 1}).status_code == 403
    admin = login(make_user("root", "cn", "admin"))
    html = admin.get("/jobs").get_data(as_text=True)
    assert 'id="probe-form"' in html and "系统诊断（管理员）" in html
    resp = admin.post("/jobs/probe", data={"csrf_token": admin.csrf, "steps": "2", "delay_ms": "0"})
    assert resp.status_code == 302
    job_id = rows(admin.get("/jobs").get_data(as_text=True))[0]
    assert wait_for(po_app.extensions["postalops.db"], job_id).status == "succeeded"


def test_a_queued_job_is_cancelled_from_the_page(po_app, tenants, make_user, login):
    job_id = add_job(po_app, status="queued")
    ops = login(make_user("ops1", ZZ, "ops"))
    html = ops.get("/jobs").get_data(as_text=True)
    assert f"/jobs/{job_id}/cancel" in html and "取消作业" in html
    # without JavaScript the server asks first, saying what will happen
    asked = ops.post(f"/jobs/{job_id}/cancel", data={"csrf_token": ops.csrf})
    assert asked.status_code == 200 and "已完成的部分会保留" in asked.get_data(as_text=True)
    resp = ops.post(f"/jobs/{job_id}/cancel", data={"csrf_token": ops.csrf, "confirmed": "1"})
    assert resp.status_code == 302
    with po_app.extensions["postalops.db"].transaction(Scope.system_scope()) as s:
        assert s.get(Job, job_id).status == "cancelled"
    viewer = login(make_user("vw", ZZ, "viewer"))
    assert "/cancel" not in viewer.get("/jobs").get_data(as_text=True)
    assert (
        viewer.post(f"/jobs/{job_id}/cancel", data={"csrf_token": viewer.csrf}).status_code == 403
    )
