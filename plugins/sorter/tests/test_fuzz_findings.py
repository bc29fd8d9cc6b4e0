"""Server errors a schemathesis run found in the sorter API (issue 15 §4), each through HTTP:
a 4xx naming the row and field, never a 500."""

from __future__ import annotations

from postalops.testing import count_rows

STATION = "cn.henan.zhengzhou.jinshui"


def test_an_import_row_whose_code_is_not_text_is_422_naming_it(po_app, tenants, make_token):
    from postalops_sorter.models import Device

    api = make_token("cn", "sorter.manage", "sorter.view")
    good = {
        "unit": STATION,
        "code": "S1",
        "name": "一号机",
        "model": "X-1",
        "chutes": 48,
        "commissioned_on": "2022-01-01",
        "rated_per_hour": 9000,
    }
    rows = [good, {**good, "code": {}}, {**good, "code": ["S1"]}, {**good, "code": None}]
    resp = api.post("/api/v1/sorter/devices", json=rows)
    assert resp.status_code == 422, resp.get_data(as_text=True)[:800]
    by_row = {d["row"]: d["errors"] for d in resp.json["error"]["details"]}
    assert sorted(by_row) == [1, 2, 3]  # JSON rows are numbered from 0; row 0 is good
    for errors in by_row.values():
        assert [e["field"] for e in errors] == ["code"], errors  # not also "appears twice"
    assert count_rows(po_app, Device) == 0
