"""Each point's agent fee (代办费) for a month through the API, its export and its journal
voucher (issue 19 §3), with ecommerce off here: the fee counts the point's own handed-over items
and says that group-buy orders are not counted. tests in plugins/ecommerce/tests/
test_agent_fee_pickups.py cover ecommerce's verified pickups being counted."""

from __future__ import annotations

import csv
import datetime as dt
import io
from zoneinfo import ZoneInfo

SH = ZoneInfo("Asia/Shanghai")
ZZ = "cn.henan.zhengzhou"
ALL = ("pickup_points.view", "pickup_points.manage", "pickup_points.record")
POINTS = [
    {"code": "P1", "name": "易邮驿站", "point_type": "own", "lon": 113.63, "lat": 34.75,
     "county": "jinshui", "opened_on": "2022-06-01"},
    {"code": "P2", "name": "李庄邮乐购", "point_type": "village_station", "lon": 113.85,
     "lat": 34.75, "county": "zhengzhou", "agent_fee": "0.30", "opened_on": "2022-06-01"},
]  # fmt: skip


def import_network(api):
    r = api.post("/api/v1/pickup_points/points/import", json=POINTS)
    assert r.status_code == 200, r.get_json()


def at(day: str, hour: int) -> str:
    return dt.datetime.fromisoformat(day).replace(hour=hour, tzinfo=SH).isoformat()


def item(point: str, waybill: str, day: str) -> dict:
    return {"point": point, "waybill": waybill, "arrived_at": at(day, 8),
            "notified_at": at(day, 9), "feedback_at": at(day, 9), "picked_up_at": at(day, 18)}  # fmt: skip


def test_agent_fee_of_a_month_counts_own_items_from_the_agreement_on(
    po_app, make_token, enable_plugin, frozen_today
):
    enable_plugin("ecommerce", "cn.henan", on=False)
    api = make_token(ZZ, *ALL, "core.journal.read")
    # the import records P2's agreement (0.30 per item) from the import day, 10 Sep 2022;
    # P1 is the company's own point: no agreement
    frozen_today.set("2022-09-10")
    import_network(api)
    frozen_today.set("2022-10-05")
    rows = [
        item("P2", "W1", "2022-09-05"),  # before the agreement: no fee
        item("P2", "W2", "2022-09-12"),
        item("P2", "W3", "2022-09-15"),
        item("P2", "W4", "2022-09-20"),
        item("P2", "W5", "2022-09-30"),
        item("P2", "W6", "2022-10-01"),  # next month
        item("P1", "W7", "2022-09-12"),  # own point: no agreement
    ]
    assert api.post("/api/v1/pickup_points/items", json=rows).status_code == 200

    r = api.get("/api/v1/pickup_points/agent-fees?month=2022-09")
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    # P2: 5 items in September, 4 of them from 10 Sep: 4 x 0.30 = 1.20; P1: 1 item, no fee
    assert [
        (p["code"], p["items"], p["items_with_agreement"], p["items_without_agreement"], p["fee"])
        for p in body["points"]
    ] == [
        ("P1", {"pickup_points": 1}, 0, 1, "0.00"),
        ("P2", {"pickup_points": 5}, 4, 1, "1.20"),
    ]
    p2 = body["points"][1]
    assert (p2["fee_per_item"], p2["agreement_from"], p2["unit"]) == ("0.30", "2022-09-10", ZZ)
    assert body["total"] == {"items": {"pickup_points": 6}, "items_total": 6, "fee": "1.20"}
    assert (body["from"], body["to"]) == ("2022-09-01", "2022-09-30")
    # ecommerce is off here: its picked-up orders are not counted, and the answer says so
    assert body["sources"] == {"pickup_points": "counted", "ecommerce": "off"}
    assert [n["en"] for n in body["notes"]] == [
        "The E-commerce festival plugin is off here: its picked-up orders are not counted in "
        "the fee."
    ]
    # October: W6 only, 1 x 0.30 = 0.30
    octo = api.get("/api/v1/pickup_points/agent-fees?month=2022-10").get_json()
    assert [(p["code"], p["fee"]) for p in octo["points"]] == [("P2", "0.30")]

    # the export: one row per point, numbers as numbers
    csv_resp = api.get("/api/v1/pickup_points/agent-fees?month=2022-09&export=csv")
    assert csv_resp.status_code == 200 and csv_resp.mimetype == "text/csv"
    table = list(csv.reader(io.StringIO(csv_resp.get_data().decode("utf-8-sig"))))
    assert table[0][-3:] == ["合计件数", "无协议件数", "代办费（元）"]
    assert [r[0] for r in table[1:]] == ["P1", "P2"] and table[2][-3:] == ["5", "1", "1.20"]
    xlsx = api.get("/api/v1/pickup_points/agent-fees?month=2022-09&export=xlsx")
    assert xlsx.status_code == 200 and xlsx.get_data()[:2] == b"PK"
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(xlsx.get_data())).active
    last = [c.value for c in list(sheet.iter_rows())[2]]
    assert last[0] == "P2" and float(last[-1]) == 1.2 and last[-3] == 5

    # the journal: one voucher on 30 Sep, Dr 6601 销售费用 1.20 / Cr 2241 其他应付款 1.20
    j = api.get(f"/api/v1/journal?tenant={ZZ}&from=2022-09-01&to=2022-09-30").get_json()
    mine = [v for v in j["items"] if v["plugin"] == "pickup_points"]
    assert len(mine) == 1 and mine[0]["balanced"] is True
    assert mine[0]["date"] == "2022-09-30" and mine[0]["reference"].startswith(
        "pickup_points:agent_fee:2022-09:"
    )
    assert [(ln["code"], ln["debit"], ln["credit"]) for ln in mine[0]["lines"]] == [
        ("6601", "1.20", "0.00"),
        ("2241", "0.00", "1.20"),
    ]


def test_agent_fee_month_is_checked(make_token):
    api = make_token(ZZ, *ALL)
    for bad in ("2022-13", "2022-9", "Sep"):
        r = api.get(f"/api/v1/pickup_points/agent-fees?month={bad}")
        assert r.status_code == 422, bad
        assert r.get_json()["error"]["details"][0]["field"] == "query.month"
    r = api.get("/api/v1/pickup_points/agent-fees?month=2022-09&export=pdf")
    assert r.status_code == 422
    assert r.get_json()["error"]["details"][0]["field"] == "query.export"


def test_the_journal_export_outside_a_request_counts_the_fee_too(
    po_app, make_token, enable_plugin, frozen_today
):
    """``postalops journal export`` and jobs run without a Flask app context: the agent fee
    finds the registry through the session the core called it with."""
    from flask import has_app_context
    from postalops import context, vouchers
    from postalops.testing import system_context

    enable_plugin("ecommerce", "cn.henan", on=False)
    api = make_token(ZZ, *ALL)
    frozen_today.set("2022-09-01")
    import_network(api)
    items = [item("P2", "W1", "2022-09-02"), item("P2", "W2", "2022-09-03")]
    assert api.post("/api/v1/pickup_points/items", json=items).status_code == 200
    assert not has_app_context()
    with context.activate(system_context(po_app, ZZ)) as ctx:
        journal = vouchers.collect(
            po_app.extensions["postalops.plugins"],
            ctx.session,
            ZZ,
            dt.date(2022, 9, 1),
            dt.date(2022, 9, 30),
        )
    assert journal.degraded == []
    # 2 items x 0.30 = 0.60 on 30 Sep
    assert [
        (v.plugin, v.date.isoformat(), str(v.debit), v.balanced)
        for v in journal.vouchers
        if v.plugin == "pickup_points"
    ] == [("pickup_points", "2022-09-30", "0.60", True)]


def test_a_city_books_one_voucher_a_month_with_a_credit_per_point(
    po_app, make_token, enable_plugin, frozen_today
):
    """Henan's September 2022 had one agent-fee voucher per point (805 vouchers of a few yuan in
    the demo's journal). Finance books the month's accrual once per city: Dr 6601 the city's
    total, Cr 2241 each point's fee, the point named in the line's memo."""
    enable_plugin("ecommerce", "cn.henan", on=False)
    api = make_token(ZZ, *ALL, "core.journal.read")
    frozen_today.set("2022-09-01")
    p3 = {"code": "P3", "name": "金水社区驿站", "point_type": "partner_shop", "lon": 113.66,
          "lat": 34.78, "county": "jinshui", "agent_fee": "0.50", "opened_on": "2022-06-01"}  # fmt: skip
    r = api.post("/api/v1/pickup_points/points/import", json=[*POINTS, p3])
    assert r.status_code == 200, r.get_json()
    frozen_today.set("2022-10-05")
    rows = [
        item("P2", "W1", "2022-09-05"),
        item("P2", "W2", "2022-09-06"),
        item("P3", "W3", "2022-09-07"),
    ]
    assert api.post("/api/v1/pickup_points/items", json=rows).status_code == 200
    j = api.get(f"/api/v1/journal?tenant={ZZ}&from=2022-09-01&to=2022-09-30").get_json()
    mine = [v for v in j["items"] if v["plugin"] == "pickup_points"]
    # P2: 2 x 0.30 = 0.60; P3 (Jinshui, a station of Zhengzhou): 1 x 0.50 = 0.50; total 1.10
    assert len(mine) == 1 and mine[0]["balanced"] is True
    assert mine[0]["reference"] == "pickup_points:agent_fee:2022-09:cn.henan.zhengzhou"
    assert [(ln["code"], ln["debit"], ln["credit"]) for ln in mine[0]["lines"]] == [
        ("6601", "1.10", "0.00"),
        ("2241", "0.00", "0.60"),
        ("2241", "0.00", "0.50"),
    ]
    memos = [ln["memo"] for ln in mine[0]["lines"]]
    assert "P2" in memos[1] and "李庄邮乐购" in memos[1] and "P3" in memos[2]
