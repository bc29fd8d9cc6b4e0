"""Telling the government platform: a tracked job with retries; failures recorded, never lost."""

import http.server
import json
import threading
import time

import pytest
from postalops_outcall import service
from postalops_outcall.models import OutcallNotification, OutcallNotificationAttempt
from postalops_outcall.testing import ADDRESS, GZ
from sqlmodel import select


class FlakyPlatform(http.server.BaseHTTPRequestHandler):
    """Answers 500 to the first ``fail`` requests, then 200; counts what it accepted."""

    fail = 2
    seen: list = []
    delivered: list = []

    def do_POST(self):  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).seen.append(body)
        if len(type(self).seen) <= type(self).fail:
            self.send_response(500)
            self.end_headers()
            self.wfile.write(b"platform busy")
            return
        type(self).delivered.append(body)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"ok": true}')

    def log_message(self, *args):
        pass


@pytest.fixture
def platform_server():
    FlakyPlatform.seen, FlakyPlatform.delivered = [], []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FlakyPlatform)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/outcall/notify"
    server.shutdown()


def wait_until(check, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("timed out")


def test_a_platform_failing_twice_then_succeeding_gets_exactly_one_notification(
    hall, live, make_token, make_user, login, workers, platform_server
):
    with hall(GZ) as s:
        service.update_settings(s, GZ, {"webhook_url": platform_server}, actor="test")
    make_token(GZ, "outcall.intake").post("/api/v1/outcall/cases", json=[live(1)])
    agent = login(make_user("gz_agent", GZ, "outcall_agent"))
    case = agent.post("/api/v1/outcall/queue/claim").get_json()["case"]
    resp = agent.post(
        f"/api/v1/outcall/cases/{case['id']}/outcome",
        json={"outcome": "accepted", "address": ADDRESS},
    )
    assert resp.status_code == 200, resp.get_json()
    waybill = resp.get_json()["order"]["waybill_no"]

    def delivered():
        with hall(GZ) as s:
            n = s.exec(select(OutcallNotification)).one()
            return n if n.status == "delivered" else None

    n = wait_until(delivered)
    assert n.attempts == 3
    assert len(FlakyPlatform.delivered) == 1  # exactly one delivered notification
    assert FlakyPlatform.delivered[0]["waybill_no"] == waybill
    assert FlakyPlatform.delivered[0]["issuing_method"] == "mail"
    with hall(GZ) as s:
        tries = s.exec(
            select(OutcallNotificationAttempt).order_by(OutcallNotificationAttempt.id)
        ).all()
        assert [(t.ok, t.status_code) for t in tries] == [(False, 500), (False, 500), (True, 200)]
        assert "platform busy" in tries[0].error
    # Every try carried the same idempotency key, so the platform could de-duplicate.
    assert len({b["idempotency_key"] for b in FlakyPlatform.seen}) == 1
    # A delivered notification is never sent again, even if asked.
    boss = login(make_user("gz_boss", GZ, "outcall_supervisor"))
    assert boss.post(f"/api/v1/outcall/notifications/{n.id}/retry").status_code == 409
    listed = boss.get("/api/v1/outcall/notifications").get_json()["items"][0]
    assert [t["ok"] for t in listed["tries"]] == [False, False, True]


def test_a_notification_that_could_not_be_sent_is_not_lost_the_sweep_sends_it(
    po_app, hall, live, make_token, make_user, login, workers, platform_server, as_unit, monkeypatch
):
    monkeypatch.setattr(FlakyPlatform, "fail", 0)
    make_token(GZ, "outcall.intake").post("/api/v1/outcall/cases", json=[live(1)])
    agent = login(make_user("gz_agent", GZ, "outcall_agent"))
    case = agent.post("/api/v1/outcall/queue/claim").get_json()["case"]
    agent.post(
        f"/api/v1/outcall/cases/{case['id']}/outcome",
        json={"outcome": "accepted", "address": ADDRESS},
    )

    def status():
        with hall(GZ) as s:
            return s.exec(select(OutcallNotification)).one().status

    # No webhook configured yet: the job finishes, the notification waits, visibly.
    wait_until(lambda: status() == "waiting")
    with hall(GZ) as s:
        service.update_settings(s, GZ, {"webhook_url": platform_server}, actor="test")
    with as_unit("cn"):
        po_app.extensions["postalops.jobs"].submit("outcall.sweep", {}, tenant="cn")
    wait_until(lambda: status() == "delivered")
    assert len(FlakyPlatform.delivered) == 1
