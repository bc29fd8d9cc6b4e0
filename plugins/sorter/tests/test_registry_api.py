"""Device registry, waves, departure log and jobs through the API: bulk imports report per row,
bad input is a 4xx naming the field or row, and nothing is half-written."""

import datetime as dt

from postalops.testing import count_rows
from postalops_sorter.models import Departure, Device, Rollup

JINSHUI = "cn.henan.zhengzhou.jinshui"

CSV = (
    "unit,code,name,model,chutes,commissioned_on,rated_per_hour\n"
    f"{JINSHUI},DS01,一号机,YP-DS24,24,2020-06-01,3500\n"
    f"{JINSHUI},DS02,二号机,YP-DS24,24,2020-07-01,3500\n"
)


def ops(make_token, unit="cn.henan.zhengzhou"):
    return make_token(unit, "sorter.manage", "sorter.view", "sorter.operate")


def test_csv_import_creates_then_updates_row_by_row(po_app, stations, make_token):
    client = ops(make_token)
    first = client.post("/api/v1/sorter/devices", data=CSV.encode(), content_type="text/csv")
    assert first.status_code == 200, first.get_json()
    assert first.get_json()["summary"] == {"created": 2}
    again = client.post(
        "/api/v1/sorter/devices",
        data=CSV.replace("3500\n", "3300\n", 1).encode(),
        content_type="text/csv",
    )
    assert again.get_json()["summary"] == {"updated": 2}
    assert [r["row"] for r in again.get_json()["rows"]] == [2, 3]  # spreadsheet rows, header = 1
    assert count_rows(po_app, Device) == 2


def test_one_bad_row_rejects_the_whole_import_naming_each_row(po_app, stations, make_token):
    """Every row's every error in one pass: row 4's shape errors, row 5's scope error, and row
    6's shape error together with its unknown unit."""
    client = ops(make_token)
    bad = (
        CSV
        + f"{JINSHUI},DS03,,YP,0,2020-13-01,3500\n"
        + "cn.henan.kaifeng.gulou,DS04,,YP,24,2020-06-01,3500\n"
        + "cn.nowhere,DS05,,YP,24,2020-06-01,-1\n"
    )
    resp = client.post("/api/v1/sorter/devices", data=bad.encode(), content_type="text/csv")
    assert resp.status_code == 422
    details = resp.get_json()["error"]["details"]
    assert [d["row"] for d in details] == [4, 5, 6]
    assert {e["field"] for e in details[0]["errors"]} == {"chutes", "commissioned_on"}
    assert [(e["field"], e["message"]) for e in details[1]["errors"]] == [
        ("unit", "outside your scope")
    ]
    assert {(e["field"]) for e in details[2]["errors"]} == {"rated_per_hour", "unit"}
    assert count_rows(po_app, Device) == 0
    # a row that parses but points outside the caller's city
    resp = client.post(
        "/api/v1/sorter/devices",
        json=[
            {
                "unit": "cn.henan.kaifeng.gulou",
                "code": "X",
                "model": "YP",
                "chutes": 24,
                "commissioned_on": "2020-06-01",
                "rated_per_hour": 3500,
            }
        ],
    )
    assert resp.status_code == 422
    assert resp.get_json()["error"]["details"] == [
        {"row": 0, "errors": [{"field": "unit", "message": "outside your scope"}]}
    ]
    assert count_rows(po_app, Device) == 0


def test_issuing_a_token_binds_it_to_the_device_and_revokes_the_old_one(
    po_app, stations, make_token
):
    client = ops(make_token)
    client.post("/api/v1/sorter/devices", data=CSV.encode(), content_type="text/csv")
    device_id = client.get("/api/v1/sorter/devices").get_json()["items"][0]["id"]
    first = client.post(f"/api/v1/sorter/devices/{device_id}/token").get_json()["token"]
    second = client.post(f"/api/v1/sorter/devices/{device_id}/token").get_json()["token"]
    day = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).isoformat()
    event = [{"seq": 1, "ts": day, "type": "heartbeat"}]
    old = po_app.test_client().post(
        f"/api/v1/sorter/devices/{device_id}/events",
        json=event,
        headers={"Authorization": f"Bearer {first}"},
    )
    assert old.status_code == 401
    new = po_app.test_client().post(
        f"/api/v1/sorter/devices/{device_id}/events",
        json=event,
        headers={"Authorization": f"Bearer {second}"},
    )
    assert new.status_code == 200 and new.get_json()["accepted"] == 1


def test_patch_rejects_bad_thresholds_and_changes_nothing(po_app, make_device, make_token):
    device_id, _ = make_device()
    client = ops(make_token)
    resp = client.patch(
        f"/api/v1/sorter/devices/{device_id}", json={"low_minutes": 0, "rated_per_hour": 3000}
    )
    assert resp.status_code == 422
    assert resp.get_json()["error"]["details"][0]["field"] == "low_minutes"
    assert client.get(f"/api/v1/sorter/devices/{device_id}").get_json()["rated_per_hour"] == 3600


def test_waves_are_replaced_whole_and_overlaps_are_named(po_app, stations, make_token):
    client = ops(make_token, JINSHUI)
    good = [
        {"number": 1, "start": "06:30", "end": "09:30"},
        {"number": 2, "start": "11:00", "end": "13:00"},
    ]
    assert client.put("/api/v1/sorter/waves", json=good).status_code == 200
    bad = [
        {"number": 1, "start": "06:30", "end": "09:30"},
        {"number": 2, "start": "09:00", "end": "13:00"},
    ]
    resp = client.put("/api/v1/sorter/waves", json=bad)
    assert resp.status_code == 422
    assert resp.get_json()["error"]["details"] == [
        {"row": 1, "field": "start", "message": "overlaps wave 1"}
    ]
    assert [w["end"] for w in client.get("/api/v1/sorter/waves").get_json()["waves"]] == [
        "09:30:00",
        "13:00:00",
    ]


def test_waves_need_a_station(stations, make_token):
    resp = ops(make_token).put(
        "/api/v1/sorter/waves", json=[{"number": 1, "start": "06:30", "end": "09:30"}]
    )
    assert resp.status_code == 422 and resp.get_json()["error"]["code"] == "not_a_station"


def test_departure_log_import_reports_per_row(po_app, stations, make_token):
    client = ops(make_token, JINSHUI)
    rows = [
        {"day": "2020-05-10", "wave": 1, "departed_at": "09:31"},
        {"day": "2020-05-11", "wave": 1, "departed_at": "09:29"},
    ]
    resp = client.post("/api/v1/sorter/departures", json=rows)
    assert resp.get_json()["summary"] == {"created": 2}
    bad = client.post(
        "/api/v1/sorter/departures",
        json=rows + [{"day": "2020-05-12", "wave": 0, "departed_at": "25:00"}],
    )
    assert bad.status_code == 422
    assert bad.get_json()["error"]["details"][0]["row"] == 2
    assert count_rows(po_app, Departure) == 2


def test_departure_advance_from_log_and_telemetry(po_app, make_device, make_token, tel):
    # log before commissioning: 09:20 and 09:40 -> baseline 09:30; the sorter's last item of
    # wave 1 is at 08:27:30 -> couriers left 62.5 minutes earlier
    device_id, client = make_device(commissioned=tel.day - dt.timedelta(days=30))
    before = tel.day - dt.timedelta(days=40)
    ops(make_token, JINSHUI).post(
        "/api/v1/sorter/departures",
        json=[
            {"day": str(before), "wave": 1, "departed_at": "09:20"},
            {"day": str(before + dt.timedelta(days=1)), "wave": 1, "departed_at": "09:40"},
        ],
    )
    tel.post(
        client,
        device_id,
        [
            tel.state(0, tel.at(8, 0), "running"),
            tel.item(1, tel.at(8, 27, 30)),
            tel.item(2, tel.at(8, 20)),
            tel.state(3, tel.at(8, 28), "planned_stop"),
        ],
    )
    tel.rollup()
    m = (
        make_token("cn.henan", "core.metrics.read")
        .get(f"/api/v1/metrics?tenant=cn.henan&from={tel.day}&to={tel.day}&plugin=sorter")
        .get_json()
    )
    assert m["metrics"]["sorter"]["departure_advance_minutes"]["value"] == "62.5"


def test_the_rollup_job_runs_through_the_workers(po_app, make_device, make_token, tel, workers):
    from postalops.jobs import wait_for

    device_id, client = make_device()
    tel.post(
        client,
        device_id,
        [
            tel.state(0, tel.at(8, 0), "running"),
            tel.item(1, tel.at(8, 1)),
            tel.state(2, tel.at(8, 2), "idle"),
        ],
    )
    resp = ops(make_token, "cn").post("/api/v1/sorter/jobs/rollup")
    assert resp.status_code == 202
    job = wait_for(po_app.extensions["postalops.db"], resp.get_json()["job_id"], timeout=30)
    assert job.status == "succeeded", job.error
    assert job.result["device_days"] == 1
    assert count_rows(po_app, Rollup) > 0
    assert ops(make_token, "cn").post("/api/v1/sorter/jobs/nonsense").status_code == 404


def test_changing_the_waves_recomputes_the_days_they_affect(
    po_app, make_device, make_token, tel, workers
):
    """Wave 1 first ends at 08:00, so the 08:27:30 item falls outside it and there is no
    departure; widening wave 1 to 10:00 must recompute that day (62.5 minutes earlier than the
    09:30 baseline) without waiting for a new event."""
    from postalops.jobs import wait_for

    device_id, client = make_device(commissioned=tel.day - dt.timedelta(days=30))
    manager = ops(make_token, JINSHUI)
    narrow = [{"number": 1, "start": "06:30", "end": "08:00"}]
    assert manager.put("/api/v1/sorter/waves", json=narrow).status_code == 200
    before = tel.day - dt.timedelta(days=40)
    manager.post(
        "/api/v1/sorter/departures",
        json=[
            {"day": str(before), "wave": 1, "departed_at": "09:20"},
            {"day": str(before + dt.timedelta(days=1)), "wave": 1, "departed_at": "09:40"},
        ],
    )
    tel.post(
        client,
        device_id,
        [
            tel.state(0, tel.at(8, 0), "running"),
            tel.item(1, tel.at(8, 27, 30)),
            tel.state(2, tel.at(8, 28), "planned_stop"),
        ],
    )
    tel.rollup()
    reader = make_token("cn.henan", "core.metrics.read")
    url = f"/api/v1/metrics?tenant=cn.henan&from={tel.day}&to={tel.day}&plugin=sorter"

    def advance():
        return reader.get(url).get_json()["metrics"]["sorter"]["departure_advance_minutes"]

    assert advance()["value"] is None
    wide = [{"number": 1, "start": "06:30", "end": "10:00"}]
    resp = manager.put("/api/v1/sorter/waves", json=wide)
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["recompute"]["device_days"] == 1
    job = wait_for(po_app.extensions["postalops.db"], body["recompute"]["job_id"], timeout=30)
    assert job.status == "succeeded", job.error
    assert advance()["value"] == "62.5"
    # narrowing again takes the departure away: the wave no longer holds a sorted item
    resp = manager.put("/api/v1/sorter/waves", json=narrow)
    wait_for(po_app.extensions["postalops.db"], resp.get_json()["recompute"]["job_id"], timeout=30)
    assert advance()["value"] is None
