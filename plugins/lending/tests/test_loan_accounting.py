"""The loan book in accounting terms, through the entry points users and the scheduler use:
the close of business fired by the scheduler (accrual, provision, idempotent per day), penalty
in the quote and the repayment over the API, write-off by maker-checker with a recovery,
reversals, and the journal's balanced vouchers. Expected figures are computed by hand.

The loan (``conftest.loan``): 866,000.00 at 4.35 % ACT/360, interest monthly, principal at
maturity, disbursed 10 May 2022 in Yining. Line 1 (10 May -> 10 Jun, 31 days) bills
866,000 x 0.0435 x 31 / 360 = 3,243.8917 -> 3,243.89 of interest.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

from postalops.jobs import wait_for
from postalops.journal import balanced, unbalanced_vouchers
from postalops.models import AuditRecord
from postalops.testing import jobs_of, scheduler_tick
from postalops_lending import service
from postalops_lending.models import Loan, LoanEvent, Repayment
from sqlmodel import select

from .conftest import BASE, YINING


def _cob_tick(po_app, frozen_today, day: str):
    """The scheduler's 23:30 (UTC) tick on ``day``; the job closes ``clock.today()``."""
    frozen_today.set(day)
    at = dt.datetime.fromisoformat(day).replace(hour=23, minute=30, second=5, tzinfo=dt.UTC)
    fired = scheduler_tick(po_app, at)
    assert "lending.close_of_business" in fired
    job = jobs_of(po_app, "lending.close_of_business")[-1]
    job = wait_for(po_app.extensions["postalops.db"], job.id)
    assert job.status == "succeeded", job.error
    return job


def _events(as_unit, loan_id, kind):
    with as_unit(None) as s:
        return [
            (e.event_date, e.interest, e.penalty, e.amount)
            for e in s.exec(
                select(LoanEvent)
                .where(LoanEvent.loan_id == loan_id, LoanEvent.kind == kind)
                .order_by(LoanEvent.id)
            )
        ]


def test_close_of_business_from_the_scheduler_accrues_daily_and_books_the_provision_once(
    po_app, ili, loan, workers, frozen_today, as_unit
):
    job = _cob_tick(po_app, frozen_today, "2022-05-12")
    # 10 May -> 12 May, 2 days: 866,000 x 0.0435 x 2 / 360 = 209.2833 -> 209.28
    assert job.result["interest_accrued"] == "209.28"
    # 正常: general provision only, 866,000 x 1 % = 8,660.00
    assert job.result["provision_change"] == "8660.00"
    # the same minute again fires nothing; the job run again for the day books nothing
    assert "lending.close_of_business" not in scheduler_tick(
        po_app, dt.datetime(2022, 5, 12, 23, 30, 6, tzinfo=dt.UTC)
    )
    with as_unit(YINING) as s:
        again = service.close_of_business(s, YINING, dt.date(2022, 5, 12))
        s.commit()
    assert again["interest_accrued"] == "0.00" and again["provision_change"] == "0.00"
    # next day: earned by 13 May 313.925 -> 313.93, so 313.93 - 209.28 = 104.65
    _cob_tick(po_app, frozen_today, "2022-05-13")
    assert _events(as_unit, loan.id, "accrual") == [
        (dt.date(2022, 5, 12), D("209.28"), D("0"), D("209.28")),
        (dt.date(2022, 5, 13), D("104.65"), D("0"), D("104.65")),
    ]
    assert _events(as_unit, loan.id, "provision") == [
        (dt.date(2022, 5, 12), D("0"), D("0"), D("8660.00"))
    ]
    with as_unit(None) as s:
        row = s.get(Loan, loan.id)
        assert (row.interest_accrued, row.accrued_through, row.provision) == (
            D("313.93"),
            dt.date(2022, 5, 13),
            D("8660.00"),
        )


def test_the_provision_change_follows_the_class_at_each_close(po_app, ili, loan, as_unit):
    with as_unit(YINING) as s:
        service.close_of_business(s, YINING, dt.date(2022, 5, 31))
        # 10 Sep 2022: line 1's interest unpaid since 10 Jun, 92 days past due: 次级
        r = service.close_of_business(s, YINING, dt.date(2022, 9, 10))
        s.commit()
    assert r["categories"] == {"substandard": 1}
    # required 866,000 x (1 % + 25 %) = 8,660 + 216,500 = 225,160.00; held 8,660.00;
    # the change booked on 10 Sep: 216,500.00
    assert [x[3] for x in _events(as_unit, loan.id, "provision")] == [D("8660.00"), D("216500.00")]


def test_penalty_and_compound_interest_appear_in_the_quote_and_the_allocation(
    po_app, ili, loan, token_for, as_unit
):
    manager = token_for("loan_product_manager", YINING)
    r = manager.patch(
        f"{BASE}/products/{loan.product_id}",
        json={"accounting": {"penalty_surcharge": "0.5", "compound_overdue_interest": True}},
    )
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["accounting"]["compound_overdue_interest"] is True
    officer = token_for("loan_officer", YINING)
    q = officer.get(f"{BASE}/loans/{loan.id}/quote?on=2022-06-14").get_json()
    # interest 3,243.89 overdue from 11 Jun; compound at 4.35 % x 1.5 = 6.525 %:
    # 3,243.89 x 0.06525 / 360 = 0.58796 -> 0.59 a day, for 11, 12, 13 Jun (the 14th is charged
    # at that day's close) = 1.77; no principal is overdue, so no penalty on principal
    assert q["penalty_interest"] == "1.77"
    assert q["billed_interest"] == "3243.89"
    assert q["amount_due"] == "3245.66"  # 3,243.89 + 1.77
    assert q["allocation_order"] == ["penalty", "interest", "principal"]
    r = officer.post(
        f"{BASE}/loans/{loan.id}/repayments",
        json={"amount": "1000.00", "paid_on": "2022-06-14", "reference": "BANK-0614"},
    )
    assert r.status_code == 201, r.get_json()
    rep = r.get_json()
    # 1,000.00 = penalty 1.77 + interest 998.23 + principal 0
    assert (rep["penalty"], rep["interest"], rep["principal"]) == ("1.77", "998.23", "0.00")
    # a bad setting is a 422 naming the field, and nothing changes
    bad = manager.patch(
        f"{BASE}/products/{loan.product_id}",
        json={"accounting": {"allocation_order": ["interest", "interest", "principal"]}},
    )
    assert bad.status_code == 422
    assert "allocation_order" in str(bad.get_json()["error"]["details"])


def _to_loss(as_unit, day=dt.date(2022, 6, 14)):
    """Close business on 14 Jun with bands 关注 1, 次级 2, 可疑 3, 损失 4: line 1 four days
    past due is 损失."""
    from postalops_lending.classification import Bands

    with as_unit(YINING) as s:
        r = service.close_of_business(s, YINING, day, Bands(1, 2, 3, 4))
        s.commit()
    return r


def test_write_off_by_maker_checker_then_a_recovery(
    po_app, ili, loan, token_for, as_unit, frozen_today
):
    frozen_today.set("2022-06-15")
    r = _to_loss(as_unit)
    assert r["categories"] == {"loss": 1}
    # interest accrued 10 May -> 14 Jun: line 1 3,243.89 + line 2 (10 Jun -> 14 Jun, 4 days)
    # 866,000 x 0.0435 x 4 / 360 = 418.5667 -> 418.57; total 3,662.46
    assert r["interest_accrued"] == "3662.46"
    # 损失: 866,000 x (1 % + 100 %) = 874,660.00
    assert r["provision_change"] == "874660.00"
    maker = token_for("loan_officer", YINING)
    checker = token_for("credit_approver", YINING)
    not_loss = maker.post(f"{BASE}/loans/{loan.id}/recoveries", json={
        "amount": "1.00", "recovered_on": "2022-06-15", "reference": "R0"})  # fmt: skip
    assert not_loss.status_code == 409
    w = maker.post(f"{BASE}/loans/{loan.id}/write-offs", json={"reason": "企业注销，无财产可执行"})
    assert w.status_code == 201, w.get_json()
    wid = w.get_json()["id"]
    assert maker.post(f"{BASE}/write-offs/{wid}/decision", json={"approve": True}).status_code in (
        403,
    )
    d = checker.post(f"{BASE}/write-offs/{wid}/decision", json={"approve": True})
    assert d.status_code == 200, d.get_json()
    assert (d.get_json()["principal"], d.get_json()["interest"]) == ("866000.00", "3662.46")
    with as_unit(None) as s:
        row = s.get(Loan, loan.id)
        # provision 874,660.00 - 866,000.00 used = 8,660.00 left, released at the next close
        assert (row.status, row.provision, row.written_off) == (
            "written_off",
            D("8660.00"),
            D("869662.46"),
        )
    with as_unit(YINING) as s:
        r = service.close_of_business(s, YINING, dt.date(2022, 6, 15))
        s.commit()
    assert r["provision_change"] == "-8660.00"
    assert r["interest_accrued"] == "0.00"  # a written-off loan accrues nothing
    rec = maker.post(f"{BASE}/loans/{loan.id}/recoveries", json={
        "amount": "100000.00", "recovered_on": "2022-06-15", "reference": "LAWSUIT-1"})  # fmt: skip
    assert rec.status_code == 201, rec.get_json()
    # what is left to recover: 869,662.46 - 100,000.00 = 769,662.46; a cent more is refused
    over = maker.post(f"{BASE}/loans/{loan.id}/recoveries", json={
        "amount": "769662.47", "recovered_on": "2022-06-15", "reference": "LAWSUIT-2"})  # fmt: skip
    assert over.status_code == 422
    assert over.get_json()["error"]["details"][0]["field"] == "amount"
    with as_unit(YINING) as s:
        lines = service.journal_lines(s, YINING, dt.date(2022, 5, 1), dt.date(2022, 6, 30))
    assert balanced(lines) and unbalanced_vouchers(lines) == {}
    by_ref: dict[str, list] = {}
    for x in lines:
        by_ref.setdefault(x.reference.rsplit(":", 1)[0], []).append((x.account, x.debit, x.credit))
    assert sorted(by_ref["lending:write_off"]) == sorted([
        ("loan_loss_provision", D("866000.00"), D("0")),
        ("credit_impairment_loss", D("3662.46"), D("0")),
        ("loans", D("0"), D("866000.00")),
        ("interest_receivable", D("0"), D("3662.46")),
    ])  # fmt: skip
    assert by_ref["lending:recovery"] == [
        ("bank", D("100000.00"), D("0")),
        ("credit_impairment_loss", D("0"), D("100000.00")),
    ]
    # per period: debits equal credits; provisions booked 874,660.00 and released 8,660.00
    assert sum(x.debit for x in lines) == sum(x.credit for x in lines)
    prov = [x for x in lines if x.reference.startswith(f"lending:provision:{YINING}")]
    assert sorted((x.account, x.debit, x.credit) for x in prov) == sorted([
        ("credit_impairment_loss", D("874660.00"), D("0")),
        ("loan_loss_provision", D("0"), D("874660.00")),
        ("loan_loss_provision", D("8660.00"), D("0")),
        ("credit_impairment_loss", D("0"), D("8660.00")),
    ])  # fmt: skip
    m = maker.get(f"/api/v1/metrics?tenant={YINING}&from=2022-06-01&to=2022-06-30&plugin=lending")
    kpis = m.get_json()["metrics"]["lending"]
    # provisions: 874,660.00 - 8,660.00 booked - 866,000.00 used by the write-off = 0.00
    assert D(str(kpis["provisions"]["value"])) == D("0.00")
    # the 14 Jun close accrued 10 May -> 14 Jun in one event: 3,662.46; no penalty
    assert D(str(kpis["accrued_interest"]["value"])) == D("3662.46")
    assert D(str(kpis["penalty_interest"]["value"])) == D("0.00")
    # written off: 866,000.00 + 3,662.46 = 869,662.46; the balance is then 0
    assert D(str(kpis["written_off"]["value"])) == D("869662.46")
    assert D(str(kpis["outstanding_balance"]["value"])) == D("0.00")


def test_a_repayment_entered_by_mistake_is_reversed_by_a_new_row(
    po_app, ili, loan, token_for, as_unit, frozen_today
):
    frozen_today.set("2022-06-20")
    officer = token_for("loan_officer", YINING)
    checker = token_for("credit_approver", YINING)
    r = officer.post(
        f"{BASE}/loans/{loan.id}/repayments",
        json={"amount": "3243.89", "paid_on": "2022-06-10", "reference": "WRONG-LOAN"},
    )
    assert r.status_code == 201, r.get_json()
    rid = r.get_json()["id"]
    refused = officer.post(f"{BASE}/loans/{loan.id}/repayments/{rid}/reversal",
                           json={"reason": "记错贷款"})  # fmt: skip
    assert refused.status_code == 403  # a checker reverses
    rv = checker.post(
        f"{BASE}/loans/{loan.id}/repayments/{rid}/reversal", json={"reason": "记错贷款"}
    )
    assert rv.status_code == 201, rv.get_json()
    assert (rv.get_json()["amount"], rv.get_json()["kind"]) == ("-3243.89", "reversal")
    again = checker.post(f"{BASE}/loans/{loan.id}/repayments/{rid}/reversal", json={"reason": "x"})
    assert again.status_code == 409
    loan_json = officer.get(f"{BASE}/loans/{loan.id}").get_json()
    # the original repayment and schedule version 1 are untouched; version 2 is version 1 as it
    # stood before the repayment: line 1 unpaid again, 10 days past due on 20 Jun: 关注
    assert loan_json["schedule_version"] == 2
    v1 = [x for x in loan_json["schedule"] if x["version"] == 1 and x["number"] == 1][0]
    v2 = [x for x in loan_json["schedule"] if x["version"] == 2 and x["number"] == 1][0]
    assert (v1["interest_paid"], v1["paid_off"]) == ("3243.89", True)
    assert (v2["interest_paid"], v2["paid_off"], v2["active"]) == ("0.00", False, True)
    assert (loan_json["days_past_due"], loan_json["category"]) == (10, "special_mention")
    with as_unit(None) as s:
        reps = s.exec(select(Repayment).where(Repayment.loan_id == loan.id)).all()
        assert [(x.kind, x.amount) for x in reps] == [
            ("repayment", D("3243.89")),
            ("reversal", D("-3243.89")),
        ]
        audit = s.exec(
            select(AuditRecord).where(AuditRecord.action == "lending.repayment.reverse")
        ).one()
        assert audit.after["reverses_repayment_id"] == rid
        # the entry shows the repayment reversed and its reversal
        assert audit.before["repayment"]["amount"] == "3243.89"
        assert audit.before["repayment"]["reference"] == "WRONG-LOAN"
        assert audit.after["reversal_id"] == reps[1].id
        lines = service.journal_lines(s, YINING, dt.date(2022, 6, 1), dt.date(2022, 6, 30))
    assert balanced(lines)
    mine = sorted(
        (x.account, x.debit, x.credit) for x in lines if x.reference.startswith("lending:repayment")
    )
    # repayment: Dr bank 3,243.89 / Cr interest receivable; reversal: the sides swapped
    assert mine == sorted([
        ("bank", D("3243.89"), D("0")),
        ("interest_receivable", D("0"), D("3243.89")),
        ("interest_receivable", D("3243.89"), D("0")),
        ("bank", D("0"), D("3243.89")),
    ])  # fmt: skip


def test_a_disbursement_entered_by_mistake_is_reversed(
    po_app, ili, loan, token_for, as_unit, frozen_today
):
    frozen_today.set("2022-05-13")
    with as_unit(YINING) as s:
        service.close_of_business(s, YINING, dt.date(2022, 5, 12))  # accrues 209.28
        s.commit()
    checker = token_for("credit_approver", YINING)
    rv = checker.post(f"{BASE}/loans/{loan.id}/disbursement-reversal", json={"reason": "重复放款"})
    assert rv.status_code == 201, rv.get_json()
    assert checker.post(f"{BASE}/loans/{loan.id}/disbursement-reversal",
                        json={"reason": "x"}).status_code == 409  # fmt: skip
    with as_unit(YINING) as s:
        assert s.get(Loan, loan.id).status == "reversed"
        r = service.close_of_business(s, YINING, dt.date(2022, 5, 13))
        s.commit()
        assert r["provision_change"] == "-8660.00"  # the general provision is released
        lines = service.journal_lines(s, YINING, dt.date(2022, 5, 1), dt.date(2022, 5, 31))
    assert balanced(lines)
    rev = sorted(
        (x.account, x.debit, x.credit)
        for x in lines
        if x.reference.startswith("lending:disbursement_reversal")
    )
    assert rev == sorted([
        ("bank", D("866000.00"), D("0")),
        ("interest_income", D("209.28"), D("0")),
        ("loans", D("0"), D("866000.00")),
        ("interest_receivable", D("0"), D("209.28")),
    ])  # fmt: skip


def test_the_arrangement_fee_is_withheld_and_booked(people, product_id, token_for, as_unit):
    manager = token_for("loan_product_manager", YINING)
    assert manager.patch(f"{BASE}/products/{product_id}",
                         json={"accounting": {"arrangement_fee_rate": "0.005"}}).status_code == 200  # fmt: skip
    from .conftest import borrower, months

    cm, approver = people["cm"], people["approver"]
    bid = borrower(cm).get_json()["id"]
    cm.put(f"{BASE}/borrowers/{bid}/tax-months", json=months())
    app = cm.post(f"{BASE}/applications", json={
        "borrower_id": bid, "product_id": product_id, "requested_amount": "100000.00"}).get_json()  # fmt: skip
    cm.post(f"{BASE}/applications/{app['id']}/review", json={"accept": True})
    approver.post(f"{BASE}/applications/{app['id']}/decision", json={"approve": True})
    cm.post(f"{BASE}/applications/{app['id']}/contract")
    loan = cm.post(f"{BASE}/applications/{app['id']}/disbursement").get_json()
    # 100,000 x 0.5 % = 500.00 withheld: 99,500.00 paid out
    assert loan["fee"] == "500.00"
    day = dt.date.fromisoformat(loan["disbursed_on"])
    with as_unit(YINING) as s:
        lines = service.journal_lines(s, YINING, day, day)
    assert sorted((x.account, x.debit, x.credit) for x in lines) == sorted([
        ("loans", D("100000.00"), D("0")),
        ("bank", D("0"), D("99500.00")),
        ("fee_income", D("0"), D("500.00")),
    ])  # fmt: skip
