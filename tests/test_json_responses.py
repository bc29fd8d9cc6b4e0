"""API responses read the same whether orjson or the standard library writes them (the fast path
of ``postalops.api.JSONProvider``, issue 17 §2): money as strings, times as ISO 8601, keys
sorted, Chinese as itself; what orjson refuses falls back to the standard library."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from postalops.api import JSONProvider

COMPACT = {"separators": (",", ":")}


def standard(obj):
    return json.dumps(
        obj, default=JSONProvider.default, sort_keys=True, ensure_ascii=False, **COMPACT
    )


@pytest.mark.parametrize(
    "obj",
    [
        {"b": Decimal("1.50"), "a": [1, 2.5, None, True], "名称": "广州"},
        {"at": dt.datetime(2022, 8, 17, 1, 2, 3, tzinfo=dt.UTC), "day": dt.date(2022, 8, 17)},
        {"local": dt.datetime(2022, 8, 17, 9, 0, 0, 500, tzinfo=ZoneInfo("Asia/Shanghai"))},
        {"naive": dt.datetime(2022, 8, 17, 9, 0), "time": dt.time(9, 30)},
        {"z": {"y": {"x": []}}, "ids": {1: "one", 2: "two"}},
        {"big": 2**70},  # beyond 64 bits: orjson refuses, the standard library writes it
    ],
)
def test_the_fast_writer_writes_what_the_standard_library_writes(po_app, obj):
    assert po_app.json.dumps(obj, **COMPACT) == standard(obj)


def test_an_api_error_and_a_list_read_the_same(po_app, make_token, tenants):
    client = make_token("cn.henan.zhengzhou", "core.metrics.read").client
    resp = client.get("/api/v1/jobs/999999", headers={"Authorization": "Bearer nope"})
    assert resp.status_code == 401
    body = resp.get_data(as_text=True)
    assert body == standard(json.loads(body)) + "\n"
