"""The payroll pages on the UI kit (issue 14 §2), through the portal client, in Chinese: lists
paged at 50; no snake_case token, raw unit code or unformatted number in the page's text; a stale
draft shown as stale in the list and on its page; a refused form shows its error beside the field
(422, what was typed kept, nothing written)."""

from __future__ import annotations

import io
import re
from decimal import Decimal as D

from postalops.jobs import wait_for
from postalops.models import Job
from postalops.testing import assert_readable, count_rows
from postalops.testing import page_text as visible
from postalops.testing import table_rows as rows_of
from postalops_payroll.models import PayrollPayslip, PayrollRateCard, PayrollRun

ZZ, JINSHUI = "cn.henan.zhengzhou", "cn.henan.zhengzhou.jinshui"
HR = (
    "payroll.view",
    "payroll.manage",
    "payroll.ingest",
    "payroll.run",
    "payroll.approve",
    "payroll.reopen",
    "core.jobs.view",
)


def _run(api, po_app) -> int:
    started = api.post("/api/v1/payroll/runs", json={"unit": ZZ, "month": "2022-09"})
    assert started.status_code == 202, started.get_json()
    job = wait_for(po_app.extensions["postalops.db"], started.get_json()["job_id"], timeout=60)
    assert job.status == "succeeded", job.error
    return job.result["run_id"]


def test_every_payroll_page_reads_in_chinese_and_a_stale_draft_shows_stale(
    september_events, make_token, make_user, login, workers, po_app
):
    maker = make_token(ZZ, *HR)
    run_id = _run(maker, po_app)
    portal = login(make_user("hr", ZZ, "payroll_hr"))
    home = portal.get("/p/payroll/").get_data(as_text=True)
    text = assert_readable(home)
    assert "郑州" in text and "2022年9月" in text and "草稿" in text and "草稿已过期" not in text
    assert f'href="/p/payroll/runs/{run_id}"' in home
    run_page = portal.get(f"/p/payroll/runs/{run_id}").get_data(as_text=True)
    text = assert_readable(run_page)
    assert rows_of(run_page, "payslips") == 3 and "自有投递员" in text and "外包" in text
    assert "¥3,127.78" in text and 'data-confirm="' in run_page and 'id="approve"' in run_page
    slip_id = re.search(r'href="/p/payroll/payslips/(\d+)"', run_page)[1]
    slip = portal.get(f"/p/payroll/payslips/{slip_id}").get_data(as_text=True)
    text = assert_readable(slip)
    assert "包裹" in text and "按址投递" in text and "城区" in text and "补扣款" in text
    for url in ("/p/payroll/rate-cards", "/p/payroll/import", "/p/payroll/costs?from=2022-09-01"):
        page = portal.get(url)
        assert page.status_code == 200, url
        assert_readable(page.get_data(as_text=True))
    costs = visible(portal.get("/p/payroll/costs?from=2022-09-01&to=2022-09-30").get_data(True))
    assert "郑州" in costs and "2022年9月" in costs and "¥" in costs
    job_id = count_rows(po_app, Job) and maker.get("/api/v1/jobs").get_json()["items"][0]["id"]
    job_page = portal.get(f"/p/payroll/jobs/{job_id}").get_data(as_text=True)
    assert "已完成" in assert_readable(job_page)

    # an adjustment after the run: the draft reads stale in the list and on its page
    added = maker.post(
        "/api/v1/payroll/adjustments",
        json={"courier": "ZZ-0002", "month": "2022-09", "amount": "10.00", "reason": "奖励"},
    )
    assert added.status_code == 201 and added.get_json()["run"]["stale"] is True
    assert "草稿已过期" in visible(portal.get("/p/payroll/").get_data(as_text=True))
    run_page = portal.get(f"/p/payroll/runs/{run_id}").get_data(as_text=True)
    assert 'id="run-stale"' in run_page and "草稿已过期" in visible(run_page)
    portal.post("/lang", data={"lang": "en", "csrf_token": portal.csrf, "next": "/"})
    for url in (
        "/p/payroll/",
        f"/p/payroll/runs/{run_id}",
        f"/p/payroll/payslips/{slip_id}",
        "/p/payroll/rate-cards",
        "/p/payroll/import",
        "/p/payroll/costs?from=2022-09-01",
    ):
        page = portal.get(url)
        assert page.status_code == 200, url
        assert "Piece-rate pay" in page.get_data(as_text=True), url
    assert "Stale draft" in visible(portal.get("/p/payroll/").get_data(as_text=True))


def test_runs_and_payslips_are_paged_at_50(payroll_world, as_unit, make_user, login):
    """60 runs and a run of 60 payslips: 50 rows a page, the rest on page 2."""
    with as_unit(None) as s:
        runs = [
            PayrollRun(tenant_code=ZZ, month=(2016 + i // 12) * 100 + i % 12 + 1, couriers=1)
            for i in range(60)
        ]
        s.add_all(runs)
        s.flush()
        for i in range(60):
            s.add(
                PayrollPayslip(
                    tenant_code=JINSHUI,
                    run_id=runs[-1].id,
                    month=runs[-1].month,
                    courier_id=1000 + i,
                    courier_code=f"ZZ-{1000 + i}",
                    kind="own",
                    delivered_items=1234,
                    total=D("2500.00"),
                )
            )
        s.commit()
        last = runs[-1].id
    portal = login(make_user("hr", ZZ, "payroll_hr"))
    first = portal.get("/p/payroll/").get_data(as_text=True)
    assert rows_of(first, "runs") == 50 and "共 60 条" in visible(first)
    assert rows_of(portal.get("/p/payroll/?page=2").get_data(as_text=True), "runs") == 10
    assert "2020年12月" in visible(first)  # newest month first
    run_page = portal.get(f"/p/payroll/runs/{last}").get_data(as_text=True)
    assert rows_of(run_page, "payslips") == 50 and "共 60 条" in visible(run_page)
    assert "1,234" in visible(run_page) and "¥2,500.00" in visible(run_page)
    page2 = portal.get(f"/p/payroll/runs/{last}?page=2").get_data(as_text=True)
    assert rows_of(page2, "payslips") == 10
    csv = portal.get(f"/p/payroll/runs/{last}?export=csv")
    assert csv.status_code == 200 and csv.get_data(as_text=True).count("ZZ-1") == 60


def test_refused_forms_show_the_error_beside_the_field(
    payroll_world, make_user, login, po_app, pay
):
    portal = login(make_user("hr", ZZ, "payroll_hr"))
    jobs = count_rows(po_app, Job)
    # run form: a month that is not a month
    bad = portal.post(
        "/p/payroll/runs", data={"unit": ZZ, "month": "九月", "csrf_token": portal.csrf}
    )
    assert bad.status_code == 422 and count_rows(po_app, Job) == jobs
    html = bad.get_data(as_text=True)
    assert 'id="f-month-error"' in html and "请选择月份" in html and 'value="九月"' in html
    assert 'aria-invalid="true"' in html

    # rate card: the bad cell named beside the card, the typed JSON kept, nothing published
    cards = count_rows(po_app, PayrollRateCard)
    card = pay.card_dict()
    card["delivery_rates"]["parcel"]["pickup_point"]["rural"] = "-1"
    import json

    typed = json.dumps(card)
    refused = portal.post(
        "/p/payroll/rate-cards", data={"unit": ZZ, "card": typed, "csrf_token": portal.csrf}
    )
    assert refused.status_code == 422 and count_rows(po_app, PayrollRateCard) == cards
    html = refused.get_data(as_text=True)
    assert 'id="f-card-error"' in html and "delivery_rates.parcel.pickup_point.rural" in html
    assert '"-1"' in html.replace("&#34;", '"').replace("&quot;", '"')
    not_json = portal.post(
        "/p/payroll/rate-cards", data={"unit": ZZ, "card": "{", "csrf_token": portal.csrf}
    )
    assert not_json.status_code == 422 and "不是有效的 JSON" in not_json.get_data(as_text=True)

    # import: no file chosen, a wrong file type
    none = portal.post(
        "/p/payroll/import",
        data={"kind": "couriers", "csrf_token": portal.csrf},
        content_type="multipart/form-data",
    )
    assert none.status_code == 422
    html = none.get_data(as_text=True)
    assert 'id="f-file-error"' in html and "请选择 CSV 或 XLSX 文件" in html
    assert '<option value="couriers" selected>' in html
    wrong = portal.post(
        "/p/payroll/import",
        data={
            "kind": "delivery",
            "file": (io.BytesIO(b"x"), "scans.txt"),
            "csrf_token": portal.csrf,
        },
        content_type="multipart/form-data",
    )
    assert wrong.status_code == 422 and "文件须为 CSV 或 XLSX 格式" in wrong.get_data(as_text=True)


def test_reopen_asks_for_a_reason_beside_its_field(
    september_events, make_token, make_user, login, workers, po_app
):
    maker, checker = make_token(ZZ, *HR), make_token(ZZ, *HR)
    run_id = _run(maker, po_app)
    assert (
        checker.post(
            "/api/v1/payroll/runs/approve", json={"unit": ZZ, "month": "2022-09"}
        ).status_code
        == 200
    )
    portal = login(make_user("ops", ZZ, "ops"))  # ops holds payroll.reopen
    page = portal.get(f"/p/payroll/runs/{run_id}").get_data(as_text=True)
    assert "已审批锁定" in visible(page) and 'id="reopen-form"' in page
    refused = portal.post(
        f"/p/payroll/runs/{run_id}/reopen", data={"reason": " ", "csrf_token": portal.csrf}
    )
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert 'id="f-reason-error"' in html and "请填写重新打开本月的原因" in html
    assert maker.get("/api/v1/payroll/runs").get_json()["items"][0]["status"] == "approved"
