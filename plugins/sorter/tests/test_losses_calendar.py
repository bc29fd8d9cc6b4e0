"""Issue 20 §1, hand-computed: the loss Pareto (device, station, city, province) after a
station head corrects stop reasons, availability and OEE under a production calendar, and MTBF /
MTTR per device — all through HTTP with real tokens, on the backend the suite runs on.

The Jinshui machine DS01 (rated 3,600 items/h = 1 item/s) on DAY, local time:

    08:00 running   08:10 jammed   08:12 running   08:20 fault   08:30 running
    08:40 emergency_stop   08:43 running   09:00 heartbeat (last sign of life)
    items: 30 sorted + 6 rejected between 08:01 and 08:07

    running = 10 + 8 + 10 + 17 = 45 min = 2,700,000 ms
    stops: jam 2 min (08:10-08:12), fault 10 min (08:20-08:30), estop 3 min (08:40-08:43)
    reduced speed = 2,700,000 − 36 items × 3,600,000 / 3,600 = 2,700,000 − 36,000
                  = 2,664,000 ms = 44.4 min
    rejects (1 s each at the rated rate): at 08:01:50, 08:02:50, 08:03:50, 08:04:50 inside the
    startup window of the 08:00 start (08:00-08:05, five minutes) → startup rejects 4,000 ms =
    0.0667 → 0.1 min; at 08:05:50 and 08:06:50 → production rejects 2,000 ms = 0.0333 → 0.0 min
    (the restarts at 08:12, 08:30 and 08:43 saw no rejects)
    total = 2,664,000 + 600,000 + 180,000 + 120,000 + 4,000 + 2,000 = 3,570,000 ms
"""

import datetime as dt
from decimal import Decimal

JINSHUI = "cn.henan.zhengzhou.jinshui"
GULOU = "cn.henan.kaifeng.gulou"
# the day conftest's ``tel`` posts on: two local days ago (inside raw-event retention)
DAY = (dt.datetime.now(dt.timezone(dt.timedelta(hours=8))) - dt.timedelta(days=2)).date()

ZZ = "cn.henan.zhengzhou"


def ds01_day(tel):
    events = [tel.state(0, tel.at(8, 0), "running")]
    seq = 1
    for k in range(36):  # 08:01:00 .. 08:06:50, every 10 s; every sixth one rejected
        events.append(
            tel.item(
                seq, tel.at(8, 1 + k // 6, (k % 6) * 10), "rejected" if k % 6 == 5 else "sorted"
            )
        )
        seq += 1
    for hh, mm, value in (
        (8, 10, "jammed"),
        (8, 12, "running"),
        (8, 20, "fault"),
        (8, 30, "running"),
        (8, 40, "emergency_stop"),
        (8, 43, "running"),
    ):
        events.append(tel.state(seq, tel.at(hh, mm), value))
        seq += 1
    events.append(tel.beat(seq, tel.at(9, 0)))
    return events


def gulou_day(tel):
    """Kaifeng's machine: running 08:00, fault 08:05-08:10, running to 08:15, no items.
    reduced speed = 10 min running − 0 items = 10 min; the fault: 5 min."""
    return [
        tel.state(0, tel.at(8, 0), "running"),
        tel.state(1, tel.at(8, 5), "fault"),
        tel.state(2, tel.at(8, 10), "running"),
        tel.beat(3, tel.at(8, 15)),
    ]


def rows(body):
    return [(r["key"], r["loss"], Decimal(str(r["minutes"])), r["stops"]) for r in body["rows"]]


def shares(body):
    return [(Decimal(str(r["share"])), Decimal(str(r["cumulative"]))) for r in body["rows"]]


def period(frm, to=None):
    return f"from={frm.isoformat()}&to={(to or frm).isoformat()}"


def test_the_pareto_follows_a_station_heads_corrections(make_device, tel, token_for):
    ds01, client = make_device(JINSHUI, "DS01", rated=3600)
    kf, kf_client = make_device(GULOU, "KF01", rated=3600)
    assert tel.post(client, ds01, ds01_day(tel)).get_json()["accepted"] == 44
    tel.post(kf_client, kf, gulou_day(tel))
    tel.rollup()
    head = token_for("station_head", JINSHUI)
    q = period(DAY)

    stops = head.get(f"/api/v1/sorter/stops?{q}").get_json()["items"]
    by_state = {s["state"]: s for s in stops}
    assert sorted((s["state"], s["reason_code"], str(s["minutes"])) for s in stops) == [
        ("emergency_stop", "estop", "3.0"),
        ("fault", "fault", "10.0"),
        ("jammed", "jam", "2.0"),
    ]
    # the machine's own report first: fault and estop are breakdowns, the jam a small stop
    before = head.get(f"/api/v1/sorter/pareto?device_id={ds01}&{q}").get_json()
    assert rows(before) == [
        ("reduced_speed", "reduced_speed", Decimal("44.4"), 0),
        ("fault", "breakdown", Decimal("10.0"), 1),
        ("estop", "breakdown", Decimal("3.0"), 1),
        ("jam", "small_stops", Decimal("2.0"), 1),
        ("startup_rejects", "startup_rejects", Decimal("0.1"), 0),
        ("production_rejects", "production_rejects", Decimal("0.0"), 0),
    ]

    # the station head: the fault was a worn belt, the emergency stop a chute changeover
    r = head.patch(f"/api/v1/sorter/stops/{by_state['fault']['id']}", json={"reason_code": "belt"})
    assert r.status_code == 200 and r.get_json()["reason_by"]
    head.patch(
        f"/api/v1/sorter/stops/{by_state['emergency_stop']['id']}",
        json={"reason_code": "changeover"},
    )
    bad = head.patch(f"/api/v1/sorter/stops/{by_state['jammed']['id']}", json={"reason_code": "x"})
    assert (
        bad.status_code == 422 and bad.get_json()["error"]["details"][0]["field"] == "reason_code"
    )

    after = head.get(f"/api/v1/sorter/pareto?device_id={ds01}&{q}").get_json()
    assert rows(after) == [
        ("reduced_speed", "reduced_speed", Decimal("44.4"), 0),
        ("belt", "breakdown", Decimal("10.0"), 1),
        ("changeover", "setup", Decimal("3.0"), 1),
        ("jam", "small_stops", Decimal("2.0"), 1),
        ("startup_rejects", "startup_rejects", Decimal("0.1"), 0),
        ("production_rejects", "production_rejects", Decimal("0.0"), 0),
    ]
    # share = ms / 3,570,000; cumulative adds them up
    # 2,664,000 / 3,570,000 = 0.74622 ; 600,000 / 3,570,000 = 0.16807 (cum 3,264,000 = 0.91429)
    # 180,000 / .. = 0.05042 (cum 3,444,000 = 0.96471); 120,000 / .. = 0.03361 (cum 0.99832)
    # 4,000 / .. = 0.00112 (cum 3,568,000 = 0.99944); 2,000 / .. = 0.00056 (cum 1)
    assert shares(after) == [
        (Decimal("0.7462"), Decimal("0.7462")),
        (Decimal("0.1681"), Decimal("0.9143")),
        (Decimal("0.0504"), Decimal("0.9647")),
        (Decimal("0.0336"), Decimal("0.9983")),
        (Decimal("0.0011"), Decimal("0.9994")),
        (Decimal("0.0006"), Decimal("1.0000")),
    ]
    assert {k: str(v) for k, v in after["by_loss"].items()} == {
        "breakdown": "10.0",
        "setup": "3.0",
        "small_stops": "2.0",
        "reduced_speed": "44.4",
        "startup_rejects": "0.1",
        "production_rejects": "0.0",
    }
    # station and city: the same machine only
    station = head.get(f"/api/v1/sorter/pareto?{q}").get_json()
    assert rows(station) == rows(after)
    city = token_for("ops", ZZ).get(f"/api/v1/sorter/pareto?tenant={ZZ}&{q}").get_json()
    assert rows(city) == rows(after)
    # the province adds Kaifeng: reduced speed 44.4 + 10 = 54.4, its fault 5 min
    prov = token_for("ops", "cn.henan").get(f"/api/v1/sorter/pareto?tenant=cn.henan&{q}")
    assert rows(prov.get_json()) == [
        ("reduced_speed", "reduced_speed", Decimal("54.4"), 0),
        ("belt", "breakdown", Decimal("10.0"), 1),
        ("fault", "breakdown", Decimal("5.0"), 1),
        ("changeover", "setup", Decimal("3.0"), 1),
        ("jam", "small_stops", Decimal("2.0"), 1),
        ("startup_rejects", "startup_rejects", Decimal("0.1"), 0),
        ("production_rejects", "production_rejects", Decimal("0.0"), 0),
    ]
    # a recompute of the day (shifts changed: every day is rolled up again) keeps the reasons
    ops = token_for("ops", JINSHUI)
    put = ops.put(
        "/api/v1/sorter/calendar/shifts",
        json=[{"number": 1, "name": "早班", "start": "07:00", "end": "15:00"}],
    )
    assert put.status_code == 200 and put.get_json()["recompute"]["device_days"] == 1
    tel.rollup()
    again = head.get(f"/api/v1/sorter/pareto?device_id={ds01}&{q}").get_json()
    assert rows(again) == rows(after)
    # the metrics contract carries the six losses (province)
    m = (
        token_for("ops", "cn.henan")
        .get(f"/api/v1/metrics?tenant=cn.henan&{q}&plugin=sorter")
        .get_json()["metrics"]["sorter"]
    )
    got = {k: str(m[k]["value"]) for k in m if k.startswith("loss_")}
    assert got == {
        "loss_breakdown_minutes": "15.0",
        "loss_setup_minutes": "3.0",
        "loss_small_stops_minutes": "2.0",
        "loss_reduced_speed_minutes": "54.4",
        "loss_startup_rejects_minutes": "0.1",
        "loss_production_rejects_minutes": "0.0",
    }
    assert (m["stops"]["value"], str(m["downtime_minutes"]["value"])) == (4, "20.0")


def test_a_viewer_cannot_correct_a_reason_and_another_city_cannot_see_the_stop(
    make_device, tel, token_for
):
    ds01, client = make_device(JINSHUI, "DS01", rated=3600)
    tel.post(client, ds01, ds01_day(tel))
    tel.rollup()
    head = token_for("station_head", JINSHUI)
    stop = head.get(f"/api/v1/sorter/stops?{period(DAY)}").get_json()["items"][0]
    viewer = token_for("viewer", JINSHUI)
    assert (
        viewer.patch(f"/api/v1/sorter/stops/{stop['id']}", json={"reason_code": "belt"}).status_code
        == 403
    )
    kaifeng = token_for("station_head", GULOU)
    r = kaifeng.patch(f"/api/v1/sorter/stops/{stop['id']}", json={"reason_code": "belt"})
    assert r.status_code == 404


def test_availability_under_the_calendar_counts_a_silent_planned_shift_as_down(
    make_device, tel, token_for
):
    """Shift 1 08:00-12:00 every day; DAY−1 a holiday; planned maintenance 11:00-11:30 on DAY.

    DAY−2: the machine sent nothing: planned 240 min, running 0 (down, not missing)
    DAY−1: holiday: planned 0
    DAY:   planned 240 − 30 = 210 min, running 45 min (08:00-09:00 less 15 min of stops)
    planned production = 240 + 210 = 450 min = 7.50 h; availability = 45 / 450 = 0.1000
    (the rollups' own availability for DAY is 45 / 60 known minutes = 0.75)

    OEE of DAY's shift: A = 45/210 = 0.2143; P = 36 items / (3,600/h × 0.75 h) = 36/2,700 =
    0.0133; Q = 30/36 = 0.8333; OEE = 45/210 × 36/2,700 × 30/36 = 1,350/567,000 = 0.0024.
    Over the three days: OEE = 0.1 × 36/2,700 × 30/36 = 0.1 × 30/2,700 = 0.0011.
    DAY−2's shift: availability 0, OEE 0.
    """
    ops = token_for("ops", JINSHUI)
    r = ops.put(
        "/api/v1/sorter/calendar/shifts",
        json=[{"number": 1, "name": "白班", "start": "08:00", "end": "12:00"}],
    )
    assert r.status_code == 200, r.get_json()
    holiday = DAY - dt.timedelta(days=1)
    assert (
        ops.post(
            "/api/v1/sorter/calendar/entries", json={"kind": "holiday", "day": holiday.isoformat()}
        ).status_code
        == 201
    )
    assert (
        ops.post(
            "/api/v1/sorter/calendar/entries",
            json={"kind": "maintenance", "starts_at": tel.at(11, 0), "ends_at": tel.at(11, 30)},
        ).status_code
        == 201
    )
    bad = ops.post(
        "/api/v1/sorter/calendar/entries",
        json={"kind": "maintenance", "starts_at": tel.at(11, 0), "ends_at": tel.at(10, 0)},
    )
    assert bad.status_code == 422 and bad.get_json()["error"]["details"][0]["field"] == "ends_at"

    ds01, client = make_device(JINSHUI, "DS01", rated=3600)
    tel.post(client, ds01, ds01_day(tel))
    tel.rollup()
    frm = DAY - dt.timedelta(days=2)
    body = ops.get(f"/api/v1/sorter/shifts/oee?{period(frm, DAY)}").get_json()
    got = [
        (
            r["day"],
            r["shift"],
            str(r["planned_minutes"]),
            str(r["running_minutes"]),
            str(r["availability"]),
            str(r["oee"]),
        )
        for r in body["rows"]
    ]
    assert got == [
        (frm.isoformat(), 1, "240.00", "0.00", "0.0000", "0.0000"),
        (DAY.isoformat(), 1, "210.00", "45.00", "0.2143", "0.0024"),
    ]
    day_row = body["rows"][1]
    assert (str(day_row["performance"]), str(day_row["quality"])) == ("0.0133", "0.8333")
    total = body["total"]
    assert (str(total["planned_minutes"]), str(total["availability"]), str(total["oee"])) == (
        "450.00",
        "0.1000",
        "0.0011",
    )
    m = (
        token_for("ops", "cn")
        .get(f"/api/v1/metrics?tenant={JINSHUI}&{period(frm, DAY)}&plugin=sorter")
        .get_json()["metrics"]["sorter"]
    )
    assert str(m["planned_production_hours"]["value"]) == "7.50"
    assert str(m["calendar_availability"]["value"]) == "0.1000"
    assert str(m["shift_oee"]["value"]) == "0.0011"
    assert str(m["availability"]["value"]) == "0.7500"  # the timeline's own, unchanged


def test_shifts_are_checked_and_nothing_half_written(make_device, token_for):
    ops = token_for("ops", JINSHUI)
    r = ops.put(
        "/api/v1/sorter/calendar/shifts",
        json=[
            {"number": 1, "start": "08:00", "end": "12:00"},
            # an end equal to the start: 0 or 24 hours (an earlier end is a night shift)
            {"number": 2, "start": "11:00", "end": "11:00", "weekdays": "189"},
        ],
    )
    assert r.status_code == 422
    fields = {(d["row"], d["field"]) for d in r.get_json()["error"]["details"]}
    assert {(1, "end"), (1, "weekdays")} <= fields
    assert ops.get("/api/v1/sorter/calendar").get_json()["shifts"] == []


def test_mtbf_and_mttr_per_device_and_the_maintenance_log(make_device, tel, token_for):
    """DS01: failures = entries into jammed or fault = 2 (the emergency stop is not one);
    running 45 min → MTBF = 45 / 2 = 22.5 min; repair = jammed 2 + fault 10 = 12 min →
    MTTR = 12 / 2 = 6.0 min. KF01: 1 failure, running 10 min → MTBF 10.0, MTTR 5.0."""
    ds01, client = make_device(JINSHUI, "DS01", rated=3600)
    kf, kf_client = make_device(GULOU, "KF01", rated=3600)
    tel.post(client, ds01, ds01_day(tel))
    tel.post(kf_client, kf, gulou_day(tel))
    tel.rollup()
    ops = token_for("ops", "cn.henan")
    body = ops.get(f"/api/v1/sorter/reliability?{period(DAY)}").get_json()
    got = {
        r["device"]: (r["failures"], str(r["mtbf_minutes"]), str(r["mttr_minutes"]))
        for r in body["rows"]
    }
    assert got == {"DS01": (2, "22.5", "6.0"), "KF01": (1, "10.0", "5.0")}

    head = token_for("station_head", JINSHUI)
    fault = [
        s
        for s in head.get(f"/api/v1/sorter/stops?{period(DAY)}").get_json()["items"]
        if s["state"] == "fault"
    ][0]
    entry = {
        "device_id": ds01,
        "kind": "corrective",
        "started_at": tel.at(8, 20),
        "duration_minutes": 10,
        "parts": "皮带 ×1",
        "note": "换皮带",
        "stop_ids": [fault["id"]],
    }
    r = head.post("/api/v1/sorter/maintenance", json=entry)
    assert r.status_code == 201, r.get_json()
    log_id = r.get_json()["id"]
    linked = head.get(f"/api/v1/sorter/stops?{period(DAY)}").get_json()["items"]
    assert {s["id"]: s["maintenance_id"] for s in linked}[fault["id"]] == log_id
    # a stop of another device cannot be explained by this entry; nothing is written
    other = token_for("ops", GULOU).get(f"/api/v1/sorter/stops?{period(DAY)}").get_json()
    bad = token_for("ops", "cn.henan").post(
        "/api/v1/sorter/maintenance", json=entry | {"stop_ids": [other["items"][0]["id"]]}
    )
    assert (
        bad.status_code == 422 and bad.get_json()["error"]["details"][0]["field"] == "stop_ids[0]"
    )
    assert len(head.get(f"/api/v1/sorter/maintenance?{period(DAY)}").get_json()["items"]) == 1
    rel = ops.get(f"/api/v1/sorter/reliability?{period(DAY)}").get_json()["rows"]
    assert {r["device"]: r["maintenance_minutes"] for r in rel} == {"DS01": 10, "KF01": 0}
