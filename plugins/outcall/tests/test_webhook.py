"""Telling the government platform through the core's webhooks: an accepted call emits
outcall.issuing_method_changed in the outcome's transaction; the core's job delivers it, signed,
retrying while the platform fails; the tries are logged and never lost."""

import time

import pytest
from postalops import webhooks
from postalops.webhook_receiver import Receiver
from postalops_outcall.testing import ADDRESS, GZ


@pytest.fixture
def platform(monkeypatch):
    monkeypatch.setenv("POSTALOPS_WEBHOOK_BACKOFF_S", "0.2")
    rx = Receiver(answers=[500, 500])
    yield rx
    rx.stop()


def accept_one(live, make_token, make_user, login):
    make_token(GZ, "outcall.intake").post("/api/v1/outcall/cases", json=[live(1)])
    agent = login(make_user("gz_agent", GZ, "outcall_agent"))
    case = agent.post("/api/v1/outcall/queue/claim").get_json()["case"]
    resp = agent.post(
        f"/api/v1/outcall/cases/{case['id']}/outcome",
        json={"outcome": "accepted", "address": ADDRESS},
    )
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["order"]["waybill_no"]


def wait_until(check, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_a_platform_down_then_failing_twice_gets_exactly_one_notification(
    hall, live, make_token, make_user, login, workers, platform
):
    admin = make_token(GZ, "core.webhooks.manage")
    ep = admin.post(
        "/api/v1/webhooks/endpoints",
        json={"url": platform.url, "event_types": ["outcall.*"]},
    ).get_json()
    waybill = accept_one(live, make_token, make_user, login)
    boss = login(make_user("gz_boss", GZ, "outcall_supervisor"))

    def tries():
        items = boss.get("/api/v1/outcall/notifications").get_json()["items"]
        return items[0]["tries"] if items else []

    wait_until(lambda: len(tries()) >= 1)  # the platform is down: connection refused
    platform.start()
    (got,) = platform.wait_for(1)
    assert [r.status for r in platform.received] == [500, 500, 200]
    assert webhooks.verify(ep["secret"], got.headers["X-PostalOps-Signature"], got.body)
    data = got.json["data"]
    assert got.json["type"] == "outcall.issuing_method_changed"
    assert (data["waybill_no"], data["issuing_method"]) == (waybill, "mail")
    # Every try carried the same event id and idempotency key, so the platform can de-duplicate.
    assert len({r.headers["X-PostalOps-Event-Id"] for r in platform.received}) == 1
    assert len({r.json["data"]["idempotency_key"] for r in platform.received}) == 1
    listed = wait_until(
        lambda: (
            boss.get("/api/v1/outcall/notifications?status=delivered").get_json()["items"] or None
        )
    )[0]
    logged = [(t["ok"], t["status_code"]) for t in listed["tries"]]
    # one or more refused while down (how many depends on the machine's speed), then the rest
    refused = len(logged) - 3
    assert refused >= 1 and logged[:refused] == [(False, None)] * refused
    assert logged[refused:] == [(False, 500), (False, 500), (True, 200)]
    assert listed["case_no"] == data["case_no"] and listed["attempts"] == len(logged)
    assert "HTTP 500" in listed["tries"][refused]["error"]
    # A delivered notification is not re-sent from the outcall page (only failed ones are).
    page = boss.get("/p/outcall/notifications").get_data(as_text=True)
    assert data["case_no"] in page and "已送达" in page


def test_without_an_endpoint_nothing_is_sent_and_the_deprecated_settings_set_one(
    hall, live, make_token, make_user, login, workers, monkeypatch
):
    monkeypatch.setenv("POSTALOPS_WEBHOOK_BACKOFF_S", "0.2")
    accept_one(live, make_token, make_user, login)
    boss = login(make_user("gz_boss", GZ, "outcall_supervisor"))
    assert boss.get("/api/v1/outcall/notifications").get_json()["items"] == []
    rx = Receiver().start()
    try:
        manager = make_token(GZ, "outcall.manage", "outcall.view")
        r = manager.patch("/api/v1/outcall/settings", json={"webhook_url": rx.url})
        assert r.status_code == 200 and r.headers["Deprecation"] == "true"
        assert r.get_json()["webhook_url"] == rx.url
        make_token(GZ, "outcall.intake").post("/api/v1/outcall/cases", json=[live(2)])
        agent = login(make_user("gz_agent2", GZ, "outcall_agent"))
        case = agent.post("/api/v1/outcall/queue/claim").get_json()["case"]
        agent.post(
            f"/api/v1/outcall/cases/{case['id']}/outcome",
            json={"outcome": "accepted", "address": ADDRESS},
        )
        (got,) = rx.wait_for(1)
        assert got.json["data"]["case_no"] == case["case_no"]
    finally:
        rx.stop()
