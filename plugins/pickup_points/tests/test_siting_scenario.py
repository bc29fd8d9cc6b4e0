"""Siting scenarios through the entry points a planner uses: the job API (``POST /api/v1/jobs``),
the plugin's own start endpoint, ``postalops jobs run``, the scenario API with tokens, accepting
sites (audited), and isolation between cities.

Network (Zhengzhou seat S; the urban radius is 500 m, the village radius 2 km):
  U1 at S (100 households), covered by P1 300 m east; U2 5 km south of S (300 households),
  uncovered; V1 20 km east (60 households), covered by P2 21 km east (1 km away).
Candidates: C1 200 m north of U2 (covers U2), C2 800 m north of U2 (too far for 500 m),
C3 at S (covers U1 only, which is already covered).
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from postalops.cli import main
from postalops.jobs import wait_for
from postalops.models import AuditRecord
from postalops.testing import count_rows
from postalops_pickup_points.distance import offset
from postalops_pickup_points.models import PickupPlannedSite, PickupSitingScenario
from sqlmodel import select

ZZ, KF = "cn.henan.zhengzhou", "cn.henan.kaifeng"
SEAT = (113.625, 34.746)
ALL = ("pickup_points.view", "pickup_points.manage", "core.jobs.view")


def _areas_csv():
    u2 = offset(*SEAT, 180, 5000)
    v1 = offset(*SEAT, 90, 20_000)
    return (
        "code,name,category,lon,lat,households,county\n"
        f"U1,金水花园,urban_community,{SEAT[0]},{SEAT[1]},100,jinshui\n"
        f"U2,远郊小区,urban_community,{u2[0]},{u2[1]},300,jinshui\n"
        f"V1,李庄村,village,{v1[0]},{v1[1]},60,zhengzhou\n"
    ).encode()


def _points():
    p1 = offset(*SEAT, 90, 300)
    p2 = offset(*SEAT, 90, 21_000)
    return [
        {"code": "P1", "name": "易邮驿站", "point_type": "own", "lon": p1[0], "lat": p1[1],
         "county": "jinshui", "opened_on": "2022-06-01", "capacity": 5},
        {"code": "P2", "name": "李庄邮乐购", "point_type": "village_station", "lon": p2[0],
         "lat": p2[1], "county": "zhengzhou", "opened_on": "2022-06-01"},
    ]  # fmt: skip


def _candidates():
    u2 = offset(*SEAT, 180, 5000)
    c1 = offset(*u2, 0, 200)
    c2 = offset(*u2, 0, 800)
    return [
        {"id": "C1", "lon": c1[0], "lat": c1[1], "name": "远郊小区门口商铺"},
        {"id": "C2", "lon": c2[0], "lat": c2[1]},
        {"id": "C3", "lon": SEAT[0], "lat": SEAT[1]},
    ]


@pytest.fixture
def network(make_token):
    api = make_token(ZZ, *ALL)
    r = api.post(
        "/api/v1/pickup_points/areas/import",
        data=_areas_csv(),
        headers={"Content-Type": "text/csv"},
    )
    assert r.status_code == 200, r.get_json()
    r = api.post("/api/v1/pickup_points/points/import", json=_points())
    assert r.status_code == 200, r.get_json()
    return api


def test_scenario_through_the_job_api(po_app, network, make_token, workers, as_unit):
    api = network
    params = {"name": "远郊补点", "k": 1, "candidates": _candidates(), "time_limit_s": 10,
              "items_per_household": "0.1", "new_site_capacity": 20}  # fmt: skip
    r = api.post(
        "/api/v1/jobs", json={"kind": "pickup_points.siting", "unit": ZZ, "params": params}
    )
    assert r.status_code == 202, r.get_json()
    job = wait_for(po_app.extensions["postalops.db"], r.get_json()["id"], timeout=60)
    assert job.status == "succeeded", job.error
    # Only U2 is uncovered; only C1 reaches it: LSCP {C1}; MCLP k=1 and greedy {C1}, 300 hh.
    assert job.result["lscp_sites"] == 1 and job.result["lscp_status"] == "optimal"
    assert job.result["mclp_households"] == job.result["greedy_households"] == 300
    sid = job.result["scenario_id"]

    got = api.get(f"/api/v1/pickup_points/siting/scenarios/{sid}").get_json()
    res = got["result"]
    assert got["status"] == "done" and got["name"] == "远郊补点"
    assert res["lscp"]["sites"] == ["C1"] and res["lscp"]["coverage"] == "1.0000"
    assert res["mclp"]["sites"] == ["C1"] and res["greedy"]["sites"] == ["C1"]
    assert res["sites"]["C1"]["households"] == 300
    # Capacity at 0.1 item per household: U1 10 items → P1 (capacity 5): 5 served, 5 overflow,
    # and no other site within 500 m of U1 → 5 unserved; U2 30 items → new C1 (capacity 20):
    # 20 served, 10 unserved; V1 6 items → P2 (no stated capacity). Demand 10 + 30 + 6 = 46,
    # unserved 5 + 10 = 15.
    cap = {s["site"]: s for s in res["capacity"]["sites"]}
    assert res["capacity"]["demand_items"] == 46 and res["capacity"]["unserved_items"] == 15
    p1 = next(v for k, v in cap.items() if v["name"].startswith("P1 "))
    assert (p1["assigned"], p1["over_capacity"], p1["utilisation"]) == (5, True, "1.0000")
    assert cap["new:C1"]["utilisation"] == "1.0000" and cap["new:C1"]["over_capacity"]

    # Accept C1 as a planned point: audited; a second accept adds nothing.
    r = api.post(f"/api/v1/pickup_points/siting/scenarios/{sid}/accept", json={"sites": ["C1"]})
    assert r.status_code == 200 and r.get_json() == {"added": ["C1"], "planned": ["C1"]}
    r = api.post(f"/api/v1/pickup_points/siting/scenarios/{sid}/accept", json={"sites": ["C1"]})
    assert r.get_json() == {"added": [], "planned": ["C1"]}
    # An unknown site is refused by name and nothing is written.
    r = api.post(
        f"/api/v1/pickup_points/siting/scenarios/{sid}/accept", json={"sites": ["C1", "ZZZ"]}
    )
    assert r.status_code == 422
    assert r.get_json()["error"]["details"][0]["field"] == "sites[1]"
    assert count_rows(po_app, PickupPlannedSite) == 1
    with as_unit(ZZ) as s:
        audits = s.exec(
            select(AuditRecord).where(AuditRecord.action == "pickup_points.siting.accept")
        ).all()
        assert len(audits) == 1 and audits[0].after == {"planned": ["C1"]}

    # Kaifeng cannot see Zhengzhou's scenario; a viewer may not start or accept one.
    kf = make_token(KF, *ALL)
    assert kf.get(f"/api/v1/pickup_points/siting/scenarios/{sid}").status_code == 404
    assert kf.get("/api/v1/pickup_points/siting/scenarios").get_json()["items"] == []
    viewer = make_token(ZZ, "pickup_points.view")
    assert viewer.post("/api/v1/pickup_points/siting/scenarios", json={}).status_code == 403
    r = viewer.post(f"/api/v1/pickup_points/siting/scenarios/{sid}/accept", json={"sites": ["C1"]})
    assert r.status_code == 403


def test_scenario_job_is_idempotent_and_refuses_bad_params(po_app, network, workers, as_unit):
    api = network
    body = {"kind": "pickup_points.siting", "unit": ZZ, "params": {"k": 0}}
    r = api.post("/api/v1/jobs", json=body)
    assert r.status_code == 422
    assert {d["field"] for d in r.get_json()["error"]["details"]} == {"params.k"}
    body = {"kind": "pickup_points.siting", "unit": ZZ, "idempotency_key": "s1",
            "params": {"k": 2, "candidates": _candidates()}}  # fmt: skip
    first = api.post("/api/v1/jobs", json=body).get_json()
    wait_for(po_app.extensions["postalops.db"], first["id"], timeout=60)
    again = api.post("/api/v1/jobs", json=body).get_json()
    assert again["id"] == first["id"]
    # The plugin's own start endpoint runs the same job kind; default candidates are the
    # uncovered areas themselves (U2 covers itself).
    r = api.post("/api/v1/pickup_points/siting/scenarios", json={"k": 1})
    assert r.status_code == 202
    job = wait_for(po_app.extensions["postalops.db"], r.get_json()["job_id"], timeout=60)
    assert job.status == "succeeded", job.error
    assert count_rows(po_app, PickupSitingScenario) == 2
    scen = api.get(f"/api/v1/pickup_points/siting/scenarios/{job.result['scenario_id']}")
    assert scen.get_json()["result"]["lscp"]["site_count"] == 1


def test_scenario_from_the_cli(po_app, network, monkeypatch, workers):
    settings = po_app.extensions["postalops.settings"]
    monkeypatch.setenv("POSTALOPS_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("POSTALOPS_INSTANCE_PATH", str(settings.instance_path))
    out = CliRunner().invoke(
        main,
        ["jobs", "run", "pickup_points.siting", "--unit", ZZ, "--param", "k=1",
         "--param", "existing=ignore", "--param", f"candidates={json.dumps(_candidates())}"],
        catch_exceptions=False,
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    job = json.loads(out.output.strip().splitlines()[-1])
    assert job["status"] == "succeeded", job
    # From scratch: U1 needs C3 (at S), U2 needs C1; V1 (20 km east) no candidate reaches.
    assert job["result"]["lscp_sites"] == 2
    bad = CliRunner().invoke(
        main, ["jobs", "run", "pickup_points.siting", "--unit", ZZ, "--param", "existing=maybe"]
    )
    assert bad.exit_code == 2 and "params.existing" in bad.output
