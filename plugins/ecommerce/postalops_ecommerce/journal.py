"""ecommerce's lines of finance's one journal (postalops.journal): leader commissions.

- An approved statement accrues its earned commission: Dr 销售费用 / Cr 其他应付款-团长佣金
  (``ecommerce:commission:<id>``), dated the last day of the statement's period (whenever it
  was approved), so a month's journal holds that month's commission.
- Its clawback (refunds after an earlier settlement) reverses part of earlier accruals:
  Dr 其他应付款-团长佣金 / Cr 销售费用 (``ecommerce:clawback:<id>``), same day.
- Its payout: Dr 其他应付款-团长佣金 / Cr 银行存款 (``ecommerce:payout:<id>``), the paid day.
A carried negative balance books nothing: it is already the debit left on the payable account,
and the next payout is smaller by it. Each voucher has two lines of one amount, so it balances.
"""

from __future__ import annotations

import datetime as dt

from postalops.db import in_scope_clause
from postalops.journal import JournalLine
from postalops.money import ZERO
from sqlmodel import Session, or_, select

from . import commission
from .models import Leader, Statement


def journal_entries(
    session: Session, tenant: str, date_from: dt.date, date_to: dt.date
) -> list[JournalLine]:
    first = f"{date_from.year:04d}-{date_from.month:02d}"
    last = f"{date_to.year:04d}-{date_to.month:02d}"
    rows = session.exec(
        select(Statement, Leader.code, Leader.name)
        .join(Leader, Leader.id == Statement.leader_id)
        .where(
            in_scope_clause(Statement.tenant_code, tenant),
            Statement.status.in_(("approved", "paid")),
            or_(
                Statement.period.between(first, last),
                Statement.paid_on.between(date_from, date_to),
            ),
        )
        .order_by(Statement.id)
    ).all()
    lines: list[JournalLine] = []
    for st, code, name in rows:
        unit, who = st.tenant_code, f"{name}（{code}）{st.period}"
        accrued_on = commission.month_bounds(st.period)[1]
        if date_from <= accrued_on <= date_to:
            if st.earned > 0:
                ref = f"ecommerce:commission:{st.id}"
                memo = f"计提团长佣金 {who}"
                lines += [
                    JournalLine(accrued_on, "selling_expenses", st.earned, ZERO, unit, ref, memo),
                    JournalLine(accrued_on, "commission_payable", ZERO, st.earned, unit, ref, memo),
                ]  # fmt: skip
            if st.clawback < 0:
                ref, back = f"ecommerce:clawback:{st.id}", -st.clawback
                memo = f"退款追回团长佣金 {who}"
                lines += [
                    JournalLine(accrued_on, "commission_payable", back, ZERO, unit, ref, memo),
                    JournalLine(accrued_on, "selling_expenses", ZERO, back, unit, ref, memo),
                ]  # fmt: skip
        if st.status == "paid" and st.paid_on and date_from <= st.paid_on <= date_to:
            ref, memo = f"ecommerce:payout:{st.id}", f"支付团长佣金 {who}"
            lines += [
                JournalLine(st.paid_on, "commission_payable", st.payable, ZERO, unit, ref, memo),
                JournalLine(st.paid_on, "bank", ZERO, st.payable, unit, ref, memo),
            ]
    return lines
