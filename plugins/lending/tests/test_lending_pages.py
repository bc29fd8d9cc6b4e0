"""The lending pages on the UI kit (issue 14 §2), through the portal client, in Chinese: lists
paged at 50 with filters, sort and export; no snake_case token, raw unit code or unformatted
number in the page's text; a refused form shows each error beside its field (422, what was typed
kept, nothing written)."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal as D

from postalops import clock
from postalops.testing import assert_readable, count_rows
from postalops.testing import page_text as visible
from postalops.testing import table_rows as rows_of
from postalops_lending.models import Application, Borrower, Loan, Relief, Repayment

from .conftest import BASE, HUOCHENG, YINING, borrower, months


def add_borrowers(as_unit, n: int, unit: str = YINING, prefix: str = "测试商贸") -> None:
    with as_unit(unit) as s:
        for i in range(n):
            s.add(
                Borrower(
                    tenant_code=unit,
                    name=f"{prefix}{i:03d}有限公司",
                    credit_code=f"9111{i:014d}",
                    legal_rep_name="王五",
                    legal_rep_id_number="11010519491231002X",
                    industry="批发零售" if i % 2 else "餐饮",
                    established_on=dt.date(2015, 1, 1) + dt.timedelta(days=i),
                    customer_manager="cm",
                    phone="13900000000",
                    operating=i != 3,
                )
            )
        s.commit()


BORROWER = {
    "name": "伊犁某油料贸易有限公司",
    "credit_code": "91110000600037341L",
    "legal_rep_name": "阿力木",
    "legal_rep_id_number": "11010519491231002X",
    "industry": "油料贸易",
    "established_on": "2015-06-18",
    "customer_manager": "cm",
    "phone": "13999000000",
}


def test_borrowers_are_a_paged_list_by_name_with_masked_ids(people, as_unit):
    cm = people["cm"]
    add_borrowers(as_unit, 53)
    add_borrowers(as_unit, 2, unit=HUOCHENG, prefix="霍城商贸")
    r = cm.get("/p/lending/borrowers")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    text = assert_readable(html)
    assert rows_of(html, "borrowers") == 50
    assert "共 53 条" in text and "伊宁市支行" in text and "已停业" in text  # Huocheng's: not his
    assert "110105********002X" in text and "11010519491231002X" not in html
    assert "登记借款人" in text and "客户经理" in text
    page2 = cm.get("/p/lending/borrowers?page=2").get_data(as_text=True)
    assert rows_of(page2, "borrowers") == 3
    boss = people["boss"]
    assert "共 55 条" in visible(boss.get("/p/lending/borrowers").get_data(as_text=True))
    only = boss.get(f"/p/lending/borrowers?tenant_code={HUOCHENG}").get_data(as_text=True)
    assert rows_of(only, "borrowers") == 2 and "霍城商贸000有限公司" in only
    closed = cm.get("/p/lending/borrowers?operating=false").get_data(as_text=True)
    assert rows_of(closed, "borrowers") == 1 and "测试商贸003有限公司" in closed
    by_name = cm.get("/p/lending/borrowers?sort=name").get_data(as_text=True)
    assert by_name.index("测试商贸000") < by_name.index("测试商贸001")
    csv = cm.get("/p/lending/borrowers?industry=餐饮&export=csv")
    lines = csv.get_data(as_text=True).splitlines()
    assert csv.status_code == 200 and lines[0].startswith("\ufeff借款人,")
    assert len(lines) == 1 + 27 and "110105********002X" in lines[1]


def test_a_refused_borrower_is_shown_beside_its_fields_and_nothing_is_written(po_app, people):
    cm = people["cm"]
    bad = cm.post(
        "/p/lending/borrowers",
        data={
            **BORROWER,
            "csrf_token": cm.csrf,
            "credit_code": "91110000600037341M",
            "established_on": "2015-13-01",
            "industry": "",
        },
    )
    assert bad.status_code == 422
    html = bad.get_data(as_text=True)
    assert_readable(html)
    for field in ("credit_code", "established_on", "industry"):
        assert f'id="f-{field}-error"' in html, field
    assert "统一社会信用代码无效" in html and "未登记" in html
    assert 'value="伊犁某油料贸易有限公司"' in html and 'value="91110000600037341M"' in html
    assert count_rows(po_app, Borrower) == 0

    ok = cm.post("/p/lending/borrowers", data={**BORROWER, "csrf_token": cm.csrf})
    assert ok.status_code == 302
    again = cm.post("/p/lending/borrowers", data={**BORROWER, "csrf_token": cm.csrf})
    assert again.status_code == 422
    assert 'id="f-credit_code-error"' in again.get_data(as_text=True)
    assert "已登记" in again.get_data(as_text=True)
    assert count_rows(po_app, Borrower) == 1


def add_applications(as_unit, borrower_id: int, product_id: int, n: int) -> None:
    statuses = ("declined", "prechecked", "reviewed", "rejected", "disbursed")
    with as_unit(YINING) as s:
        for i in range(n):
            s.add(
                Application(
                    tenant_code=YINING,
                    borrower_id=borrower_id,
                    product_id=product_id,
                    requested_amount=D("100000.00") + i,
                    term_months=12,
                    status=statuses[i % len(statuses)],
                    credit_line=D("866000.00"),
                    granted_amount=D("100000.00"),
                )
            )
        s.commit()


def test_applications_are_a_paged_list_with_statuses_in_chinese(people, product_id, as_unit):
    cm = people["cm"]
    bid = borrower(cm).get_json()["id"]
    add_applications(as_unit, bid, product_id, 52)
    html = cm.get("/p/lending/applications").get_data(as_text=True)
    text = assert_readable(html)
    assert rows_of(html, "applications") == 50 and "共 52 条" in text
    for word in ("预审未通过", "已审查", "已放款", "¥866,000.00", "小微E贷", "伊宁市支行"):
        assert word in text, word
    assert (
        rows_of(cm.get("/p/lending/applications?page=2").get_data(as_text=True), "applications")
        == 2
    )
    declined = cm.get("/p/lending/applications?status=declined").get_data(as_text=True)
    assert rows_of(declined, "applications") == 11
    biggest = cm.get("/p/lending/applications?sort=-requested_amount").get_data(as_text=True)
    assert biggest.index("¥100,051.00") < biggest.index("¥100,050.00")
    xlsx = cm.get("/p/lending/applications?status=declined&export=xlsx")
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"
    csv = cm.get("/p/lending/applications?status=declined&export=csv").get_data(as_text=True)
    assert len(csv.splitlines()) == 12 and "预审未通过" in csv and "declined" not in csv


def test_the_application_form_shows_errors_beside_its_fields(po_app, people, product_id):
    cm = people["cm"]
    bid = borrower(cm).get_json()["id"]
    r = cm.post(
        "/p/lending/applications",
        data={
            "csrf_token": cm.csrf,
            "borrower_id": "",
            "product_id": product_id,
            "requested_amount": "12.345",
        },
    )
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert_readable(html)
    assert 'id="f-borrower_id-error"' in html and 'id="f-requested_amount-error"' in html
    assert 'value="12.345"' in html and "最多两位小数" in html and "申请未提交" in html
    assert count_rows(po_app, Application) == 0
    ok = cm.post(
        "/p/lending/applications",
        data={
            "csrf_token": cm.csrf,
            "borrower_id": bid,
            "product_id": product_id,
            "requested_amount": "100,000",
        },
    )
    assert ok.status_code == 302 and "/p/lending/applications/" in ok.headers["Location"]
    assert count_rows(po_app, Application) == 1


def test_the_application_page_reads_in_words_and_asks_before_rejecting(people, product_id):
    cm = people["cm"]
    bid = borrower(cm).get_json()["id"]
    cm.put(f"{BASE}/borrowers/{bid}/tax-months", json=months())
    r = cm.post(
        "/p/lending/applications",
        data={
            "csrf_token": cm.csrf,
            "borrower_id": bid,
            "product_id": product_id,
            "requested_amount": "200000.00",
        },
        follow_redirects=True,
    )
    html = r.get_data(as_text=True)
    text = assert_readable(html)
    assert "预审结果：预审通过" in text  # the flash, with the status in words
    for word in (
        "纳税数据满12个月",
        "近12个月纳税额",
        "¥173,200.08",
        "≥ ¥10,000.00",
        "≥ 24 个月",
        "¥200,000.00",
        "¥866,000.00",
        "通过",
        "审查通过，提交审批",
        "拒绝申请",
    ):
        assert word in text, word
    app_id = cm.get(f"{BASE}/applications").get_json()["items"][0]["id"]
    page = f"/p/lending/applications/{app_id}"
    # rejecting asks first (the confirmation page without JavaScript); nothing changes yet
    ask = cm.post(page, data={"csrf_token": cm.csrf, "step": "review_reject", "note": "资料不全"})
    assert ask.status_code == 200 and "拒绝后不能撤销" in ask.get_data(as_text=True)
    assert cm.get(f"{BASE}/applications/{app_id}").get_json()["status"] == "prechecked"
    done = cm.post(
        page,
        data={"csrf_token": cm.csrf, "step": "review_reject", "note": "资料不全", "confirmed": "1"},
        follow_redirects=True,
    )
    text = assert_readable(done.get_data(as_text=True))
    assert "申请已拒绝" in text and "资料不全" in text and "已拒绝" in text
    assert cm.get(f"{BASE}/applications/{app_id}").get_json()["status"] == "rejected"


def test_loans_are_a_paged_list_active_first_with_classes_in_chinese(people, disbursed, as_unit):
    cm = people["cm"]
    with as_unit(YINING) as s:
        base = s.get(Loan, disbursed["id"])
        fields = base.model_dump(exclude={"id", "loan_no"})
        for i in range(51):
            s.add(
                Loan(
                    **{
                        **fields,
                        "loan_no": f"XW-TEST-{i:03d}",
                        "days_past_due": i * 3,
                        "category": "special_mention" if i % 2 else "normal",
                    }
                )
            )
        s.add(Loan(**{**fields, "loan_no": "XW-CLOSED", "status": "closed"}))
        s.commit()
    html = cm.get("/p/lending/loans").get_data(as_text=True)
    text = assert_readable(html)
    assert rows_of(html, "loans") == 50 and "共 52 条" in text  # active ones by default
    for word in ("在贷", "关注", "正常", "4.35%", "¥100,000.00", "伊宁市支行"):
        assert word in text, word
    assert "XW-CLOSED" not in text
    closed = cm.get("/p/lending/loans?status=closed").get_data(as_text=True)
    assert rows_of(closed, "loans") == 1 and "已结清" in visible(closed)
    assert "共 53 条" in visible(cm.get("/p/lending/loans?status=").get_data(as_text=True))
    watch = cm.get("/p/lending/loans?category=special_mention&sort=-days_past_due")
    html = watch.get_data(as_text=True)
    assert rows_of(html, "loans") == 25 and html.index("XW-TEST-049") < html.index("XW-TEST-047")
    csv = cm.get("/p/lending/loans?category=special_mention&export=csv").get_data(as_text=True)
    assert len(csv.splitlines()) == 26 and "关注" in csv


def test_the_loan_page_reads_in_words_and_its_forms_show_errors_in_place(po_app, people, disbursed):
    cm = people["cm"]
    url = f"/p/lending/loans/{disbursed['id']}"
    html = cm.get(url).get_data(as_text=True)
    text = assert_readable(html)
    for word in (
        "按月付息、到期还本",
        "实际天数/360",
        "4.35%",
        "10.00万元",
        "还款计划",
        "未到期",
        "记录还款",
        "提交纾困申请",
        "在贷",
        "正常",
        "12 个月",
    ):
        assert word in text, word
    assert (
        len(
            re.findall(
                r"<tr>", html.split('class="table po-table schedule"')[1].split("</table>")[0]
            )
        )
        == 13
    )

    bad = cm.post(
        url,
        data={
            "csrf_token": cm.csrf,
            "form": "repayment",
            "amount": "abc",
            "paid_on": "2999-01-01",
            "reference": "",
        },
    )
    assert bad.status_code == 422
    html = bad.get_data(as_text=True)
    assert_readable(html)
    for field in ("amount", "reference"):
        assert f'id="f-{field}-error"' in html, field
    assert 'value="abc"' in html and "未记录" in html
    future = cm.post(
        url,
        data={
            "csrf_token": cm.csrf,
            "form": "repayment",
            "amount": "10.00",
            "paid_on": "2999-01-01",
            "reference": "B-1",
        },
    )
    assert future.status_code == 422 and 'id="f-paid_on-error"' in future.get_data(as_text=True)
    assert count_rows(po_app, Repayment) == 0

    ineligible = cm.post(
        url,
        data={
            "csrf_token": cm.csrf,
            "form": "relief",
            "kind": "extension",
            "relief_date": clock.today().isoformat(),
            "extension_months": "9",
            "annual_rate": "",
        },
    )
    assert ineligible.status_code == 422
    html = ineligible.get_data(as_text=True)
    assert_readable(html)
    assert 'id="f-extension_months-error"' in html and "延期月数为9 个月" in html
    assert 'value="9"' in html
    assert count_rows(po_app, Relief) == 0
    ok = cm.post(
        url,
        data={
            "csrf_token": cm.csrf,
            "form": "relief",
            "kind": "extension",
            "relief_date": clock.today().isoformat(),
            "extension_months": "2",
            "reason": "订单回款慢",
        },
        follow_redirects=True,
    )
    text = assert_readable(ok.get_data(as_text=True))
    assert "临时性延期" in text and "待审批" in text and count_rows(po_app, Relief) == 1


def copies_of(as_unit, loan_id: int, n: int, **changes) -> None:
    with as_unit(YINING) as s:
        fields = s.get(Loan, loan_id).model_dump(exclude={"id", "loan_no"})
        for i in range(n):
            s.add(Loan(**{**fields, "loan_no": f"XW-TEST-{i:03d}", **changes}))
        s.commit()


def test_reliefs_are_paged_decided_after_a_question_and_read_in_chinese(people, disbursed, as_unit):
    cm, approver = people["cm"], people["approver"]
    url = f"/p/lending/loans/{disbursed['id']}"
    today = clock.today().isoformat()
    cm.post(
        url,
        data={
            "csrf_token": cm.csrf,
            "form": "relief",
            "kind": "extension",
            "relief_date": today,
            "extension_months": "2",
            "reason": "回款慢",
        },
    )
    with as_unit(YINING) as s:
        for i in range(51):
            s.add(
                Relief(
                    tenant_code=YINING,
                    loan_id=disbursed["id"],
                    kind="renewal",
                    relief_date=clock.today(),
                    status="rejected",
                    reason=f"旧申请{i}",
                )
            )
        s.commit()
    html = approver.get("/p/lending/reliefs").get_data(as_text=True)
    text = assert_readable(html)
    assert rows_of(html, "reliefs") == 50 and "共 52 条" in text
    for word in ("临时性延期", "无还本续贷", "待审批", "已拒绝", "伊宁市支行", "批准", "拒绝"):
        assert word in text, word
    waiting = approver.get("/p/lending/reliefs?status=requested").get_data(as_text=True)
    assert rows_of(waiting, "reliefs") == 1 and 'data-confirm="将对 ' in waiting
    # the requester sees no decision buttons on his own request
    assert 'name="decision"' not in cm.get("/p/lending/reliefs?status=requested").get_data(
        as_text=True
    )
    rid = re.search(r'name="relief_id" value="(\d+)"', waiting)[1]
    ask = approver.post(
        "/p/lending/reliefs",
        data={"csrf_token": approver.csrf, "relief_id": rid, "decision": "approve"},
    )
    assert ask.status_code == 200 and "新的还款计划替代现行计划" in ask.get_data(as_text=True)
    assert "待审批" in visible(
        approver.get("/p/lending/reliefs?status=requested").get_data(as_text=True)
    )
    done = approver.post(
        "/p/lending/reliefs",
        data={
            "csrf_token": approver.csrf,
            "relief_id": rid,
            "decision": "approve",
            "confirmed": "1",
        },
        follow_redirects=True,
    )
    text = assert_readable(done.get_data(as_text=True))
    assert "纾困已批准" in text
    assert (
        rows_of(
            approver.get("/p/lending/reliefs?status=approved").get_data(as_text=True), "reliefs"
        )
        == 1
    )


def test_the_phone_back_list_is_paged_exported_and_a_bad_call_is_shown_in_its_row(
    po_app, people, disbursed, as_unit
):
    from postalops_lending.models import OutreachCall

    cm = people["cm"]
    copies_of(as_unit, disbursed["id"], 51)
    on = (dt.date.fromisoformat(disbursed["maturity_date"]) - dt.timedelta(days=10)).isoformat()
    html = cm.get(f"/p/lending/outreach?on={on}").get_data(as_text=True)
    text = assert_readable(html)
    assert rows_of(html, "outreach") == 50 and "共 52 条" in text
    assert "临近到期" in text and "伊宁市支行" in text and "¥100,000.00" in text
    page2 = cm.get(f"/p/lending/outreach?on={on}&page=2").get_data(as_text=True)
    assert rows_of(page2, "outreach") == 2
    csv = cm.get(f"/p/lending/outreach?on={on}&export=csv").get_data(as_text=True)
    assert len(csv.splitlines()) == 53 and "临近到期" in csv and "near_maturity" not in csv
    slowed = cm.get(f"/p/lending/outreach?on={on}&reason=receivables_slowed").get_data(as_text=True)
    assert "po-empty" in slowed and "当天无需回访" in slowed
    assert "po-empty" in cm.get("/p/lending/outreach").get_data(as_text=True)  # nobody today
    bad_day = cm.get("/p/lending/outreach?on=2022-13-01")
    assert bad_day.status_code == 200 and "不是有效日期" in bad_day.get_data(as_text=True)

    call = {
        "csrf_token": cm.csrf,
        "borrower_id": disbursed["borrower_id"],
        "loan_id": disbursed["id"],
        "reasons": "near_maturity",
        "note": "下周再打",
    }
    bad = cm.post(f"/p/lending/outreach?on={on}", data={**call, "outcome": "maybe"})
    assert bad.status_code == 422
    html = bad.get_data(as_text=True)
    assert_readable(html)
    assert f'id="f-outcome-{disbursed["borrower_id"]}-{disbursed["id"]}-error"' in html
    assert 'value="下周再打"' in html and count_rows(po_app, OutreachCall) == 0
    ok = cm.post(f"/p/lending/outreach?on={on}", data={**call, "outcome": "call_back"})
    assert ok.status_code == 302 and f"on={on}" in ok.headers["Location"]
    html = cm.get(f"/p/lending/outreach?on={on}").get_data(as_text=True)
    assert "约定回电" in assert_readable(html) and rows_of(html, "calls") == 1


def test_the_portfolio_home_shows_kpi_cards_in_words_for_a_year_with_loans(people, disbursed):
    cm = people["cm"]
    html = cm.get("/p/lending/").get_data(as_text=True)
    text = assert_readable(html)
    year = clock.today().year
    for word in (
        "放款笔数",
        "1 笔",
        "10.00万元",
        "不良贷款率",
        "0.0%",
        "伊宁市支行",
        f"{year}年",
        "小微E贷",
        "4.35%",
        "按月付息、到期还本",
        "待审查的申请",
    ):
        assert word in text, word
    assert "hours" not in text and "CNY" not in text and "ratio" not in text
    last_year = cm.get(f"/p/lending/?year={year - 1}").get_data(as_text=True)
    assert "0 笔" in assert_readable(last_year)
    assert cm.get("/p/lending/?year=abc").status_code == 200
