"""A payroll run started from the portal shows on the jobs page as 工资核算 and, once done,
links to the run it produced (issue 14 §6: ``result_url`` of ``payroll.run``)."""

from __future__ import annotations

import re

from postalops.jobs import wait_for

ZZ = "cn.henan.zhengzhou"


def test_the_finished_run_links_to_its_run_page(
    po_app, september_events, make_user, login, workers
):
    hr = login(make_user("hr_zz", ZZ, "payroll_hr"))
    started = hr.post(
        "/p/payroll/runs", data={"csrf_token": hr.csrf, "unit": ZZ, "month": "2022-09"}
    )
    assert started.status_code == 302
    job_id = started.headers["Location"].rstrip("/").rsplit("/", 1)[-1]
    job = wait_for(po_app.extensions["postalops.db"], job_id, timeout=60)
    assert job.status == "succeeded", job.error
    html = hr.get("/jobs").get_data(as_text=True)
    row = html.split(f'data-job="{job_id}"', 1)[1].split("</tr>", 1)[0]
    assert "工资核算" in row and "已完成" in row
    link = re.search(r'href="(/p/payroll/runs/\d+)"', row).group(1)
    assert link == f"/p/payroll/runs/{job.result['run_id']}"
    assert hr.get(link).status_code == 200
