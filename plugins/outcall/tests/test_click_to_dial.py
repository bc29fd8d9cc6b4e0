"""Issue 20 §2, click-to-dial against a local fake telephony provider (http.server): the call is
placed with a token or a signed request, the provider's callbacks record start, end and the
recording, and those times become the attempt's handle time. Without a provider agents dial by
hand. Also the disposition catalogue mapped onto the six outcomes."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from postalops import webhooks
from postalops.testing import count_rows
from postalops_outcall.models import OutcallAttempt, OutcallCtiCall
from postalops_outcall.testing import GZ

SECRET = "provider-secret-123"


class FakeProvider:
    """Answers POSTs with a call id (or ``status``), keeping each request."""

    def __init__(self, status: int = 200):
        self.status = status
        self.received: list[tuple[dict, dict]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.received.append((dict(self.headers), body))
                self.send_response(outer.status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(json.dumps({"call_id": f"P-{len(outer.received)}"}).encode())

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/calls"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def provider():
    p = FakeProvider()
    yield p
    p.stop()


@pytest.fixture
def clients(live, hall, make_token):
    platform = make_token(GZ, "outcall.intake")
    assert (
        platform.post(
            "/api/v1/outcall/cases", json=[live(1), live(2, phone="13900001111")]
        ).status_code
        == 200
    )
    return {
        "boss": make_token(GZ, "outcall.manage", "outcall.view"),
        "agent": make_token(GZ, "outcall.call", "outcall.view"),
        "switch": make_token(GZ, "outcall.cti"),  # the provider's own token for callbacks
    }


def test_without_a_provider_agents_dial_by_hand(clients, po_app):
    agent = clients["agent"]
    assert agent.get("/api/v1/outcall/cti").get_json() == {"provider": None}
    case = agent.post("/api/v1/outcall/queue/claim").get_json()["case"]
    resp = agent.post(f"/api/v1/outcall/cases/{case['id']}/dial")
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "no_cti"
    assert count_rows(po_app, OutcallCtiCall) == 0
    # the outcome is recorded as today, without times
    assert (
        agent.post(
            f"/api/v1/outcall/cases/{case['id']}/outcome", json={"outcome": "busy"}
        ).status_code
        == 200
    )


def test_a_signed_click_to_dial_call_and_its_callbacks_give_the_attempt_its_times(
    clients, provider, po_app, hall
):
    boss, agent, switch = clients["boss"], clients["agent"], clients["switch"]
    resp = boss.put(
        "/api/v1/outcall/cti",
        json={"url": provider.url, "auth": "hmac", "secret": SECRET, "caller_id": "96185"},
    )
    assert resp.status_code == 200, resp.get_json()
    assert "secret" not in resp.get_json()["provider"]

    case = agent.post("/api/v1/outcall/queue/claim").get_json()["case"]
    placed = agent.post(f"/api/v1/outcall/cases/{case['id']}/dial")
    assert placed.status_code == 200, placed.get_json()
    call = placed.get_json()
    assert call["provider_call_id"] == "P-1" and call["status"] == "placed"

    headers, body = provider.received[0]
    assert webhooks.verify(SECRET, headers["X-Postalops-Signature"], body)
    sent = json.loads(body)
    assert sent["phone"] == case["phone"] and sent["caller_id"] == "96185"
    assert sent["call_ref"] == call["call_ref"]
    assert sent["callback_url"].endswith("/api/v1/outcall/cti/events")

    ev = "/api/v1/outcall/cti/events"
    assert (
        agent.post(ev, json={"call_ref": call["call_ref"], "event": "started"}).status_code == 403
    )
    r1 = switch.post(
        ev,
        json={"call_ref": call["call_ref"], "event": "started", "at": "2022-08-17T10:00:00+08:00"},
    )
    assert r1.status_code == 200, r1.get_json()
    assert agent.get("/api/v1/outcall/agents/me").get_json()["state"] == "on_call"
    r2 = switch.post(
        ev,
        json={
            "call_ref": call["call_ref"],
            "event": "ended",
            "at": "2022-08-17T10:02:05+08:00",
            "recording_ref": "rec/2022/08/17/P-1.wav",
        },
    )
    assert r2.get_json()["status"] == "ended" and r2.get_json()["recording_ref"].endswith("P-1.wav")
    assert agent.get("/api/v1/outcall/agents/me").get_json()["state"] == "wrap_up"
    # a repeated callback changes nothing (the provider retries)
    switch.post(
        ev, json={"call_ref": call["call_ref"], "event": "ended", "at": "2022-08-17T10:09:00+08:00"}
    )

    saved = agent.post(
        f"/api/v1/outcall/cases/{case['id']}/outcome",
        json={"outcome": "no_answer", "wrapup_seconds": 40},
    )
    assert saved.status_code == 200, saved.get_json()
    with hall(None) as s:
        from sqlmodel import select

        attempt = s.exec(select(OutcallAttempt)).one()
        # 10:00:00 → 10:02:05 is 125 s of talk, then 40 s of wrap-up
        assert int((attempt.ended_at - attempt.started_at).total_seconds()) == 125
        assert attempt.wrapup_seconds == 40
        assert attempt.recording_ref == "rec/2022/08/17/P-1.wav"


def test_a_token_provider_gets_the_bearer_token_and_a_failing_one_writes_nothing(
    clients, provider, po_app
):
    boss, agent = clients["boss"], clients["agent"]
    boss.put("/api/v1/outcall/cti", json={"url": provider.url, "auth": "token", "secret": SECRET})
    case = agent.post("/api/v1/outcall/queue/claim").get_json()["case"]
    assert agent.post(f"/api/v1/outcall/cases/{case['id']}/dial").status_code == 200
    assert provider.received[0][0]["Authorization"] == f"Bearer {SECRET}"

    provider.status = 503
    resp = agent.post(f"/api/v1/outcall/cases/{case['id']}/dial")
    assert resp.status_code == 502 and resp.get_json()["error"]["code"] == "cti_failed"
    assert count_rows(po_app, OutcallCtiCall) == 1  # only the first call

    bad = boss.put("/api/v1/outcall/cti", json={"url": "ftp://x", "secret": "short"})
    assert bad.status_code == 422
    assert {d["field"] for d in bad.get_json()["error"]["details"]} == {"url", "secret"}


def test_dispositions_map_onto_the_six_outcomes(clients, po_app, hall, login_as):
    boss, agent = clients["boss"], clients["agent"]
    resp = boss.put(
        "/api/v1/outcall/dispositions",
        json=[
            {"code": "delegated", "label": "已委托他人领取", "outcome": "declined"},
            {"code": "address_unknown", "label": "地址不详", "outcome": "callback"},
        ],
    )
    assert resp.get_json() == {"created": 2, "updated": 0, "unchanged": 0}
    bad = boss.put(
        "/api/v1/outcall/dispositions",
        json=[{"code": "Bad Code", "label": "x", "outcome": "declined"}],
    )
    assert bad.status_code == 422
    assert bad.get_json()["error"]["details"][0]["field"] == "code"

    case = agent.post("/api/v1/outcall/queue/claim").get_json()["case"]
    url = f"/api/v1/outcall/cases/{case['id']}/outcome"
    mismatch = agent.post(url, json={"disposition": "delegated", "outcome": "accepted"})
    assert mismatch.status_code == 422
    unknown = agent.post(url, json={"disposition": "nope"})
    assert unknown.get_json()["error"]["details"][0]["field"] == "disposition"
    done = agent.post(url, json={"disposition": "delegated"})
    assert done.status_code == 200, done.get_json()
    assert done.get_json()["case"]["status"] == "declined"  # the rules saw "declined"
    with hall(None) as s:
        from sqlmodel import select

        attempt = s.exec(select(OutcallAttempt)).one()
        assert (attempt.outcome, attempt.disposition) == ("declined", "delegated")

    page = login_as("outcall_supervisor", GZ)
    html = page.get("/p/outcall/dispositions").get_data(as_text=True)
    assert "已委托他人领取" in html and "拒绝" in html
    work = login_as("outcall_agent", GZ)
    work.post("/p/outcall/work", data={"action": "claim"})
    assert "地址不详（预约回拨）" in work.get("/p/outcall/work").get_data(as_text=True)


def test_the_catalogue_button_names_its_action(hall, login_as):
    html = login_as("outcall_supervisor", GZ).get("/p/outcall/catalogue").get_data(as_text=True)
    assert ">保存目录<" in html
