"""Areas and points name their county against the org tree, and an import reports every row's
every error in one pass: shape errors and reference errors together, nothing written
(issue 15 §5)."""

from __future__ import annotations

from postalops.testing import count_rows
from postalops_pickup_points.models import PickupArea, PickupPoint

from .test_api_and_services import ALL, ZZ, ZZ_SEAT, areas_csv

CSV = {"Content-Type": "text/csv"}


def errors_by_row(resp):
    return {d["row"]: {e["field"]: e["message"] for e in d["errors"]} for d in resp["details"]}


def test_an_unknown_county_is_refused_and_makes_no_unit_in_coverage(po_app, make_token):
    api = make_token(ZZ, *ALL)
    # jinshui is a unit below Zhengzhou (the fixture tree); "nowhere" is not.
    bad = areas_csv().decode().replace("300,jinshui", "300,nowhere")
    r = api.post("/api/v1/pickup_points/areas/import", data=bad.encode(), headers=CSV)
    assert r.status_code == 422, r.get_json()
    err = r.get_json()["error"]
    assert err["code"] == "invalid_rows"
    assert errors_by_row(err) == {
        3: {"county": "unknown county 'nowhere': neither cn.henan.zhengzhou nor a unit below it"}
    }
    assert count_rows(po_app, PickupArea) == 0
    # A dry run names the same row.
    dry = api.post("/api/v1/pickup_points/areas/import?dry_run=1", data=bad.encode(), headers=CSV)
    assert [(row["row"], row["errors"]) for row in dry.get_json()["rows"] if not row["ok"]] == [
        (3, {"county": err["details"][0]["errors"][0]["message"]})
    ]
    # With a real county, coverage rolls up to Zhengzhou and jinshui only: no made-up unit.
    assert (
        api.post("/api/v1/pickup_points/areas/import", data=areas_csv(), headers=CSV).status_code
        == 200
    )
    units = {i["unit"] for i in api.get("/api/v1/pickup_points/coverage").get_json()["items"]}
    assert units == {ZZ, ZZ + ".jinshui"}


def test_an_area_import_reports_shape_and_reference_errors_in_one_pass(po_app, make_token):
    api = make_token(ZZ, *ALL)
    # Row 2: households "lots" (shape). Row 3: county "nowhere" (reference). Row 4 is fine.
    bad = (
        areas_csv()
        .decode()
        .replace("100,jinshui", "lots,jinshui")
        .replace("300,jinshui", "300,nowhere")
    )
    r = api.post("/api/v1/pickup_points/areas/import", data=bad.encode(), headers=CSV)
    assert r.status_code == 422
    got = errors_by_row(r.get_json()["error"])
    assert set(got) == {2, 3}
    assert set(got[2]) == {"households"} and set(got[3]) == {"county"}
    assert count_rows(po_app, PickupArea) == 0


def test_a_point_import_reports_shape_and_reference_errors_in_one_pass(po_app, make_token):
    api = make_token(ZZ, *ALL)
    rows = [
        {"code": "P1", "name": "易邮驿站", "point_type": "own", "lon": ZZ_SEAT[0],
         "lat": ZZ_SEAT[1], "county": "jinshui"},
        {"code": "P2", "name": "坏点", "point_type": "kiosk", "lon": ZZ_SEAT[0],
         "lat": ZZ_SEAT[1], "county": "jinshui"},  # shape: unknown point type
        {"code": "P3", "name": "无名区", "point_type": "own", "lon": ZZ_SEAT[0],
         "lat": ZZ_SEAT[1], "county": "gaoxin"},  # reference: no such unit below Zhengzhou
        {"code": "P4", "name": "两错", "point_type": "own", "lon": 999,
         "lat": ZZ_SEAT[1], "county": "gaoxin"},  # both in one row
    ]  # fmt: skip
    r = api.post("/api/v1/pickup_points/points/import", json=rows)
    assert r.status_code == 422, r.get_json()
    got = errors_by_row(r.get_json()["error"])
    assert {row: set(fields) for row, fields in got.items()} == {
        1: {"point_type"},
        2: {"county"},
        3: {"lon", "county"},
    }
    assert count_rows(po_app, PickupPoint) == 0
