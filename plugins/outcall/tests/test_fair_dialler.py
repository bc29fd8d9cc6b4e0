"""Issue 20 §2, the fair dialler: the do-not-call list, the daily cap per number and the opt-out
offered after two declines, proven through the agent's next-case API (POST /queue/claim)."""

import datetime as dt

import pytest
from postalops.testing import count_rows
from postalops_outcall.models import OutcallCase, OutcallDoNotCall
from postalops_outcall.testing import GZ
from sqlmodel import select

A, B, C = "13800000001", "13800000002", "13800000003"


@pytest.fixture
def platform(hall, make_token):
    return make_token(GZ, "outcall.intake")


@pytest.fixture
def supervisor(hall, make_token):
    return make_token(GZ, "outcall.manage", "outcall.view", "outcall.call")


@pytest.fixture
def agent(hall, make_token):
    return make_token(GZ, "outcall.call", "outcall.view")


def _intake(platform, rows):
    resp = platform.post("/api/v1/outcall/cases", json=rows)
    assert resp.status_code == 200, resp.get_json()


def _claim(client):
    resp = client.post("/api/v1/outcall/queue/claim")
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["case"]


def _call(client, case, outcome, **more):
    resp = client.post(
        f"/api/v1/outcall/cases/{case['id']}/outcome", json={"outcome": outcome, **more}
    )
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def test_the_queue_never_offers_a_number_on_the_do_not_call_list(
    live, hall, platform, supervisor, agent
):
    # Case 1 (number A) is the oldest and would come first; A is on the list, so the agent is
    # offered case 2 (B), then nothing: case 3 has number A too.
    _intake(platform, [live(1, phone=A), live(2, phone=B), live(3, phone=A)])
    with hall(None) as s:
        s.exec(
            select(OutcallCase).where(OutcallCase.case_no == "GZ000001")
        ).one().next_call_at -= dt.timedelta(minutes=30)
    added = supervisor.post("/api/v1/outcall/dnc", json={"phone": A, "reason": "complaint"})
    assert added.status_code == 201, added.get_json()
    assert added.get_json()["phone"] == "138****0001"  # masked in every answer

    first = _claim(agent)
    assert first["case_no"] == "GZ000002" and first["phone"] == B
    _call(agent, first, "no_answer")
    assert _claim(agent) is None  # only A's cases are left due: never offered

    # Once the entry has expired, A's oldest case is offered again.
    with hall(None) as s:
        s.exec(select(OutcallDoNotCall)).one().expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(
            seconds=1
        )
    assert _claim(agent)["case_no"] == "GZ000001"


def test_a_list_entry_of_the_city_covers_its_districts_cases_too(live, hall, agent, supervisor):
    from postalops_outcall import dnc

    with hall() as s:
        assert dnc.is_blocked(s, GZ, A, dt.datetime.now(dt.UTC)) is False
    supervisor.post("/api/v1/outcall/dnc", json={"phone": A, "reason": "opt_out"})
    with hall() as s:
        now = dt.datetime.now(dt.UTC)
        assert dnc.is_blocked(s, GZ, A, now) is True
        assert dnc.is_blocked(s, GZ + ".tianhe", A, now) is True  # a unit under Guangzhou
        assert dnc.is_blocked(s, GZ, B, now) is False


def test_a_bad_entry_names_its_field_and_writes_nothing(hall, supervisor, agent, po_app):
    resp = supervisor.post(
        "/api/v1/outcall/dnc",
        json={"phone": "12345", "reason": "opt_out", "expires_at": "2020-01-01T00:00:00+08:00"},
    )
    assert resp.status_code == 422
    fields = {d["field"] for d in resp.get_json()["error"]["details"]}
    assert fields == {"phone", "expires_at"}
    assert count_rows(po_app, OutcallDoNotCall) == 0
    # agents may not edit the list
    assert (
        agent.post("/api/v1/outcall/dnc", json={"phone": A, "reason": "other"}).status_code == 403
    )


def test_a_number_is_called_at_most_the_daily_cap_across_cases(live, platform, supervisor, agent):
    # cap 2 a day: number A has three cases; after two calls today its third is not offered,
    # while B's case still is.
    resp = supervisor.put(
        f"/api/v1/settings/outcall?unit={GZ}",
        json={
            "values": {
                "calling_start": "00:00",
                "calling_end": "23:59",
                "daily_calls_per_phone": 2,
            }
        },
    )
    assert resp.status_code == 200, resp.get_json()
    _intake(platform, [live(1, phone=A), live(2, phone=A), live(3, phone=A), live(4, phone=B)])
    got = []
    for outcome in ("no_answer", "busy"):
        case = _claim(agent)
        got.append(case["case_no"])
        _call(agent, case, outcome)
    assert got == ["GZ000001", "GZ000002"]  # two calls to A today: A has reached its cap
    fourth = _claim(agent)
    assert fourth["case_no"] == "GZ000004"  # B, not A's third case
    _call(agent, fourth, "no_answer")
    assert _claim(agent) is None


def test_an_applicant_who_declines_twice_is_offered_to_opt_out(live, platform, agent, po_app):
    _intake(platform, [live(1, phone=A), live(2, phone=A), live(3, phone=A)])
    first = _call(agent, _claim(agent), "declined")
    assert first["offer_opt_out"] is False  # one decline
    second_case = _claim(agent)
    second = _call(agent, second_case, "declined")
    assert second["offer_opt_out"] is True  # the second decline of the same number
    resp = agent.post(f"/api/v1/outcall/cases/{second_case['id']}/opt-out")
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["reason"] == "opt_out"
    assert _claim(agent) is None  # the third case, same number: never offered again
    assert count_rows(po_app, OutcallDoNotCall) == 1


def test_the_do_not_call_page_lists_masked_numbers_and_adds_one(live, hall, login_as):
    page = login_as("outcall_supervisor", GZ)
    resp = page.post(
        "/p/outcall/dnc",
        data={"phone": A, "reason": "opt_out", "expires_on": "", "note": "本人要求"},
    )
    assert resp.status_code == 302
    html = page.get("/p/outcall/dnc").get_data(as_text=True)
    assert "138****0001" in html and A not in html
    assert "本人要求不再来电" in html  # the reason's label
    bad = page.post("/p/outcall/dnc", data={"phone": "1", "reason": "opt_out"})
    assert bad.status_code == 422
    assert "is-invalid" in bad.get_data(as_text=True)


def test_the_workbench_offers_the_opt_out_after_the_second_decline(
    live, platform, login_as, po_app
):
    import re

    _intake(platform, [live(1, phone=A), live(2, phone=A), live(3, phone=A)])
    page = login_as("outcall_agent", GZ)
    for _ in range(2):
        page.post("/p/outcall/work", data={"action": "claim"})
        html = page.get("/p/outcall/work").get_data(as_text=True)
        case_id = re.search(r'action="/p/outcall/work/(\d+)/outcome"', html)[1]
        done = page.post(f"/p/outcall/work/{case_id}/outcome", data={"outcome": "declined"})
    assert done.status_code == 302 and f"opt_out={case_id}" in done.headers["Location"]
    offer = page.get(done.headers["Location"]).get_data(as_text=True)
    assert 'id="opt-out"' in offer and "两次拒绝" in offer
    assert page.post(f"/p/outcall/work/{case_id}/opt-out").status_code == 302
    assert count_rows(po_app, OutcallDoNotCall) == 1
    page.post("/p/outcall/work", data={"action": "claim"})
    assert 'id="active-call"' not in page.get("/p/outcall/work").get_data(as_text=True)


def test_the_agents_inbox_does_not_count_blocked_numbers(live, hall, platform, supervisor):
    from postalops_outcall.tasks import agent_tasks

    class Agent:
        name = "user:someone"

        def can(self, permission):
            return True

    _intake(platform, [live(1, phone=A), live(2, phone=B)])
    with hall() as s:
        before = {t.key: t.count for t in agent_tasks(s, Agent(), GZ)}
    supervisor.post("/api/v1/outcall/dnc", json={"phone": A, "reason": "opt_out"})
    with hall() as s:
        after = {t.key: t.count for t in agent_tasks(s, Agent(), GZ)}
    assert (before["cases_to_call"], after["cases_to_call"]) == (2, 1)


def test_a_call_back_the_applicant_asked_for_is_made_even_at_the_cap(
    live, hall, platform, supervisor, agent
):
    supervisor.put(
        f"/api/v1/settings/outcall?unit={GZ}",
        json={
            "values": {"calling_start": "00:00", "calling_end": "23:59", "daily_calls_per_phone": 2}
        },
    )
    _intake(platform, [live(1, phone=A), live(2, phone=A), live(3, phone=A)])
    soon = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)).isoformat()
    first = _claim(agent)
    _call(agent, first, "callback", callback_at=soon)  # A's 1st call today: call me back
    _call(agent, _claim(agent), "no_answer")  # A's 2nd call today: A is at its cap
    with hall(None) as s:  # five minutes later: the call-back is due
        case = s.exec(select(OutcallCase).where(OutcallCase.id == first["id"])).one()
        case.next_call_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    assert _claim(agent)["id"] == first["id"]  # the applicant's call-back, a 3rd call
    _call(agent, {"id": first["id"]}, "busy")
    assert _claim(agent) is None  # case 3 is the centre's own call: capped


def test_the_cap_and_the_service_level_hours_are_on_the_settings_page(hall, login_as):
    html = login_as("outcall_supervisor", GZ).get("/admin/settings/outcall").get_data(as_text=True)
    assert "每个号码每天最多外呼次数" in html and "服务水平：审批后多少小时内首呼" in html
