"""postalops.imports.read_rows: one reader of uploaded files for the core and every plugin
(ecommerce's orders, pickup_points' areas and points): spreadsheet row numbers for CSV/XLSX
(the header is row 1), list positions for JSON/GeoJSON, one 400 for a file that cannot be read."""

from __future__ import annotations

import io
import json

import pytest
from openpyxl import Workbook
from postalops.errors import BadRequest, ValidationError
from postalops.imports import read_rows


def test_csv_rows_are_numbered_as_a_spreadsheet_shows_them_in_either_encoding():
    text = "code,name\nA1, 金水 \n,\nA2,李庄\n"
    for data in (text.encode("utf-8-sig"), text.encode("gb18030")):
        # row 3 is blank (skipped, but it keeps its number); values trimmed, blanks None
        assert read_rows(data, "csv") == [(2, {"code": "A1", "name": "金水"}),
                                          (4, {"code": "A2", "name": "李庄"})]  # fmt: skip


def test_xlsx_rows_read_like_csv_rows():
    wb = Workbook()
    ws = wb.active
    ws.append(["code", "households"])
    ws.append(["M01", 12])
    ws.append([None, None])
    ws.append(["M02", None])
    buf = io.BytesIO()
    wb.save(buf)
    assert read_rows(buf.getvalue(), ".XLSX") == [
        (2, {"code": "M01", "households": 12}),
        (4, {"code": "M02", "households": None}),
    ]


def test_json_and_geojson_rows_are_numbered_from_zero():
    assert read_rows(b'[{"a": 1}, {"a": 2}]', "json") == [(0, {"a": 1}), (1, {"a": 2})]
    assert read_rows({"rows": [{"a": 1}]}, "json") == [(0, {"a": 1})]
    assert read_rows('{"items": [{"a": 1}]}', "geojson") == [(0, {"a": 1})]
    point = {"type": "Point", "coordinates": [113.6, 34.7]}
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"code": "U1"}, "geometry": point},
        {"type": "Feature", "properties": None, "geometry": None},
    ]}  # fmt: skip
    assert read_rows(json.dumps(doc), "geojson") == [
        (0, {"code": "U1", "__geometry__": point}),
        (1, {}),
    ]


@pytest.mark.parametrize(
    ("data", "fmt", "code"),
    [
        (b"\xff\xfe", "csv", "bad_encoding"),
        (b"", "csv", "no_header"),
        (b"not a zip", "xlsx", "bad_xlsx"),
        ("{", "json", "unreadable_file"),
        ('{"type": "x"}', "json", "unreadable_file"),
        ("[1, 2]", "json", "unreadable_file"),
        ("x", "shp", "unsupported_format"),
    ],
)
def test_a_file_that_cannot_be_read_is_one_bad_request(data, fmt, code):
    with pytest.raises(BadRequest) as err:
        read_rows(data, fmt)
    assert err.value.code == code


def test_too_many_rows_and_a_row_longer_than_its_header():
    with pytest.raises(BadRequest) as err:
        read_rows(b"a\n1\n2\n3\n", "csv", max_rows=2)
    assert err.value.code == "too_many_rows"
    assert err.value.details == [{"field": "file", "message": "at most 2 rows per import"}]
    with pytest.raises(ValidationError) as bad:
        read_rows(b"a,b\n1,2\n1,2,3\n", "csv")
    assert bad.value.details == [{"row": 3, "message": "too many cells"}]
