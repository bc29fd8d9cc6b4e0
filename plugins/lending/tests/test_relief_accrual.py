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
    r = officer.post(
        f"{BASE}/loans/{loan.id}/reliefs",
        json={"kind": "refinancing", "relief_date": "2022-05-20", "term_months": 12},
    )
    assert r.status_code == 201, r.get_json()
    d = checker.post(f"{BASE}/reliefs/{r.get_json()['id']}/decision", json={"approve": True})
    assert d.status_code == 200, d.get_json()
    assert d.get_json()["carried_interest"] == "1046.42"
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
    r = officer.post(
        f"{BASE}/loans/{loan.id}/reliefs",
        json={"kind": "renewal", "relief_date": "2023-02-20", "term_months": 12},
    )
    assert r.status_code == 201, r.get_json()
    d = checker.post(f"{BASE}/reliefs/{r.get_json()['id']}/decision", json={"approve": True})
    assert d.status_code == 200, d.get_json()
    assert d.get_json()["carried_interest"] == "1046.42"
    new_id = d.get_json()["new_loan_id"]
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
