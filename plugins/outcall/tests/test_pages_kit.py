"""Issue 14 §2: the agent's workbench, the case page, the upload and the catalogue are built on
the UI kit and read in Chinese (no raw enum, unit code or unformatted number), with the
outcome form's errors beside their fields."""

from __future__ import annotations

import re

import pytest
from postalops.testing import assert_readable, page_text
from postalops_outcall.testing import GZ


@pytest.fixture
def platform(hall, make_token):
    return make_token(GZ, "outcall.intake", "outcall.view")


def kit_page(html: str) -> str:
    assert 'class="breadcrumb' in html and 'id="outcall-tabs"' in html
    return assert_readable(html)


def test_the_workbench_is_on_the_kit_and_shows_outcome_errors_in_place(
    platform, live, make_user, login
):
    platform.post("/api/v1/outcall/cases", json=[live(1)])
    agent = login(make_user("gzagent", GZ, "outcall_agent"))
    idle = agent.get("/p/outcall/work").get_data(as_text=True)
    kit_page(idle)
    assert re.search(r'<button[^>]*id="claim-next"[^>]*class="btn btn-primary', idle) or re.search(
        r'<button[^>]*class="btn btn-primary[^"]*"[^>]*id="claim-next"', idle
    )
    assert "领取下一件" in page_text(idle)
    assert (
        agent.post(
            "/p/outcall/work", data={"csrf_token": agent.csrf, "action": "claim"}
        ).status_code
        == 302
    )
    html = agent.get("/p/outcall/work").get_data(as_text=True)
    text = kit_page(html)
    for raw in ("personal", "municipal", "window"):
        assert not re.search(rf"\b{raw}\b", text), raw
    call = re.search(r'id="active-call".*', html, re.S)[0]
    assert re.search(r"<tr>\s*<th[^>]*>办件编号</th>\s*<td[^>]*>GZ000001</td>", call)
    assert 'id="active-phone"' in call and 'id="script"' in call
    form = re.search(r'<form[^>]*id="outcome-form".*?</form>', html, re.S)[0]
    for field in ("outcome", "province", "city", "district", "detail", "recipient", "phone"):
        assert f'id="f-{field}"' in form or f'id="{field}"' in form, field
    assert 'id="save-outcome"' in form and "保存结果" in page_text(form)
    case_id = re.search(r'action="/p/outcall/work/(\d+)/outcome"', form)[1]
    bad = agent.post(
        f"/p/outcall/work/{case_id}/outcome",
        data={
            "csrf_token": agent.csrf,
            "outcome": "accepted",
            "province": "广东省",
            "city": "广州市",
            "district": "",
            "detail": "",
            "recipient": "高敏",
            "phone": "13812345678",
        },
    )
    assert bad.status_code == 422
    page = bad.get_data(as_text=True)
    assert re.search(r'id="f-(district|detail)-error"', page), page_text(page)
    assert 'value="高敏"' in page  # what was typed is kept
    kit_page(page)


def test_the_case_page_reads_in_chinese(platform, live, make_user, login):
    platform.post("/api/v1/outcall/cases", json=[live(1)])
    boss = login(make_user("gzboss", GZ, "outcall_supervisor", "outcall_agent"))
    listing = boss.get("/p/outcall/cases").get_data(as_text=True)
    url = re.search(r'href="(/p/outcall/cases/\d+)"', listing)[1]
    html = boss.get(url).get_data(as_text=True)
    text = kit_page(html)
    for raw in ("personal", "municipal", "window", "True", "False"):
        assert not re.search(rf"\b{raw}\b", text), raw
    assert "个人" in text and "市级" in text and "窗口领取" in text
    assert 'class="badge' in html  # the status as a badge
    assert 'id="case-fields"' in html and 'id="rules-table"' in html
    assert 'id="attempts-table"' in html or "尚未外呼" in text


def test_upload_and_catalogue_are_on_the_kit(hall, make_user, login):
    boss = login(make_user("gzboss", GZ, "outcall_supervisor", "outcall_agent"))
    upload = boss.get("/p/outcall/upload").get_data(as_text=True)
    kit_page(upload.replace("<code>", "<code>"))
    assert 'id="f-file"' in upload and 'id="upload"' in upload
    missing = boss.post(
        "/p/outcall/upload", data={"csrf_token": boss.csrf}, content_type="multipart/form-data"
    )
    assert missing.status_code == 422 and 'id="f-file-error"' in missing.get_data(as_text=True)
    cat = boss.get("/p/outcall/catalogue").get_data(as_text=True)
    kit_page(cat)
    assert re.search(r'<table[^>]*class="table po-table"[^>]*id="catalogue-table"', cat)
    assert 'id="f-new_department"' in cat and 'id="save-catalogue"' in cat
