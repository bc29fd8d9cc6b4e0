"""Refinancing carries the interest billed and accrued up to the relief date onto the first new
instalment; that carried interest was (or is, at approval) accrued on the old schedule, so the
close of business must not accrue it again on the new one (issue 19 §2).

The loan (``conftest.loan``): 866,000.00 at 4.35 % ACT/360, interest monthly, principal at
maturity, disbursed 10 May 2022 in Yining. Refinanced on 20 May 2022 over 12 months, same rate.

- accrued 10 May -> 20 May (10 days): 866,000 x 0.0435 x 10 / 360 = 37,671 x 10 / 360 = 1,046.4167 -> 1,046.42,
  carried onto the new line 1;
- new line 1, 20 May -> 20 Jun (31 days): 866,000 x 0.0435 x 31 / 360 = 3,243.8917 -> 3,243.89,
  billed 3,243.89 + 1,046.42 = 4,290.31;
- so the loan earns 1,046.42 + 3,243.89 = 4,290.31 in all by 20 Jun, once: exactly what line 1
  bills. Double-accruing the carried interest would make it 5,336.73.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
from postalops.journal import balanced, unbalanced_vouchers
from postalops_lending import service
from postalops_lending.models import Loan, LoanEvent
from sqlmodel import select

from .conftest import BASE, YINING


def _close(as_unit, day):
    with as_unit(YINING) as s:
        r = service.close_of_business(s, YINING, day)
        s.commit()
    return r


def _relieve(officer, checker, loan_id, day, kind="refinancing"):
    """The officer asks for a relief of ``kind`` on ``day`` over 12 months and the approver
    approves it; the decision's body."""
    r = officer.post(
        f"{BASE}/loans/{loan_id}/reliefs",
        json={"kind": kind, "relief_date": day, "term_months": 12},
    )
    assert r.status_code == 201, r.get_json()
    d = checker.post(f"{BASE}/reliefs/{r.get_json()['id']}/decision", json={"approve": True})
    assert d.status_code == 200, d.get_json()
    return d.get_json()


@pytest.mark.parametrize("closed_on_relief_day", [True, False])
def test_refinancing_accrues_the_carried_interest_once(
    po_app, ili, loan, token_for, as_unit, frozen_today, closed_on_relief_day
):
    frozen_today.set("2022-05-20")
    if closed_on_relief_day:
        # the close of 20 May accrued the 10 days on the old schedule: 1,046.42
        assert _close(as_unit, dt.date(2022, 5, 20))["interest_accrued"] == "1046.42"
    officer = token_for("loan_officer", YINING)
    checker = token_for("credit_approver", YINING)
    assert _relieve(officer, checker, loan.id, "2022-05-20")["carried_interest"] == "1046.42"
    line1 = [
        x
        for x in officer.get(f"{BASE}/loans/{loan.id}").get_json()["schedule"]
        if x["active"] and x["number"] == 1
    ][0]
    assert (line1["due_date"], line1["interest"]) == ("2022-06-20", "4290.31")

    frozen_today.set("2022-06-20")
    r = _close(as_unit, dt.date(2022, 6, 20))
    # without a close on 20 May, approval itself books the 10 days on the old schedule
    # (1,046.42, dated 20 May); either way the close of 20 Jun books new line 1's own
    # 3,243.89, not 4,290.31
    assert r["interest_accrued"] == "3243.89"
    with as_unit(None) as s:
        row = s.get(Loan, loan.id)
        assert row.interest_accrued == D("4290.31")  # 1,046.42 + 3,243.89, once
        events = s.exec(
            select(LoanEvent)
            .where(LoanEvent.loan_id == loan.id, LoanEvent.kind == "accrual")
            .order_by(LoanEvent.event_date)
        ).all()
        assert [(e.event_date, e.interest) for e in events] == [
            (dt.date(2022, 5, 20), D("1046.42")),
            (dt.date(2022, 6, 20), D("3243.89")),
        ]
    # the borrower pays line 1 on its due date: interest receivable is cleared, not left over
    paid = officer.post(
        f"{BASE}/loans/{loan.id}/repayments",
        json={"amount": "4290.31", "paid_on": "2022-06-20", "reference": "BANK-0620"},
    )
    assert paid.status_code == 201, paid.get_json()
    assert paid.get_json()["interest"] == "4290.31"
    with as_unit(YINING) as s:
        lines = service.journal_lines(s, YINING, dt.date(2022, 5, 1), dt.date(2022, 6, 30))
    assert balanced(lines) and unbalanced_vouchers(lines) == {}
    income = sum(x.credit - x.debit for x in lines if x.account == "interest_income")
    receivable = sum(x.debit - x.credit for x in lines if x.account == "interest_receivable")
    # interest income booked once: 4,290.31 (not 5,336.73); receivable 4,290.31 - 4,290.31 = 0
    assert income == D("4290.31")
    assert receivable == D("0.00")


def test_renewal_moves_the_carried_interest_to_the_new_loan_once(
    po_app, ili, loan, token_for, as_unit, frozen_today
):
    """The loan's nine interest lines due 10 Jun 2022 .. 10 Feb 2023 are paid on their due
    dates (31-day months 37,671 x 31 / 360 = 3,243.89, 30-day months 3,139.25: six and three of
    them, 19,463.34 + 9,417.75 = 28,881.09). Renewed (无还本续贷) on 20 Feb 2023, 79 days before
    maturity: 10 days accrued since 10 Feb, 1,046.42, are carried onto the new loan's line 1
    (20 Feb -> 20 Mar, 28 days: 37,671 x 28 / 360 = 2,929.9667 -> 2,929.97; billed 3,976.39).
    No cash moves at the renewal: the settlement takes the carried interest from the old loan's
    receivable to the new loan's; the new loan accrues only its own 2,929.97."""
    frozen_today.set("2023-02-20")
    officer = token_for("loan_officer", YINING)
    checker = token_for("credit_approver", YINING)
    due_dates = [dt.date(2022, m, 10) for m in range(6, 13)] + [
        dt.date(2023, 1, 10),
        dt.date(2023, 2, 10),
    ]
    paid = D("0")
    for day in due_dates:
        q = officer.get(f"{BASE}/loans/{loan.id}/quote?on={day.isoformat()}").get_json()
        r = officer.post(
            f"{BASE}/loans/{loan.id}/repayments",
            json={"amount": q["amount_due"], "paid_on": day.isoformat(), "reference": f"I{day}"},
        )
        assert r.status_code == 201, r.get_json()
        paid += D(r.get_json()["interest"])
    assert paid == D("28881.09")
    d = _relieve(officer, checker, loan.id, "2023-02-20", kind="renewal")
    assert d["carried_interest"] == "1046.42"
    new_id = d["new_loan_id"]
    line1 = [
        x for x in officer.get(f"{BASE}/loans/{new_id}").get_json()["schedule"] if x["number"] == 1
    ][0]
    assert (line1["due_date"], line1["interest"]) == ("2023-03-20", "3976.39")
    # the old loan accrues up to its closing day: 10 May 2022 -> 20 Feb 2023 = 28,881.09 + 1,046.42
    assert _close(as_unit, dt.date(2023, 2, 20))["interest_accrued"] == "29927.51"
    frozen_today.set("2023-03-20")
    assert _close(as_unit, dt.date(2023, 3, 20))["interest_accrued"] == "2929.97"
    r = officer.post(
        f"{BASE}/loans/{new_id}/repayments",
        json={"amount": "3976.39", "paid_on": "2023-03-20", "reference": "N1"},
    )
    assert r.status_code == 201 and r.get_json()["interest"] == "3976.39", r.get_json()
    with as_unit(YINING) as s:
        lines = service.journal_lines(s, YINING, dt.date(2022, 5, 1), dt.date(2023, 3, 31))
    assert balanced(lines) and unbalanced_vouchers(lines) == {}
    settlement = sorted(
        (x.account, x.debit, x.credit)
        for x in lines
        if x.reference.startswith("lending:repayment:") and x.memo.startswith("无还本续贷")
    )
    assert settlement == sorted([
        ("bank", D("866000.00"), D("0")),
        ("interest_receivable", D("1046.42"), D("0")),
        ("interest_receivable", D("0"), D("1046.42")),
        ("loans", D("0"), D("866000.00")),
    ])  # fmt: skip
    income = sum(x.credit - x.debit for x in lines if x.account == "interest_income")
    receivable = sum(x.debit - x.credit for x in lines if x.account == "interest_receivable")
    bank = sum(x.debit - x.credit for x in lines if x.account == "bank")
    # income once: 28,881.09 + 1,046.42 + 2,929.97 = 32,857.48, all of it received
    assert income == D("32857.48") and receivable == D("0.00")
    # cash: -866,000.00 lent, +28,881.09 and +3,976.39 received; the renewal moves none
    assert bank == D("-866000.00") + D("28881.09") + D("3976.39")


def test_prepayment_after_a_refinancing_keeps_the_carried_interest_owed(
    po_app, ili, loan, token_for, as_unit, frozen_today
):
    """Refinanced on 20 May 2022 (1,046.42 carried onto line 1, 20 May -> 20 Jun), then
    prepaid 100,000.00 on 5 Jun. The carried interest is still owed that day, on top of line
    1's own interest for 20 May -> 5 Jun (16 days: 37,671 x 16 / 360 = 1,674.2667 -> 1,674.27):
    accrued 1,046.42 + 1,674.27 = 2,720.69, payoff 866,000.00 + 2,720.69 = 868,720.69. The
    100,000.00 pays 2,720.69 of interest and 97,279.31 of principal: 768,720.69 left, the new
    line 1 (5 Jun -> 20 Jun, 15 days) 768,720.69 x 0.0435 x 15 / 360 = 1,393.3063 -> 1,393.31.
    Income, once: 1,046.42 + 1,674.27 + 1,393.31 = 4,114.00, all of it received."""
    officer = token_for("loan_officer", YINING)
    checker = token_for("credit_approver", YINING)
    with as_unit(None) as s:  # a product with prepayment: the loan keeps its terms
        row = s.get(Loan, loan.id)
        row.allow_prepayment = True
        s.add(row)
        s.commit()
    frozen_today.set("2022-05-20")
    assert _relieve(officer, checker, loan.id, "2022-05-20")["carried_interest"] == "1046.42"

    frozen_today.set("2022-06-05")
    q = officer.get(f"{BASE}/loans/{loan.id}/quote?on=2022-06-05").get_json()
    assert (q["amount_due"], q["accrued_interest"], q["payoff"]) == (
        "0.00",
        "2720.69",
        "868720.69",
    )
    r = officer.post(
        f"{BASE}/loans/{loan.id}/repayments",
        json={"amount": "100000.00", "paid_on": "2022-06-05", "reference": "PRE-0605"},
    )
    assert r.status_code == 201, r.get_json()
    assert (r.get_json()["interest"], r.get_json()["principal"]) == ("2720.69", "97279.31")
    body = officer.get(f"{BASE}/loans/{loan.id}").get_json()
    assert body["outstanding_principal"] == "768720.69"
    line1 = [x for x in body["schedule"] if x["active"] and x["number"] == 1][0]
    assert (line1["due_date"], line1["interest"]) == ("2022-06-20", "1393.31")

    frozen_today.set("2022-06-20")
    # the old line's 16 days were booked at the prepayment; the close adds the new line's 15
    assert _close(as_unit, dt.date(2022, 6, 20))["interest_accrued"] == "1393.31"
    q = officer.get(f"{BASE}/loans/{loan.id}/quote?on=2022-06-20").get_json()
    assert q["amount_due"] == "1393.31"
    paid = officer.post(
        f"{BASE}/loans/{loan.id}/repayments",
        json={"amount": "1393.31", "paid_on": "2022-06-20", "reference": "BANK-0620"},
    )
    assert paid.status_code == 201, paid.get_json()
    with as_unit(None) as s:
        assert s.get(Loan, loan.id).interest_accrued == D("4114.00")
        events = s.exec(
            select(LoanEvent)
            .where(LoanEvent.loan_id == loan.id, LoanEvent.kind == "accrual")
            .order_by(LoanEvent.event_date)
        ).all()
        assert [(e.event_date, e.interest) for e in events] == [
            (dt.date(2022, 5, 20), D("1046.42")),
            (dt.date(2022, 6, 5), D("1674.27")),
            (dt.date(2022, 6, 20), D("1393.31")),
        ]
    with as_unit(YINING) as s:
        lines = service.journal_lines(s, YINING, dt.date(2022, 5, 1), dt.date(2022, 6, 30))
    assert balanced(lines) and unbalanced_vouchers(lines) == {}
    income = sum(x.credit - x.debit for x in lines if x.account == "interest_income")
    receivable = sum(x.debit - x.credit for x in lines if x.account == "interest_receivable")
    # 2,720.69 + 1,393.31 received = 4,114.00 booked once: receivable 0
    assert income == D("4114.00") and receivable == D("0.00")


def test_part_of_the_accrued_interest_paid_early_is_not_billed_again(
    po_app, ili, loan, token_for, as_unit, frozen_today
):
    """Refinanced on 20 May 2022 as above; on 5 Jun the borrower pays 2,000.00, less than the
    2,720.69 accrued (no principal prepaid, no new schedule): it pays the carried 1,046.42
    and 953.58 of line 1's own interest. Line 1 then bills 4,290.31 - 2,000.00 = 2,290.31 on
    20 Jun, not 4,290.31 again."""
    officer = token_for("loan_officer", YINING)
    checker = token_for("credit_approver", YINING)
    with as_unit(None) as s:
        row = s.get(Loan, loan.id)
        row.allow_prepayment = True
        s.add(row)
        s.commit()
    frozen_today.set("2022-05-20")
    _relieve(officer, checker, loan.id, "2022-05-20")
    frozen_today.set("2022-06-05")
    r = officer.post(
        f"{BASE}/loans/{loan.id}/repayments",
        json={"amount": "2000.00", "paid_on": "2022-06-05", "reference": "PRE-0605"},
    )
    assert r.status_code == 201 and r.get_json()["interest"] == "2000.00", r.get_json()
    # on 5 Jun again: 2,720.69 accrued - 2,000.00 paid = 720.69 still accrued
    q = officer.get(f"{BASE}/loans/{loan.id}/quote?on=2022-06-05").get_json()
    assert (q["accrued_interest"], q["payoff"]) == ("720.69", "866720.69")
    frozen_today.set("2022-06-20")
    q = officer.get(f"{BASE}/loans/{loan.id}/quote?on=2022-06-20").get_json()
    assert (q["amount_due"], q["billed_interest"]) == ("2290.31", "2290.31")


def test_write_off_of_a_renewed_loan_books_the_carried_interest_it_still_owes(
    po_app, ili, loan, token_for, as_unit, frozen_today
):
    """Renewed on 20 Feb 2023 as in the test above (1,046.42 carried, booked on the old loan
    and settled into the new loan's receivable); the new loan's line 1 (3,976.39, due 20 Mar)
    is never paid. Closed on 24 Mar with bands 关注 1, 次级 2, 可疑 3, 损失 4: four days past
    due, 损失. The new loan accrued 2,929.97 (line 1's own) + 20 Mar -> 24 Mar 4 days
    37,671 x 4 / 360 = 418.5667 -> 418.57 = 3,348.54. It owes 1,046.42 + 3,348.54 =
    4,394.96 of interest, not 3,348.54: the write-off books exactly that, and 应收利息 nets
    to zero over the whole life (29,927.51 accrued on the old loan - 28,881.09 received -
    1,046.42 settled in + 1,046.42 settled out ... + 3,348.54 - 4,394.96 = 0)."""
    from postalops_lending.classification import Bands

    frozen_today.set("2023-02-20")
    officer = token_for("loan_officer", YINING)
    checker = token_for("credit_approver", YINING)
    due_dates = [dt.date(2022, m, 10) for m in range(6, 13)] + [
        dt.date(2023, 1, 10),
        dt.date(2023, 2, 10),
    ]
    for day in due_dates:
        q = officer.get(f"{BASE}/loans/{loan.id}/quote?on={day.isoformat()}").get_json()
        r = officer.post(
            f"{BASE}/loans/{loan.id}/repayments",
            json={"amount": q["amount_due"], "paid_on": day.isoformat(), "reference": f"I{day}"},
        )
        assert r.status_code == 201, r.get_json()
    d = _relieve(officer, checker, loan.id, "2023-02-20", kind="renewal")
    assert d["carried_interest"] == "1046.42", d
    new_id = d["new_loan_id"]
    assert _close(as_unit, dt.date(2023, 2, 20))["interest_accrued"] == "29927.51"
    frozen_today.set("2023-03-24")
    with as_unit(YINING) as s:
        c = service.close_of_business(s, YINING, dt.date(2023, 3, 24), Bands(1, 2, 3, 4))
        s.commit()
    assert c["categories"] == {"loss": 1} and c["interest_accrued"] == "3348.54"
    w = officer.post(f"{BASE}/loans/{new_id}/write-offs", json={"reason": "企业注销"})
    assert w.status_code == 201, w.get_json()
    d = checker.post(f"{BASE}/write-offs/{w.get_json()['id']}/decision", json={"approve": True})
    assert d.status_code == 200, d.get_json()
    assert (d.get_json()["principal"], d.get_json()["interest"]) == ("866000.00", "4394.96")
    with as_unit(None) as s:
        # 866,000.00 + 4,394.96 to recover
        assert s.get(Loan, new_id).written_off == D("870394.96")
    with as_unit(YINING) as s:
        lines = service.journal_lines(s, YINING, dt.date(2022, 5, 1), dt.date(2023, 3, 31))
    assert balanced(lines) and unbalanced_vouchers(lines) == {}
    write_off = sorted(
        (x.account, x.debit, x.credit) for x in lines if x.reference.startswith("lending:write_off")
    )
    assert write_off == sorted([
        ("loan_loss_provision", D("866000.00"), D("0")),
        ("credit_impairment_loss", D("4394.96"), D("0")),
        ("loans", D("0"), D("866000.00")),
        ("interest_receivable", D("0"), D("4394.96")),
    ])  # fmt: skip
    receivable = sum(x.debit - x.credit for x in lines if x.account == "interest_receivable")
    assert receivable == D("0.00")
