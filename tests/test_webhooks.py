"""Core webhooks (issue 18 §5): endpoints over the API, the outbox written in the caller's
transaction, signed delivery by a job with retries and backoff against a local HTTP server that
is first down (connection refused, then 500) and then up, the delivery log, and replay."""

from __future__ import annotations

import json
import time

import pytest
from postalops import context, webhooks
from postalops.models import WebhookAttempt, WebhookDelivery, WebhookEvent
from postalops.tenancy import Scope
from postalops.testing import count_rows, system_context
from postalops.webhook_receiver import Receiver
from sqlmodel import select

ZZ, KF, HN = "cn.henan.zhengzhou", "cn.henan.kaifeng", "cn.henan"


@pytest.fixture
def fast_retries(monkeypatch):
    monkeypatch.setenv("POSTALOPS_WEBHOOK_BACKOFF_S", "0.2")
    monkeypatch.setenv("POSTALOPS_WEBHOOK_MAX_ATTEMPTS", "5")


@pytest.fixture
def receiver():
    rx = Receiver()
    yield rx
    rx.stop()


def add_endpoint(client, url, types, unit=None):
    body = {"url": url, "event_types": types}
    if unit:
        body["unit"] = unit
    resp = client.post("/api/v1/webhooks/endpoints", json=body)
    assert resp.status_code == 201, resp.json
    return resp.json


def emit(po_app, unit, event_type, payload, *, commit=True):
    with context.activate(system_context(po_app, unit)) as ctx:
        ev = webhooks.emit(ctx.session, unit, event_type, payload)
        uid = ev.uid
        if commit:
            ctx.session.commit()
        else:
            ctx.session.rollback()
    return uid


def deliveries(po_app):
    db = po_app.extensions["postalops.db"]
    with db.transaction(Scope.system_scope()) as s:
        rows = s.exec(select(WebhookDelivery).order_by(WebhookDelivery.id)).all()
        for r in rows:
            s.expunge(r)
    return rows


def wait_status(po_app, status, n=1, timeout=20.0):
    deadline = time.monotonic() + timeout
    while True:
        rows = [d for d in deliveries(po_app) if d.status == status]
        if len(rows) >= n:
            return rows
        if time.monotonic() > deadline:
            raise TimeoutError(
                [(d.id, d.status, d.attempts, d.last_error) for d in deliveries(po_app)]
            )
        time.sleep(0.05)


def test_signature_is_hmac_sha256_of_timestamp_and_body_and_expires():
    body = b'{"id": "e1"}'
    header = webhooks.sign("whsec_test", body, timestamp=1_765_000_000)
    assert header.startswith("t=1765000000,v1=")
    import hashlib
    import hmac

    expected = hmac.new(b"whsec_test", b"1765000000." + body, hashlib.sha256).hexdigest()
    assert header.endswith(expected)
    assert webhooks.verify("whsec_test", header, body, now=1_765_000_100)
    assert not webhooks.verify("whsec_test", header, body + b" ", now=1_765_000_100)
    assert not webhooks.verify("other", header, body, now=1_765_000_100)
    assert not webhooks.verify("whsec_test", header, body, now=1_765_000_000 + 301)  # replayed
    assert not webhooks.verify("whsec_test", "garbage", body)


def test_backoff_doubles_from_the_base(monkeypatch):
    monkeypatch.setenv("POSTALOPS_WEBHOOK_BACKOFF_S", "30")
    assert [webhooks.backoff_seconds(n) for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert webhooks.backoff_seconds(30) == 6 * 3600


def test_down_then_up_receiver_gets_the_signed_event_after_retries(
    po_app, tenants, make_token, workers, fast_retries
):
    rx = Receiver(answers=[500])  # nothing listens yet: the first try is refused
    admin = make_token(HN, "core.webhooks.manage")
    ep = add_endpoint(admin, rx.url, ["demo.*"])
    assert ep["secret"].startswith("whsec_") and ep["unit"] == HN
    assert "secret" not in admin.get("/api/v1/webhooks/endpoints").json["items"][0] or (
        admin.get("/api/v1/webhooks/endpoints").json["items"][0]["secret"] is None
    )
    try:
        uid = emit(po_app, ZZ, "demo.thing_happened", {"n": 1, "name": "郑州"})
        rows = wait_status(po_app, "retrying")  # try 1: connection refused
        assert "Connection refused" in (rows[0].last_error or "") or rows[0].last_error
        rx.start()  # up, but answers 500 once
        (d,) = wait_status(po_app, "delivered")
        got = rx.received
        assert [r.status for r in got] == [500, 200]
        last = got[-1]
        assert webhooks.verify(ep["secret"], last.headers["X-PostalOps-Signature"], last.body)
        assert last.headers["X-PostalOps-Event"] == "demo.thing_happened"
        assert last.headers["X-PostalOps-Event-Id"] == uid == got[0].headers["X-PostalOps-Event-Id"]
        assert last.json == {
            "id": uid,
            "type": "demo.thing_happened",
            "unit": ZZ,
            "created_at": last.json["created_at"],
            "data": {"n": 1, "name": "郑州"},
        }
        log = admin.get("/api/v1/webhooks/deliveries").json["items"]
        codes = [t["status_code"] for t in log[0]["tries"]]
        refused = len(codes) - 2  # one or more while down, by the machine's speed
        assert refused >= 1 and codes == [None] * refused + [500, 200]
        assert [t["ok"] for t in log[0]["tries"]] == [False] * (refused + 1) + [True]
        assert d.attempts == len(codes) and d.last_status_code == 200
        assert log[0]["tries"][0]["error"] and all(
            t["latency_ms"] is not None for t in log[0]["tries"]
        )
        # Replay from the API sends the same event again, as try 4.
        resp = admin.post(f"/api/v1/webhooks/deliveries/{d.id}/replay")
        assert resp.status_code == 202, resp.json
        rx.wait_for(2)
        assert rx.ok()[-1].headers["X-PostalOps-Event-Id"] == uid
        assert rx.ok()[-1].headers["X-PostalOps-Attempt"] == str(d.attempts + 1)
        wait_status(po_app, "delivered")
        assert count_rows(po_app, WebhookAttempt) == d.attempts + 1
    finally:
        rx.stop()


def test_emit_goes_to_the_unit_and_its_ancestors_only_and_by_type(
    po_app, tenants, make_token, workers, receiver
):
    receiver.start()
    add_endpoint(make_token(HN, "core.webhooks.manage"), receiver.url, ["demo.*"])
    add_endpoint(make_token(KF, "core.webhooks.manage"), receiver.url + "?kf", ["*"])
    add_endpoint(make_token(ZZ, "core.webhooks.manage"), receiver.url + "?zz", ["other.event"])
    emit(po_app, ZZ, "demo.a", {})
    got = receiver.wait_for(1)
    time.sleep(0.3)
    assert [r.path for r in got] == ["/hook"]  # Henan's; not Kaifeng's, not Zhengzhou's (type)
    assert count_rows(po_app, WebhookEvent) == 1


def test_an_event_of_a_rolled_back_transaction_is_never_sent(
    po_app, tenants, make_token, workers, receiver
):
    receiver.start()
    add_endpoint(make_token(ZZ, "core.webhooks.manage"), receiver.url, ["*"])
    emit(po_app, ZZ, "demo.a", {}, commit=False)
    time.sleep(0.5)
    assert receiver.received == []
    assert count_rows(po_app, WebhookEvent) == count_rows(po_app, WebhookDelivery) == 0


def test_a_try_already_on_record_is_not_sent_again(po_app, tenants, make_token, workers, receiver):
    """A redelivered job message (same delivery, same try) sends nothing."""
    receiver.start()
    add_endpoint(make_token(ZZ, "core.webhooks.manage"), receiver.url, ["*"])
    emit(po_app, ZZ, "demo.a", {})
    (d,) = wait_status(po_app, "delivered")
    jobs = po_app.extensions["postalops.jobs"]
    again = jobs.send(webhooks.DELIVER, {"delivery_id": d.id, "try_no": 1}, tenant=ZZ, actor="test")
    from postalops.jobs import wait_for

    job = wait_for(po_app.extensions["postalops.db"], again.id)
    assert job.status == "succeeded" and "skipped" in job.result
    assert len(receiver.received) == 1


def test_gives_up_after_the_last_try_and_replay_then_succeeds(
    po_app, tenants, make_token, workers, monkeypatch
):
    monkeypatch.setenv("POSTALOPS_WEBHOOK_BACKOFF_S", "0.1")
    monkeypatch.setenv("POSTALOPS_WEBHOOK_MAX_ATTEMPTS", "2")
    rx = Receiver(answers=[503, 503]).start()
    try:
        admin = make_token(ZZ, "core.webhooks.manage")
        add_endpoint(admin, rx.url, ["*"])
        emit(po_app, ZZ, "demo.a", {"k": "v"})
        (d,) = wait_status(po_app, "failed")
        assert d.attempts == 2 and d.last_status_code == 503
        assert "HTTP 503" in d.last_error
        assert admin.post(f"/api/v1/webhooks/deliveries/{d.id}/replay").status_code == 202
        wait_status(po_app, "delivered")
        assert [r.status for r in rx.received] == [503, 503, 200]
    finally:
        rx.stop()


def test_endpoint_api_refuses_bad_input_naming_the_field(po_app, tenants, make_token):
    admin = make_token(ZZ, "core.webhooks.manage")
    r = admin.post("/api/v1/webhooks/endpoints", json={"url": "ftp://x", "event_types": ["*"]})
    assert r.status_code == 422 and r.json["error"]["details"][0]["field"] == "url"
    r = admin.post("/api/v1/webhooks/endpoints", json={"url": "http://x", "event_types": [" "]})
    assert r.status_code == 422 and r.json["error"]["details"][0]["field"] == "event_types"
    r = admin.post(
        "/api/v1/webhooks/endpoints",
        json={"url": "http://x", "event_types": ["*"], "unit": KF},
    )
    assert r.status_code == 403
    r = admin.post(
        "/api/v1/webhooks/endpoints",
        json={"url": "http://x", "event_types": ["*"], "unit": ZZ + ".nowhere"},
    )
    assert r.status_code == 422 and r.json["error"]["details"][0]["field"] == "unit"
    assert make_token(ZZ, "core.jobs.view").get("/api/v1/webhooks/endpoints").status_code == 403
    assert admin.get("/api/v1/webhooks/endpoints").json["total"] == 0


def test_an_endpoint_of_another_city_is_invisible_and_cannot_be_changed(
    po_app, tenants, make_token
):
    kf = make_token(KF, "core.webhooks.manage")
    ep = add_endpoint(kf, "http://127.0.0.1:9/x", ["*"])
    zz = make_token(ZZ, "core.webhooks.manage")
    assert zz.get("/api/v1/webhooks/endpoints").json["items"] == []
    r = zz.client.patch(
        f"/api/v1/webhooks/endpoints/{ep['id']}",
        json={"active": False},
        headers={"Authorization": f"Bearer {zz.secret}"},
    )
    assert r.status_code == 404
    r = kf.client.patch(
        f"/api/v1/webhooks/endpoints/{ep['id']}",
        json={"rotate_secret": True},
        headers={"Authorization": f"Bearer {kf.secret}"},
    )
    assert r.status_code == 200 and r.json["secret"].startswith("whsec_")
    assert r.json["secret"] != ep["secret"]


def test_admin_page_adds_an_endpoint_shows_the_log_and_replays(
    po_app, tenants, make_user, login, workers, receiver
):
    receiver.start()
    c = login(make_user("hn_admin", HN, "admin"))
    page = c.post("/admin/webhooks", data={"unit": HN, "url": "not a url", "event_types": "*"})
    assert page.status_code == 422
    html = page.get_data(as_text=True)
    assert 'id="f-url-error"' in html and 'value="not a url"' in html
    page = c.post(
        "/admin/webhooks", data={"unit": HN, "url": receiver.url, "event_types": "demo.*"}
    )
    assert page.status_code == 302
    home = c.get("/admin/webhooks").get_data(as_text=True)
    assert "whsec_" in home  # the secret, shown this once (flash)
    assert "whsec_" not in c.get("/admin/webhooks").get_data(as_text=True)
    emit(po_app, ZZ, "demo.a", {"x": 1})
    (d,) = wait_status(po_app, "delivered")
    html = c.get("/admin/webhooks").get_data(as_text=True)
    assert "demo.a" in html and "已送达" in html and f'data-delivery="{d.id}"' in html
    r = c.post(f"/admin/webhooks/deliveries/{d.id}/replay")
    assert r.status_code == 302
    receiver.wait_for(2)
    assert json.loads(receiver.received[1].body)["data"] == {"x": 1}


def test_the_sweep_sends_a_delivery_whose_job_was_never_queued(
    po_app, tenants, make_token, workers, receiver
):
    """An outbox row written where no job service was at hand (a script, a migration): the
    scheduled sweep queues its overdue try, once."""
    import datetime as dt

    from postalops.jobs import wait_for

    receiver.start()
    add_endpoint(make_token(ZZ, "core.webhooks.manage"), receiver.url, ["*"])
    db = po_app.extensions["postalops.db"]
    with db.transaction(Scope.unit(ZZ)) as s:  # no call context: nothing queued on commit
        webhooks.emit(s, ZZ, "demo.from_a_script", {"n": 7})
    time.sleep(0.3)
    assert receiver.received == []
    with db.transaction(Scope.system_scope()) as s:
        (d,) = s.exec(select(WebhookDelivery)).all()
        d.next_attempt_at = d.next_attempt_at - dt.timedelta(minutes=10)
        s.add(d)
    jobs = po_app.extensions["postalops.jobs"]
    for _ in range(2):  # a second sweep finds the try's job already made
        job = jobs.send(webhooks.SWEEP, {}, tenant="cn", actor="scheduler:test")
        assert wait_for(db, job.id).status == "succeeded"
    (got,) = receiver.wait_for(1)
    assert got.json["data"] == {"n": 7}
    time.sleep(0.3)
    assert len(receiver.received) == 1
