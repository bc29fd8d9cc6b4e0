"""Portal workflows that run as tracked jobs, and the printable label."""

import csv
import io
import time

from postalops.models import Job
from postalops.testing import count_rows
from postalops_outcall.models import OutcallCase
from postalops_outcall.testing import ADDRESS, GZ, case_row
from sqlmodel import select


def _csv(rows):
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return io.BytesIO(buf.getvalue().encode("utf-8-sig"))


def _wait_job(hall, kind, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with hall(None) as s:
            job = s.exec(select(Job).where(Job.kind == kind)).first()
            if job is not None and job.status in ("succeeded", "failed"):
                return job
        time.sleep(0.2)
    raise AssertionError(f"{kind} did not finish")


def test_a_portal_upload_imports_through_a_tracked_job(po_app, hall, make_user, login, workers):
    boss = login(make_user("gz_boss", GZ, "outcall_supervisor"))
    resp = boss.post(
        "/p/outcall/upload",
        data={"file": (_csv([case_row(1), case_row(2)]), "cases.csv"), "csrf_token": boss.csrf},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/jobs")
    job = _wait_job(hall, "outcall.import_cases")
    assert job.status == "succeeded", job.error
    assert job.result["summary"] == {"created": 2} and (job.done, job.total) == (2, 2)
    assert count_rows(po_app, OutcallCase) == 2


def test_a_bad_upload_fails_its_job_naming_the_row_and_imports_nothing(
    po_app, hall, make_user, login, workers
):
    boss = login(make_user("gz_boss", GZ, "outcall_supervisor"))
    boss.post(
        "/p/outcall/upload",
        data={
            "file": (_csv([case_row(1), case_row(2, id_number="110105194912310021")]), "c.csv"),
            "csrf_token": boss.csrf,
        },
        content_type="multipart/form-data",
    )
    job = _wait_job(hall, "outcall.import_cases")
    assert (
        job.status == "failed"
        and "id_number" in (job.error or "")
        or "GB 11643" in (job.error or "")
    )
    assert count_rows(po_app, OutcallCase) == 0


def test_the_label_print_view_shows_the_waybill_and_a_privacy_masked_phone(
    hall, live, make_token, make_user, login
):
    make_token(GZ, "outcall.intake").post("/api/v1/outcall/cases", json=[live(1)])
    agent = login(make_user("gz_agent", GZ, "outcall_agent"))
    case = agent.post("/api/v1/outcall/queue/claim").get_json()["case"]
    order = agent.post(
        f"/api/v1/outcall/cases/{case['id']}/outcome",
        json={"outcome": "accepted", "address": ADDRESS},
    ).get_json()["order"]
    page = agent.get(f"/p/outcall/orders/{order['id']}/label").get_data(as_text=True)
    assert order["waybill_no"] in page and "天河区" in page
    assert "138****5678" in page and "13812345678" not in page
