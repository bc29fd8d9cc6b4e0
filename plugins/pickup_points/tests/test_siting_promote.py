"""Promoting a planned site to a pickup point (issue 20 §3): through the API and the portal.

Network of ``test_siting_scenario`` (Zhengzhou seat S, urban radius 500 m): U1 at S (100
households) covered by P1 300 m east; U2 5 km south (300 households) uncovered; candidate C1
200 m north of U2 is the only site that reaches U2. The planner accepts C1 as a planned site
and promotes it to a point with status ``planned`` (筹建) at C1's location.

Coverage decision: a planned point covers nothing until it is opened (status ``active``):
urban coverage at Zhengzhou stays 100 / (100 + 300) = 0.2500 after the promotion and becomes
(100 + 300) / 400 = 1.0000 once the point is set active.
"""

from __future__ import annotations

import pytest
from postalops.jobs import wait_for
from postalops.models import AuditRecord
from postalops.testing import assert_readable, count_rows
from postalops_pickup_points.models import PickupPlannedSite, PickupPoint, PickupStatusChange
from sqlmodel import select

from .test_siting_scenario import ALL, KF, ZZ, _candidates, network  # noqa: F401  (fixture)

BASE = "/api/v1/pickup_points"


def _accepted_site(po_app, api) -> tuple[int, dict]:
    """Run a scenario with the three candidates (K = 1), accept C1; returns (scenario id,
    planned site as the API lists it)."""
    params = {"k": 1, "candidates": _candidates(), "time_limit_s": 10}
    r = api.post("/api/v1/jobs", json={"kind": "pickup_points.siting", "unit": ZZ,
                                       "params": params})  # fmt: skip
    assert r.status_code == 202, r.get_json()
    job = wait_for(po_app.extensions["postalops.db"], r.get_json()["id"], timeout=60)
    assert job.status == "succeeded", job.error
    sid = job.result["scenario_id"]
    r = api.post(f"{BASE}/siting/scenarios/{sid}/accept", json={"sites": ["C1"]})
    assert r.status_code == 200, r.get_json()
    listed = api.get(f"{BASE}/siting/planned").get_json()["items"]
    assert [p["candidate_id"] for p in listed] == ["C1"]
    return sid, listed[0]


def _urban_rate(api) -> str:
    rows = api.get(f"{BASE}/coverage").get_json()["items"]
    return next(r["rate"] for r in rows if r["unit"] == ZZ and r["category"] == "urban_community")


@pytest.mark.usefixtures("network")
def test_promote_through_the_api(po_app, make_token, workers, as_unit):
    api = make_token(ZZ, *ALL)
    sid, site = _accepted_site(po_app, api)
    c1 = next(c for c in _candidates() if c["id"] == "C1")
    assert site["point"] is None and site["scenario_id"] == sid
    assert site["name"] == "远郊小区门口商铺"
    assert _urban_rate(api) == "0.2500"  # 100 of 400 households

    # Bad input: every bad field named, nothing written.
    r = api.post(
        f"{BASE}/siting/planned/{site['id']}/promote",
        json={"name": "", "point_type": "kiosk", "capacity": -1},
    )
    assert r.status_code == 422
    fields = {d["field"] for d in r.get_json()["error"]["details"]}
    assert fields == {"name", "point_type", "capacity"}
    assert count_rows(po_app, PickupPoint) == 2  # P1 and P2 only

    body = {"name": "远郊小区自提点", "point_type": "partner_shop", "operator": "张记超市",
            "capacity": 120}  # fmt: skip
    r = api.post(f"{BASE}/siting/planned/{site['id']}/promote", json=body)
    assert r.status_code == 201, r.get_json()
    point = r.get_json()
    assert point["status"] == "planned" and point["point_type"] == "partner_shop"
    assert (point["name"], point["operator"], point["capacity"]) == (
        "远郊小区自提点",
        "张记超市",
        120,
    )
    assert (point["lon"], point["lat"]) == pytest.approx((c1["lon"], c1["lat"]), abs=1e-9)
    assert point["tenant_code"] == ZZ and point["county"] == "zhengzhou"
    assert point["code"] == f"S{sid}-C1"
    listed = api.get(f"{BASE}/siting/planned").get_json()["items"]
    assert listed[0]["point"] == {"id": point["id"], "code": f"S{sid}-C1", "status": "planned"}

    # Twice: 409 naming the site and its point; still one new point.
    again = api.post(f"{BASE}/siting/planned/{site['id']}/promote", json=body)
    assert again.status_code == 409
    err = again.get_json()["error"]
    assert err["code"] == "already_promoted" and "远郊小区门口商铺" in err["message"]
    assert f"S{sid}-C1" in err["message"] and err["details"][0]["field"] == "site"
    assert count_rows(po_app, PickupPoint) == 3

    # Audited, with the history starting at planned.
    with as_unit(ZZ) as s:
        audits = s.exec(
            select(AuditRecord).where(AuditRecord.action == "pickup_points.siting.promote")
        ).all()
        assert len(audits) == 1
        assert audits[0].before == {"point": None}
        assert audits[0].after == {"point": f"S{sid}-C1", "status": "planned"}
        history = s.exec(
            select(PickupStatusChange).where(PickupStatusChange.point_id == point["id"])
        ).all()
        assert [h.status for h in history] == ["planned"]
        assert s.get(PickupPlannedSite, site["id"]).point_id == point["id"]

    # A planned point covers nothing; opened, it covers U2 (200 m away).
    assert _urban_rate(api) == "0.2500"
    assert point["id"] not in {
        p["id"] for p in api.get(f"{BASE}/active-points").get_json()["items"]
    }
    r = api.post(f"{BASE}/points/{point['id']}/status", json={"status": "active"})
    assert r.status_code == 200, r.get_json()
    assert _urban_rate(api) == "1.0000"  # (100 + 300) / 400

    # Another city cannot see the site; a viewer may not promote.
    kf = make_token(KF, *ALL)
    assert kf.post(f"{BASE}/siting/planned/{site['id']}/promote", json=body).status_code == 404
    assert kf.get(f"{BASE}/siting/planned").get_json()["items"] == []
    viewer = make_token(ZZ, "pickup_points.view")
    assert viewer.post(f"{BASE}/siting/planned/{site['id']}/promote", json=body).status_code == 403


@pytest.mark.usefixtures("network")
def test_promote_code_clash_and_county(po_app, make_token, workers):
    api = make_token(ZZ, *ALL)
    sid, site = _accepted_site(po_app, api)
    url = f"{BASE}/siting/planned/{site['id']}/promote"
    body = {"name": "远郊小区自提点", "point_type": "own", "capacity": 50}
    # P1 is taken; "kaifeng" is not Zhengzhou nor a unit below it.
    r = api.post(url, json={**body, "code": "P1", "county": "kaifeng"})
    assert r.status_code == 422
    assert {d["field"] for d in r.get_json()["error"]["details"]} == {"code", "county"}
    assert count_rows(po_app, PickupPoint) == 2
    r = api.post(url, json={**body, "code": "ZZ-NEW-1", "county": "jinshui"})
    assert r.status_code == 201, r.get_json()
    assert (r.get_json()["code"], r.get_json()["county"]) == ("ZZ-NEW-1", "jinshui")


@pytest.mark.usefixtures("network")
def test_promote_from_the_pages(po_app, make_token, make_user, login, workers):
    api = make_token(ZZ, *ALL)
    sid, site = _accepted_site(po_app, api)
    client = login(make_user("planner", ZZ, "pickup_planner", "ops"))
    page = client.get(f"/p/pickup_points/siting/{sid}")
    html = page.get_data(as_text=True)
    form_url = f"/p/pickup_points/siting/planned/{site['id']}/promote"
    assert form_url in html and "开设为自提点" in assert_readable(html)

    form = client.get(form_url)
    assert form.status_code == 200
    text = assert_readable(form.get_data(as_text=True))
    assert "远郊小区门口商铺" in text and "日处理能力" in text and "筹建" in text

    bad = client.post(form_url, data={"name": "远郊小区自提点", "point_type": "own",
                                      "capacity": "-5", "csrf_token": client.csrf})  # fmt: skip
    assert bad.status_code == 422
    assert 'id="f-capacity-error"' in bad.get_data(as_text=True)
    assert count_rows(po_app, PickupPoint) == 2

    done = client.post(form_url, data={"name": "远郊小区自提点", "point_type": "own",
                                       "operator": "", "capacity": "80",
                                       "csrf_token": client.csrf})  # fmt: skip
    assert done.status_code == 302, done.get_data(as_text=True)
    assert count_rows(po_app, PickupPoint) == 3
    after = assert_readable(client.get(f"/p/pickup_points/siting/{sid}").get_data(as_text=True))
    assert f"S{sid}-C1" in after and "筹建" in after
    # Twice from the page: the form says it is done already (409), nothing added.
    twice = client.post(form_url, data={"name": "x", "point_type": "own", "capacity": "80",
                                        "csrf_token": client.csrf})  # fmt: skip
    assert twice.status_code == 409 and f"S{sid}-C1" in twice.get_data(as_text=True)
    assert count_rows(po_app, PickupPoint) == 3
    # The points list shows the planned status in Chinese.
    points = assert_readable(client.get("/p/pickup_points/points").get_data(as_text=True))
    assert "远郊小区自提点" in points and "筹建" in points
