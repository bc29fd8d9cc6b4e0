"""The HTTP API and portal: intake reports, bad input, the call flow, privacy and isolation."""

import pytest
from postalops.models import AuditRecord
from postalops.testing import count_rows
from postalops_outcall.models import OutcallAttempt, OutcallCase, OutcallOrder
from postalops_outcall.testing import ADDRESS, GZ, SZ, case_row


@pytest.fixture
def platform(hall, make_token):
    """The government platform's machine client for Guangzhou."""
    return make_token(GZ, "outcall.intake", "outcall.view")


def test_intake_reports_each_row_and_is_idempotent_on_the_case_number(po_app, platform):
    rows = [case_row(1), case_row(2, approval_level="district")]
    resp = platform.post("/api/v1/outcall/cases", json=rows)
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["summary"] == {"created": 2}
    assert [(r["row"], r["key"], r["eligible"]) for r in body["rows"]] == [
        (0, "GZ000001", True),
        (1, "GZ000002", False),
    ]
    again = platform.post(
        "/api/v1/outcall/cases", json=[case_row(1, phone="13900001111")]
    ).get_json()
    assert again["rows"][0]["status"] == "updated"
    assert count_rows(po_app, OutcallCase) == 2
    closed = platform.post(
        "/api/v1/outcall/cases", json=[case_row(1, collected_at="2022-08-17 10:00")]
    ).get_json()
    assert (
        closed["rows"][0]["status"] == "closed" and closed["rows"][0]["case_status"] == "collected"
    )


def test_intake_accepts_a_csv_upload_numbering_rows_like_the_spreadsheet(platform):
    import csv
    import io

    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(case_row(1)))
    writer.writeheader()
    writer.writerow(case_row(1))
    writer.writerow(case_row(2, phone="123"))
    resp = platform.post(
        "/api/v1/outcall/cases",
        data={"file": (io.BytesIO(buf.getvalue().encode()), "cases.csv")},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 422
    assert resp.get_json()["error"]["details"] == [
        {
            "row": 3,
            "errors": [
                {
                    "field": "phone",
                    "message": "expected an 11-digit mobile or an area-code landline",
                }
            ],
        }
    ]


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"department": "市税务局"}, 422, "department"),
        ({"service_item": "驾驶证"}, 422, "service_item"),
        ({"phone": "1381234"}, 422, "phone"),
        ({"id_number": "440106199001010011"}, 422, "id_number"),  # GB 11643 check is 3, not 1
    ],
)
def test_bad_rows_are_refused_naming_row_and_field_and_nothing_is_written(
    po_app, platform, change, status, field
):
    resp = platform.post("/api/v1/outcall/cases", json=[case_row(1), case_row(2, **change)])
    assert resp.status_code == status
    err = resp.get_json()["error"]
    assert (err["details"][0]["row"], err["details"][0]["errors"][0]["field"]) == (1, field)
    assert count_rows(po_app, OutcallCase) == 0


def test_a_resent_case_contradicting_immutable_fields_is_a_409_and_changes_nothing(
    po_app, platform
):
    platform.post("/api/v1/outcall/cases", json=[case_row(1)])
    resp = platform.post(
        "/api/v1/outcall/cases", json=[case_row(1, applicant_name="高明", phone="13900000000")]
    )
    assert resp.status_code == 409
    assert resp.get_json()["error"]["details"] == [
        {"row": 0, "errors": [{"field": "applicant_name", "message": "immutable"}]}
    ]
    listed = platform.get("/api/v1/outcall/cases").get_json()["items"][0]
    assert listed["phone"] == "138****5678"  # the phone change in the refused batch was not applied


def test_the_agent_call_flow_shows_full_numbers_only_on_the_active_call(
    po_app, platform, make_user, login, live
):
    platform.post("/api/v1/outcall/cases", json=[live(1)])
    agent = login(make_user("gz_agent", GZ, "outcall_agent"))
    listed = agent.get("/api/v1/outcall/cases").get_json()["items"][0]
    assert listed["phone"] == "138****5678"
    assert listed["id_number"] == "4401" + "*" * 10 + case_row(1)["id_number"][-4:]
    case = agent.post("/api/v1/outcall/queue/claim").get_json()["case"]
    assert case["phone"] == "13812345678" and case["id_number"].startswith("440106")
    assert "script" in case
    bad = agent.post(
        f"/api/v1/outcall/cases/{case['id']}/outcome",
        json={"outcome": "accepted", "address": {**ADDRESS, "district": ""}},
    )
    assert (
        bad.status_code == 422
        and bad.get_json()["error"]["details"][0]["field"] == "address.district"
    )
    ok = agent.post(
        f"/api/v1/outcall/cases/{case['id']}/outcome",
        json={"outcome": "accepted", "address": ADDRESS},
    )
    assert ok.status_code == 200, ok.get_json()
    assert ok.get_json()["order"]["waybill_no"].endswith("CN")
    assert count_rows(po_app, OutcallOrder) == 1


def test_an_outcome_on_a_case_the_agent_has_not_claimed_is_a_409(
    po_app, platform, make_user, login
):
    platform.post("/api/v1/outcall/cases", json=[case_row(1)])
    case_id = platform.get("/api/v1/outcall/cases").get_json()["items"][0]["id"]
    agent = login(make_user("gz_agent", GZ, "outcall_agent"))
    resp = agent.post(f"/api/v1/outcall/cases/{case_id}/outcome", json={"outcome": "busy"})
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "not_claimed"
    assert count_rows(po_app, OutcallAttempt) == 0


def test_every_reveal_writes_an_audit_record_and_agents_cannot_reveal(
    po_app, platform, make_user, login
):
    platform.post("/api/v1/outcall/cases", json=[case_row(1)])
    case_id = platform.get("/api/v1/outcall/cases").get_json()["items"][0]["id"]
    agent = login(make_user("gz_agent", GZ, "outcall_agent"))
    assert (
        agent.post(f"/api/v1/outcall/cases/{case_id}/reveal", json={"reason": "x"}).status_code
        == 403
    )
    boss = login(make_user("gz_boss", GZ, "outcall_supervisor"))
    before = count_rows(po_app, AuditRecord)
    for _ in range(2):
        resp = boss.post(
            f"/api/v1/outcall/cases/{case_id}/reveal", json={"reason": "applicant on the phone"}
        )
        assert resp.get_json()["phone"] == "13812345678"
    assert count_rows(po_app, AuditRecord) == before + 2


def test_exports_are_masked(platform, make_user, login):
    platform.post("/api/v1/outcall/cases", json=[case_row(1)])
    boss = login(make_user("gz_boss", GZ, "outcall_supervisor"))
    text = boss.get("/api/v1/outcall/export.csv").get_data(as_text=True)
    assert "138****5678" in text and "13812345678" not in text
    assert "高*" in text and "4401**********" in text


def test_guangzhou_never_sees_shenzhen_cases(po_app, hall, make_token, make_user, login, live):
    make_token(SZ, "outcall.intake").post("/api/v1/outcall/cases", json=[live(7, case_no="SZ1")])
    make_token(GZ, "outcall.intake").post("/api/v1/outcall/cases", json=[live(8, case_no="GZ1")])
    gz_agent = login(make_user("gz_agent", GZ, "outcall_agent"))
    assert [c["case_no"] for c in gz_agent.get("/api/v1/outcall/cases").get_json()["items"]] == [
        "GZ1"
    ]
    sz_id = make_token(SZ, "outcall.view").get("/api/v1/outcall/cases").get_json()["items"][0]["id"]
    assert gz_agent.get(f"/api/v1/outcall/cases/{sz_id}").status_code == 404
    assert gz_agent.get("/api/v1/outcall/cases?tenant=cn.guangdong.shenzhen").status_code == 403
    # Shenzhen's case is older and callable too (Shenzhen keeps default hours), yet never offered.
    assert gz_agent.post("/api/v1/outcall/queue/claim").get_json()["case"]["case_no"] == "GZ1"
    assert (
        gz_agent.post("/api/v1/outcall/queue/claim").get_json()["case"]["case_no"] == "GZ1"
    )  # still held
    # The same case number in two cities is two cases.
    assert count_rows(po_app, OutcallCase) == 2


def test_openapi_lists_the_outcall_operations(po_app):
    doc = po_app.test_client().get("/api/v1/openapi.json").get_json()
    for path in (
        "/api/v1/outcall/cases",
        "/api/v1/outcall/queue/claim",
        "/api/v1/outcall/cases/{case_id}/outcome",
    ):
        assert path in doc["paths"]


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_portal_pages_render_in_both_languages(hall, platform, make_user, login, lang):
    platform.post("/api/v1/outcall/cases", json=[case_row(1)])
    boss = login(make_user("gz_boss", GZ, "outcall_supervisor", "outcall_agent"))
    boss.post("/lang", data={"lang": lang, "csrf_token": boss.csrf, "next": "/"})
    home = boss.get("/").get_data(as_text=True)
    assert "/p/outcall/" in home  # nav entry
    pages = [
        "/p/outcall/",
        "/p/outcall/cases",
        "/p/outcall/work",
        "/p/outcall/orders",
        "/p/outcall/catalogue",
        "/admin/settings/outcall",
        "/p/outcall/upload",
        "/p/outcall/notifications",
    ]
    for url in pages:
        resp = boss.get(url)
        assert resp.status_code == 200, (url, resp.status_code)
    text = boss.get("/p/outcall/cases").get_data(as_text=True)
    assert ("办件编号" in text) == (lang == "zh_CN")
    assert "138****5678" in text and "13812345678" not in text


def test_a_callback_time_without_offset_is_read_as_guangzhou_time(platform, make_user, login, live):
    import datetime as dt
    from zoneinfo import ZoneInfo

    platform.post("/api/v1/outcall/cases", json=[live(1)])
    agent = login(make_user("gz_agent", GZ, "outcall_agent"))
    case = agent.post("/api/v1/outcall/queue/claim").get_json()["case"]
    local = dt.datetime.now(ZoneInfo("Asia/Shanghai")).replace(microsecond=0) + dt.timedelta(
        hours=1
    )
    resp = agent.post(
        f"/api/v1/outcall/cases/{case['id']}/outcome",
        json={"outcome": "callback", "callback_at": local.replace(tzinfo=None).isoformat()},
    )
    assert resp.status_code == 200, resp.get_json()
    back = dt.datetime.fromisoformat(resp.get_json()["case"]["next_call_at"])
    assert back >= local  # same instant (or the next calling-hours opening), never 8 h early
    assert back - local < dt.timedelta(hours=9)


def test_a_malformed_period_on_the_overview_is_a_4xx_not_a_crash(hall, make_user, login):
    boss = login(make_user("gz_boss", GZ, "outcall_supervisor"))
    assert boss.get("/p/outcall/?from=2022-13-40").status_code == 422
    assert boss.get("/p/outcall/cases?page=abc").status_code == 200


def test_the_catalogue_script_is_filled_with_the_applicant_and_item(
    platform, make_user, make_token, login, live
):
    manager = make_token(GZ, "outcall.manage", "outcall.view")
    script = "您好，请问是{name}吗？您办理的「{item}」已办结。{unknown} 保留"
    resp = manager.put(
        "/api/v1/outcall/catalogue",
        json=[
            {
                "department": "市教育局",
                "item": "教师资格认定",
                "participating": True,
                "script": script,
            }
        ],
    )
    assert resp.status_code == 200, resp.get_json()
    platform.post("/api/v1/outcall/cases", json=[live(1)])
    agent = login(make_user("gz_agent", GZ, "outcall_agent"))
    case = agent.post("/api/v1/outcall/queue/claim").get_json()["case"]
    assert case["script"] == "您好，请问是高敏吗？您办理的「教师资格认定」已办结。{unknown} 保留"
    page = agent.get("/p/outcall/work").get_data(as_text=True)
    assert "请问是高敏吗" in page and "{name}" not in page


def test_an_outcome_after_collection_at_the_window_says_what_happened(
    po_app, platform, make_user, login, live
):
    import datetime as dt

    platform.post("/api/v1/outcall/cases", json=[live(1)])
    agent = login(make_user("gz_agent", GZ, "outcall_agent"))
    case = agent.post("/api/v1/outcall/queue/claim").get_json()["case"]
    collected = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).replace(microsecond=0)
    platform.post(
        "/api/v1/outcall/cases", json=[live(1, collected_at=collected.strftime("%Y-%m-%d %H:%M"))]
    )
    resp = agent.post(f"/api/v1/outcall/cases/{case['id']}/outcome", json={"outcome": "busy"})
    assert resp.status_code == 409
    err = resp.get_json()["error"]
    assert err["code"] == "collected_at_window"
    assert collected.date().isoformat() in err["message"]
    assert err["details"] == [
        {"field": "case_id", "message": f"collected at the window on {collected.date()}"}
    ]
    assert count_rows(po_app, OutcallAttempt) == 0
