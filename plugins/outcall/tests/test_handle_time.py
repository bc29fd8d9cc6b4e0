"""Issue 20 §2, handle time: an attempt records the call's start, end and wrap-up; average handle
time, attempts per conversion and conversion by hour for the queue and each agent, against a
table computed by hand (API, metrics contract and page; runs on SQLite and PostgreSQL)."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from postalops_outcall.handle_time import CallFact, stats
from postalops_outcall.testing import ADDRESS, GZ

SH = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime.now(dt.UTC)
YESTERDAY = (NOW.astimezone(SH) - dt.timedelta(days=1)).date()


def at(hour, minute, second=0):
    """Yesterday, Guangzhou wall-clock time: the calls' times (the outcome is saved now)."""
    return dt.datetime.combine(YESTERDAY, dt.time(hour, minute, second), SH).isoformat()


# agent, outcome, started, ended, wrap-up s → talk s, handle s (talk + wrap-up)
HAND_TABLE = [
    ("a1", "accepted", at(9, 0), at(9, 3), 60),  # talk 180, handle 240
    ("a1", "no_answer", at(10, 10), at(10, 11, 30), 30),  # talk 90, handle 120
    ("a2", "declined", at(14, 0), at(14, 5), 0),  # talk 300, handle 300
    ("a2", "accepted", at(14, 20), at(14, 22), 45),  # talk 120, handle 165
]


@pytest.fixture
def agents(hall, make_token):
    return {"a1": make_token(GZ, "outcall.call"), "a2": make_token(GZ, "outcall.call")}


def _work_the_table(live, make_token, agents):
    platform = make_token(GZ, "outcall.intake")
    rows = [live(n, phone=f"1380000000{n}") for n in range(1, 5)]
    assert platform.post("/api/v1/outcall/cases", json=rows).status_code == 200
    names = {}
    for who, outcome, started, ended, wrapup in HAND_TABLE:
        client = agents[who]
        case = client.post("/api/v1/outcall/queue/claim").get_json()["case"]
        body = {
            "outcome": outcome,
            "started_at": started,
            "ended_at": ended,
            "wrapup_seconds": wrapup,
        }
        if outcome == "accepted":
            body["address"] = ADDRESS
        resp = client.post(f"/api/v1/outcall/cases/{case['id']}/outcome", json=body)
        assert resp.status_code == 200, resp.get_json()
        names[who] = client.get("/api/v1/outcall/agents/me").get_json()["agent"]
    return names


def test_handle_time_statistics_for_the_hand_table(live, make_token, agents):
    names = _work_the_table(live, make_token, agents)
    viewer = make_token(GZ, "outcall.view", "core.metrics.read")
    today = NOW.astimezone(SH).date()
    body = viewer.get(f"/api/v1/outcall/stats?from={today}&to={today}").get_json()
    assert body["queue"] == {
        "calls": 4,
        "timed_calls": 4,
        "average_talk_seconds": "172.5",  # (180 + 90 + 300 + 120) / 4 = 690 / 4
        "average_wrapup_seconds": "33.8",  # (60 + 30 + 0 + 45) / 4 = 33.75 → 33.8 (half-up)
        "average_handle_seconds": "206.3",  # (240 + 120 + 300 + 165) / 4 = 825 / 4 = 206.25
        "conversions": 2,  # cases 1 and 4 accepted
        "attempts_per_conversion": "2.00",  # 4 attempts / 2 conversions
    }
    by_agent = {a["agent"]: a for a in body["agents"]}
    assert by_agent[names["a1"]] == {
        "agent": names["a1"],
        "calls": 2,
        "timed_calls": 2,
        "average_talk_seconds": "135.0",  # (180 + 90) / 2
        "average_wrapup_seconds": "45.0",  # (60 + 30) / 2
        "average_handle_seconds": "180.0",  # (240 + 120) / 2
        "conversions": 1,
        "attempts_per_conversion": "2.00",
    }
    assert by_agent[names["a2"]]["average_handle_seconds"] == "232.5"  # (300 + 165) / 2
    assert by_agent[names["a2"]]["average_wrapup_seconds"] == "22.5"  # (0 + 45) / 2
    # by the local hour the call started: 09h 1 of 1 accepted, 10h 0 of 1, 14h 1 of 2
    assert body["by_hour"] == [
        {"hour": 9, "calls": 1, "accepted": 1, "rate": "1.0000"},
        {"hour": 10, "calls": 1, "accepted": 0, "rate": "0.0000"},
        {"hour": 14, "calls": 2, "accepted": 1, "rate": "0.5000"},
    ]

    # the same figures in the metrics contract
    kpis = viewer.get(
        f"/api/v1/metrics?tenant={GZ}&from={today}&to={today}&plugin=outcall"
    ).get_json()["metrics"]["outcall"]
    assert kpis["average_handle_seconds"]["value"] == "206.3"
    assert kpis["average_talk_seconds"]["value"] == "172.5"
    assert kpis["average_wrapup_seconds"]["value"] == "33.8"
    assert kpis["attempts_per_conversion"]["value"] == "2.00"
    assert kpis["average_handle_seconds"]["unit"] == "seconds"


def test_the_stats_page_shows_the_figures_in_words(live, make_token, agents, login_as):
    _work_the_table(live, make_token, agents)
    page = login_as("outcall_supervisor", GZ)
    html = page.get("/p/outcall/stats").get_data(as_text=True)
    assert "平均处理时长" in html
    assert "3分26秒" in html  # 206.3 s
    assert "09:00–09:59" in html and "100.0%" in html


def test_times_sent_with_the_outcome_are_checked(live, make_token, agents):
    platform = make_token(GZ, "outcall.intake")
    platform.post("/api/v1/outcall/cases", json=[live(1)])
    client = agents["a1"]
    case = client.post("/api/v1/outcall/queue/claim").get_json()["case"]
    resp = client.post(
        f"/api/v1/outcall/cases/{case['id']}/outcome",
        json={"outcome": "busy", "started_at": at(9, 5), "ended_at": at(9, 0)},
    )
    assert resp.status_code == 422
    assert resp.get_json()["error"]["details"] == [
        {"field": "ended_at", "message": "before started_at"}
    ]
    resp = client.post(
        f"/api/v1/outcall/cases/{case['id']}/outcome",
        json={"outcome": "busy", "started_at": at(9, 5)},
    )
    assert resp.status_code == 422  # an end is needed too
    # the call buttons record the times instead: start, end, then the outcome (wrap-up)
    assert (
        client.post(f"/api/v1/outcall/cases/{case['id']}/call/start").get_json()["state"]
        == "on_call"
    )
    assert (
        client.post(f"/api/v1/outcall/cases/{case['id']}/call/end").get_json()["state"] == "wrap_up"
    )
    assert (
        client.post(
            f"/api/v1/outcall/cases/{case['id']}/outcome", json={"outcome": "busy"}
        ).status_code
        == 200
    )
    me = client.get("/api/v1/outcall/agents/me").get_json()
    assert me["state"] == "available" and me["case_id"] is None
    detail = (
        make_token(GZ, "outcall.view", "outcall.call")
        .get("/api/v1/outcall/stats")
        .get_json()["queue"]
    )
    assert detail["calls"] == 1 and detail["timed_calls"] == 1


def test_untimed_attempts_count_as_calls_but_not_in_handle_time():
    t = dt.datetime(2022, 8, 17, 9, 0, tzinfo=SH)
    facts = [
        CallFact("a", 1, "accepted", t, t, t + dt.timedelta(seconds=100), 20),  # handle 120
        CallFact("a", 2, "busy", t + dt.timedelta(hours=2)),  # recorded before issue 20: no times
        CallFact("a", 3, "accepted", t, t, t + dt.timedelta(seconds=61), None),  # handle 61
    ]
    q = stats(facts)["queue"]
    assert q["calls"] == 3 and q["timed_calls"] == 2
    assert q["average_handle_seconds"] == "90.5"  # (120 + 61) / 2
    assert q["attempts_per_conversion"] == "1.50"  # 3 attempts / 2 cases accepted
    # the untimed call is placed at its recording hour (11h)
    assert [h["hour"] for h in stats(facts)["by_hour"]] == [9, 11]
