"""The loan page's books through the portal: accruals, penalty, provision, fee, write-off by
maker-checker with a question first, a recovery, and the reversal of a repayment."""

from __future__ import annotations

import datetime as dt

from postalops.testing import assert_readable, table_rows
from postalops_lending import service
from postalops_lending.classification import Bands
from postalops_lending.models import WriteOff
from sqlmodel import select

from .conftest import YINING


def _loss(as_unit):
    with as_unit(YINING) as s:
        service.close_of_business(s, YINING, dt.date(2022, 6, 14), Bands(1, 2, 3, 4))
        s.commit()


def test_the_loan_page_shows_the_books_and_writes_off_after_a_question(
    po_app, people, loan, as_unit, frozen_today
):
    frozen_today.set("2022-06-15")
    _loss(as_unit)
    cm, approver = people["cm"], people["approver"]
    url = f"/p/lending/loans/{loan.id}"
    html = cm.get(url).get_data(as_text=True)
    text = assert_readable(html)
    for word in ("会计核算", "已计提利息", "¥3,662.46", "贷款损失准备", "¥874,660.00", "罚息",
                 "计提利息", "损失", "申请核销", "核算记录"):  # fmt: skip
        assert word in text, word
    assert table_rows(html, "loan-events") == 2  # the accrual and the provision
    # no reason: 422 beside the field, nothing written
    bad = cm.post(url, data={"csrf_token": cm.csrf, "form": "write_off", "reason": ""})
    assert bad.status_code == 422
    assert "必填" in assert_readable(bad.get_data(as_text=True)) or "is-invalid" in bad.get_data(
        as_text=True
    )
    # without JavaScript: a question first, then the request
    ask = cm.post(
        url,
        data={"csrf_token": cm.csrf, "form": "write_off", "reason": "企业注销", "confirmed": "0"},
    )
    assert ask.status_code == 200 and "须由另一位用户审批" in ask.get_data(as_text=True)
    done = cm.post(url, data={"csrf_token": cm.csrf, "form": "write_off", "reason": "企业注销",
                              "confirmed": "1"})  # fmt: skip
    assert done.status_code == 302
    page = approver.get(url).get_data(as_text=True)
    assert "待审批" in page and "批准核销" in page
    # the approver's workbench asks for the decision; the maker's does not
    from .test_tasks import tasks

    inbox = tasks(approver.get("/").get_data(as_text=True))
    assert "待审批的贷款核销 1 笔" in inbox["decide_write_offs"]
    assert "decide_write_offs" not in tasks(cm.get("/").get_data(as_text=True))
    with as_unit(None) as s:
        wid = s.exec(select(WriteOff.id)).one()
    ok = approver.post(url, data={"csrf_token": approver.csrf, "form": "write_off_decision",
                                  "write_off_id": str(wid), "decision": "approve",
                                  "confirmed": "1"})  # fmt: skip
    assert ok.status_code == 302
    page = cm.get(url).get_data(as_text=True)
    text = assert_readable(page)
    # written off: 866,000.00 + 3,662.46 = 869,662.46
    assert "已核销" in text and "¥869,662.46" in text and "登记核销后收回" in text
    rec = cm.post(url, data={"csrf_token": cm.csrf, "form": "recovery", "amount": "1,000.00",
                             "recovered_on": "2022-06-15", "reference": "R-1"})  # fmt: skip
    assert rec.status_code == 302
    assert "¥1,000.00" in cm.get(url).get_data(as_text=True)
    over = cm.post(url, data={"csrf_token": cm.csrf, "form": "recovery", "amount": "999999.00",
                              "recovered_on": "2022-06-15", "reference": "R-2"})  # fmt: skip
    assert over.status_code == 422 and "超过尚未收回的核销金额" in over.get_data(as_text=True)


def test_a_checker_reverses_a_repayment_from_the_loan_page(
    po_app, people, loan, as_unit, frozen_today, token_for
):
    frozen_today.set("2022-06-20")
    officer = token_for("loan_officer", YINING)
    r = officer.post(f"/api/v1/lending/loans/{loan.id}/repayments",
                     json={"amount": "3243.89", "paid_on": "2022-06-10", "reference": "X1"})  # fmt: skip
    assert r.status_code == 201
    approver = people["approver"]
    url = f"/p/lending/loans/{loan.id}"
    page = approver.get(url).get_data(as_text=True)
    assert "冲销还款" in page and "冲销放款" not in page  # a repayment stands
    ok = approver.post(url, data={"csrf_token": approver.csrf, "form": "reverse_repayment",
                                  "repayment_id": str(r.get_json()["id"]), "reason": "记错贷款",
                                  "confirmed": "1"})  # fmt: skip
    assert ok.status_code == 302
    page = approver.get(url).get_data(as_text=True)
    text = assert_readable(page)
    assert "（已冲销）" in text and "-¥3,243.89" in text.replace("−", "-") or "¥-3,243.89" in text
    assert "冲销放款" in text  # no repayment stands any more: the disbursement can be reversed


def test_the_application_form_says_which_borrowers_are_eligible_and_why(people, product_id):
    from .conftest import BASE, borrower, months

    cm = people["cm"]
    good = borrower(cm).get_json()["id"]
    cm.put(f"{BASE}/borrowers/{good}/tax-months", json=months())  # 14 months, grade A
    poor = borrower(cm, code="91654002MA7700001J", rep_id="11010519491231002X",
                    name="某小店").get_json()["id"]  # fmt: skip
    assert poor
    cm.put(f"{BASE}/borrowers/{poor}/tax-months", json=months(grade="C"))
    html = cm.get("/p/lending/applications").get_data(as_text=True)
    text = assert_readable(html)
    assert table_rows(html, "borrower-eligibility") == 2
    # 12 x 14,433.34 = 173,200.08 tax paid; x 5 = 866,000.40, capped at 1,000,000, grade A 1.0,
    # over 36 months in business 1.0 -> line 866,000
    assert "可申请，额度 ¥866,000.00" in text
    assert "不可申请：纳税信用等级准入" in text
    assert "纳税信用等级准入为 C，要求 A、B、M" in text


def test_the_product_form_sets_penalty_fee_and_allocation_order(po_app, ili, make_user, login,
                                                                 as_unit):  # fmt: skip
    from postalops_lending.models import Product

    from .test_lending_product_pages import form

    pm = login(make_user("pm", "cn.xinjiang.ili", "loan_product_manager"))
    page = pm.get("/p/lending/products/new").get_data(as_text=True)
    assert "罚息上浮比例" in page and "罚息 → 利息 → 本金" in page and "手续费" in page
    bad = pm.post("/p/lending/products/new", data=form(pm, penalty_surcharge="300"))
    assert bad.status_code == 422 and "0 至 200 之间的百分数" in bad.get_data(as_text=True)
    ok = pm.post("/p/lending/products/new", data=form(
        pm, penalty_surcharge="100", arrangement_fee_rate="0.5",
        allocation_order="principal,interest,penalty", compound_overdue_interest="1"))  # fmt: skip
    assert ok.status_code == 302, ok.get_data(as_text=True)[:500]
    with as_unit(None) as s:
        row = s.exec(select(Product)).one()
    # percent on the form, fractions stored: 100 % -> "1", 0.5 % -> "0.005"
    assert row.accounting == {
        "penalty_surcharge": "1",
        "compound_overdue_interest": True,
        "allocation_order": ["principal", "interest", "penalty"],
        "arrangement_fee_rate": "0.005",
    }
