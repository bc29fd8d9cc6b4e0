"""The plugin on the kernel: API, imports, isolation between cities, jobs, metrics, hooks.

Fixtures come from ``postalops.testing`` (tree: cn → cn.henan → zhengzhou (jinshui), kaifeng;
cn.hebei → shijiazhuang; every plugin enabled at cn).
"""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest
from postalops import clock
from postalops.jobs import wait_for
from postalops.testing import count_rows
from postalops_pickup_points import service
from postalops_pickup_points.area_import import validate_area_row, validate_point_row, validate_rows
from postalops_pickup_points.distance import offset
from postalops_pickup_points.metrics import kpis
from postalops_pickup_points.models import PickupArea, PickupItem, PickupPoint

SH = ZoneInfo("Asia/Shanghai")
ZZ, KF = "cn.henan.zhengzhou", "cn.henan.kaifeng"
ZZ_SEAT = (113.625, 34.746)
KF_SEAT = (114.307, 34.797)
ALL = (
    "pickup_points.view",
    "pickup_points.manage",
    "pickup_points.record",
    "pickup_points.direct",
    "pickup_points.configure",
    "core.metrics.read",
)

AREAS_CSV = """code,name,category,lon,lat,households,county
U1,金水花园,urban_community,{u1x},{u1y},100,{county}
U2,远郊小区,urban_community,{u2x},{u2y},300,{county}
V1,李庄村,village,{v1x},{v1y},60,{own}
"""
# Counties name the org tree: jinshui is a unit below Zhengzhou; V1 belongs to the city itself.
ZZ_COUNTIES = ("jinshui", "zhengzhou")
KF_COUNTIES = ("kaifeng", "kaifeng")


def areas_csv(seat=ZZ_SEAT, counties=ZZ_COUNTIES):
    u1 = offset(*seat, 0, 0)
    u2 = offset(*seat, 180, 5000)
    v1 = offset(*seat, 90, 20_000)
    return AREAS_CSV.format(
        u1x=u1[0],
        u1y=u1[1],
        u2x=u2[0],
        u2y=u2[1],
        v1x=v1[0],
        v1y=v1[1],
        county=counties[0],
        own=counties[1],
    ).encode()


def points_rows(seat=ZZ_SEAT, counties=ZZ_COUNTIES):
    p1 = offset(*seat, 90, 300)  # 300 m from U1: covers it (500 m urban radius)
    p2 = offset(*seat, 90, 21_000)  # 1 km from V1: covers it (2 km village radius)
    return [
        {"code": "P1", "name": "易邮驿站", "point_type": "own", "lon": p1[0], "lat": p1[1],
         "county": counties[0], "opened_on": "2022-06-01"},
        {"code": "P2", "name": "李庄邮乐购", "point_type": "village_station", "lon": p2[0],
         "lat": p2[1], "county": counties[1], "agent_fee": "0.30", "opened_on": "2022-06-01"},
    ]  # fmt: skip


def import_network(api, seat=ZZ_SEAT, counties=ZZ_COUNTIES):
    r = api.post(
        "/api/v1/pickup_points/areas/import",
        data=areas_csv(seat, counties),
        headers={"Content-Type": "text/csv"},
    )
    assert r.status_code == 200, r.get_json()
    r = api.post("/api/v1/pickup_points/points/import", json=points_rows(seat, counties))
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def test_area_import_names_each_bad_row_and_writes_nothing(po_app, make_token):
    api = make_token(ZZ, *ALL)
    bad = areas_csv().decode().replace("100,jinshui", "lots,jinshui").replace("village", "hamlet")
    r = api.post(
        "/api/v1/pickup_points/areas/import",
        data=bad.encode(),
        headers={"Content-Type": "text/csv"},
    )
    assert r.status_code == 422
    err = r.get_json()["error"]
    assert err["code"] == "invalid_rows"
    # Row 2 (first data row) has a bad household count; row 4 an unknown category.
    assert [(d["row"], [e["field"] for e in d["errors"]]) for d in err["details"]] == [
        (2, ["households"]),
        (4, ["category"]),
    ]
    assert count_rows(po_app, PickupArea) == 0


def test_area_import_reports_per_row_and_rows_belong_to_the_caller(po_app, make_token, as_unit):
    api = make_token(ZZ, *ALL)
    r = api.post(
        "/api/v1/pickup_points/areas/import",
        data=areas_csv(),
        headers={"Content-Type": "text/csv"},
    )
    body = r.get_json()
    assert body["summary"] == {"created": 3, "updated": 0}
    assert [row["status"] for row in body["rows"]] == ["created"] * 3
    # Re-sending the same file updates, never duplicates.
    again = api.post(
        "/api/v1/pickup_points/areas/import", data=areas_csv(), headers={"Content-Type": "text/csv"}
    ).get_json()
    assert again["summary"] == {"created": 0, "updated": 3}
    with as_unit(None) as s:
        assert {a.tenant_code for a in s.exec(__import__("sqlmodel").select(PickupArea)).all()} == {
            ZZ
        }


def test_geojson_import_through_multipart(make_token):
    api = make_token(ZZ, *ALL)
    doc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [113.6, 34.7]},
                "properties": {"code": "G1", "name": "郑大收发室", "category": "mailroom",
                               "households": 1, "county": "jinshui"},
            }
        ],
    }  # fmt: skip
    import io

    r = api.post(
        "/api/v1/pickup_points/areas/import",
        data={"file": (io.BytesIO(json.dumps(doc).encode()), "areas.geojson")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["summary"]["created"] == 1


def test_coverage_by_hand_through_the_api(make_token):
    # U1 (100 hh) covered by P1 at 300 m; U2 (300 hh) 5 km away uncovered -> 100/400 = 0.25.
    # V1 (60 hh) covered by P2 at 1 km -> 1.0. Mailrooms: none -> null.
    api = make_token(ZZ, *ALL)
    import_network(api)
    r = api.get("/api/v1/pickup_points/coverage?day=" + clock.today().isoformat())
    rows = {(i["unit"], i["category"]): i for i in r.get_json()["items"]}
    assert rows[(ZZ, "urban_community")]["rate"] == "0.2500"
    assert rows[(ZZ + ".jinshui", "urban_community")]["covered_households"] == 100
    assert rows[(ZZ, "village")]["rate"] == "1.0000"
    unc = api.get("/api/v1/pickup_points/coverage/uncovered?k=1").get_json()["items"]
    assert [(u["name"], u["nearest"][0]["code"]) for u in unc] == [("远郊小区", "P1")]


def test_isolation_between_cities(make_token):
    zz = make_token(ZZ, *ALL)
    kf = make_token(KF, *ALL)
    import_network(zz)
    import_network(kf, KF_SEAT, KF_COUNTIES)
    zz_points = zz.get("/api/v1/pickup_points/points").get_json()
    kf_points = kf.get("/api/v1/pickup_points/points").get_json()
    assert {p["tenant_code"] for p in zz_points["items"]} == {ZZ}
    assert {p["tenant_code"] for p in kf_points["items"]} == {KF}
    # Kaifeng can neither read nor change a Zhengzhou point, nor ask for Zhengzhou's figures.
    zz_id = zz_points["items"][0]["id"]
    r = kf.post(f"/api/v1/pickup_points/points/{zz_id}/status", json={"status": "closed"})
    assert r.status_code == 404
    assert kf.get(f"/api/v1/pickup_points/coverage?tenant={ZZ}").status_code == 403
    assert kf.get("/api/v1/pickup_points/points/P1/state").get_json()["tenant_code"] == KF
    # The province sees both cities.
    henan = make_token("cn.henan", *ALL)
    assert henan.get("/api/v1/pickup_points/points").get_json()["total"] == 4


def test_suspending_a_point_uncovers_its_area_and_is_audited(make_token, as_unit):
    api = make_token(ZZ, *ALL)
    import_network(api)
    p1 = next(
        p for p in api.get("/api/v1/pickup_points/points").get_json()["items"] if p["code"] == "P1"
    )
    today = clock.today()
    r = api.post(f"/api/v1/pickup_points/points/{p1['id']}/status", json={"status": "suspended"})
    assert r.status_code == 200 and r.get_json()["status"] == "suspended"
    rows = api.get("/api/v1/pickup_points/coverage").get_json()["items"]
    urban = next(i for i in rows if i["unit"] == ZZ and i["category"] == "urban_community")
    assert urban["covered_households"] == 0
    state = api.get(f"/api/v1/pickup_points/points/P1/state?day={today}").get_json()
    assert state["status"] == "suspended"
    bad = api.post(f"/api/v1/pickup_points/points/{p1['id']}/status", json={"status": "gone"})
    assert bad.status_code == 422 and bad.get_json()["error"]["details"][0]["field"] == "status"


def test_permissions_are_checked(make_token):
    viewer = make_token(ZZ, "pickup_points.view")
    r = viewer.post(
        "/api/v1/pickup_points/areas/import", data=areas_csv(), headers={"Content-Type": "text/csv"}
    )
    assert r.status_code == 403
    assert viewer.get("/api/v1/pickup_points/areas").status_code == 200


def test_items_with_bad_rows_are_refused_whole(po_app, make_token):
    api = make_token(ZZ, *ALL)
    import_network(api)
    rows = [
        {"point": "P1", "waybill": "A1", "arrived_at": "2022-09-05T09:00:00+08:00"},
        {"point": "P1", "waybill": "A2", "arrived_at": "2022-09-05T09:00:00"},  # no zone
        {"point": "NOPE", "waybill": "A3", "arrived_at": "2022-09-05T09:00:00+08:00"},
        {"point": "P1", "waybill": "A4", "arrived_at": "2022-09-05T09:00:00+08:00",
         "picked_up_at": "2022-09-04T09:00:00+08:00"},
    ]  # fmt: skip
    r = api.post("/api/v1/pickup_points/items", json=rows)
    assert r.status_code == 422
    # shape (rows 1 and 3) and reference (row 2) errors in one answer, each row once
    named = {(d["row"], e["field"]) for d in r.get_json()["error"]["details"] for e in d["errors"]}
    assert named == {(1, "arrived_at"), (2, "point"), (3, "picked_up_at")}
    assert [d["row"] for d in r.get_json()["error"]["details"]] == [1, 2, 3]
    assert count_rows(po_app, PickupItem) == 0


def test_quality_figures_by_hand(make_token):
    # Defaults: feedback within 24 h, uncollected after 3 calendar days.
    # A: notified+fed back in 1 h, picked up next day       -> compliant, collected
    # B: notified after 30 h, picked up after 5 days        -> not compliant, uncollected
    # C: notified in 2 h, no feedback, returned on day 8    -> not compliant, uncollected
    # feedback_compliance = 1/3 = 0.3333 ; uncollected_rate = 2/3 = 0.6667
    api = make_token(ZZ, *ALL)
    import_network(api)
    t0 = dt.datetime(2022, 9, 5, 9, 0, tzinfo=SH)

    def iso(hours):
        return (t0 + dt.timedelta(hours=hours)).isoformat()

    rows = [
        {"point": "P1", "waybill": "A", "arrived_at": iso(0), "notified_at": iso(1),
         "feedback_at": iso(1), "picked_up_at": iso(24)},
        {"point": "P1", "waybill": "B", "arrived_at": iso(0), "notified_at": iso(30),
         "feedback_at": iso(30), "picked_up_at": iso(120)},
        {"point": "P1", "waybill": "C", "arrived_at": iso(0), "notified_at": iso(2),
         "returned_at": iso(192)},
    ]  # fmt: skip
    assert api.post("/api/v1/pickup_points/items", json=rows).get_json() == {
        "created": 3,
        "updated": 0,
    }
    # Re-sent: updated in place, nothing added.
    assert api.post("/api/v1/pickup_points/items", json=rows).get_json() == {
        "created": 0,
        "updated": 3,
    }
    m = api.get(
        f"/api/v1/metrics?tenant={ZZ}&from=2022-09-01&to=2022-09-30&plugin=pickup_points"
    ).get_json()["metrics"]["pickup_points"]
    assert m["feedback_compliance"]["value"] == "0.3333"
    assert m["uncollected_rate"]["value"] == "0.6667"
    q = api.get("/api/v1/pickup_points/quality?from=2022-09-01&to=2022-09-30").get_json()
    assert q["units"][ZZ]["arrivals"] == 3 and q["units"][ZZ]["returned"] == 1


def test_direct_delivery_threshold_and_share_by_hand(make_token, as_unit):
    # Window of 10 days ending 31 Aug: P1 399 items (39.9/day) is not proposed; P2... is a
    # village station with 400 items (40.0/day) and is proposed.
    api = make_token(ZZ, *ALL)
    import_network(api)
    assert (
        api.put("/api/v1/pickup_points/settings", json={"direct_window_days": 10}).status_code
        == 200
    )
    days = [dt.date(2022, 8, 22) + dt.timedelta(days=i) for i in range(10)]
    rows = [
        {"point": "P1", "day": d.isoformat(), "inbound_items": 40 if i else 39}
        for i, d in enumerate(days)
    ]
    rows += [{"point": "P2", "day": d.isoformat(), "inbound_items": 40} for d in days]
    assert api.post("/api/v1/pickup_points/volumes", json=rows).status_code == 200
    props = api.get(
        "/api/v1/pickup_points/direct-delivery/proposals?window_end=2022-08-31"
    ).get_json()
    assert props["window"] == ["2022-08-22", "2022-08-31"]
    assert [(p["average_per_day"]) for p in props["items"]] == ["40"]
    p2 = props["items"][0]["point_id"]
    r = api.post(
        "/api/v1/pickup_points/direct-delivery/switches",
        json={"point_id": p2, "effective": "2022-09-01"},
    )
    assert r.status_code == 201
    # September: P2 receives 50 a day for 30 days = 1,500; the city delivers 15,000 -> 0.1000.
    sept = [dt.date(2022, 9, 1) + dt.timedelta(days=i) for i in range(30)]
    api.post(
        "/api/v1/pickup_points/volumes",
        json=[{"point": "P2", "day": d.isoformat(), "inbound_items": 50} for d in sept],
    )
    api.post(
        "/api/v1/pickup_points/city-volumes",
        json=[{"day": d.isoformat(), "delivery_items": 500} for d in sept],
    )
    m = api.get(
        f"/api/v1/metrics?tenant={ZZ}&from=2022-09-01&to=2022-09-30&plugin=pickup_points"
    ).get_json()
    kp = m["metrics"]["pickup_points"]
    assert kp["direct_delivery_points"]["value"] == 1
    assert kp["direct_delivery_share"]["value"] == "0.1000"
    # Switching the same point again on another date is a conflict.
    again = api.post(
        "/api/v1/pickup_points/direct-delivery/switches",
        json={"point_id": p2, "effective": "2022-10-01"},
    )
    assert again.status_code == 409


def test_bad_settings_name_the_field(make_token):
    api = make_token(ZZ, *ALL)
    r = api.put("/api/v1/pickup_points/settings", json={"uncollected_days": 5, "return_days": 3})
    assert r.status_code == 422
    assert r.get_json()["error"]["details"][0]["field"] == "return_days"
    r = api.put("/api/v1/pickup_points/settings", json={"radius_urban_m": -5})
    assert r.status_code == 422


def test_recompute_coverage_job_stores_results(po_app, make_token, workers, as_unit):
    api = make_token(ZZ, *ALL)
    import_network(api)
    r = api.post("/api/v1/pickup_points/coverage/recompute", json={})
    assert r.status_code == 202
    job = wait_for(po_app.extensions["postalops.db"], r.get_json()["job_id"], timeout=60)
    assert job.status == "succeeded", job.error
    assert job.result["covered"] == 2 and job.result["areas"] == 3
    from sqlmodel import select

    with as_unit(ZZ) as s:
        covered = {a.code: a.covered for a in s.exec(select(PickupArea)).all()}
    assert covered == {"U1": True, "U2": False, "V1": True}
    # Running it again changes nothing (idempotent).
    r2 = api.post("/api/v1/pickup_points/coverage/recompute", json={})
    assert (
        wait_for(po_app.extensions["postalops.db"], r2.get_json()["job_id"], timeout=60).result
        == job.result
    )


def test_active_points_hook_for_other_plugins(po_app, make_token, as_unit):
    import_network(make_token(ZZ, *ALL))
    import_network(make_token(KF, *ALL), KF_SEAT, KF_COUNTIES)
    reg = po_app.extensions["postalops.plugins"]
    with as_unit(ZZ) as s:
        answers = dict(reg.call_each("postalops_active_pickup_points", session=s, tenant=ZZ))
    points = answers["pickup_points"]
    assert sorted(p["code"] for p in points) == ["P1", "P2"]
    assert {p["kind"] for p in points} == {"own", "village_station"}
    assert all(p["tenant_code"] == ZZ for p in points)


def test_point_state_hook_answers_type_and_status_on_a_date(po_app, make_token, as_unit):
    api = make_token(ZZ, *ALL)
    import_network(api)
    p1 = next(
        p for p in api.get("/api/v1/pickup_points/points").get_json()["items"] if p["code"] == "P1"
    )
    api.post(
        f"/api/v1/pickup_points/points/{p1['id']}/status",
        json={"status": "suspended", "effective": "2022-09-20"},
    )
    hook = po_app.extensions["postalops.plugins"].pm.hook.postalops_pickup_point_state
    with as_unit(ZZ) as s:
        before = hook(session=s, tenant=ZZ, code="P1", day=dt.date(2022, 9, 19))
        after = hook(session=s, tenant=ZZ, code="P1", day=dt.date(2022, 9, 20))
        unopened = hook(session=s, tenant=ZZ, code="P1", day=dt.date(2022, 5, 31))
    with as_unit(KF) as s:
        elsewhere = hook(session=s, tenant=KF, code="P1", day=dt.date(2022, 9, 19))
    assert (before["kind"], before["status"]) == ("own", "active")
    assert after["status"] == "suspended"
    assert unopened is None and elsewhere is None


def test_openapi_lists_the_plugin_api(make_token):
    doc = make_token(ZZ, *ALL).get("/api/v1/openapi.json").get_json()
    assert "/api/v1/pickup_points/areas/import" in doc["paths"]
    assert doc["paths"]["/api/v1/pickup_points/points/{point_id}/status"]["post"][
        "x-permission"
    ] == ("pickup_points.manage")


def test_portal_pages_render_in_chinese_and_english(make_user, login, make_token):
    import_network(make_token(ZZ, *ALL))
    user = make_user("planner", ZZ, "pickup_planner", "ops")
    client = login(user)
    for path in ("/", "/coverage", "/map", "/areas", "/points", "/quality", "/direct", "/import"):
        r = client.get("/p/pickup_points" + path)
        assert r.status_code == 200, path
    page = client.get("/p/pickup_points/coverage").get_data(as_text=True)
    assert "覆盖" in page and "远郊小区" in page
    map_page = client.get("/p/pickup_points/map").get_data(as_text=True)
    assert "/p/pickup_points/assets/plotly.min.js" in map_page and "open-street-map" not in map_page
    assert "open-street-map" in client.get("/p/pickup_points/map?tiles=1").get_data(as_text=True)
    assert client.get("/p/pickup_points/assets/plotly.min.js").status_code == 200
    csv_text = client.get("/p/pickup_points/coverage.csv").get_data(as_text=True)
    assert csv_text.lstrip("\ufeff").startswith("unit,category,covered_households")
    # New-site suggestion from the uncovered areas' own locations: 远郊小区 (300 hh) is picked.
    r = client.post(
        "/p/pickup_points/coverage/suggest", data={"limit": "2", "csrf_token": client.csrf}
    )
    assert r.status_code == 200 and "远郊小区" in r.get_data(as_text=True)
    assert "新增覆盖户数" in r.get_data(as_text=True)
    client.post("/lang", data={"lang": "en", "csrf_token": client.csrf, "next": "/"})
    assert "Coverage" in client.get("/p/pickup_points/coverage").get_data(as_text=True)


def test_plugin_disabled_for_a_unit_answers_404(po_app, make_token, as_unit):
    api = make_token(KF, *ALL)
    with as_unit(None) as s:  # switching a plugin is audited: it needs a scoped session
        po_app.extensions["postalops.plugins"].set_enabled(s, KF, "pickup_points", False, "test")
        s.commit()

    assert api.get("/api/v1/pickup_points/points").status_code == 404


@pytest.fixture
def henan_tree(po_app, po_db):
    from postalops.demo import org_units
    from postalops.testing import build_tree

    build_tree(po_app, org_units())
    return po_app


def test_demo_reproduces_domain_figures_and_is_idempotent(henan_tree, as_unit):
    from postalops.models import OrgUnit
    from postalops_pickup_points.demo import build_demo
    from sqlmodel import select

    with as_unit(None) as s:
        units = {u.code: u for u in s.exec(select(OrgUnit)).all()}
        build_demo(s, units)
        s.commit()
    with as_unit("cn.henan") as s:
        k = kpis(s, "cn.henan", dt.date(2022, 9, 1), dt.date(2022, 9, 30))
    assert k["direct_delivery_points"]["value"] == 137
    assert 0.08 <= float(k["direct_delivery_share"]["value"]) <= 0.12
    for name in ("coverage_urban_communities", "coverage_villages", "coverage_mailrooms"):
        assert float(k[name]["value"]) >= 0.95, name
    for name in ("coverage_urban_communities", "coverage_villages", "coverage_mailrooms"):
        assert float(k[name]["value"]) < 1, name  # the deliberate gaps are visible
    before = {m: count_rows(henan_tree, m) for m in (PickupArea, PickupPoint, PickupItem)}
    with as_unit(None) as s:
        build_demo(s, units)
        s.commit()
    assert {m: count_rows(henan_tree, m) for m in (PickupArea, PickupPoint, PickupItem)} == before
    with as_unit("cn.henan") as s:
        assert service.direct_point_count(s, "cn.henan", dt.date(2022, 9, 30)) == 137


def test_demo_present_up_to_today(henan_tree, as_unit, frozen_today):
    """The rolling present (issue 16 §2): volumes, city volumes and items up to a frozen today
    through the plugin's services; the default period has figures, this month's window has
    direct-delivery candidates, a same-day re-run adds nothing, a next-day run adds only that
    day, and September 2022 stays as it was."""
    from postalops.models import OrgUnit
    from postalops.testing import default_metrics
    from postalops_pickup_points.demo import build_demo
    from postalops_pickup_points.demo_present import build_present
    from postalops_pickup_points.models import (
        PickupCityVolume,
        PickupDailyVolume,
        PickupDirectSwitch,
    )
    from sqlmodel import select

    september = (dt.date(2022, 9, 1), dt.date(2022, 9, 30))
    with as_unit(None) as s:
        units = {u.code: u for u in s.exec(select(OrgUnit)).all()}
        build_demo(s, units)
        s.commit()
    with as_unit("cn.henan") as s:
        article = kpis(s, "cn.henan", *september)
    with as_unit(None) as s:
        first = build_present(s, units)
        s.commit()
    assert first["present_volume_days"] > 1000 * 90 and first["present_items"] > 1000 * 44

    now = default_metrics(henan_tree, "cn.henan", "pickup_points")
    assert now["direct_delivery_points"] == 137, now
    assert 0.08 <= float(now["direct_delivery_share"]) <= 0.12, now
    assert 0.8 < float(now["feedback_compliance"]) < 1, now
    assert 0 < float(now["uncollected_rate"]) < 0.2, now
    assert 0.4 < float(now["counter_handover_share"]) < 0.9, now
    today = frozen_today.day
    with as_unit("cn.henan") as s:
        found, rules = service.proposals(s, "cn.henan", today)
        switched = service.direct_on(s, "cn.henan", today)
        today_items = s.exec(select(PickupItem).where(PickupItem.arrival_day == today)).all()
    # this month's candidates: grown past 40 a day over the 30 days to today, not yet direct
    assert 5 <= len(found) <= 18, len(found)
    assert all(p.average_per_day >= 40 and p.point_id not in switched for p in found)
    assert today_items and all(i.picked_up_at is None or i.picked_up_at <= clock.now()
                               for i in today_items)  # fmt: skip

    tables = (PickupDailyVolume, PickupCityVolume, PickupItem, PickupDirectSwitch)
    before = {m: count_rows(henan_tree, m) for m in tables}
    with as_unit(None) as s:
        again = build_present(s, units)
        s.commit()
    assert again["present_volume_days"] == 0 and again["present_items"] == 0
    assert {m: count_rows(henan_tree, m) for m in tables} == before

    frozen_today.set(today + dt.timedelta(days=1))
    with as_unit(None) as s:
        later = build_present(s, units)
        s.commit()
        new_days = s.exec(
            select(PickupDailyVolume.day).where(PickupDailyVolume.day > today).distinct()
        ).all()
    assert new_days == [today + dt.timedelta(days=1)]
    assert count_rows(henan_tree, PickupDailyVolume) == (
        before[PickupDailyVolume] + later["present_volume_days"]
    )
    assert later["present_volume_days"] < 1300  # one day of Henan's points
    assert count_rows(henan_tree, PickupCityVolume) == before[PickupCityVolume] + 18
    with as_unit("cn.henan") as s:
        assert kpis(s, "cn.henan", *september) == article


def test_services_refuse_writes_outside_the_callers_unit(as_unit, tenants):
    from postalops.errors import ScopeError

    report = validate_rows(
        [(0, {"code": "X", "name": "x", "category": "village", "lon": 113, "lat": 34,
              "households": 1, "county": "a"})],
        validate_area_row,
    )  # fmt: skip
    with as_unit(KF) as s, pytest.raises(ScopeError):
        service.import_areas(s, ZZ, report)
    with as_unit(KF) as s, pytest.raises(ScopeError):
        service.record_city_volumes(s, ZZ, [(0, {"day": "2022-09-01", "delivery_items": 1})])
    assert validate_point_row  # imported for symmetry with areas


def test_dashboard_pages_draw_map_and_overview(po_app, make_token, as_unit):
    from plotly.utils import PlotlyJSONEncoder
    from postalops_dashboards import ViewContext
    from postalops_dashboards.figures import figures_of, raw_titles
    from postalops_pickup_points.dashboards import pages

    import_network(make_token(ZZ, *ALL))
    found = pages(None)
    assert [p.path for p in found] == ["pickup-points", "pickup-points-map"]
    with as_unit(ZZ) as s:
        ctx = ViewContext(
            ZZ,
            dt.date(2022, 9, 1),
            clock.today(),
            s,
            True,
            po_app.extensions["postalops.plugins"],
        )
        overview, map_page = (p.layout(ctx) for p in found)
    charts = dict(figures_of(overview) + figures_of(map_page))
    assert {n: raw_titles(f) for n, f in charts.items() if raw_titles(f)} == {}
    coverage = charts["pickup_points_coverage"]
    assert not any(str(x).startswith("cn.") for t in coverage.data for x in t.x)
    text = json.dumps(overview, cls=PlotlyJSONEncoder, ensure_ascii=False)
    assert "城市小区覆盖率" in text  # the metric cards come from the metrics contract
    map_text = json.dumps(map_page, cls=PlotlyJSONEncoder, ensure_ascii=False)
    # U2 is uncovered: a red cross on the map and a row of the CSV; P1 is drawn as a point.
    assert "未覆盖区域" in map_text and "远郊小区" in map_text and "P1 易邮驿站" in map_text


def test_counter_handover_per_branch_and_trend_by_hand(make_token):
    # A township counter: August 100 inbound, 30 over the counter (0.3000); September 120 and
    # 45 (0.3750, +0.0750).
    api = make_token(ZZ, *ALL)
    tc = offset(*ZZ_SEAT, 270, 15_000)
    row = {"code": "TC", "name": "乡镇支局", "point_type": "township_counter", "lon": tc[0],
           "lat": tc[1], "county": "zhengzhou", "opened_on": "2022-06-01"}  # fmt: skip
    assert api.post("/api/v1/pickup_points/points/import", json=[row]).status_code == 200
    volumes = [
        {"point": "TC", "day": "2022-08-10", "inbound_items": 100, "counter_items": 30},
        {"point": "TC", "day": "2022-09-10", "inbound_items": 120, "counter_items": 45},
    ]
    assert api.post("/api/v1/pickup_points/volumes", json=volumes).status_code == 200
    body = api.get(
        "/api/v1/pickup_points/counter-handover?from=2022-08-01&to=2022-09-30"
    ).get_json()
    assert [(t["period"], t["share"], t["change"]) for t in body["items"]] == [
        ("2022-08", "0.3000", None),
        ("2022-09", "0.3750", "0.0750"),
    ]
    assert [(b["code"], b["share"]) for b in body["branches"]] == [("TC", "0.3409")]  # 75/220
    m = api.get(f"/api/v1/metrics?tenant={ZZ}&from=2022-09-01&to=2022-09-30&plugin=pickup_points")
    assert m.get_json()["metrics"]["pickup_points"]["counter_handover_share"]["value"] == "0.3750"
    bad = api.post(
        "/api/v1/pickup_points/volumes",
        json=[{"point": "TC", "day": "2022-09-11", "inbound_items": 5, "counter_items": 6}],
    )
    assert (
        bad.status_code == 422
        and bad.get_json()["error"]["details"][0]["errors"][0]["field"] == "counter_items"
    )
