"""Alarm life cycle through the scheduler (issue 20 §1), with the network clock frozen.

Jinshui's DS01 reports ``idle`` at 09:50 and then nothing. The city (Zhengzhou) has a rule for
``silent``: 5 minutes, severity critical, escalate to the duty manager after 15 minutes
unacknowledged. Every tick is one pass of ``postalops scheduler`` at the frozen minute; the
sorter's alerts and escalation jobs it fires run on the test's workers.

    10:00  tick: silent since 09:50 (≥ 5 min) → raised, escalation due 10:00 + 15 = 10:15
    10:14  tick: 14 min unacknowledged → still open
    10:15  tick: 15 min → escalated to the second contact (sorter.alert.escalated)

Snoozed instead (second test): snoozed at 10:05 for 30 min → 10:15 nothing (snoozed);
10:35 tick: awake, due again 10:35 + 15 = 10:50; 10:49 open; 10:50 escalated.
"""

import datetime as dt

import pytest
from postalops import context
from postalops.jobs import wait_for
from postalops.testing import jobs_of, scheduler_tick, system_context
from postalops_sorter.models import Alert
from sqlmodel import select

JINSHUI = "cn.henan.zhengzhou.jinshui"
ZZ = "cn.henan.zhengzhou"
SH = dt.timezone(dt.timedelta(hours=8))
DAY = (dt.datetime.now(SH) - dt.timedelta(days=2)).date()
CONTACT = "郑州市分公司值班长 138-0000-0000"


def at(hh, mm):
    return dt.datetime(DAY.year, DAY.month, DAY.day, hh, mm, tzinfo=SH)


@pytest.fixture
def tick(po_app, frozen_today, workers):
    """``tick(10, 15)``: freeze the clock at that local minute, fire the due schedules, wait
    for the sorter's alert and escalation jobs to finish."""
    db = po_app.extensions["postalops.db"]

    def run(hh, mm):
        frozen_today.set(at(hh, mm))
        fired = scheduler_tick(po_app, at(hh, mm))
        assert {"sorter.alerts", "sorter.escalation"} <= set(fired)
        for kind in ("sorter.alerts", "sorter.escalation"):
            for job in jobs_of(po_app, kind):
                done = wait_for(db, job.id, timeout=30)
                assert done.status == "succeeded", done.error
        return fired

    return run


def the_alert(po_app):
    with context.activate(system_context(po_app)) as ctx:
        (a,) = ctx.session.exec(select(Alert)).all()
        ctx.session.expunge(a)
        return a


def events(po_app):
    from postalops.models import WebhookEvent

    with context.activate(system_context(po_app)) as ctx:
        return [
            e.event_type
            for e in ctx.session.exec(select(WebhookEvent).order_by(WebhookEvent.id)).all()
            if e.event_type.startswith("sorter.")
        ]


@pytest.fixture
def silent_machine(make_device, tel, token_for):
    ops = token_for("ops", ZZ)
    r = ops.put(
        "/api/v1/sorter/alarm-rules",
        json=[
            {
                "kind": "silent",
                "severity": "critical",
                "minutes": 5,
                "escalate_after_minutes": 15,
                "escalate_to": CONTACT,
            }
        ],
    )
    assert r.status_code == 200, r.get_json()
    device_id, client = make_device(JINSHUI, "DS01", low_minutes=30)
    tel.post(client, device_id, [tel.state(0, tel.at(9, 50, day=DAY), "idle")])
    return device_id


def test_an_unacknowledged_alarm_escalates_after_m_minutes(po_app, silent_machine, tick, token_for):
    tick(10, 0)
    a = the_alert(po_app)
    assert (a.kind, a.status, a.severity) == ("silent", "raised", "critical")
    assert a.escalate_due_at == at(10, 15) and a.escalate_to == CONTACT
    tick(10, 14)
    assert the_alert(po_app).status == "raised"
    tick(10, 15)
    a = the_alert(po_app)
    assert (a.status, a.escalated_at) == ("escalated", at(10, 15))
    tick(10, 16)  # idempotent: escalated once
    assert events(po_app) == ["sorter.alert.raised", "sorter.alert.escalated"]

    head = token_for("station_head", JINSHUI)
    assert head.post(f"/api/v1/sorter/alerts/{a.id}/acknowledge").status_code == 200
    r = head.post(f"/api/v1/sorter/alerts/{a.id}/comments", json={"text": "已派人到场"})
    assert r.status_code == 201
    assert head.post(f"/api/v1/sorter/alerts/{a.id}/resolve").status_code == 200
    assert head.post(f"/api/v1/sorter/alerts/{a.id}/snooze", json={"minutes": 5}).status_code == 409
    line = head.get(f"/api/v1/sorter/alerts/{a.id}/timeline").get_json()["timeline"]
    assert [(x["who"] == "system", x["action"]) for x in line] == [
        (True, "raised"),
        (True, "escalated"),
        (False, "acknowledged"),
        (False, "commented"),
        (False, "resolved"),
    ]
    assert line[1]["note"] == CONTACT and line[3]["note"] == "已派人到场"
    # the metrics: raised 10:00, acknowledged at the frozen 10:16 → 16.0 minutes to acknowledge
    m = (
        token_for("ops", "cn")
        .get(f"/api/v1/metrics?tenant={JINSHUI}&from={DAY}&to={DAY}&plugin=sorter")
        .get_json()["metrics"]["sorter"]
    )
    assert (m["alerts_raised"]["value"], m["alerts_escalated"]["value"]) == (1, 1)
    assert str(m["alert_ack_minutes"]["value"]) == "16.0"
    assert events(po_app) == [
        "sorter.alert.raised",
        "sorter.alert.escalated",
        "sorter.alert.acknowledged",
        "sorter.alert.resolved",
    ]


def test_a_snoozed_alarm_escalates_m_minutes_after_it_wakes(
    po_app, silent_machine, tick, token_for, frozen_today
):
    tick(10, 0)
    a = the_alert(po_app)
    head = token_for("station_head", JINSHUI)
    frozen_today.set(at(10, 5))
    r = head.post(f"/api/v1/sorter/alerts/{a.id}/snooze", json={"minutes": 30})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["status"] == "snoozed"
    tick(10, 15)
    assert the_alert(po_app).status == "snoozed"
    tick(10, 35)
    a = the_alert(po_app)
    assert (a.status, a.escalate_due_at) == ("raised", at(10, 50))
    tick(10, 49)
    assert the_alert(po_app).status == "raised"
    tick(10, 50)
    assert the_alert(po_app).status == "escalated"
    bad = head.post(f"/api/v1/sorter/alerts/{a.id}/snooze", json={"minutes": 0})
    assert bad.status_code == 422


def test_rules_are_per_unit_and_checked(token_for):
    ops = token_for("ops", ZZ)
    bad = ops.put(
        "/api/v1/sorter/alarm-rules",
        json=[
            {"kind": "oee_below_target", "threshold": "1.5"},
            {"kind": "silent", "escalate_after_minutes": 10},
        ],
    )
    assert bad.status_code == 422
    assert {(d["row"], d["field"]) for d in bad.get_json()["error"]["details"]} == {
        (0, "threshold"),
        (1, "escalate_to"),
    }
    assert ops.get("/api/v1/sorter/alarm-rules").get_json()["rules"] == []
    ok = ops.put(
        "/api/v1/sorter/alarm-rules",
        json=[{"kind": "oee_below_target", "threshold": "0.55", "severity": "info"}],
    )
    assert ok.status_code == 200
    # the station below sees the city's rule in force
    eff = token_for("station_head", JINSHUI).get("/api/v1/sorter/alarm-rules").get_json()
    (rule,) = [r for r in eff["effective"] if r["kind"] == "oee_below_target"]
    assert (rule["enabled"], rule["severity"], str(rule["threshold"])) == (True, "info", "0.5500")
    assert (
        token_for("station_head", JINSHUI)
        .put("/api/v1/sorter/alarm-rules", json=[{"kind": "silent"}])
        .status_code
        == 403
    )


def test_a_shift_under_its_oee_target_raises_once(po_app, make_device, tel, tick, token_for):
    """Shift 1 08:00-09:00; DS01 (3,600 items/h) runs 08:00-08:30 sorting 30 items, then idles.
    A = 30 / 60 = 0.5; P = 30 / (3,600 × 0.5) = 30 / 1,800; Q = 1 → OEE = 0.5 × 30/1,800 =
    0.008333 → 0.0083 < target 0.5. Checked at the 09:10 tick (the shift ended ≥ 5 min ago)."""
    station = token_for("ops", JINSHUI)
    station.put(
        "/api/v1/sorter/calendar/shifts", json=[{"number": 1, "start": "08:00", "end": "09:00"}]
    )
    r = station.put(
        "/api/v1/sorter/alarm-rules",
        json=[
            {"kind": "oee_below_target", "threshold": "0.5"},
            {"kind": "silent", "enabled": False},
        ],
    )
    assert r.status_code == 200
    device_id, client = make_device(JINSHUI, "DS01", rated=3600, low_minutes=30)
    events = [tel.state(0, tel.at(8, 0, day=DAY), "running")]
    events += [tel.item(k, tel.at(8, k - 1, 30, day=DAY)) for k in range(1, 31)]
    events += [tel.state(31, tel.at(8, 30, day=DAY), "idle"), tel.beat(32, tel.at(9, 0, day=DAY))]
    tel.post(client, device_id, events)
    tel.rollup()
    tick(9, 10)
    tick(9, 11)
    with context.activate(system_context(po_app)) as ctx:
        got = [(a.kind, a.subject, a.message) for a in ctx.session.exec(select(Alert)).all()]
    assert got == [
        (
            "oee_below_target",
            f"{DAY.isoformat()}#1",
            f"shift 1 of {DAY.isoformat()}: OEE 0.0083 under target 0.5000",
        )
    ]
