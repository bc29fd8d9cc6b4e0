"""The HTTP API and portal: bad input named by field/row, jobs, exports, a courier's own slip."""

from __future__ import annotations

import io
from decimal import Decimal as D

from openpyxl import load_workbook
from postalops.jobs import wait_for
from postalops.testing import count_rows
from postalops_payroll.models import PayrollCourier, PayrollDelivery, PayrollRateCard

ZZ, JINSHUI, KF = "cn.henan.zhengzhou", "cn.henan.zhengzhou.jinshui", "cn.henan.kaifeng"
ALL = (
    "payroll.view",
    "payroll.manage",
    "payroll.ingest",
    "payroll.run",
    "payroll.approve",
    "payroll.reopen",
    "core.jobs.view",
    "core.metrics.read",
)


def test_rate_card_violations_are_422_naming_every_cell(tenants, make_token, po_app, pay):
    api = make_token(ZZ, *ALL)
    card = pay.card_dict()
    card["delivery_rates"]["parcel"]["pickup_point"]["rural"] = "1.01"  # 0.30 + 1.01 > door 1.30
    card["delivery_rates"]["letter"]["pickup_point"]["urban"] = "0.16"  # 0.05 + 0.16 > door 0.20
    response = api.post("/api/v1/payroll/rate-cards", json={"unit": ZZ, "card": card})
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "invalid_rate_card"
    assert sorted(d["field"] for d in error["details"]) == [
        "delivery_rates.letter.pickup_point.urban",
        "delivery_rates.parcel.pickup_point.rural",
    ]
    assert count_rows(po_app, PayrollRateCard) == 0
    ok = api.post("/api/v1/payroll/rate-cards", json={"unit": ZZ, "card": pay.card_dict()})
    assert ok.status_code == 201 and ok.get_json()["version"] == 1


def test_a_card_for_a_unit_outside_the_token_scope_is_refused(tenants, make_token, pay):
    api = make_token(KF, *ALL)
    response = api.post("/api/v1/payroll/rate-cards", json={"unit": ZZ, "card": pay.card_dict()})
    assert response.status_code == 403


def test_malformed_bodies_are_400_and_missing_fields_422(tenants, make_token):
    api = make_token(ZZ, *ALL)
    assert (
        api.post(
            "/api/v1/payroll/runs", data="{not json", content_type="application/json"
        ).status_code
        == 400
    )
    response = api.post("/api/v1/payroll/runs", json={"unit": ZZ, "month": "Sept"})
    assert response.status_code == 422
    assert response.get_json()["error"]["details"][0]["field"] == "month"


def test_courier_csv_import_reports_per_row_and_writes_nothing_on_error(
    tenants, make_token, po_app
):
    api = make_token(ZZ, *ALL)
    bad = (
        "code,name,kind,station,grade,base_pay\n"
        "ZZ-1,张一,own,cn.henan.zhengzhou.jinshui,A,3000.00\n"
        "ZZ-2,张二,own,cn.henan.kaifeng,A,3000.00\n"
        "ZZ-3,张三,robot,cn.henan.zhengzhou.jinshui,A,abc\n"
    )
    response = api.post(
        "/api/v1/payroll/couriers/import", data=bad.encode(), content_type="text/csv"
    )
    assert response.status_code == 422
    details = response.get_json()["error"]["details"]
    assert [d["row"] for d in details] == [3, 4]  # spreadsheet rows; the header is row 1
    assert details[0]["errors"] == [
        {"field": "station", "message": "unknown unit or outside your scope"}
    ]
    # one pass: the bad kind does not hide the bad base pay
    assert {e["field"] for e in details[1]["errors"]} == {"kind", "base_pay"}
    assert count_rows(po_app, PayrollCourier) == 0
    good = "\n".join(bad.splitlines()[:2]) + "\n"
    first = api.post(
        "/api/v1/payroll/couriers/import", data=good.encode(), content_type="text/csv"
    ).get_json()
    again = api.post(
        "/api/v1/payroll/couriers/import", data=good.encode(), content_type="text/csv"
    ).get_json()
    assert first["counts"] == {"created": 1} and again["counts"] == {"unchanged": 1}


def test_event_batches_report_per_row_and_are_idempotent(payroll_world, make_token, po_app, pay):
    api = make_token(JINSHUI, "payroll.ingest")
    rows = [raw for _, raw in pay.delivery_rows("ZZ-0001", [("parcel", "door", "urban", 3)])]
    bad = rows + [{**rows[0], "waybill": "BAD1", "tier": "moon"}]
    response = api.post("/api/v1/payroll/events/deliveries", json=bad)
    assert response.status_code == 422
    assert response.get_json()["error"]["details"] == [
        {
            "row": 3,
            "status": "rejected",
            "waybill": "BAD1",
            "errors": [
                {
                    "field": "tier",
                    "message": "one of urban, suburban, rural, mountain",
                    "value": "moon",
                }
            ],
        }
    ]
    assert count_rows(po_app, PayrollDelivery) == 0
    assert (
        api.post("/api/v1/payroll/events/deliveries", json=rows).get_json()["counts"]["accepted"]
        == 3
    )
    assert (
        api.post("/api/v1/payroll/events/deliveries", json=rows).get_json()["counts"]["duplicate"]
        == 3
    )
    assert count_rows(po_app, PayrollDelivery) == 3


def test_a_payroll_run_is_a_tracked_job(september_events, make_token, workers, po_app):
    api = make_token(ZZ, *ALL)
    started = api.post("/api/v1/payroll/runs", json={"unit": ZZ, "month": "2022-09"})
    assert started.status_code == 202
    job = wait_for(po_app.extensions["postalops.db"], started.get_json()["job_id"], timeout=60)
    assert job.status == "succeeded", job.error
    assert job.done == job.total == 3  # three couriers under Zhengzhou
    assert job.result["payroll_total"] == "5658.78"
    seen = api.get(f"/api/v1/jobs/{job.id}").get_json()
    assert seen["status"] == "succeeded"
    runs = api.get("/api/v1/payroll/runs?month=2022-09").get_json()
    assert [(r["unit"], r["status"], r["payroll_total"]) for r in runs["items"]] == [
        (ZZ, "draft", "5658.78")
    ]


def _run_and_approve(api, workers_app):
    started = api.post("/api/v1/payroll/runs", json={"unit": ZZ, "month": "2022-09"}).get_json()
    job = wait_for(workers_app.extensions["postalops.db"], started["job_id"], timeout=60)
    assert job.status == "succeeded", job.error


def test_a_courier_sees_only_their_own_payslips(
    september_events, make_token, make_user, login, workers, po_app
):
    _run_and_approve(make_token(ZZ, *ALL), po_app)
    make_user("zz1", JINSHUI, "courier")
    courier = login("zz1")
    listed = courier.get("/api/v1/payroll/payslips").get_json()["items"]
    assert [(s["courier"], s["total"]) for s in listed] == [("ZZ-0001", "3127.78")]
    own = courier.get(f"/api/v1/payroll/payslips/{listed[0]['id']}").get_json()
    assert [line["amount"] for line in own["lines"]][-1] == "-50.00"
    head = make_token(JINSHUI, "payroll.view")
    others = [
        s
        for s in head.get("/api/v1/payroll/payslips").get_json()["items"]
        if s["courier"] != "ZZ-0001"
    ]
    assert others, "the station head sees the other couriers"
    assert courier.get(f"/api/v1/payroll/payslips/{others[0]['id']}").status_code == 404
    page = courier.get("/p/payroll/my").get_data(as_text=True)
    assert "¥3,127.78" in page and "2,509.00" not in page
    assert courier.get("/api/v1/payroll/runs").status_code == 403  # no payroll.view


def test_approval_locks_the_month_over_http(
    september_events, make_token, make_user, login, workers, po_app, pay
):
    api = make_token(ZZ, *ALL)
    _run_and_approve(api, po_app)
    checker = make_token(ZZ, "payroll.approve")  # maker-checker: not the token that ran it
    approved = checker.post("/api/v1/payroll/runs/approve", json={"unit": ZZ, "month": "2022-09"})
    assert approved.status_code == 200 and approved.get_json()["status"] == "approved"
    late = [
        raw
        for _, raw in pay.delivery_rows("ZZ-0002", [("parcel", "door", "urban", 1)], prefix="LATE")
    ]
    refused = api.post("/api/v1/payroll/events/deliveries", json=late)
    assert refused.status_code == 422
    assert refused.get_json()["error"]["details"][0]["errors"][0]["code"] == "month_locked"
    adjustment = api.post(
        "/api/v1/payroll/adjustments",
        json={"courier": "ZZ-0002", "month": "2022-09", "amount": "10.00", "reason": "bonus"},
    )
    assert adjustment.status_code == 409
    hr_only = make_token(ZZ, "payroll.view", "payroll.run")
    assert (
        hr_only.post(
            "/api/v1/payroll/runs/reopen", json={"unit": ZZ, "month": "2022-09", "reason": "x"}
        ).status_code
        == 403
    )
    assert (
        api.post(
            "/api/v1/payroll/runs/reopen", json={"unit": ZZ, "month": "2022-09", "reason": ""}
        ).status_code
        == 422
    )
    assert (
        api.post(
            "/api/v1/payroll/runs/reopen",
            json={"unit": ZZ, "month": "2022-09", "reason": "late scans"},
        ).status_code
        == 200
    )
    assert api.post("/api/v1/payroll/events/deliveries", json=late).status_code == 200


def test_payslips_and_cost_summary_export_to_xlsx(september_events, make_token, workers, po_app):
    api = make_token(ZZ, *ALL)
    _run_and_approve(api, po_app)
    response = api.get(f"/api/v1/payroll/exports/payslips.xlsx?tenant={ZZ}&month=2022-09")
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.data))
    slips = list(book["工资条"].iter_rows(values_only=True))
    assert slips[0][0] == "投递员工号 courier"  # Chinese first, then the column's key
    assert slips[0][12] == "应发合计 total" and slips[0][-2] == "实发工资 net_pay"
    assert sorted((r[0], D(repr(r[12]))) for r in slips[1:]) == [  # numbers (see
        ("ZZ-0001", D("3127.78")),  # test_review_defects.py for their formats)
        ("ZZ-0002", D("2509.00")),
        ("ZZ-W01", D("22.00")),
    ]
    assert len(list(book["工资明细"].iter_rows())) == 1 + 13
    costs = api.get("/api/v1/payroll/exports/cost-summary.xlsx?from=2022-09-01&to=2022-09-30")
    rows = list(load_workbook(io.BytesIO(costs.data))["成本汇总"].iter_rows(values_only=True))
    assert rows[1][:2] == (ZZ, "2022-09")


def test_metrics_follow_the_contract(september_events, make_token, workers, po_app):
    api = make_token(ZZ, *ALL)
    _run_and_approve(api, po_app)
    body = api.get(
        f"/api/v1/metrics?tenant={ZZ}&from=2022-09-01&to=2022-09-30&plugin=payroll"
    ).get_json()
    values = {k: v["value"] for k, v in body["metrics"]["payroll"].items()}
    # delivered: 111 + 10 + 20 = 141 ; pickup-point: 30 / 141 = 0.21276.. -> 0.2128
    # cost: own 5636.78 + agent fees 9.00 + outsourced 22.00 = 5667.78 / 141 = 40.1970
    # own: 5645.78 / 121 = 46.6593 ; outsourced: 22.00 / 20 = 1.1000
    # quota completion: ZZ-0001 0.7999, ZZ-0002 0 -> median 0.39995 -> 0.4000 (half-up)
    assert values == {
        "delivered_items": 141,
        "cost_per_item": "40.1970",
        "own_cost_per_item": "46.6593",
        "outsourced_unit_price": "1.1000",
        "pickup_point_share": "0.2128",
        "quota_completion_median": "0.4000",
        "payroll_total": "5658.78",
        # no statutory rates in this world, and both own slips (3,127.78 and 2,509.00) are
        # under the 5,000 monthly basic deduction: net = gross = 5,636.78
        "net_pay": "5636.78",
        "deductions": "0.00",
        "income_tax_withheld": "0.00",
    }
    assert all(
        set(v) >= {"value", "unit", "label_zh", "label_en"}
        for v in body["metrics"]["payroll"].values()
    )
    kaifeng = make_token(KF, "core.metrics.read")
    other = kaifeng.get(
        f"/api/v1/metrics?tenant={KF}&from=2022-09-01&to=2022-09-30&plugin=payroll"
    ).get_json()
    assert other["metrics"]["payroll"]["payroll_total"]["value"] == "0"  # Kaifeng was not run
    assert other["metrics"]["payroll"]["delivered_items"]["value"] == 5


def test_budget_alerts_and_unit_cost_report(september_events, make_token, workers, po_app):
    api = make_token(ZZ, *ALL)
    _run_and_approve(api, po_app)
    # 20 outsourced items against a budget of 22: 90.9% -> warning
    assert (
        api.put(
            "/api/v1/payroll/budgets",
            json={"unit": ZZ, "month": "2022-09", "volume_budget": 22, "unit_price_cap": "1.20"},
        ).status_code
        == 200
    )
    status = api.get("/api/v1/payroll/budgets/status?from=2022-09-01&to=2022-09-30").get_json()[
        "items"
    ]
    assert [(b["used_items"], b["share"], b["alert"]) for b in status] == [
        (20, "0.9091", "warning")
    ]
    report = api.get("/api/v1/payroll/reports/unit-cost?from=2022-09-01&to=2022-09-30").get_json()[
        "items"
    ]
    assert [(r["city"], r["outsourced_unit_price"], r["cost_per_item"]) for r in report] == [
        (ZZ, "1.1000", "40.1970")
    ]
    gap = api.get(f"/api/v1/payroll/reports/market-gap?tenant={ZZ}&month=2022-09").get_json()[
        "items"
    ]
    assert {(g["category"], g["tier"]): g["difference"] for g in gap}[
        ("parcel", "urban")
    ] == "-0.05"


def test_the_api_is_in_the_openapi_document(tenants, make_token):
    spec = make_token(ZZ, "payroll.view").get("/api/v1/openapi.json").get_json()
    paths = {p for p in spec["paths"] if p.startswith("/api/v1/payroll/")}
    assert {
        "/api/v1/payroll/rate-cards",
        "/api/v1/payroll/runs",
        "/api/v1/payroll/events/deliveries",
        "/api/v1/payroll/payslips/{slip_id}",
        "/api/v1/payroll/couriers/import",
    } <= paths
    assert (
        spec["paths"]["/api/v1/payroll/runs/approve"]["post"]["x-permission"] == "payroll.approve"
    )


def test_portal_pages_render_in_chinese_and_english(
    september_events, make_user, login, make_token, workers, po_app
):
    _run_and_approve(make_token(ZZ, *ALL), po_app)
    make_user("hr", ZZ, "payroll_hr")
    hr = login("hr")
    home = hr.get("/p/payroll/").get_data(as_text=True)
    assert (
        "计件工资" in home
        and "2022年9月" in home
        and "/p/payroll/" in hr.get("/").get_data(as_text=True)
    )
    for url in (
        "/p/payroll/rate-cards",
        "/p/payroll/import",
        "/p/payroll/costs?from=2022-09-01&to=2022-09-30",
    ):
        assert hr.get(url).status_code == 200, url
    hr.post("/lang", data={"lang": "en", "csrf_token": hr.csrf, "next": "/p/payroll/"})
    assert "Piece-rate pay" in hr.get("/p/payroll/").get_data(as_text=True)


def test_the_portal_names_each_offending_cell(tenants, make_user, login, pay):
    import json

    make_user("hr", ZZ, "payroll_hr")
    hr = login("hr")
    card = pay.card_dict()
    card["delivery_rates"]["parcel"]["pickup_point"]["rural"] = "1.01"
    page = hr.post(
        "/p/payroll/rate-cards", data={"unit": ZZ, "card": json.dumps(card), "csrf_token": hr.csrf}
    )
    assert "delivery_rates.parcel.pickup_point.rural" in page.get_data(as_text=True)


def test_a_disabled_plugin_answers_404(tenants, make_token, as_unit):
    from postalops.models import PluginEnablement

    with as_unit(None) as s:
        s.add(PluginEnablement(unit_code=KF, plugin_key="payroll", enabled=False))
        s.commit()
    assert make_token(KF, *ALL).get("/api/v1/payroll/runs").status_code == 404
    assert make_token(ZZ, *ALL).get("/api/v1/payroll/runs").status_code == 200


def test_money_stays_decimal_in_json(september_events, make_token, workers, po_app):
    api = make_token(ZZ, *ALL)
    _run_and_approve(api, po_app)
    items = api.get("/api/v1/payroll/payslips?month=2022-09").get_json()["items"]
    assert all(isinstance(s["total"], str) for s in items)
    assert sum(D(s["total"]) for s in items) == D("5658.78")
