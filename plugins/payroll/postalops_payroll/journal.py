"""Payroll's vouchers for finance's one journal (issue 19 §4), from the approved runs.

For each approved run of a unit's month, dated the month's last day:

* accrual (``payroll:<run>:accrual``, 计提工资): Dr selling expenses (销售费用) the own staff's
  gross plus the employer's social insurance and housing fund / Cr payroll payable
  (应付职工薪酬);
* withholding (``payroll:<run>:withholding``, 代扣代缴): Dr payroll payable / Cr taxes payable
  (应交税费) the income tax withheld, Cr other payables (其他应付款) the employee's and the
  employer's social insurance and housing fund, owed to the funds;
* outsourced charges (``payroll:<run>:outsourced``, 外包结算): Dr selling expenses / Cr other
  payables, owed to the contractors (not employees: not payroll payable).

and, dated the day the bank payment file was first produced (``run.paid_on``):

* payment (``payroll:<run>:payment``, 发放工资): Dr payroll payable / Cr bank (银行存款) the net
  pay.

So a month's payroll payable is credited gross + employer contributions, which equals what it
is debited: net + the employee's deductions + income tax + the employer's contributions.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from postalops.db import in_scope_clause
from postalops.journal import JournalLine
from postalops.money import ZERO
from sqlmodel import Session, select

from .models import PayrollRun
from .period import Month


def _month_bounds(date_from: dt.date, date_to: dt.date) -> tuple[int, int]:
    return date_from.year * 100 + date_from.month, date_to.year * 100 + date_to.month


def journal_lines(
    session: Session, tenant: str, date_from: dt.date, date_to: dt.date
) -> list[JournalLine]:
    """The vouchers of approved runs in ``tenant``'s subtree dated within the period."""
    first, last = _month_bounds(date_from, date_to)
    runs = session.exec(
        select(PayrollRun)
        .where(
            in_scope_clause(PayrollRun.tenant_code, tenant),
            PayrollRun.status == "approved",
            (PayrollRun.month.between(first, last))  # type: ignore[attr-defined]
            | (PayrollRun.paid_on.between(date_from, date_to)),  # type: ignore[union-attr]
        )
        .order_by(PayrollRun.month, PayrollRun.tenant_code)
    ).all()
    lines: list[JournalLine] = []
    for run in runs:
        month = Month(run.month // 100, run.month % 100)
        end = month.last_day
        if date_from <= end <= date_to:
            lines += _accrual(run, end, month)
        if run.paid_on is not None and date_from <= run.paid_on <= date_to and run.net_total > 0:
            ref = f"payroll:{run.id}:payment"
            memo = f"发放{month.year}年{month.month}月工资"
            lines += [
                JournalLine(
                    run.paid_on, "payroll_payable", run.net_total, ZERO, _unit(run), ref, memo
                ),
                JournalLine(run.paid_on, "bank", ZERO, run.net_total, _unit(run), ref, memo),
            ]
    return lines


def _unit(run: PayrollRun) -> str:
    return run.tenant_code or ""


def _accrual(run: PayrollRun, day: dt.date, month: Month) -> list[JournalLine]:
    unit, label = _unit(run), f"{month.year}年{month.month}月"
    out: list[JournalLine] = []

    def voucher(ref: str, memo: str, entries: list[tuple[str, Decimal, Decimal]]) -> None:
        out.extend(
            JournalLine(day, account, debit, credit, unit, f"payroll:{run.id}:{ref}", memo)
            for account, debit, credit in entries
            if debit or credit
        )

    payable = run.own_total + run.employer_total
    if payable:
        voucher(
            "accrual",
            f"计提{label}工资及单位社保公积金",
            [("selling_expenses", payable, ZERO), ("payroll_payable", ZERO, payable)],
        )
    withheld = run.income_tax_total + run.deductions_total + run.employer_total
    if withheld:
        voucher(
            "withholding",
            f"代扣代缴{label}个人所得税及社保公积金",
            [
                ("payroll_payable", withheld, ZERO),
                ("tax_payable", ZERO, run.income_tax_total),
                ("other_payable", ZERO, run.deductions_total + run.employer_total),
            ],
        )
    if run.outsourced_total:
        voucher(
            "outsourced",
            f"{label}外包投递结算",
            [
                ("selling_expenses", run.outsourced_total, ZERO),
                ("other_payable", ZERO, run.outsourced_total),
            ],
        )
    return out
