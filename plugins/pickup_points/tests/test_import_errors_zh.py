"""The import page names each refused row's field and problem in the user's language (issue 14
§2 leftover): Chinese labels (the file's column beside them as code) and Chinese messages."""

from __future__ import annotations

import io
import re

from postalops.testing import assert_readable, count_rows
from postalops.testing import page_text as visible
from postalops_pickup_points.models import PickupArea, PickupPoint

ZZ = "cn.henan.zhengzhou"
AREAS = "code,name,category,lon,lat,households,county\nA1,,farm,200,34.7,12.5,Jinshui!\n"
POINTS = (
    "code,name,point_type,lon,lat,county,agent_fee,opened_on\n"
    "P1,驿站,kiosk,113.6,34.7,jinshui,-3,2022-13-01\n"
)


def _post(client, kind: str, body: str):
    return client.post(
        "/p/pickup_points/import",
        data={"kind": kind, "file": (io.BytesIO(body.encode()), f"{kind}.csv"),
              "csrf_token": client.csrf},
        content_type="multipart/form-data",
    )  # fmt: skip


def _report(html: str) -> str:
    table = re.search(r'<table[^>]*id="import-report".*?</table>', html, re.S)
    assert table, html[:2000]
    return table[0]


def test_refused_rows_read_in_chinese_naming_row_and_column(po_app, make_user, login):
    client = login(make_user("planner", ZZ, "pickup_planner", "ops"))
    resp = _post(client, "areas", AREAS)
    assert resp.status_code == 422 and count_rows(po_app, PickupArea) == 0
    html = resp.get_data(as_text=True)
    assert_readable(html)
    table = _report(html)
    text = visible(table)
    assert not re.search(r"[A-Za-z]{3,}", text), text
    assert "名称" in text and "必填" in text and "经度" in text and "户数" in text
    assert "须在" in text and "不是整数" in text
    assert "须在 <code>-180</code> 到 <code>180</code> 之间" in table
    assert "<code>households</code>" in table and "<code>farm</code>" in table
    # the columns the form lists are named in Chinese too
    columns = visible(re.search(r'<ul[^>]*id="import-columns".*?</ul>', html, re.S)[0])
    assert "编码" in columns and "户数" in columns

    resp = _post(client, "points", POINTS)
    assert resp.status_code == 422 and count_rows(po_app, PickupPoint) == 0
    text = visible(_report(resp.get_data(as_text=True)))
    assert not re.search(r"[A-Za-z]{3,}", text), text
    assert "代办费" in text and "类型" in text

    client.post("/lang", data={"lang": "en", "csrf_token": client.csrf, "next": "/"})
    text = visible(_report(_post(client, "areas", AREAS).get_data(as_text=True)))
    assert "Name" in text and "required" in text
