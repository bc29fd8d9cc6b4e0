"""The 代办费结算 / Agent fees portal page (/p/pickup_points/agent-fees) through the portal client:
last month by default, the figures of a small hand-computed month with money formatted, the
note that group-buy orders are not counted while ecommerce is off here, the CSV/XLSX downloads
of the API's export, zh and en, and 403 without pickup_points.view (as the API)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from postalops.testing import assert_readable
from postalops.testing import page_text as visible
from postalops.testing import table_rows as rows_of

SH = ZoneInfo("Asia/Shanghai")
ZZ = "cn.henan.zhengzhou"
PAGE = "/p/pickup_points/agent-fees"
POINTS = [
    {"code": "P1", "name": "易邮驿站", "point_type": "own", "lon": 113.63, "lat": 34.75,
     "county": "jinshui", "opened_on": "2022-06-01"},
    {"code": "P2", "name": "李庄邮乐购", "point_type": "village_station", "lon": 113.85,
     "lat": 34.75, "county": "zhengzhou", "agent_fee": "0.30", "opened_on": "2022-06-01"},
    {"code": "P3", "name": "王村便民店", "point_type": "village_station", "lon": 113.70,
     "lat": 34.80, "county": "zhengzhou", "agent_fee": "0.45", "opened_on": "2022-06-01"},
]  # fmt: skip


def at(day: str, hour: int) -> str:
    return dt.datetime.fromisoformat(day).replace(hour=hour, tzinfo=SH).isoformat()


def item(point: str, waybill: str, day: str) -> dict:
    return {"point": point, "waybill": waybill, "arrived_at": at(day, 8),
            "notified_at": at(day, 9), "feedback_at": at(day, 9), "picked_up_at": at(day, 18)}  # fmt: skip


def september(make_token, enable_plugin, frozen_today):
    """P2 (0.30/item) and P3 (0.45/item) agree from the import day, 10 Sep 2022; P1 is the
    company's own point (no agreement). Today is 5 Oct 2022, so the page opens on September."""
    enable_plugin("ecommerce", "cn.henan", on=False)
    api = make_token(ZZ, "pickup_points.view", "pickup_points.manage", "pickup_points.record")
    frozen_today.set("2022-09-10")
    r = api.post("/api/v1/pickup_points/points/import", json=POINTS)
    assert r.status_code == 200, r.get_json()
    frozen_today.set("2022-10-05")
    rows = [
        item("P2", "W1", "2022-09-05"),  # before the agreement: no fee
        item("P2", "W2", "2022-09-12"),
        item("P2", "W3", "2022-09-15"),
        item("P2", "W4", "2022-09-20"),
        item("P2", "W5", "2022-09-30"),
        item("P2", "W6", "2022-10-01"),  # October
        item("P3", "W7", "2022-09-11"),
        item("P3", "W8", "2022-09-21"),
        item("P3", "W9", "2022-09-29"),
        item("P1", "W10", "2022-09-12"),  # own point: no agreement
    ]
    assert api.post("/api/v1/pickup_points/items", json=rows).status_code == 200


def test_agent_fee_page_opens_on_last_month_with_hand_computed_figures(
    make_user, login, make_token, enable_plugin, frozen_today
):
    september(make_token, enable_plugin, frozen_today)
    client = login(make_user("ops-zz", ZZ, "ops"))
    page = client.get(PAGE)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert_readable(html)
    text = visible(html)
    # today 5 Oct 2022 -> last month, September, is selected
    assert '<option value="2022-09" selected>2022年9月</option>' in html
    assert "代办费结算" in text and "郑州" in text
    # P1: 1 own item, no agreement -> 1 without agreement, ¥0.00
    # P2: 5 own items, W1 before 10 Sep -> 1 without agreement; 4 x 0.30 = ¥1.20
    # P3: 3 own items, all from 10 Sep; 3 x 0.45 = ¥1.35
    # total: 3 points, 1 + 5 + 3 = 9 items, 1.20 + 1.35 = ¥2.55
    table = html.split('id="agent-fee-table"')[1].split("</table>")[0]
    assert rows_of(html, "agent-fee-table") == 3 + 1  # the three points and the total
    cells = [
        [visible(td) for td in tr.split("<td")[1:]]
        for tr in table.split("<tbody>")[1].split("</tbody>")[0].split("<tr>")[1:]
    ]
    clean = [[c.split(">", 1)[1].strip() if ">" in c else c for c in row] for row in cells]
    assert [(r[0], r[2], r[3], r[4], r[5], r[6]) for r in clean] == [
        ("P1", "1", "—", "1", "无协议", "¥0.00"),
        ("P2", "5", "—", "1", "¥0.30", "¥1.20"),
        ("P3", "3", "—", "0", "¥0.45", "¥1.35"),
    ]
    kpis = visible(html.split('id="agent-fee-kpis"')[1].split("</div>\n</div>")[0])
    assert "3个" in kpis.replace(" ", "") and "9件" in kpis.replace(" ", "")
    assert "¥2.55" in kpis
    assert "合计" in text and "¥2.55" in visible(table.split("<tfoot>")[1])
    # ecommerce is off here: the page says group-buy orders are not counted
    assert "电商节插件在本单位未启用：其自提核销的订单未计入代办费。" in text
    # the downloads are the API's export of the same month, through the portal session
    assert "/api/v1/pickup_points/agent-fees?month=2022-09&amp;export=csv" in html
    csv_resp = client.get("/api/v1/pickup_points/agent-fees?month=2022-09&export=csv")
    assert csv_resp.status_code == 200 and csv_resp.mimetype == "text/csv"
    assert csv_resp.get_data().decode("utf-8-sig").splitlines()[3].endswith(",1.35")
    xlsx = client.get("/api/v1/pickup_points/agent-fees?month=2022-09&export=xlsx")
    assert xlsx.status_code == 200 and xlsx.get_data()[:2] == b"PK"
    # the tab leads here from the plugin's other pages
    assert f'href="{PAGE}"' in client.get("/p/pickup_points/").get_data(as_text=True)

    # October, picked without typing: W6 only, 1 x 0.30 = ¥0.30
    octo = client.get(PAGE + "?month=2022-10").get_data(as_text=True)
    assert '<option value="2022-10" selected>' in octo
    assert "¥0.30" in visible(octo.split("<tfoot>")[1])
    assert "2022年11月" not in visible(octo)  # no link past the current month
    # August: no items and no agreement yet... P2/P3 have agreements, so rows with ¥0.00
    aug = client.get(PAGE + "?month=2022-08").get_data(as_text=True)
    assert "¥0.00" in visible(aug.split("<tfoot>")[1])
    assert client.get(PAGE + "?month=2022-13").status_code == 400

    # English
    client.post("/lang", data={"lang": "en", "csrf_token": client.csrf, "next": "/"})
    en = visible(client.get(PAGE).get_data(as_text=True))
    assert "Agent fees" in en and "Sep 2022" in en and "¥2.55" in en
    assert "Own items handed over" in en and "Items without agreement" in en
    assert "The E-commerce festival plugin is off here" in en and "代办费" not in en


def test_agent_fee_page_needs_the_view_permission(make_user, login, tenants):
    courier = login(make_user("courier-zz", ZZ, "courier"))
    assert courier.get(PAGE).status_code == 403
    viewer = login(make_user("viewer-zz", ZZ, "viewer"))
    assert viewer.get(PAGE).status_code == 200
