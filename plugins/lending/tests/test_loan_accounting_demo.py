"""The demo's loan book: accruals and provisions in several classes in 2022 with a repayment
reversed, and in the rolling present a write-off with a recovery; its journal balances and a
second run adds nothing."""

from __future__ import annotations

import datetime as dt
import random

from postalops.journal import balanced
from postalops.models import OrgUnit
from postalops.testing import count_rows
from postalops_lending import demo, demo_present, service
from postalops_lending.models import LoanEvent, Repayment, WriteOff
from sqlmodel import select


def test_the_demo_books_accruals_provisions_a_reversal_and_a_write_off_with_recovery(
    po_app, ili, make_user, as_unit, frozen_today
):
    make_user("loan_officer_group", "cn", "loan_officer")
    make_user("credit_approver_group", "cn", "credit_approver")

    def run():
        with as_unit(None) as s:
            units = {u.code: u for u in s.exec(select(OrgUnit)).all()}
            demo.build(s, units, random.Random("20221017:lending"), lambda *a: None)
            demo_present.build_present(s, units, lambda *a: None)
            s.commit()

    run()
    with as_unit(None) as s:
        events = s.exec(select(LoanEvent)).all()
        year = [e for e in events if e.event_date.year == 2022]
        assert {e.kind for e in year} >= {"accrual", "provision"}
        # provisions at the 2022 month ends in several five-category classes
        classes = {e.category for e in year if e.kind == "provision"}
        assert {"normal", "special_mention", "substandard"} <= classes, classes
        reversal = s.exec(select(Repayment).where(Repayment.kind == "reversal")).one()
        assert reversal.paid_on == dt.date(2022, 7, 21) and reversal.amount < 0
        write_off = s.exec(select(WriteOff)).one()
        assert write_off.status == "approved"
        kinds = {e.kind for e in events if e.loan_id == write_off.loan_id}
        assert {"write_off", "recovery"} <= kinds
        lines_2022 = service.journal_lines(s, "cn.xinjiang.ili", dt.date(2022, 1, 1),
                                              dt.date(2022, 12, 31))  # fmt: skip
        lines_now = service.journal_lines(s, "cn.xinjiang.ili", dt.date(2024, 12, 1),
                                             dt.date(2025, 3, 12))  # fmt: skip
    assert balanced(lines_2022) and balanced(lines_now)
    assert any(x.account == "fee_income" for x in lines_2022)
    counts = [count_rows(po_app, m) for m in (LoanEvent, Repayment, WriteOff)]
    run()
    assert [count_rows(po_app, m) for m in (LoanEvent, Repayment, WriteOff)] == counts
