"""One journal for finance: the double-entry lines every plugin's money produces.

A plugin implements ``postalops_journal_entries(session, tenant, date_from, date_to)`` and
returns :class:`JournalLine` entries for the money it moved on those inclusive local dates in
``tenant``'s subtree: payroll accruals and payments, loan disbursements, accruals, provisions and
write-offs, leader commissions. Lines that share a ``reference`` form one voucher (记账凭证) and
must balance (debits equal credits, to the fen). A plugin names accounts by a stable key from
:data:`DEFAULT_CHART` (``"payroll_payable"``), never by a code: the core maps each key to the
account code and name in force at the line's unit (a per-unit mapping editable in the core
settings, defaulting to the chart below, whose names follow the Chinese enterprise accounting
standard) when it exports vouchers::

    from postalops.journal import JournalLine, balanced

    lines = [
        JournalLine(day, "selling_expenses", gross, ZERO, unit, f"payroll:{run.id}", "9月计件工资"),
        JournalLine(day, "payroll_payable", ZERO, gross, unit, f"payroll:{run.id}", "9月计件工资"),
    ]
    assert balanced(lines)

Amounts are ``Decimal`` yuan, rounded to the fen, never negative; one of ``debit`` and
``credit`` is zero. A reversal is a new voucher with the sides swapped, never an edit.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from .money import ZERO, to_fen

__all__ = [
    "Account",
    "DEFAULT_CHART",
    "JournalLine",
    "balanced",
    "unbalanced_vouchers",
]


@dataclass(frozen=True)
class Account:
    """One account of the chart: its code and its zh and en names."""

    code: str
    name_zh: str
    name_en: str


DEFAULT_CHART: dict[str, Account] = {
    "bank": Account("1002", "银行存款", "Bank deposits"),
    "interest_receivable": Account("1132", "应收利息", "Interest receivable"),
    "other_receivable": Account("1221", "其他应收款", "Other receivables"),
    "loans": Account("1303", "贷款", "Loans"),
    "loan_loss_provision": Account("1304", "贷款损失准备", "Loan-loss provision"),
    "payroll_payable": Account("2211", "应付职工薪酬", "Payroll payable"),
    "tax_payable": Account("2221", "应交税费", "Taxes payable"),
    "other_payable": Account("2241", "其他应付款", "Other payables"),
    "commission_payable": Account("2241.01", "其他应付款-团长佣金", "Leader commissions payable"),
    "interest_income": Account("6011", "利息收入", "Interest income"),
    "fee_income": Account("6021", "手续费及佣金收入", "Fee and commission income"),
    "other_income": Account("6301", "营业外收入", "Non-operating income"),
    "selling_expenses": Account("6601", "销售费用", "Selling expenses"),
    "admin_expenses": Account("6602", "管理费用", "Administrative expenses"),
    "credit_impairment_loss": Account("6702", "信用减值损失", "Credit impairment losses"),
}
"""The default chart of accounts: key -> :class:`Account`. Plugins name accounts by these keys;
a unit may map any key to its own code and name."""


@dataclass(frozen=True)
class JournalLine:
    """One line of a voucher. ``reference`` groups lines into a voucher (``"<plugin>:<id>"``),
    ``account`` is a key of :data:`DEFAULT_CHART`, ``unit`` the unit code the money belongs to,
    ``memo`` the Chinese summary (摘要) finance reads."""

    date: dt.date
    account: str
    debit: Decimal
    credit: Decimal
    unit: str
    reference: str
    memo: str

    def __post_init__(self) -> None:
        if self.account not in DEFAULT_CHART:
            raise ValueError(f"unknown account key {self.account!r}")
        for side in (self.debit, self.credit):
            if not isinstance(side, Decimal) or side < 0 or to_fen(side) != side:
                raise ValueError(f"amounts are non-negative Decimal yuan to the fen: {side!r}")
        if self.debit and self.credit:
            raise ValueError("a line is either a debit or a credit")


def unbalanced_vouchers(lines: Iterable[JournalLine]) -> dict[str, Decimal]:
    """``{reference: debits - credits}`` of every voucher that does not balance (empty when all
    do)."""
    totals: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for line in lines:
        totals[line.reference] += line.debit - line.credit
    return {ref: diff for ref, diff in totals.items() if diff != 0}


def balanced(lines: Iterable[JournalLine]) -> bool:
    """True when every voucher among ``lines`` balances."""
    return not unbalanced_vouchers(lines)
