"""Issue 20 §2, the supervisor's live view: agents' states (available, on call, wrap-up, paused
with a pause code), queue depth by status, the oldest waiting case, call-backs due in the next
hour and the service level; the page refreshes its panel without a reload."""

import datetime as dt

import pytest
from postalops_outcall.testing import GZ, case_row
from sqlmodel import select


@pytest.fixture
def team(hall, make_token):
    return {
        "platform": make_token(GZ, "outcall.intake"),
        "boss": make_token(GZ, "outcall.supervise", "outcall.view"),
        "a1": make_token(GZ, "outcall.call"),
        "a2": make_token(GZ, "outcall.call"),
        "a3": make_token(GZ, "outcall.call"),
    }


def test_the_live_view_shows_agents_queue_callbacks_and_service_level(live, hall, team):
    from postalops_outcall.models import OutcallCase

    now = dt.datetime.now(dt.UTC)
    rows = [live(n, phone=f"1380000000{n}") for n in range(1, 5)]
    old = (now - dt.timedelta(hours=30)).isoformat()  # approved 30 h ago: past its 24 h window
    rows.append(case_row(5, phone="13800000005", approved_at=old, ready_at=old))
    rows.append(case_row(6, phone="13800000006", approval_level="district"))  # ineligible
    assert team["platform"].post("/api/v1/outcall/cases", json=rows).status_code == 200

    a1, a2, a3 = team["a1"], team["a2"], team["a3"]
    # a1 calls the oldest case (5) and books a call-back in 30 minutes
    c5 = a1.post("/api/v1/outcall/queue/claim").get_json()["case"]
    assert c5["case_no"] == "GZ000005"
    back = (now + dt.timedelta(minutes=30)).isoformat()
    assert (
        a1.post(
            f"/api/v1/outcall/cases/{c5['id']}/outcome",
            json={"outcome": "callback", "callback_at": back},
        ).status_code
        == 200
    )
    # a2 is on a call on case 1; a3 pauses for a meal
    c1 = a2.post("/api/v1/outcall/queue/claim").get_json()["case"]
    assert a2.post(f"/api/v1/outcall/cases/{c1['id']}/call/start").status_code == 200
    assert (
        a3.put(
            "/api/v1/outcall/agents/me/state", json={"state": "paused", "pause_code": "meal"}
        ).get_json()["pause_code"]
        == "meal"
    )
    refused = a3.put("/api/v1/outcall/agents/me/state", json={"state": "paused"})
    assert refused.status_code == 422
    assert refused.get_json()["error"]["details"][0]["field"] == "pause_code"

    snap = team["boss"].get("/api/v1/outcall/live").get_json()
    states = {a["agent"]: (a["state"], a["pause_code"]) for a in snap["agents"]}
    assert sorted(states.values(), key=str) == sorted(
        [("available", None), ("on_call", None), ("paused", "meal")], key=str
    )
    assert snap["agents_by_state"] == {"available": 1, "on_call": 1, "wrap_up": 0, "paused": 1}
    # queued: 1 (claimed by a2), 2, 3, 4 and 5 (call-back later); 6 is ineligible
    assert snap["queue_by_status"]["queued"] == 5
    assert snap["queue_by_status"]["ineligible"] == 1
    # due now and unclaimed or claimed: cases 1-4 (5 waits for its call-back)
    assert snap["due_now"] == 4
    with hall() as s:
        first = s.exec(select(OutcallCase).where(OutcallCase.case_no == "GZ000001")).one()
        assert snap["oldest_waiting"]["case_no"] == "GZ000001"
        assert snap["oldest_waiting"]["waiting_minutes"] == int(
            (now - first.next_call_at).total_seconds() // 60
        )
    assert [c["case_no"] for c in snap["callbacks_next_hour"]] == ["GZ000005"]
    # service level over the cases approved in the last 7 days: cases 1-4, approved an hour
    # ago and not called yet (a2 only started a call, nothing saved), are inside their 24 h
    # window: undecided, left out. Case 5, approved 30 h ago, had its first call 30 h after
    # approval (> 24 h): decided, missed. Case 6 is not eligible. So 0 of 1.
    assert snap["service_level"] == {
        "hours": 24,
        "days": 7,
        "met": 0,
        "eligible": 1,
        "value": "0.0000",
    }

    # a2 ends the call: wrap-up; saving the outcome makes them available again, and case 1
    # (first call an hour after approval) now counts as met: 1 of 2.
    assert a2.post(f"/api/v1/outcall/cases/{c1['id']}/call/end").get_json()["state"] == "wrap_up"
    snap = team["boss"].get("/api/v1/outcall/live").get_json()
    assert snap["agents_by_state"]["wrap_up"] == 1
    a2.post(f"/api/v1/outcall/cases/{c1['id']}/outcome", json={"outcome": "no_answer"})
    snap = team["boss"].get("/api/v1/outcall/live").get_json()
    assert snap["agents_by_state"] == {"available": 2, "on_call": 0, "wrap_up": 0, "paused": 1}
    assert (snap["service_level"]["met"], snap["service_level"]["eligible"]) == (1, 2)
    assert snap["service_level"]["value"] == "0.5000"

    # agents may not see the live view
    assert a1.get("/api/v1/outcall/live").status_code == 403


def test_the_live_page_polls_its_panel(live, team, login_as):
    team["a3"].put(
        "/api/v1/outcall/agents/me/state", json={"state": "paused", "pause_code": "training"}
    )
    page = login_as("outcall_supervisor", GZ)
    html = page.get("/p/outcall/live").get_data(as_text=True)
    assert 'data-url="/p/outcall/live/panel"' in html and "setInterval" in html
    panel = page.get("/p/outcall/live/panel")
    assert panel.status_code == 200
    text = panel.get_data(as_text=True)
    assert "<html" not in text  # a fragment swapped into the page
    assert "暂停" in text and "培训" in text  # the state and its pause code in words
    assert "服务水平" in text
    # an agent does not get the supervisor's page
    assert login_as("outcall_agent", GZ).get("/p/outcall/live").status_code == 403


def test_the_workbench_shows_the_agents_state_and_call_buttons(live, team, login_as):
    team["platform"].post("/api/v1/outcall/cases", json=[live(1)])
    page = login_as("outcall_agent", GZ)
    html = page.get("/p/outcall/work").get_data(as_text=True)
    assert "我的状态" in html and "空闲" in html
    page.post("/p/outcall/work", data={"action": "claim"})
    html = page.get("/p/outcall/work").get_data(as_text=True)
    assert 'id="call-start"' in html and 'id="dial"' not in html  # no provider: dial by hand
    import re

    case_id = int(re.search(r"/p/outcall/work/(\d+)/call", html).group(1))
    page.post(f"/p/outcall/work/{case_id}/call", data={"action": "start"})
    html = page.get("/p/outcall/work").get_data(as_text=True)
    assert 'id="call-end"' in html and "通话中" in html
