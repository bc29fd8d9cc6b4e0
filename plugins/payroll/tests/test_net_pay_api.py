"""From gross to net over HTTP (issue 19 §1 and §4), by hand, on both backends.

Zhengzhou's rates (2022-01-01): employee pension 8 %, medical 2 %, unemployment 0.5 %,
housing fund 10 %; employer 16 %, 8 %, 0.7 %, 10 %; base floor 3,500, ceiling 20,000.
Two own couriers with no scans, so a month's gross is their base pay:

* ZZ-0101, base 25,000, special deduction 1,000: base clamped to 20,000 -> employee
  1,600 + 400 + 100 + 2,000 = 4,100; employer 3,200 + 1,600 + 140 + 2,000 = 6,940.
  Monthly taxable 25,000 − 5,000 − 4,100 − 1,000 = 14,900.
* ZZ-0102, base 3,000, no special deduction: base raised to the floor 3,500 -> employee
  280 + 70 + 17.50 + 350 = 717.50; employer 560 + 280 + 24.50 + 350 = 1,214.50. Taxable
  3,000 − 5,000 − 717.50 < 0 -> no tax; net 2,282.50.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal as D

import pytest
from openpyxl import load_workbook
from postalops import clock
from postalops.jobs import wait_for
from postalops.journal import balanced
from postalops.testing import count_rows
from postalops_payroll.journal import journal_lines
from postalops_payroll.models import PayrollDeductionRate

ZZ, JINSHUI = "cn.henan.zhengzhou", "cn.henan.zhengzhou.jinshui"
HR = (
    "payroll.view",
    "payroll.manage",
    "payroll.run",
    "payroll.approve",
    "core.jobs.view",
    "core.metrics.read",
)
RATES = {
    "unit": ZZ,
    "effective_from": "2022-01-01",
    "pension": "0.08",
    "medical": "0.02",
    "unemployment": "0.005",
    "housing_fund": "0.10",
    "employer_pension": "0.16",
    "employer_medical": "0.08",
    "employer_unemployment": "0.007",
    "employer_housing_fund": "0.10",
    "base_floor": "3500.00",
    "base_ceiling": "20000.00",
}
COURIERS = (
    "code,name,kind,station,grade,base_pay,username,bank_account,bank_name,special_deduction\n"
    f"ZZ-0101,张一零一,own,{JINSHUI},A,25000.00,zz101,6222 0202 0000 0000 001,工商银行郑州分行,1000.00\n"
    f"ZZ-0102,张一零二,own,{JINSHUI},B,3000.00,zz102,,,\n"
)


@pytest.fixture
def world(tenants, as_unit, make_token, pay):
    from postalops_payroll.rate_card_store import publish_rate_card

    with as_unit(None) as s:
        publish_rate_card(s, ZZ, pay.card_dict(), "hr.zhang")
        s.commit()
    hr = make_token(ZZ, *HR)
    imported = hr.post(
        "/api/v1/payroll/couriers/import", data=COURIERS.encode(), content_type="text/csv"
    )
    assert imported.status_code == 200, imported.get_json()
    return hr


def _run_and_approve(maker, checker, po_app, month: str) -> dict:
    started = maker.post("/api/v1/payroll/runs", json={"unit": ZZ, "month": month})
    assert started.status_code == 202, started.get_json()
    job = wait_for(po_app.extensions["postalops.db"], started.get_json()["job_id"], timeout=60)
    assert job.status == "succeeded", job.error
    approved = checker.post("/api/v1/payroll/runs/approve", json={"unit": ZZ, "month": month})
    assert approved.status_code == 200, approved.get_json()
    return approved.get_json()


def _slips(api, month: str) -> dict[str, dict]:
    items = api.get(f"/api/v1/payroll/payslips?tenant={ZZ}&month={month}").get_json()["items"]
    return {s["courier"]: s for s in items}


def test_bad_rates_are_422_naming_each_field_and_nothing_is_saved(world, po_app):
    bad = {**RATES, "pension": "eight", "unemployment": "0.7", "base_ceiling": "3000.00"}
    bad["effective_from"] = "2022-01-15"
    response = world.post("/api/v1/payroll/deduction-rates", json=bad)
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "invalid_deduction_rates"
    assert sorted(d["field"] for d in error["details"]) == [
        "base_ceiling",
        "effective_from",
        "pension",
        "unemployment",
    ]
    assert count_rows(po_app, PayrollDeductionRate) == 0


def test_rates_need_manage_permission(world, make_token):
    viewer = make_token(ZZ, "payroll.view")
    assert viewer.post("/api/v1/payroll/deduction-rates", json=RATES).status_code == 403
    assert viewer.get(f"/api/v1/payroll/deduction-rates?tenant={ZZ}").status_code == 200


def test_a_year_of_net_pay_reopen_recomputes_the_following_months(
    world, make_token, workers, po_app, as_unit
):
    saved = world.post("/api/v1/payroll/deduction-rates", json=RATES)
    assert saved.status_code == 201, saved.get_json()
    checker = make_token(ZZ, *HR)

    sept = _run_and_approve(world, checker, po_app, "2022-09")
    # ZZ-0101 in its first month of the year: 14,900 × 3 % = 447.00; 25,000 − 4,100 − 447.
    slips = _slips(world, "2022-09")
    one, two = slips["ZZ-0101"], slips["ZZ-0102"]
    assert (one["gross"], one["contribution_base"]) == ("25000.00", "20000.00")
    assert (one["pension"], one["medical"], one["unemployment"], one["housing_fund"]) == (
        "1600.00",
        "400.00",
        "100.00",
        "2000.00",
    )
    assert (one["employer_costs"], one["special_deduction"]) == ("6940.00", "1000.00")
    assert (one["ytd_taxable"], one["income_tax"], one["net_pay"]) == (
        "14900.00",
        "447.00",
        "20453.00",
    )
    assert (two["contribution_base"], two["income_tax"], two["net_pay"]) == (
        "3500.00",
        "0.00",
        "2282.50",
    )
    # Run totals: net 20,453 + 2,282.50; employee 4,100 + 717.50; employer 6,940 + 1,214.50.
    assert (sept["net_total"], sept["deductions_total"]) == ("22735.50", "4817.50")
    assert (sept["employer_total"], sept["income_tax_total"]) == ("8154.50", "447.00")
    assert sept["recomputed_following_months"] == []

    _run_and_approve(world, checker, po_app, "2022-10")
    _run_and_approve(world, checker, po_app, "2022-11")
    # Oct: 29,800 -> 894, minus 447 = 447. Nov: 44,700 -> 10 %: 4,470 − 2,520 = 1,950,
    # minus 894 = 1,056 (the bracket crossed); net 25,000 − 4,100 − 1,056 = 19,844.
    assert _slips(world, "2022-10")["ZZ-0101"]["income_tax"] == "447.00"
    nov = _slips(world, "2022-11")["ZZ-0101"]
    assert (nov["ytd_taxable"], nov["ytd_tax"], nov["income_tax"], nov["net_pay"]) == (
        "44700.00",
        "1950.00",
        "1056.00",
        "19844.00",
    )

    # September is reopened, a 10,000 bonus added, run and approved again.
    ops = make_token(ZZ, "payroll.reopen", "payroll.view")
    assert (
        ops.post(
            "/api/v1/payroll/runs/reopen",
            json={"unit": ZZ, "month": "2022-09", "reason": "季度奖漏发"},
        ).status_code
        == 200
    )
    bonus = world.post(
        "/api/v1/payroll/adjustments",
        json={"courier": "ZZ-0101", "month": "2022-09", "amount": "10000.00", "reason": "季度奖"},
    )
    assert bonus.status_code == 201, bonus.get_json()
    again = _run_and_approve(world, checker, po_app, "2022-09")
    # Sept: 35,000 gross, base still 20,000 -> 4,100; taxable 35,000 − 5,000 − 4,100 − 1,000
    # = 24,900 -> 747. Oct: 39,800 -> 3,980 − 2,520 = 1,460, minus 747 = 713.
    # Nov: 54,700 -> 5,470 − 2,520 = 2,950, minus 1,460 = 1,490; net 25,000 − 4,100 − 1,490.
    assert again["recomputed_following_months"] == ["2022-10", "2022-11"]
    assert _slips(world, "2022-09")["ZZ-0101"]["income_tax"] == "747.00"
    oct_ = _slips(world, "2022-10")["ZZ-0101"]
    assert (oct_["ytd_taxable"], oct_["income_tax"], oct_["net_pay"]) == (
        "39800.00",
        "713.00",
        "20187.00",
    )
    nov = _slips(world, "2022-11")["ZZ-0101"]
    assert (nov["ytd_tax"], nov["income_tax"], nov["net_pay"]) == ("2950.00", "1490.00", "19410.00")
    runs = world.get(f"/api/v1/payroll/runs?tenant={ZZ}&month=2022-10").get_json()["items"]
    assert runs[0]["net_total"] == "22469.50"  # 20,187 + 2,282.50
    audit = world.get("/api/v1/audit?action=payroll.net.recomputed")
    if audit.status_code == 200:  # the core's audit API, where the token may read it
        assert any("2022-10" in str(a) for a in audit.get_json().get("items", []))

    # The bank file: ZZ-0102 has no account -> 422 naming them, nothing recorded.
    refused = world.get(f"/api/v1/payroll/exports/bank-file.csv?tenant={ZZ}&month=2022-09")
    assert refused.status_code == 422
    error = refused.get_json()["error"]
    assert error["code"] == "missing_bank_account"
    assert [(d["courier"], d["name"]) for d in error["details"]] == [("ZZ-0102", "张一零二")]
    assert "张一零二" in error["message"]
    fixed = world.post(
        "/api/v1/payroll/couriers/import",
        data=(
            "code,name,kind,station,grade,base_pay,bank_account\n"
            f"ZZ-0102,张一零二,own,{JINSHUI},B,3000.00,6222020200000000002\n"
        ).encode(),
        content_type="text/csv",
    )
    assert fixed.get_json()["counts"] == {"updated": 1}
    text = world.get(f"/api/v1/payroll/exports/bank-file.csv?tenant={ZZ}&month=2022-09")
    assert text.status_code == 200
    rows = list(csv.reader(io.StringIO(text.get_data().decode("utf-8-sig"))))
    assert rows[0][:4] == ["序号 No.", "收款账号 Account", "收款户名 Name", "金额 Amount"]
    # Sept after the bonus: 35,000 − 4,100 − 747 = 30,153.00
    assert [r[:4] for r in rows[1:]] == [
        ["1", "6222020200000000001", "张一零一", "30153.00"],
        ["2", "6222020200000000002", "张一零二", "2282.50"],
    ]
    book = load_workbook(
        io.BytesIO(
            world.get(f"/api/v1/payroll/exports/bank-file.xlsx?tenant={ZZ}&month=2022-09").data
        )
    )
    sheet = book["代发工资"]
    assert [sheet.cell(r, 4).value for r in (2, 3)] == [30153, 2282.5]  # numbers, not text
    assert sheet.cell(2, 2).value == "6222020200000000001"  # the account stays text
    paid_on = world.get(f"/api/v1/payroll/runs?tenant={ZZ}&month=2022-09").get_json()["items"][0][
        "paid_on"
    ]
    assert paid_on == clock.today().isoformat()

    # The journal for September: accrual and withholding at 30 Sep, payment on the file's day.
    import datetime as dt

    with as_unit(ZZ) as s:
        month_end = journal_lines(s, ZZ, dt.date(2022, 9, 1), dt.date(2022, 9, 30))
        payment = journal_lines(s, ZZ, clock.today(), clock.today())
    assert balanced(month_end) and balanced(payment)
    credited = sum(ln.credit for ln in month_end if ln.account == "payroll_payable")
    # gross 35,000 + 3,000 + employer 8,154.50 = 46,154.50
    # = net 30,153 + 2,282.50 + employee 4,100 + 717.50 + tax 747 + employer 8,154.50
    assert credited == D("46154.50")
    debited = sum(ln.debit for ln in month_end if ln.account == "payroll_payable")
    assert debited == D("4817.50") + D("747.00") + D("8154.50")  # withheld and contributed
    assert {(ln.account, ln.credit) for ln in month_end if ln.credit} == {
        ("payroll_payable", D("46154.50")),
        ("tax_payable", D("747.00")),
        ("other_payable", D("12972.00")),  # 4,817.50 + 8,154.50
    }
    paid = [ln for ln in payment if ln.reference.endswith(":payment")]
    assert {(ln.account, ln.debit, ln.credit) for ln in paid} == {
        ("payroll_payable", D("32435.50"), D("0")),  # net 30,153 + 2,282.50
        ("bank", D("0"), D("32435.50")),
    }
    assert credited == debited + D("32435.50")  # payroll payable clears once paid

    # The same vouchers through the core's journal API, with the unit's account codes.
    finance = make_token(ZZ, "core.journal.read")
    body = finance.get(f"/api/v1/journal?tenant={ZZ}&from=2022-09-01&to=2022-09-30").get_json()
    ours = [v for v in body["items"] if v["plugin"] == "payroll"]
    assert {v["reference"].rsplit(":", 1)[-1] for v in ours} == {"accrual", "withholding"}
    for voucher in ours:
        lines = voucher["lines"]
        assert sum(D(ln["debit"]) for ln in lines) == sum(D(ln["credit"]) for ln in lines)
    assert sum(D(ln["credit"]) for v in ours for ln in v["lines"] if ln["code"] == "2211") == D(
        "46154.50"
    )  # 应付职工薪酬

    metrics = world.get(
        f"/api/v1/metrics?tenant={ZZ}&from=2022-09-01&to=2022-09-30&plugin=payroll"
    ).get_json()["metrics"]["payroll"]
    assert metrics["net_pay"]["value"] == "32435.50"
    assert metrics["deductions"]["value"] == "4817.50"
    assert metrics["income_tax_withheld"]["value"] == "747.00"


def test_a_draft_cannot_be_paid(world, workers, po_app):
    world.post("/api/v1/payroll/deduction-rates", json=RATES)
    started = world.post("/api/v1/payroll/runs", json={"unit": ZZ, "month": "2022-09"})
    wait_for(po_app.extensions["postalops.db"], started.get_json()["job_id"], timeout=60)
    response = world.get(f"/api/v1/payroll/exports/bank-file.csv?tenant={ZZ}&month=2022-09")
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "run_not_approved"
