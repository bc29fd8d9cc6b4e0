"""The outcall lists as supervisors use them (issue 14 §2): paged at 50, filtered, exported,
states in Chinese, phone and ID masked on the page and in the export."""

from __future__ import annotations

import csv
import io
import re

import pytest
from postalops_outcall.testing import GZ, case_row


@pytest.fixture
def platform(hall, make_token):
    return make_token(GZ, "outcall.intake", "outcall.view")


def text_of(html: str) -> str:
    html = re.sub(r"<(script|style)\b.*?</\1>", "", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_the_case_list_pages_filters_and_masks(platform, make_user, login):
    resp = platform.post("/api/v1/outcall/cases", json=[case_row(n) for n in range(1, 61)])
    assert resp.status_code == 200, resp.get_json()
    boss = login(make_user("gz_boss", GZ, "outcall_supervisor", "outcall_agent"))
    html = boss.get("/p/outcall/cases").get_data(as_text=True)
    table = re.search(r'<table[^>]*id="cases-table".*?</table>', html, re.S)[0]
    assert table.count("<tr>") - 1 == 50
    seen = text_of(html)
    assert "共 60 条" in seen and "待外呼" in seen and "138****5678" in seen
    assert "13812345678" not in html
    assert not re.search(r"\b(queued|ineligible|converted)\b", seen)
    assert 'href="/p/outcall/cases/' in table  # each case opens its page

    queued = text_of(boss.get("/p/outcall/cases?status=queued&per_page=10").get_data(as_text=True))
    assert "第 1–10 条" in queued
    rows = list(
        csv.reader(io.StringIO(boss.get("/p/outcall/cases?export=csv").data.decode("utf-8-sig")))
    )
    assert len(rows) == 61 and "电话（脱敏）" in rows[0]
    phone = rows[0].index("电话（脱敏）")
    assert all("****" in r[phone] for r in rows[1:])  # the export is masked too

    orders = boss.get("/p/outcall/orders")
    assert orders.status_code == 200 and "暂无邮件订单" in text_of(orders.get_data(as_text=True))
    notes = boss.get("/p/outcall/notifications?status=nope")
    assert notes.status_code == 200 and "未知取值" in text_of(notes.get_data(as_text=True))
