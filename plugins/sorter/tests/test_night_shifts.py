"""Night shifts (issue 20 §1): a shift whose end is at or before its start runs into the next
day and belongs to the production day on which it starts. Hand-computed, through HTTP.

Jinshui has one shift, 夜班 22:00-06:00 every day. DS01 (rated 3,600 items/h) on DAY (two local
days ago) and the morning after (NEXT), local time:

    DAY 22:00 running; 60 items at 22:00:30, 22:01:30 .. 22:59:30 (every tenth rejected:
              6 rejected, 54 sorted)
    DAY 23:50 fault            (a stop spanning midnight: 20 min, cut at 00:00 into 10 + 10)
    NEXT 00:10 running
    NEXT 05:00 idle
    NEXT 06:30 heartbeat       (last sign of life)
    planned maintenance NEXT 05:30-06:30 (overlaps the shift by 30 min; the machine is idle)
    holiday on NEXT: it takes out the night shift that starts on NEXT, not DAY's

    DAY's night shift: window 22:00-06:00 = 480 min; planned = 480 - 30 = 450 min
    running = 22:00-23:50 (110) + 00:10-05:00 (290) = 400 min; inside maintenance: 0
    availability = 400 / 450 = 0.8889
    performance = 60 / (3,600/h x 400/60 h = 24,000) = 0.0025
    quality = 54 / 60 = 0.9000
    OEE = 8/9 x 1/400 x 9/10 = 72 / 36,000 = 0.0020
    planned production hours = 450 / 60 = 7.50
"""

import datetime as dt

import pytest
import sqlalchemy as sa
from postalops import context
from postalops.jobs import wait_for
from postalops.testing import jobs_of, scheduler_tick, system_context
from postalops_sorter.models import Alert
from sqlmodel import select

JINSHUI = "cn.henan.zhengzhou.jinshui"
SH = dt.timezone(dt.timedelta(hours=8))
DAY = (dt.datetime.now(SH) - dt.timedelta(days=2)).date()
NEXT = DAY + dt.timedelta(days=1)
NIGHT = {"number": 1, "name": "夜班", "start": "22:00", "end": "06:00"}


def evening(tel):
    events = [tel.state(0, tel.at(22, 0, day=DAY), "running")]
    for k in range(60):
        events.append(
            tel.item(1 + k, tel.at(22, k, 30, day=DAY), "rejected" if k % 10 == 9 else "sorted")
        )
    events.append(tel.state(61, tel.at(23, 50, day=DAY), "fault"))
    return events


def morning(tel):
    return [
        tel.state(62, tel.at(0, 10, day=NEXT), "running"),
        tel.state(63, tel.at(5, 0, day=NEXT), "idle"),
        tel.beat(64, tel.at(6, 30, day=NEXT)),
    ]


def shift_rows(body):
    return [
        (
            r["day"],
            r["shift"],
            str(r["planned_minutes"]),
            str(r["running_minutes"]),
            str(r["availability"]),
            str(r["performance"]),
            str(r["quality"]),
            str(r["oee"]),
        )
        for r in body["rows"]
    ]


def test_a_night_shift_runs_into_the_next_day_with_a_stop_across_midnight(
    make_device, tel, token_for
):
    ops = token_for("ops", JINSHUI)
    r = ops.put("/api/v1/sorter/calendar/shifts", json=[NIGHT])
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["shifts"] == [
        {
            "number": 1,
            "name": "夜班",
            "start": "22:00",
            "end": "06:00",
            "weekdays": "1234567",
            "overnight": True,
        }
    ]
    assert (
        ops.post(
            "/api/v1/sorter/calendar/entries",
            json={
                "kind": "maintenance",
                "starts_at": tel.at(5, 30, day=NEXT),
                "ends_at": tel.at(6, 30, day=NEXT),
            },
        ).status_code
        == 201
    )
    assert (
        ops.post(
            "/api/v1/sorter/calendar/entries", json={"kind": "holiday", "day": NEXT.isoformat()}
        ).status_code
        == 201
    )
    ds01, machine = make_device(JINSHUI, "DS01", rated=3600)
    q = f"from={DAY.isoformat()}&to={DAY.isoformat()}"

    # the evening arrives first: the shift so far (the fault lasts to the last sign of life)
    assert tel.post(machine, ds01, evening(tel)).get_json()["accepted"] == 62
    tel.rollup()
    early = ops.get(f"/api/v1/sorter/shifts/oee?{q}").get_json()
    # running 22:00-23:50 = 110 min of 450 planned; performance 60 / (3,600 x 110/60 = 6,600)
    assert shift_rows(early)[0][:5] == (DAY.isoformat(), 1, "450.00", "110.00", "0.2444")

    # the morning after folds into DAY's night shift (the rollup of NEXT redoes it)
    assert tel.post(machine, ds01, morning(tel)).get_json()["accepted"] == 3
    tel.rollup()
    body = ops.get(f"/api/v1/sorter/shifts/oee?{q}").get_json()
    assert shift_rows(body) == [
        (DAY.isoformat(), 1, "450.00", "400.00", "0.8889", "0.0025", "0.9000", "0.0020")
    ]
    assert (str(body["total"]["availability"]), str(body["total"]["oee"])) == ("0.8889", "0.0020")
    # the fault spanning midnight: two stops of 10 minutes, one on each local day
    stops = ops.get(
        f"/api/v1/sorter/stops?from={DAY.isoformat()}&to={NEXT.isoformat()}"
    ).get_json()["items"]
    assert sorted((s["day"], s["state"], str(s["minutes"])) for s in stops) == [
        (DAY.isoformat(), "fault", "10.0"),
        (NEXT.isoformat(), "fault", "10.0"),
    ]
    m = (
        token_for("ops", "cn")
        .get(f"/api/v1/metrics?tenant={JINSHUI}&{q}&plugin=sorter")
        .get_json()["metrics"]["sorter"]
    )
    assert str(m["planned_production_hours"]["value"]) == "7.50"
    assert str(m["calendar_availability"]["value"]) == "0.8889"
    assert str(m["shift_oee"]["value"]) == "0.0020"
    # NEXT is a holiday: its own night shift (NEXT 22:00 - NEXT+1 06:00) is not planned
    nq = f"from={NEXT.isoformat()}&to={NEXT.isoformat()}"
    assert ops.get(f"/api/v1/sorter/shifts/oee?{nq}").get_json()["rows"] == []


@pytest.mark.parametrize(
    ("shifts", "errors"),
    [
        # zero length (an end equal to the start would be 0 or 24 hours)
        ([{"number": 1, "start": "08:00", "end": "08:00"}], {(0, "end")}),
        # Friday's night shift runs to Saturday 06:00; Saturday's early shift starts at 05:00
        (
            [
                {"number": 1, "start": "22:00", "end": "06:00", "weekdays": "5"},
                {"number": 2, "start": "05:00", "end": "09:00", "weekdays": "6"},
            ],
            {(1, "start")},
        ),
        # every day: the night shift overlaps the next morning's 05:00 start
        (
            [
                {"number": 1, "start": "05:00", "end": "09:00"},
                {"number": 2, "start": "22:00", "end": "06:00"},
            ],
            {(0, "start")},
        ),
        # Sunday's night shift wraps into Monday
        (
            [
                {"number": 1, "start": "23:00", "end": "07:00", "weekdays": "7"},
                {"number": 2, "start": "06:30", "end": "12:00", "weekdays": "1"},
            ],
            {(1, "start")},
        ),
    ],
)
def test_bad_night_shifts_are_refused_naming_the_field(token_for, shifts, errors):
    ops = token_for("ops", JINSHUI)
    r = ops.put("/api/v1/sorter/calendar/shifts", json=shifts)
    assert r.status_code == 422, r.get_json()
    assert {(d["row"], d["field"]) for d in r.get_json()["error"]["details"]} == errors
    assert ops.get("/api/v1/sorter/calendar").get_json()["shifts"] == []


def test_a_night_shift_next_to_a_day_shift_on_other_weekdays_is_accepted(token_for):
    """Friday 22:00 - Saturday 06:00 and a Monday-to-Friday 05:00-09:00 do not meet."""
    ops = token_for("ops", JINSHUI)
    r = ops.put(
        "/api/v1/sorter/calendar/shifts",
        json=[
            {"number": 1, "start": "05:00", "end": "09:00", "weekdays": "12345"},
            {"number": 2, "start": "22:00", "end": "06:00", "weekdays": "5"},
        ],
    )
    assert r.status_code == 200, r.get_json()


def at(day, hh, mm):
    return dt.datetime(day.year, day.month, day.day, hh, mm, tzinfo=SH)


@pytest.fixture
def tick(po_app, frozen_today, workers):
    db = po_app.extensions["postalops.db"]

    def run(day, hh, mm):
        frozen_today.set(at(day, hh, mm))
        scheduler_tick(po_app, at(day, hh, mm))
        for job in jobs_of(po_app, "sorter.alerts"):
            done = wait_for(db, job.id, timeout=30)
            assert done.status == "succeeded", done.error

    return run


def alerts(po_app):
    with context.activate(system_context(po_app)) as ctx:
        return [(a.kind, a.subject, a.message) for a in ctx.session.exec(select(Alert)).all()]


def test_the_shift_oee_alarm_of_a_night_shift_is_checked_next_morning(
    po_app, make_device, tel, tick, token_for
):
    """DAY's night shift ends NEXT 06:00; the rule waits five minutes for late telemetry:
    06:04 nothing, 06:05 raised (subject DAY#1). OEE as above but without the maintenance
    window: A = 400/480, P = 0.0025, Q = 0.9 -> 5/6 x 1/400 x 9/10 = 45/24,000 = 0.001875 ->
    0.0019) under the target 0.5."""
    ops = token_for("ops", JINSHUI)
    ops.put("/api/v1/sorter/calendar/shifts", json=[NIGHT])
    r = ops.put(
        "/api/v1/sorter/alarm-rules",
        json=[
            {"kind": "oee_below_target", "threshold": "0.5"},
            {"kind": "silent", "enabled": False},
            {"kind": "low_throughput", "enabled": False},
        ],
    )
    assert r.status_code == 200, r.get_json()
    # commissioned on DAY: the night shift of the day before is no shift of this machine
    ds01, machine = make_device(JINSHUI, "DS01", rated=3600, commissioned=DAY)
    tel.post(machine, ds01, evening(tel) + morning(tel))
    tel.rollup()
    tick(DAY, 23, 30)  # mid-shift
    tick(NEXT, 6, 4)
    assert alerts(po_app) == []
    tick(NEXT, 6, 5)
    assert alerts(po_app) == [
        (
            "oee_below_target",
            f"{DAY.isoformat()}#1",
            f"shift 1 of {DAY.isoformat()}: OEE 0.0019 under target 0.5000",
        )
    ]


def test_the_calendar_page_shows_a_night_shift_into_the_next_day(
    make_user, login, make_device, tel, token_for
):
    ops = token_for("ops", JINSHUI)
    ops.put("/api/v1/sorter/calendar/shifts", json=[NIGHT])
    ds01, machine = make_device(JINSHUI, "DS01", rated=3600)
    tel.post(machine, ds01, evening(tel) + morning(tel))
    tel.rollup()
    from postalops.testing import page_text

    client = login(make_user("ops1", JINSHUI, "ops"))
    q = f"from={DAY.isoformat()}&to={DAY.isoformat()}"
    html = client.get(f"/p/sorter/calendar?{q}").get_data(as_text=True)
    text = page_text(html)
    assert "22:00–次日06:00" in text
    assert "夜班 22:00–次日06:00" in text  # the OEE per shift table names the shift and window
    # the shift form posts a night shift from the page too (end before start)
    form = {
        "csrf_token": client.csrf,
        "action": "shifts",
        "name1": "夜班",
        "start1": "21:00",
        "end1": "05:00",
    }
    form |= {f"wd1_{d}": "1" for d in "1234567"}
    assert client.post("/p/sorter/calendar", data=form).status_code == 302
    assert ops.get("/api/v1/sorter/calendar").get_json()["shifts"][0]["end"] == "05:00"
    client.post("/lang", data={"csrf_token": client.csrf, "lang": "en"})
    en = page_text(client.get(f"/p/sorter/calendar?{q}").get_data(as_text=True))
    assert "21:00–05:00 next day" in en


def test_a_night_shift_past_retention_keeps_its_bucket(po_app, make_device, tel, token_for):
    """DAY's evening events purged (retention), then a late heartbeat on NEXT: NEXT is rolled up
    again, but DAY's night shift, past the retention horizon, keeps its 400 running minutes
    (re-read from what is left it would show 00:10-05:00 = 290)."""
    from postalops.testing import system_context
    from postalops_sorter.models import Event
    from postalops_sorter.recompute import recompute_dirty

    ops = token_for("ops", JINSHUI)
    ops.put("/api/v1/sorter/calendar/shifts", json=[NIGHT])
    ds01, machine = make_device(JINSHUI, "DS01", rated=3600)
    tel.post(machine, ds01, evening(tel) + morning(tel))
    tel.rollup()
    q = f"from={DAY.isoformat()}&to={DAY.isoformat()}"
    assert shift_rows(ops.get(f"/api/v1/sorter/shifts/oee?{q}").get_json())[0][3] == "400.00"
    midnight = dt.datetime(NEXT.year, NEXT.month, NEXT.day, tzinfo=SH)
    with context.activate(system_context(po_app)) as ctx:
        ctx.session.exec(sa.delete(Event).where(Event.at < midnight))
        ctx.session.commit()
    tel.post(machine, ds01, [tel.beat(65, tel.at(6, 40, day=NEXT))])
    # retention of one day at NEXT+1 12:00: the horizon is NEXT 12:00, so NEXT is the first
    # day kept and DAY is past it
    now = midnight + dt.timedelta(days=1, hours=12)
    with context.activate(system_context(po_app)) as ctx:
        assert recompute_dirty(ctx.session, now=now, retention_days=1)["device_days"] == 1
        ctx.session.commit()
    assert shift_rows(ops.get(f"/api/v1/sorter/shifts/oee?{q}").get_json())[0][3] == "400.00"
