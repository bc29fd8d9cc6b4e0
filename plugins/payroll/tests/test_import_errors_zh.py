"""The import page names each refused row's field and problem in the user's language (issue 14
§2 leftover): Chinese labels (with the file's column name beside them as code) and Chinese
messages in zh, English in en; nothing written."""

from __future__ import annotations

import io
import re

from postalops.testing import assert_readable, count_rows
from postalops.testing import page_text as visible
from postalops_payroll.models import PayrollCourier

ZZ = "cn.henan.zhengzhou"

COURIERS = (
    "code,name,kind,station,grade,base_pay,contractor\n"
    "ZZ-0101,,own,cn.henan.zhengzhou.jinshui,,abc,\n"
    "ZZ-0102,李四,temp,cn.nowhere,A,3000.00,\n"
    "ZZ-0103,王五,outsourced,cn.henan.zhengzhou.jinshui,,,NOPE\n"
)
SCANS = (
    "waybill,courier,time,category,mode,tier\n"
    ",ZZ-0001,2022-09-03T10:00:00+08:00,parcel,door,urban\n"
    "W2,NOPE,not-a-time,box,door,city\n"
)


def _post(portal, kind: str, body: str):
    return portal.post(
        "/p/payroll/import",
        data={"kind": kind, "file": (io.BytesIO(body.encode()), f"{kind}.csv"),
              "csrf_token": portal.csrf},
        content_type="multipart/form-data",
    )  # fmt: skip


def _problems(html: str) -> str:
    table = re.search(r'<table[^>]*id="import-errors".*?</table>', html, re.S)
    assert table, html[:2000]
    return table[0]


def test_refused_rows_read_in_chinese_naming_row_and_column(
    payroll_world, make_user, login, po_app
):
    portal = login(make_user("hr", ZZ, "payroll_hr"))
    before = count_rows(po_app, PayrollCourier)
    resp = _post(portal, "couriers", COURIERS)
    assert resp.status_code == 422 and count_rows(po_app, PayrollCourier) == before
    html = resp.get_data(as_text=True)
    assert_readable(html)
    table = _problems(html)
    text = visible(table)
    assert not re.search(r"[A-Za-z]{3,}", text), text  # no English word outside <code>
    assert "名称" in text and "必填" in text and "底薪" in text and "不是数字" in text
    assert "自有员工必填" in text  # grade of an own courier
    assert "未知单位或不在您的范围内" in text and "未知的外包商" in text
    assert "<code>base_pay</code>" in table  # the file's column, to find it
    assert "<code>outsourced</code>" in table  # the values the column takes

    resp = _post(portal, "delivery", SCANS)
    assert resp.status_code == 422
    text = visible(_problems(resp.get_data(as_text=True)))
    assert not re.search(r"[A-Za-z]{3,}", text), text
    assert "运单号" in text and "未知的揽投员" in text and "时间" in text

    portal.post("/lang", data={"lang": "en", "csrf_token": portal.csrf, "next": "/"})
    text = visible(_problems(_post(portal, "couriers", COURIERS).get_data(as_text=True)))
    assert "Name" in text and "required" in text and "unknown contractor" in text
