"""Alerts end to end: raised by the rules, acknowledged and resolved by people (API), auto-
resolved when the condition clears, sent to the unit's webhook endpoints by the core."""

import datetime as dt
import time

import pytest
from postalops import context, webhooks
from postalops.testing import system_context
from postalops.webhook_receiver import Receiver
from postalops_sorter import alerting
from postalops_sorter.models import Alert, Device
from sqlmodel import select

JINSHUI = "cn.henan.zhengzhou.jinshui"


def parse(ts):
    return dt.datetime.fromisoformat(ts).astimezone(dt.UTC)


def slow_run(tel, minutes=5):
    """Running from 08:00, 10 items a minute (600 items/h) until 08:05, then a heartbeat."""
    events = [tel.state(0, tel.at(8, 0), "running")]
    seq = 1
    for m in range(minutes):
        for k in range(10):
            events.append(tel.item(seq, tel.at(8, m, 3 + 5 * k)))
            seq += 1
    events.append(tel.beat(seq, tel.at(8, minutes)))
    return events


def evaluate(po_app, device_id, now):
    with context.activate(system_context(po_app)) as ctx:
        device = ctx.session.get(Device, device_id)
        out = alerting.evaluate_device(ctx.session, device, now)
        ctx.session.commit()
        return out


def alerts(po_app):
    with context.activate(system_context(po_app)) as ctx:
        return [
            (a.kind, a.status, a.resolved_by)
            for a in ctx.session.exec(select(Alert).order_by(Alert.id)).all()
        ]


def test_slow_running_raises_low_throughput_once(po_app, make_device, tel):
    device_id, client = make_device(min_items_per_hour=2000, low_minutes=3)
    tel.post(client, device_id, slow_run(tel))
    now = parse(tel.at(8, 5, 10))
    assert evaluate(po_app, device_id, now)["raised"] == ["low_throughput"]
    # evaluating again while it still holds raises nothing new
    assert evaluate(po_app, device_id, now)["raised"] == []
    assert alerts(po_app) == [("low_throughput", "raised", None)]


def test_silence_raises_and_a_sign_of_life_resolves_it(po_app, make_device, tel):
    device_id, client = make_device(silent_minutes=5, low_minutes=30)
    tel.post(client, device_id, [tel.state(0, tel.at(8, 0), "idle")])
    assert evaluate(po_app, device_id, parse(tel.at(8, 6)))["raised"] == ["silent"]
    tel.post(client, device_id, [tel.beat(1, tel.at(8, 7))])
    assert evaluate(po_app, device_id, parse(tel.at(8, 7, 30)))["resolved"] == ["silent"]
    assert alerts(po_app) == [("silent", "resolved", "auto")]


def test_a_jam_spike_raises(po_app, make_device, tel):
    device_id, client = make_device(jam_max=3, jam_window_minutes=15, low_minutes=30)
    events = []
    for i, m in enumerate((0, 2, 4)):
        events += [
            tel.state(2 * i, tel.at(8, m), "jammed"),
            tel.state(2 * i + 1, tel.at(8, m, 30), "running"),
        ]
    tel.post(client, device_id, events + [tel.beat(9, tel.at(8, 6))])
    assert "jam_spike" in evaluate(po_app, device_id, parse(tel.at(8, 6, 10)))["raised"]


def test_people_acknowledge_then_resolve_through_the_api(po_app, make_device, make_token, tel):
    device_id, client = make_device(min_items_per_hour=2000, low_minutes=3)
    tel.post(client, device_id, slow_run(tel))
    evaluate(po_app, device_id, parse(tel.at(8, 5, 10)))
    head = make_token(JINSHUI, "sorter.view", "sorter.operate")
    listed = head.get("/api/v1/sorter/alerts?status=open").get_json()
    assert [a["kind"] for a in listed["items"]] == ["low_throughput"]
    alert_id = listed["items"][0]["id"]
    ack = head.post(f"/api/v1/sorter/alerts/{alert_id}/acknowledge")
    assert ack.status_code == 200 and ack.get_json()["status"] == "acknowledged"
    done = head.post(f"/api/v1/sorter/alerts/{alert_id}/resolve")
    assert done.get_json()["status"] == "resolved" and done.get_json()["resolved_by"].startswith(
        "token:"
    )
    again = head.post(f"/api/v1/sorter/alerts/{alert_id}/acknowledge")
    assert again.status_code == 409
    assert again.get_json()["error"]["code"] == "invalid_alert_transition"


def test_viewers_cannot_acknowledge(po_app, make_device, make_token, tel):
    device_id, client = make_device(min_items_per_hour=2000, low_minutes=3)
    tel.post(client, device_id, slow_run(tel))
    evaluate(po_app, device_id, parse(tel.at(8, 5, 10)))
    viewer = make_token(JINSHUI, "sorter.view")
    alert_id = viewer.get("/api/v1/sorter/alerts").get_json()["items"][0]["id"]
    assert viewer.post(f"/api/v1/sorter/alerts/{alert_id}/acknowledge").status_code == 403


@pytest.fixture
def receiver(monkeypatch):
    """A local receiver (the core's webhook test server); retries come fast."""
    monkeypatch.setenv("POSTALOPS_WEBHOOK_BACKOFF_S", "0.2")
    rx = Receiver(answers=[503])  # not listening yet, then one 503, then 200
    yield rx
    rx.stop()


def test_a_machine_left_in_planned_stop_raises_no_silence_alert(po_app, make_device, tel):
    device_id, client = make_device(silent_minutes=5, low_minutes=30)
    tel.post(
        client,
        device_id,
        [tel.state(0, tel.at(8, 0), "running"), tel.state(1, tel.at(8, 30), "planned_stop")],
    )
    assert evaluate(po_app, device_id, parse(tel.at(12, 0)))["raised"] == []


def test_a_silent_device_reaches_the_webhook_through_the_alerts_job(
    po_app, make_device, make_token, tel, receiver, workers
):
    """The real path: the alerts job (started over HTTP) raises 'silent' and emits
    sorter.alert.raised in the same transaction; the core's delivery job posts it, signed, to
    the unit's endpoint: refused while the receiver is down, 503 once, then delivered."""
    from postalops.jobs import wait_for
    from postalops.models import WebhookDelivery

    device_id, client = make_device(silent_minutes=5, low_minutes=30)
    tel.post(client, device_id, [tel.state(0, tel.at(8, 0), "idle")])
    admin = make_token(JINSHUI, "core.webhooks.manage")
    ep = admin.post(
        "/api/v1/webhooks/endpoints", json={"url": receiver.url, "event_types": ["sorter.*"]}
    ).get_json()
    manager = make_token(JINSHUI, "sorter.view", "sorter.manage")
    started = manager.post("/api/v1/sorter/jobs/alerts")
    assert started.status_code == 202
    done = wait_for(po_app.extensions["postalops.db"], started.get_json()["job_id"], timeout=20)
    assert done.status == "succeeded", done.error
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not _tries(po_app):
        time.sleep(0.05)
    receiver.start()
    (got,) = receiver.wait_for(1)
    assert [r.status for r in receiver.received] == [503, 200]
    assert webhooks.verify(ep["secret"], got.headers["X-PostalOps-Signature"], got.body)
    assert got.headers["X-PostalOps-Event"] == "sorter.alert.raised"
    data = got.json["data"]
    assert (data["kind"], data["unit"], data["device"]) == ("silent", JINSHUI, "DS01")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with context.activate(system_context(po_app)) as ctx:
            (d,) = ctx.session.exec(select(WebhookDelivery)).all()
            if d.status == "delivered":
                break
        time.sleep(0.05)
    assert d.status == "delivered" and d.attempts == len(_tries(po_app)) + 1 >= 3


def _tries(po_app):
    from postalops.models import WebhookAttempt

    with context.activate(system_context(po_app)) as ctx:
        return ctx.session.exec(select(WebhookAttempt).where(WebhookAttempt.ok.is_(False))).all()


def test_the_deprecated_settings_path_points_the_core_endpoint(po_app, make_device, make_token):
    """PUT /api/v1/sorter/settings (kept for one release) now sets a core endpoint taking
    sorter.* at the unit; GET reads it back; null switches it off."""
    manager = make_token(JINSHUI, "sorter.view", "sorter.manage")
    r = manager.put("/api/v1/sorter/settings", json={"webhook_url": "http://127.0.0.1:9/x"})
    assert r.status_code == 200 and r.get_json()["webhook_url"] == "http://127.0.0.1:9/x"
    assert r.headers.get("Deprecation") == "true"
    admin = make_token(JINSHUI, "core.webhooks.manage")
    (ep,) = admin.get("/api/v1/webhooks/endpoints").get_json()["items"]
    assert (ep["url"], ep["event_types"], ep["active"]) == (
        "http://127.0.0.1:9/x",
        ["sorter.*"],
        True,
    )
    assert manager.get("/api/v1/sorter/settings").get_json()["webhook_url"] == ep["url"]
    assert manager.put("/api/v1/sorter/settings", json={"webhook_url": None}).status_code == 200
    assert manager.get("/api/v1/sorter/settings").get_json()["webhook_url"] is None
    assert admin.get("/api/v1/webhooks/endpoints").get_json()["items"][0]["active"] is False


def test_a_manual_resolve_is_not_raised_again_while_suppressed(
    po_app, make_device, make_token, tel
):
    """Resolving by hand while the machine is still silent: the next evaluations (every minute)
    raise nothing until the suppression ends (default 60 minutes), then the alert comes back."""
    device_id, client = make_device(silent_minutes=5, low_minutes=30)
    tel.post(client, device_id, [tel.state(0, tel.at(8, 0), "idle")])
    assert evaluate(po_app, device_id, parse(tel.at(8, 6)))["raised"] == ["silent"]
    head = make_token(JINSHUI, "sorter.view", "sorter.operate")
    alert_id = head.get("/api/v1/sorter/alerts?status=open").get_json()["items"][0]["id"]
    done = head.post(f"/api/v1/sorter/alerts/{alert_id}/resolve")
    assert done.status_code == 200
    until = dt.datetime.fromisoformat(done.get_json()["suppressed_until"])
    now = dt.datetime.now(dt.UTC)
    assert dt.timedelta(minutes=59) < until - now <= dt.timedelta(minutes=60)
    for minutes in (1, 2, 30, 59):
        assert evaluate(po_app, device_id, now + dt.timedelta(minutes=minutes))["raised"] == []
    assert evaluate(po_app, device_id, until + dt.timedelta(seconds=1))["raised"] == ["silent"]


def test_a_resolve_can_choose_how_long_to_suppress(po_app, make_device, make_token, tel):
    device_id, client = make_device(silent_minutes=5, low_minutes=30)
    tel.post(client, device_id, [tel.state(0, tel.at(8, 0), "idle")])
    evaluate(po_app, device_id, parse(tel.at(8, 6)))
    head = make_token(JINSHUI, "sorter.view", "sorter.operate")
    alert_id = head.get("/api/v1/sorter/alerts?status=open").get_json()["items"][0]["id"]
    now = dt.datetime.now(dt.UTC)
    past = head.post(
        f"/api/v1/sorter/alerts/{alert_id}/resolve",
        query_string={"suppress_until": (now - dt.timedelta(hours=1)).isoformat()},
    )
    assert past.status_code == 422
    assert past.get_json()["error"]["details"][0]["field"] == "suppress_until"
    far = head.post(
        f"/api/v1/sorter/alerts/{alert_id}/resolve",
        query_string={"suppress_until": (now + dt.timedelta(days=8)).isoformat()},
    )
    assert far.status_code == 422
    until = now + dt.timedelta(hours=8)
    done = head.post(
        f"/api/v1/sorter/alerts/{alert_id}/resolve",
        query_string={"suppress_until": until.isoformat()},
    )
    assert done.status_code == 200, done.get_json()
    assert evaluate(po_app, device_id, until - dt.timedelta(minutes=1))["raised"] == []
    assert evaluate(po_app, device_id, until)["raised"] == ["silent"]
