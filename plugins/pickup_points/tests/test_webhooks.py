"""Pickup points tell partners through the core's webhooks (issue 18 §5): suspending a point
over HTTP emits pickup_points.point.status_changed in that request's transaction; the core's job
posts it, signed, to the unit's endpoint."""

from __future__ import annotations

import pytest
from postalops import webhooks
from postalops.webhook_receiver import Receiver

ZZ = "cn.henan.zhengzhou"
POINT = {"code": "P1", "name": "易邮驿站", "point_type": "own", "lon": 113.63, "lat": 34.75,
         "county": "jinshui", "opened_on": "2022-06-01"}  # fmt: skip


@pytest.fixture
def receiver():
    rx = Receiver(answers=[500]).start()
    yield rx
    rx.stop()


def test_suspending_a_point_reaches_the_partner_signed(make_token, workers, receiver, monkeypatch):
    monkeypatch.setenv("POSTALOPS_WEBHOOK_BACKOFF_S", "0.2")
    ep = make_token(ZZ, "core.webhooks.manage").post(
        "/api/v1/webhooks/endpoints",
        json={"url": receiver.url, "event_types": ["pickup_points.*"]},
    ).get_json()
    api = make_token(ZZ, "pickup_points.view", "pickup_points.manage")
    assert api.post("/api/v1/pickup_points/points/import", json=[POINT]).status_code == 200
    point = api.get("/api/v1/pickup_points/points").get_json()["items"][0]
    r = api.post(
        f"/api/v1/pickup_points/points/{point['id']}/status",
        json={"status": "suspended", "effective": "2022-09-01"},
    )
    assert r.status_code == 200, r.get_json()
    (got,) = receiver.wait_for(1)
    assert [x.status for x in receiver.received] == [500, 200]  # retried after the 500
    assert webhooks.verify(ep["secret"], got.headers["X-PostalOps-Signature"], got.body)
    assert got.json["type"] == "pickup_points.point.status_changed"
    assert got.json["unit"] == point["tenant_code"]
    assert {k: got.json["data"][k] for k in ("code", "status_before", "status", "effective")} == {
        "code": "P1",
        "status_before": "active",
        "status": "suspended",
        "effective": "2022-09-01",
    }


def test_a_refused_status_change_emits_nothing(po_app, make_token, workers, receiver):
    from postalops.models import WebhookEvent
    from postalops.testing import count_rows

    make_token(ZZ, "core.webhooks.manage").post(
        "/api/v1/webhooks/endpoints", json={"url": receiver.url, "event_types": ["*"]}
    )
    api = make_token(ZZ, "pickup_points.view", "pickup_points.manage")
    api.post("/api/v1/pickup_points/points/import", json=[POINT])
    point = api.get("/api/v1/pickup_points/points").get_json()["items"][0]
    r = api.post(f"/api/v1/pickup_points/points/{point['id']}/status", json={"status": "nope"})
    assert r.status_code == 422
    assert count_rows(po_app, WebhookEvent) == 0 and receiver.received == []
