"""The net-pay pages (issue 19 §1): HR keeps the statutory rates, a courier reads their own
months with net pay and the PDF on a phone, the run page offers the bank file and says when a
re-approval recomputed later months."""

from __future__ import annotations

from postalops_payroll.net import publish_rates, rates_from_payload
from postalops_payroll.payroll_run import approve, run_payroll
from postalops_payroll.period import Month

ZZ, JINSHUI = "cn.henan.zhengzhou", "cn.henan.zhengzhou.jinshui"
RATES = {
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


def _approved_september(as_unit) -> None:
    with as_unit(ZZ) as s:
        publish_rates(s, ZZ, rates_from_payload(RATES), "hr.zhang")
        run_payroll(s, ZZ, Month(2022, 9), "hr.zhang")
        approve(s, ZZ, Month(2022, 9), "hr.li")
        s.commit()


def test_hr_saves_rates_and_a_bad_field_is_named_beside_it(payroll_world, make_user, login):
    portal = login(make_user("hr", ZZ, "payroll_hr"))
    page = portal.get("/p/payroll/deduction-rates")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "社保公积金缴费比例" in html and "保存缴费比例" in html
    refused = portal.post(
        "/p/payroll/deduction-rates",
        data={**RATES, "unit": ZZ, "pension": "八", "base_ceiling": "1000.00"},
    )
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert 'id="f-pension-error"' in html and "不是数字" in html
    assert 'id="f-base_ceiling-error"' in html and "不能低于下限" in html
    saved = portal.post("/p/payroll/deduction-rates", data={**RATES, "unit": ZZ})
    assert saved.status_code == 302
    listing = portal.get("/p/payroll/deduction-rates").get_data(as_text=True)
    assert "8.0%" in listing and "¥20,000.00" in listing


def test_a_station_head_may_read_the_rates_but_not_save_them(payroll_world, make_user, login):
    portal = login(make_user("head", ZZ, "station_head"))
    assert portal.get("/p/payroll/deduction-rates").status_code == 200
    assert portal.post("/p/payroll/deduction-rates", data={**RATES, "unit": ZZ}).status_code == 403


def test_a_courier_reads_their_net_pay_and_pdf_and_nobody_elses(
    payroll_world, as_unit, make_user, login
):
    _approved_september(as_unit)
    courier = login(make_user("zz1", JINSHUI, "courier"))
    html = courier.get("/p/payroll/my").get_data(as_text=True)
    # ZZ-0001, no scans: gross = base 3,000; base raised to the floor 3,500 -> 717.50 off;
    # no tax (under 5,000); net 2,282.50
    assert "实发工资" in html and "¥2,282.50" in html and "下载 PDF" in html
    assert 'id="my-payslip-cards"' in html and "2022年9月" in html  # cards on a phone
    assert 'name="viewport"' in html  # the layout's phone viewport
    with as_unit(ZZ) as s:
        from postalops_payroll.models import PayrollPayslip
        from sqlmodel import select

        slips = {
            p.courier_code: p.id
            for p in s.exec(select(PayrollPayslip).where(PayrollPayslip.month == 202209))
        }
    pdf = courier.get(f"/api/v1/payroll/payslips/{slips['ZZ-0001']}.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.data.startswith(b"%PDF") and b"STSong-Light" in pdf.data
    assert courier.get(f"/api/v1/payroll/payslips/{slips['ZZ-0002']}.pdf").status_code == 404
    slip_page = courier.get(f"/p/payroll/payslips/{slips['ZZ-0001']}").get_data(as_text=True)
    assert "从应发到实发" in slip_page and "¥350.00" in slip_page  # housing fund 3,500 × 10 %
    assert "¥2,282.50" in slip_page


def test_the_run_page_offers_the_bank_file_and_shows_net_totals(
    payroll_world, as_unit, make_user, login
):
    _approved_september(as_unit)
    portal = login(make_user("hr", ZZ, "payroll_hr"))
    with as_unit(ZZ) as s:
        from postalops_payroll.payroll_run import get_run

        run_id = get_run(s, ZZ, Month(2022, 9)).id
    html = portal.get(f"/p/payroll/runs/{run_id}").get_data(as_text=True)
    assert "代发工资文件（XLSX）" in html and "bank-file.csv" in html
    assert "实发工资" in html and "尚未发放" in html


def test_migration_payroll_0007_up_and_down(po_app, empty_db):
    import sqlalchemy as sa
    from alembic import command
    from postalops import migrate

    registry = po_app.extensions["postalops.plugins"]
    migrate.upgrade(empty_db, registry, target="payroll_0007")
    inspector = sa.inspect(empty_db.engine)
    assert "payroll_deduction_rate" in inspector.get_table_names()
    assert {"bank_account", "special_deduction"} <= {
        c["name"] for c in inspector.get_columns("payroll_courier")
    }
    assert {"net_pay", "income_tax", "ytd_tax"} <= {
        c["name"] for c in inspector.get_columns("payroll_payslip")
    }
    with empty_db.engine.begin() as conn:
        command.downgrade(migrate.alembic_config(registry, conn), "payroll_0006")
    empty_db.engine.dispose()
    inspector = sa.inspect(empty_db.engine)
    assert "payroll_deduction_rate" not in inspector.get_table_names()
    assert "net_pay" not in {c["name"] for c in inspector.get_columns("payroll_payslip")}
    migrate.upgrade(empty_db, registry)
    assert migrate.pending(empty_db, registry) == []


def test_outsourced_couriers_get_no_deductions_and_are_not_payees(
    september_events, as_unit, make_token
):
    _approved_september(as_unit)
    api = make_token(ZZ, "payroll.view", "payroll.run")
    slips = {
        s["courier"]: s
        for s in api.get(f"/api/v1/payroll/payslips?tenant={ZZ}&month=2022-09").get_json()["items"]
    }
    # ZZ-W01: 20 parcels × 1.10 = 22.00, paid by the contractor: nothing withheld
    outsourced = slips["ZZ-W01"]
    assert (outsourced["gross"], outsourced["pension"], outsourced["income_tax"]) == (
        "22.00",
        "0.00",
        "0.00",
    )
    assert (outsourced["employer_costs"], outsourced["net_pay"]) == ("0.00", "22.00")
    refused = api.get(f"/api/v1/payroll/exports/bank-file.csv?tenant={ZZ}&month=2022-09")
    assert refused.status_code == 422
    assert [d["courier"] for d in refused.get_json()["error"]["details"]] == ["ZZ-0001", "ZZ-0002"]


def test_a_large_run_writes_the_same_figures_through_copy(
    september_events, as_unit, make_token, monkeypatch
):
    """``compute_net`` writes 200 slips or more with COPY and one UPDATE on PostgreSQL (a run
    there writes its figures in the pricing statement; approval recomputes with compute_net);
    with the threshold lowered to one slip, the figures are the hand-computed ones. The COPY
    path writing changed figures is exercised by ``test_net_in_sql.py``."""
    from postalops_payroll import net

    monkeypatch.setattr(net, "COPY_ABOVE", 1)
    _approved_september(as_unit)
    api = make_token(ZZ, "payroll.view")
    slips = {
        s["courier"]: s
        for s in api.get(f"/api/v1/payroll/payslips?tenant={ZZ}&month=2022-09").get_json()["items"]
    }
    # ZZ-0002: 10 parcels at 1.00 × 0.9 (no collection: band ×0.9) = 9.00 + base 2,500
    # = 2,509.00; base raised to the floor 3,500 -> 717.50 off, no tax; net 1,791.50
    assert (slips["ZZ-0002"]["pension"], slips["ZZ-0002"]["net_pay"]) == ("280.00", "1791.50")
    assert slips["ZZ-W01"]["net_pay"] == "22.00"
    runs = api.get(f"/api/v1/payroll/runs?tenant={ZZ}&month=2022-09").get_json()["items"]
    # own: 3,127.78 − 717.50 = 2,410.28 and 1,791.50
    assert runs[0]["net_total"] == "4201.78"


def test_the_run_page_says_which_later_months_a_reapproval_recomputed(
    payroll_world, as_unit, make_user, login
):
    from decimal import Decimal

    from postalops_payroll.payroll_run import add_adjustment, get_run, reopen

    _approved_september(as_unit)
    with as_unit(ZZ) as s:
        run_payroll(s, ZZ, Month(2022, 10), "hr.zhang")
        approve(s, ZZ, Month(2022, 10), "hr.li")
        reopen(s, ZZ, Month(2022, 9), "ops.wang", "季度奖漏发")
        # 9,000 more in September: ZZ-0001's cumulative taxable turns positive, so October's
        # withholding changes
        add_adjustment(s, "ZZ-0001", Month(2022, 9), Decimal("9000.00"), "季度奖", "hr.zhang")
        run_payroll(s, ZZ, Month(2022, 9), "hr.zhang")
        run = approve(s, ZZ, Month(2022, 9), "hr.li")
        s.commit()
        assert run.net_notice["months"] == ["2022-10"]
        run_id = get_run(s, ZZ, Month(2022, 9)).id
    html = login(make_user("hr", ZZ, "payroll_hr")).get(f"/p/payroll/runs/{run_id}")
    text = html.get_data(as_text=True)
    assert 'id="net-recomputed"' in text and "2022年10月" in text
