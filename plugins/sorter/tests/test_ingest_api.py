"""Telemetry through the HTTP API: each machine posts only its own events, a replay stores
nothing twice, a malformed event rejects only itself, and late events fold into rollups."""

from postalops.testing import count_rows
from postalops_sorter.models import Event, Rollup

GULOU = "cn.henan.kaifeng.gulou"


def batch(tel):
    """Wave 1 of a small morning: running 08:00, 3 items, a jam 08:01-08:03, 1 item, idle 08:05."""
    return [
        tel.state(1, tel.at(8, 0), "running"),
        tel.item(2, tel.at(8, 0, 10)),
        tel.item(3, tel.at(8, 0, 20), "rejected", chute=0),
        tel.item(4, tel.at(8, 0, 30)),
        tel.state(5, tel.at(8, 1), "jammed"),
        tel.state(6, tel.at(8, 3), "running"),
        tel.item(7, tel.at(8, 4)),
        tel.state(8, tel.at(8, 5), "idle"),
    ]


def test_a_machine_posts_its_batch(make_device, tel):
    device_id, client = make_device()
    resp = tel.post(client, device_id, batch(tel))
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json() == {"received": 8, "accepted": 8, "duplicates": 0, "rejected": []}


def test_device_a_token_cannot_post_for_device_b(po_app, make_device, tel):
    a, client_a = make_device(code="A")
    b, _ = make_device(code="B")
    resp = tel.post(client_a, b, batch(tel))
    assert resp.status_code == 403
    assert resp.get_json()["error"]["code"] == "wrong_device"
    assert count_rows(po_app, Event) == 0


def test_a_token_of_another_station_cannot_even_see_the_device(
    po_app, make_device, make_token, tel
):
    b, _ = make_device(code="B")
    # a token bound to device b but issued for another station's unit: scope hides the device
    stray = make_token(GULOU, "sorter.ingest", subject=f"sorter:{b}")
    assert tel.post(stray, b, batch(tel)).status_code == 404
    assert count_rows(po_app, Event) == 0


def test_a_user_token_without_device_binding_is_refused(make_device, make_token, tel):
    device_id, _ = make_device()
    ops = make_token("cn.henan.zhengzhou.jinshui", "sorter.ingest")
    assert tel.post(ops, device_id, batch(tel)).status_code == 403


def test_replaying_the_same_batch_stores_nothing_twice(po_app, make_device, tel):
    device_id, client = make_device()
    tel.post(client, device_id, batch(tel))
    again = tel.post(client, device_id, batch(tel), ndjson=True)
    assert again.get_json() == {"received": 8, "accepted": 0, "duplicates": 8, "rejected": []}
    assert count_rows(po_app, Event) == 8


def test_malformed_events_are_listed_and_the_rest_stored(po_app, make_device, tel):
    device_id, client = make_device()
    events = batch(tel)
    events[2] = {**events[2], "chute": 99}
    events[4] = {**events[4], "state": "exploded"}
    resp = tel.post(client, device_id, events)
    body = resp.get_json()
    assert resp.status_code == 200
    assert body["accepted"] == 6
    assert [(r["index"], r["field"]) for r in body["rejected"]] == [(2, "chute"), (4, "state")]
    assert count_rows(po_app, Event) == 6


def test_a_batch_of_only_bad_events_is_422_and_writes_nothing(po_app, make_device, tel):
    device_id, client = make_device()
    resp = tel.post(client, device_id, [{"seq": 1}, {"seq": "x", "type": "item"}])
    assert resp.status_code == 422
    assert [d["index"] for d in resp.get_json()["error"]["details"]] == [0, 1]
    assert count_rows(po_app, Event) == 0


def test_a_body_that_is_not_json_is_400(make_device):
    device_id, client = make_device()
    resp = client.post(
        f"/api/v1/sorter/devices/{device_id}/events", data="{nope", content_type="application/json"
    )
    assert resp.status_code == 400
    assert resp.get_json()["error"]["details"][0]["field"] == "body"


def test_out_of_order_and_late_events_fold_into_rollups_already_computed(po_app, make_device, tel):
    device_id, client = make_device()
    events = batch(tel)
    late = [events[3], events[6]]  # two items arrive after the rollup ran
    tel.post(client, device_id, list(reversed([e for e in events if e not in late])))
    tel.rollup()

    def day_row():
        from postalops import context
        from postalops.testing import system_context
        from sqlmodel import select

        with context.activate(system_context(po_app)) as ctx:
            return ctx.session.exec(select(Rollup).where(Rollup.grain == "day")).one()

    first = day_row()
    assert (first.sorted, first.rejected) == (1, 1)
    tel.post(client, device_id, late)
    tel.rollup()
    final = day_row()
    # running 08:00-08:01 and 08:03-08:05 = 3 min; jammed 2 min; 4 items, 3 sorted
    assert (final.sorted, final.rejected, final.jams) == (3, 1, 1)
    assert (final.running_ms, final.jammed_ms) == (180_000, 120_000)


def test_concurrent_overlapping_posts_of_one_machine_store_each_event_once(
    po_app, make_device, make_token, tel
):
    """Two posts of the same machine at once, sharing 200 sequence numbers: the per-device lock
    orders them, so the second skips what the first stored (no duplicate, no key violation)."""
    import threading

    device_id, first = make_device()
    second = make_token(
        "cn.henan.zhengzhou.jinshui", "sorter.ingest", subject=f"sorter:{device_id}"
    )
    events = [tel.beat(seq, tel.at(8, seq // 60, seq % 60)) for seq in range(1, 601)]
    barrier = threading.Barrier(2)
    replies = {}

    def post(name, client, part):
        barrier.wait()
        replies[name] = tel.post(client, device_id, part)

    threads = [
        threading.Thread(target=post, args=("a", first, events[:400])),
        threading.Thread(target=post, args=("b", second, events[200:])),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    bodies = [replies[k].get_json() for k in "ab"]
    assert [replies[k].status_code for k in "ab"] == [200, 200], bodies
    assert sum(b["accepted"] for b in bodies) == 600
    assert sum(b["duplicates"] for b in bodies) == 200
    assert count_rows(po_app, Event) == 600


def test_batches_of_two_machines_in_one_transaction_keep_their_own_events(po_app, make_device):
    """Several batches in one transaction (demo, imports) reuse the staging table: each batch
    stores exactly its own events under its own device."""
    import datetime as dt

    from postalops import context
    from postalops.testing import system_context
    from postalops_sorter.ingest import ingest
    from sqlalchemy import func
    from sqlmodel import select

    a, _ = make_device(code="A")
    b, _ = make_device(code="B")
    now = dt.datetime.now(dt.UTC)
    at = (now - dt.timedelta(hours=1)).isoformat()
    with context.activate(system_context(po_app)) as ctx:
        s = ctx.session
        for device_id, seqs in ((a, range(1, 4)), (b, range(10, 12)), (a, range(4, 6))):
            raw = [{"seq": n, "ts": at, "type": "heartbeat"} for n in seqs]
            report = ingest(
                s,
                device_id=device_id,
                tenant_code="cn.henan.zhengzhou.jinshui",
                chutes=24,
                raw_events=raw,
                now=now,
            )
            assert report.accepted == len(raw)
        s.commit()
        stored = s.exec(
            select(Event.device_id, func.count(), func.min(Event.seq), func.max(Event.seq))
            .group_by(Event.device_id)
            .order_by(Event.device_id)
        ).all()
    assert [tuple(r) for r in stored] == [(a, 5, 1, 5), (b, 2, 10, 11)]


def test_the_last_state_ends_at_the_last_sign_of_life_not_a_millisecond_later(
    po_app, make_device, make_token, tel
):
    """Running from 08:00 with a heartbeat at 08:05 and nothing after: exactly five minutes of
    running time (300,000 ms), all in minutes 08:00-08:04; the 08:05 minute holds none."""
    device_id, client = make_device()
    tel.post(client, device_id, [tel.state(0, tel.at(8, 0), "running"), tel.beat(1, tel.at(8, 5))])
    tel.rollup()
    viewer = make_token("cn.henan.zhengzhou.jinshui", "sorter.view")
    q = f"device_id={device_id}&from={tel.day}&to={tel.day}"
    day = viewer.get(f"/api/v1/sorter/rollups?grain=day&{q}").get_json()["items"]
    assert day[0]["totals"]["running_ms"] == 300_000
    minutes = viewer.get(f"/api/v1/sorter/rollups?grain=minute&{q}").get_json()["items"]
    assert [m["totals"]["running_ms"] for m in minutes if m["totals"]["running_ms"]] == [60_000] * 5
