"""Defects found by exercising payroll (issue 15 §5), each through the real entry point."""

from __future__ import annotations

import io
from decimal import Decimal as D
from pathlib import Path

from postalops.jobs import wait_for
from postalops.models import Job
from postalops.testing import count_rows

ZZ, JINSHUI, KF = "cn.henan.zhengzhou", "cn.henan.zhengzhou.jinshui", "cn.henan.kaifeng"
SEPT = {"unit": ZZ, "month": "2022-09"}
HR = (
    "payroll.view",
    "payroll.manage",
    "payroll.ingest",
    "payroll.run",
    "payroll.approve",
    "payroll.reopen",
    "core.jobs.view",
)


def _run(api, po_app, body=SEPT) -> None:
    started = api.post("/api/v1/payroll/runs", json=body)
    assert started.status_code == 202, started.get_json()
    job = wait_for(po_app.extensions["postalops.db"], started.get_json()["job_id"], timeout=60)
    assert job.status == "succeeded", job.error


def _approve(checker, body=SEPT) -> None:
    approved = checker.post("/api/v1/payroll/runs/approve", json=body)
    assert approved.status_code == 200, approved.get_json()


# --- POST /runs on a locked month ----------------------------------------------------------------


def test_a_run_of_a_locked_month_is_409_at_once_and_starts_no_job(
    september_events, make_token, make_user, login, workers, po_app
):
    maker, checker = make_token(ZZ, *HR), make_token(ZZ, *HR)
    _run(maker, po_app)
    _approve(checker)
    jobs = count_rows(po_app, Job)
    refused = maker.post("/api/v1/payroll/runs", json=SEPT)
    assert refused.status_code == 409, refused.get_json()
    assert refused.get_json()["error"]["code"] == "month_locked"
    # a station below the locked city is locked too
    below = maker.post("/api/v1/payroll/runs", json={"unit": JINSHUI, "month": "2022-09"})
    assert below.status_code == 409 and below.get_json()["error"]["code"] == "month_locked"
    assert count_rows(po_app, Job) == jobs
    # the portal's run form says so instead of starting a job that fails
    portal = login(make_user("hr", ZZ, "payroll_hr"))
    refused_page = portal.post(
        "/p/payroll/runs",
        data={"unit": ZZ, "month": "2022-09", "csrf_token": portal.csrf},
    )
    assert refused_page.status_code == 422  # shown beside the month field, the month kept
    page = refused_page.get_data(as_text=True)
    assert 'id="f-month-error"' in page and "2022年9月已审批锁定" in page
    assert 'value="2022-09"' in page
    assert count_rows(po_app, Job) == jobs


def test_a_run_at_a_second_level_is_409_at_once(september_events, make_token, workers, po_app):
    api = make_token(ZZ, *HR)
    _run(api, po_app)
    jobs = count_rows(po_app, Job)
    refused = api.post("/api/v1/payroll/runs", json={"unit": JINSHUI, "month": "2022-09"})
    assert refused.status_code == 409
    assert refused.get_json()["error"]["code"] == "overlapping_run"
    assert count_rows(po_app, Job) == jobs


# --- a draft that changed since its run -----------------------------------------------------------


def _run_id(api) -> int:
    (run,) = api.get("/api/v1/payroll/runs?month=2022-09").get_json()["items"]
    return run["id"]


def _items_on_slips(api) -> int:
    slips = api.get("/api/v1/payroll/payslips?month=2022-09").get_json()["items"]
    return sum(s["delivered_items"] for s in slips)


def test_approving_a_draft_that_changed_since_its_run_is_409_naming_the_change(
    september_events, make_token, make_user, login, workers, po_app, pay
):
    maker, checker = make_token(ZZ, *HR), make_token(ZZ, *HR)
    _run(maker, po_app)
    _approve(checker)
    reopened = maker.post("/api/v1/payroll/runs/reopen", json={**SEPT, "reason": "late scan"})
    assert reopened.status_code == 200 and reopened.get_json()["stale"] is False
    late = [
        raw
        for _, raw in pay.delivery_rows("ZZ-0002", [("parcel", "door", "urban", 1)], prefix="LATE")
    ]
    assert maker.post("/api/v1/payroll/events/deliveries", json=late).status_code == 200
    refused = checker.post("/api/v1/payroll/runs/approve", json=SEPT)
    assert refused.status_code == 409, refused.get_json()
    error = refused.get_json()["error"]
    assert error["code"] == "draft_stale"
    assert error["details"] == [
        {
            "field": "deliveries",
            "at_run": {"items": 141},
            "now": {"items": 142},
            "message": "141 delivered items at the run, 142 now",
        }
    ]
    assert "141 delivered items at the run, 142 now" in error["message"]
    listed = maker.get("/api/v1/payroll/runs?month=2022-09").get_json()["items"][0]
    assert (listed["status"], listed["stale"]) == ("draft", True)
    # the portal's approval says the same, and the month stays open
    portal = login(make_user("checker", ZZ, "payroll_hr"))
    page = portal.post(
        f"/p/payroll/runs/{_run_id(maker)}/approve",
        data={"csrf_token": portal.csrf},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "草稿在核算后已有变化（投递扫描）" in page
    assert maker.get("/api/v1/payroll/runs").get_json()["items"][0]["status"] == "draft"
    # run again: the draft holds the late scan and may be approved
    _run(maker, po_app)
    assert maker.get("/api/v1/payroll/runs").get_json()["items"][0]["stale"] is False
    _approve(checker)
    assert _items_on_slips(maker) == 142


def test_a_change_to_a_courier_or_a_new_card_makes_the_draft_stale(
    september_events, make_token, workers, po_app, pay
):
    maker, checker = make_token(ZZ, *HR), make_token(ZZ, *HR)
    _run(maker, po_app)
    raised = f"code,name,kind,station,grade,base_pay\nZZ-0002,张二,own,{JINSHUI},B,2600.00\n"
    imported = maker.post(
        "/api/v1/payroll/couriers/import", data=raised.encode(), content_type="text/csv"
    )
    assert imported.status_code == 200, imported.get_json()
    card = {**pay.card_dict(), "effective_from": "2022-09-01"}
    assert (
        maker.post("/api/v1/payroll/rate-cards", json={"unit": ZZ, "card": card}).status_code == 201
    )
    collection = {
        "waybill": "CLATE",
        "courier": "ZZ-0001",
        "time": "2022-09-20T09:00:00+08:00",
        "category": "parcel",
        "postage": "10.00",
    }
    assert maker.post("/api/v1/payroll/events/collections", json=[collection]).status_code == 200
    refused = checker.post("/api/v1/payroll/runs/approve", json=SEPT)
    assert refused.status_code == 409
    details = refused.get_json()["error"]["details"]
    assert [d["field"] for d in details] == ["collections", "couriers", "rate_cards"]
    assert details[0]["message"] == ("3 collections (799.90 postage) at the run, 4 (809.90) now")
    assert details[2]["message"] == (
        "rate-card versions in force: cn.henan v1, cn.henan.zhengzhou v1 at the run, "
        "cn.henan v1, cn.henan.zhengzhou v1, cn.henan.zhengzhou v2 now"
    )
    _run(maker, po_app)
    _approve(checker)


# --- an adjustment marks the draft stale ---------------------------------------------------------


def test_an_adjustment_marks_the_draft_stale_in_the_api_and_on_the_run_page(
    september_events, make_token, make_user, login, workers, po_app
):
    maker, checker = make_token(ZZ, *HR), make_token(ZZ, *HR)
    _run(maker, po_app)
    run_id = _run_id(maker)
    added = maker.post(
        "/api/v1/payroll/adjustments",
        json={"courier": "ZZ-0002", "month": "2022-09", "amount": "10.00", "reason": "bonus"},
    )
    assert added.status_code == 201
    body = added.get_json()
    assert body["included_in_payslip"] is False
    assert body["run"]["id"] == run_id and body["run"]["stale"] is True
    assert body["run"]["changes"][0]["field"] == "adjustments"
    assert body["run"]["changes"][0]["message"] == (
        "1 adjustment(s) totalling -50.00 at the run, 2 totalling -40.00 now"
    )
    assert maker.get("/api/v1/payroll/runs").get_json()["items"][0]["stale"] is True
    portal = login(make_user("hr", ZZ, "payroll_hr"))
    page = portal.get(f"/p/payroll/runs/{run_id}").get_data(as_text=True)
    assert 'id="run-stale"' in page and "草稿已过期" in page and "补扣款" in page
    portal.post("/lang", data={"lang": "en", "csrf_token": portal.csrf, "next": "/"})
    page = portal.get(f"/p/payroll/runs/{run_id}").get_data(as_text=True)
    assert "Stale draft" in page and "adjustments" in page
    refused = checker.post("/api/v1/payroll/runs/approve", json=SEPT)
    assert refused.status_code == 409
    assert refused.get_json()["error"]["details"][0]["field"] == "adjustments"
    _run(maker, po_app)
    page = portal.get(f"/p/payroll/runs/{run_id}").get_data(as_text=True)
    assert 'id="run-stale"' not in page
    _approve(checker)
    slips = maker.get("/api/v1/payroll/payslips?courier=ZZ-0002").get_json()["items"]
    assert [s["total"] for s in slips] == ["2519.00"]  # 2509.00 + the 10.00 adjustment


def test_migration_payroll_0005_up_and_down(po_app, empty_db):
    import sqlalchemy as sa
    from alembic import command
    from postalops import migrate

    def columns() -> set[str]:
        empty_db.engine.dispose()
        return {c["name"] for c in sa.inspect(empty_db.engine).get_columns("payroll_run")}

    registry = po_app.extensions["postalops.plugins"]
    migrate.upgrade(empty_db, registry)
    assert "inputs" in columns()
    with empty_db.engine.begin() as conn:
        command.downgrade(migrate.alembic_config(registry, conn), "payroll_0004")
    assert "inputs" not in columns()
    migrate.upgrade(empty_db, registry)
    assert "inputs" in columns() and migrate.pending(empty_db, registry) == []


# --- XLSX exports: numbers, not text --------------------------------------------------------------


def _sheet(data: bytes, name: str) -> tuple[list[str], list[dict[str, object]]]:
    import io

    from openpyxl import load_workbook
    from postalops_payroll.exports import SHEETS

    rows = list(load_workbook(io.BytesIO(data))[SHEETS[name]].iter_rows())
    # Chinese first: "应发合计 total" -> the key after the label
    header = [c.value.rsplit(" ", 1)[-1] for c in rows[0]]
    return header, [dict(zip(header, row, strict=True)) for row in rows[1:]]


def _number(cell, fmt: str) -> D:
    assert cell.data_type == "n" and isinstance(cell.value, int | float), (cell.value, fmt)
    assert cell.number_format == fmt
    return D(repr(cell.value))


def test_xlsx_exports_write_money_and_rates_as_formatted_numbers(
    september_events, make_token, workers, po_app
):
    api = make_token(ZZ, *HR)
    _run(api, po_app)
    got = api.get(f"/api/v1/payroll/exports/payslips.xlsx?tenant={ZZ}&month=2022-09")
    assert got.status_code == 200
    _, slips = _sheet(got.data, "payslips")
    by_courier = {row["courier"].value: row for row in slips}
    zz1 = by_courier["ZZ-0001"]
    assert _number(zz1["total"], "#,##0.00") == D("3127.78")
    assert _number(zz1["agent_fees"], "#,##0.00") == D("9.00")
    assert _number(zz1["quota"], "#,##0.00") == D("1000")
    assert _number(zz1["quota_completion"], "0.0000") == D("0.7999")
    assert _number(zz1["quota_multiplier"], "0.00####") == D("0.9")
    assert zz1["delivered_items"].value == 111
    total = sum(_number(row["total"], "#,##0.00") for row in slips)
    assert total == D("5658.78")
    _, lines = _sheet(got.data, "lines")
    mine = [line for line in lines if line["courier"].value == "ZZ-0001"]
    parcel = next(line for line in mine if line["category"].value == "parcel")
    assert _number(parcel["unit_rate"], "0.00####") == D("0.9")  # 1.00 x 0.9
    assert _number(parcel["amount"], "#,##0.00") == D("36.00")
    assert _number(parcel["quantity"], "0") == 40
    assert [_number(line["amount"], "#,##0.00") for line in mine][-1] == D("-50.00")
    costs = api.get("/api/v1/payroll/exports/cost-summary.xlsx?from=2022-09-01&to=2022-09-30")
    _, (row,) = _sheet(costs.data, "cost_summary")
    assert (row["city"].value, row["month"].value) == (ZZ, "2022-09")
    assert _number(row["cost"], "#,##0.00") == D("5667.78")
    assert _number(row["cost_per_item"], "0.0000") == D("40.197")
    assert _number(row["outsourced_unit_price"], "0.0000") == D("1.1")


# --- event batches: all-or-nothing, every row's every error ---------------------------------------


def test_an_event_batch_is_all_or_nothing_listing_every_error_of_every_row(
    september_events, make_token, workers, po_app, pay
):
    from postalops_payroll import ingest, work_events
    from postalops_payroll.models import PayrollDelivery

    maker, checker = make_token(ZZ, *HR), make_token(ZZ, *HR)
    _run(maker, po_app)
    _approve(checker)  # September is locked
    good = [
        raw
        for _, raw in pay.delivery_rows(
            "ZZ-0002", [("parcel", "door", "urban", 2)], month="2022-10", prefix="OCT"
        )
    ]
    locked = {**good[0], "waybill": "SEP1", "time": "2022-09-05T10:00:00+08:00", "tier": "moon"}
    nobody = {**good[0], "waybill": "", "courier": "NOBODY", "mode": "drone"}
    stored = count_rows(po_app, PayrollDelivery)
    refused = maker.post("/api/v1/payroll/events/deliveries", json=[*good, locked, nobody])
    assert refused.status_code == 422
    error = refused.get_json()["error"]
    assert error["code"] == "rejected_rows" and "all-or-nothing" in error["message"]
    assert [(d["row"], [e["field"] for e in d["errors"]]) for d in error["details"]] == [
        (2, ["tier", "time"]),  # shape and locked month together
        (3, ["waybill", "mode", "courier"]),  # shape and unknown courier together
    ]
    assert error["details"][0]["errors"][1]["code"] == "month_locked"
    assert error["details"][1]["errors"][2]["code"] == "unknown_courier"
    assert count_rows(po_app, PayrollDelivery) == stored  # the good rows were not stored either
    accepted = maker.post("/api/v1/payroll/events/deliveries", json=good)
    assert accepted.status_code == 200 and accepted.get_json()["counts"]["accepted"] == 2
    # the module docstrings and the README say what the code does
    readme = (Path(ingest.__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    for text in (ingest.__doc__, work_events.__doc__, readme):
        assert "all-or-nothing" in text
        assert "rejects the row, not the batch" not in text and "rejected per row" not in text


# --- imports: every row's every error in one pass -------------------------------------------------


def _errors(response) -> dict[int, list[str]]:
    assert response.status_code == 422, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "invalid_rows"
    return {d["row"]: [e["field"] for e in d["errors"]] for d in error["details"]}


def test_imports_report_shape_and_reference_errors_of_every_row_in_one_pass(
    payroll_world, make_token, po_app
):
    from postalops_payroll.models import PayrollContractor, PayrollContractTerm, PayrollCourier

    api = make_token(ZZ, *HR)
    couriers = (
        "code,name,kind,station,grade,base_pay,contractor\n"
        f"ZZ-9001,新一,own,{JINSHUI},A,3000.00,\n"
        f",新二,own,{KF},A,3000.00,\n"  # no code; station outside the scope
        f"ZZ-9003,新三,robot,{JINSHUI},,abc,NOPE\n"  # bad kind hides nothing
        f"ZZ-9004,新四,own,{JINSHUI},,1.234,\n"  # grade missing; base pay not whole fen
        f"ZZ-9001,新五,outsourced,{JINSHUI},,,\n"  # code twice; contractor missing
    )
    got = api.post(
        "/api/v1/payroll/couriers/import", data=couriers.encode(), content_type="text/csv"
    )
    assert _errors(got) == {
        3: ["code", "station"],
        4: ["kind", "base_pay", "contractor"],
        5: ["base_pay", "grade"],
        6: ["contractor", "code"],
    }
    assert {e["message"] for d in got.get_json()["error"]["details"] for e in d["errors"]} >= {
        "required",
        "unknown unit or outside your scope",
        "unknown contractor",
        "whole fen only (two decimals)",
        "required for own staff",
        "appears twice in this file",
    }
    assert (
        api.put(
            "/api/v1/payroll/budgets",
            json={"unit": ZZ, "month": "2022-11", "volume_budget": 100, "unit_price_cap": "1.20"},
        ).status_code
        == 200
    )
    terms = [
        {
            "code": "WB1-2022-10",
            "contractor": "WB1",
            "start": "2022-10-15",
            "end": "2022-10-31",
            "unit_price": "1.00",
        },  # starts mid-month
        {
            "code": "WB1-SEP-B",
            "contractor": "WB1",
            "start": "2022-09-01",
            "end": "2022-09-30",
            "unit_price": "1.05",
        },  # overlaps the stored WB1-2022-09
        {
            "code": "WB1-2022-11",
            "contractor": "WB1",
            "start": "2022-11-01",
            "end": "2022-11-30",
            "unit_price": "1.50",
        },  # above November's cap of 1.20
        {
            "code": "",
            "contractor": "NOPE",
            "start": "soon",
            "end": "2022-12-31",
            "unit_price": "-1",
        },
    ]
    got = api.post("/api/v1/payroll/contract-terms/import", json=terms)
    assert _errors(got) == {
        0: ["start"],
        1: ["start"],
        2: ["unit_price"],
        3: ["code", "start", "unit_price", "contractor"],
    }
    details = {d["row"]: d["errors"] for d in got.get_json()["error"]["details"]}
    assert details[1][0]["code"] == "overlapping_term" and "WB1-2022-09" in details[1][0]["message"]
    assert "exceeds the cap 1.20" in details[2][0]["message"]
    got = api.post(
        "/api/v1/payroll/contractors/import",
        json=[{"code": "WB1", "name": "", "unit": KF}, {"code": "WB1", "name": "x", "unit": ZZ}],
    )
    assert _errors(got) == {0: ["name", "unit"], 1: ["code"]}
    assert count_rows(po_app, PayrollCourier) == 4  # the four of payroll_world, nothing new
    assert count_rows(po_app, PayrollContractTerm) == 1
    assert count_rows(po_app, PayrollContractor) == 1


# --- a courier whose grade has no quota is flagged ------------------------------------------------


def test_a_courier_whose_grade_has_no_quota_is_flagged_on_import_and_on_the_list(
    payroll_world, make_token, make_user, login, pay
):
    api = make_token(ZZ, *HR)
    rows = (
        "code,name,kind,station,grade,base_pay\n"
        f"ZZ-0003,张三,own,{JINSHUI},C,2600.00\n"  # the card has quotas for A and B only
        f"ZZ-0004,张四,own,{JINSHUI},A,2600.00\n"
    )
    got = api.post("/api/v1/payroll/couriers/import", data=rows.encode(), content_type="text/csv")
    assert got.status_code == 200, got.get_json()
    report = got.get_json()
    assert report["counts"] == {"created": 2}  # imported all the same: a warning, not a refusal
    (warning,) = report["warnings"]
    assert (warning["row"], warning["key"], warning["code"], warning["field"]) == (
        2,
        "ZZ-0003",
        "grade_without_quota",
        "grade",
    )
    assert (
        "grade 'C' has no collection quota in rate card v1 of cn.henan.zhengzhou"
        in (warning["message"])
    )
    assert report["rows"][0]["warnings"] == [
        {k: v for k, v in warning.items() if k not in ("row", "key")}
    ]
    assert "warnings" not in report["rows"][1]
    listed = {
        c["code"]: c["warnings"] for c in api.get("/api/v1/payroll/couriers").get_json()["items"]
    }
    assert [w["code"] for w in listed["ZZ-0003"]] == ["grade_without_quota"]
    assert listed["ZZ-0001"] == listed["ZZ-0004"] == listed["ZZ-W01"] == []
    # the portal's import page shows it in Chinese
    portal = login(make_user("hr", ZZ, "payroll_hr"))
    page = portal.post(
        "/p/payroll/import",
        data={
            "kind": "couriers",
            "file": (io.BytesIO(rows.encode()), "couriers.csv"),
            "csrf_token": portal.csrf,
        },
        content_type="multipart/form-data",
    ).get_data(as_text=True)
    assert 'id="import-warnings"' in page and "现行计件标准中岗级 C 没有揽收任务额" in page
    # a card version giving grade C a quota clears the flag
    card = pay.card_dict(effective_from="2022-10-01")
    card["quotas_by_grade"]["C"] = "600"
    assert (
        api.post("/api/v1/payroll/rate-cards", json={"unit": ZZ, "card": card}).status_code == 201
    )
    listed = {
        c["code"]: c["warnings"] for c in api.get("/api/v1/payroll/couriers").get_json()["items"]
    }
    assert listed["ZZ-0003"] == []
