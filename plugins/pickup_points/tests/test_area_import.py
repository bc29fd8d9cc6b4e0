"""Importing service areas and points: every row reported, every error named."""

from __future__ import annotations

import io
import json

import pytest
from openpyxl import Workbook
from postalops.errors import BadRequest
from postalops_pickup_points.area_import import (
    read_rows,
    validate_area_row,
    validate_point_row,
    validate_rows,
)
from postalops_pickup_points.points import AreaCategory, PointType

CSV = """code,name,category,lon,lat,households,county
C001,金水花园,urban_community,113.6654,34.7579,820,jinshui
C002,坏行,town,200,34.7,many,jinshui
C001,重复,urban_community,113.6,34.7,10,jinshui
V001,李庄村,village,113.5,34.6,310,Zhengzhou Erqi
"""


def test_csv_reports_each_row_and_names_each_bad_field():
    report = validate_rows(read_rows(CSV.encode(), "csv"), validate_area_row)
    rows = report.to_dict()["rows"]
    assert report.ok is False
    # Spreadsheet numbering: the header is row 1, so the first data row is row 2.
    assert rows[0] == {"row": 2, "ok": True, "errors": {}}
    assert set(rows[1]["errors"]) == {"category", "lon", "households"}
    assert rows[2]["errors"] == {"code": "duplicate of row 2"}
    assert set(rows[3]["errors"]) == {"county"}
    assert report.values[0]["category"] is AreaCategory.URBAN_COMMUNITY
    assert report.values[0]["households"] == 820


def test_gb18030_csv_from_excel_is_read():
    report = validate_rows(read_rows(CSV.encode("gb18030"), "csv"), validate_area_row)
    assert report.values[0]["name"] == "金水花园"


def test_xlsx_rows_read_like_csv_rows():
    wb = Workbook()
    ws = wb.active
    ws.append(["code", "name", "category", "lon", "lat", "households", "county"])
    ws.append(["M01", "省政府收发室", "mailroom", 113.66, 34.76, 1, "jinshui"])
    buf = io.BytesIO()
    wb.save(buf)
    report = validate_rows(read_rows(buf.getvalue(), "xlsx"), validate_area_row)
    assert report.ok and report.values[0]["category"] is AreaCategory.MAILROOM


def test_geojson_polygon_gets_a_location_inside_it():
    doc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [
                        [[113.0, 34.0], [113.01, 34.0], [113.01, 34.01], [113.0, 34.0]]
                    ],
                },
                "properties": {
                    "code": "U1",
                    "name": "郑大",
                    "category": "mailroom",
                    "households": 5,
                    "county": "gaoxin",
                },
            },
            {
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": [[0, 0], [1, 1]]},
                "properties": {"code": "L1"},
            },
        ],
    }
    report = validate_rows(read_rows(json.dumps(doc), "geojson"), validate_area_row)
    first, second = report.rows
    assert first.ok and first.value["polygon_wkt"].startswith("POLYGON")
    assert 113.0 < first.value["lon"] < 113.01
    assert "geometry" in second.errors


def test_point_rows_validate_type_hours_and_fee():
    good = {
        "code": "P1",
        "name": "易邮驿站",
        "point_type": "own",
        "lon": 113.6,
        "lat": 34.7,
        "county": "jinshui",
        "agent_fee": "0.35",
        "opening_hours": '{"mon": "08:00-20:00", "sun": null}',
    }
    value, errors = validate_point_row(good)
    assert errors == {} and value["point_type"] is PointType.OWN
    assert str(value["agent_fee"]) == "0.35"
    bad = dict(good, point_type="kiosk", agent_fee="-2", opening_hours='{"mon": "late"}')
    _, errors = validate_point_row(bad)
    assert set(errors) == {"point_type", "agent_fee", "opening_hours.mon"}


@pytest.mark.parametrize(
    ("data", "fmt"), [(b"\xff\xfe", "csv"), (b"not a zip", "xlsx"), ("{", "json"), ("x", "shp")]
)
def test_unreadable_files_are_a_bad_request(data, fmt):
    with pytest.raises(BadRequest):
        read_rows(data, fmt)
