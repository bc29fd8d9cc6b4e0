"""Lending tables. Every row is tenant-scoped (``TenantScoped``); names start with ``lending_``.

Money columns are NUMERIC(18, 2) through the core's ``Money`` type (Decimal in, Decimal out);
rates are NUMERIC(9, 6) fractions. Schedules are versioned: a relief or prepayment writes a new
version of a loan's instalments and leaves the old lines in place with ``active = False``.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from postalops.db import Money, UTCDateTime
from postalops.models import TenantScoped, ts_field
from sqlmodel import JSON, Column, Field


def money_field(nullable: bool = False, default: Any = Decimal("0.00")) -> Any:
    return Field(default=default, sa_column=Column(Money(), nullable=nullable))


def book_field() -> Any:
    """A money column added after the first release: zero by default in the database too, so
    rows written by raw SQL (bulk loads, benchmarks) that do not name it stay valid."""
    return Field(
        default=Decimal("0.00"), sa_column=Column(Money(), nullable=False, server_default="0")
    )


def rate_field() -> Any:
    return Field(sa_column=Column(sa.Numeric(9, 6, asdecimal=True), nullable=False))


def opt_ts() -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


def json_field(nullable: bool = True, factory: Any = None) -> Any:
    if factory is not None:
        return Field(default_factory=factory, sa_column=Column(JSON, nullable=nullable))
    return Field(default=None, sa_column=Column(JSON, nullable=nullable))


class Product(TenantScoped, table=True):
    """A configurable loan product; ``policy`` holds the tax-mode credit policy's figures."""

    __tablename__ = "lending_product"
    __table_args__ = (sa.UniqueConstraint("tenant_code", "code"),)
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=40)
    name_zh: str = Field(max_length=100)
    name_en: str = Field(max_length=100)
    mode: str = Field(default="tax", max_length=20)
    annual_rate: Decimal = rate_field()
    term_months: int
    day_count: str = Field(max_length=10)
    method: str = Field(max_length=30)
    allow_prepayment: bool = False
    policy: dict = json_field(nullable=False, factory=dict)
    active: bool = True
    # penalty surcharge, compound setting, allocation order, fee, provision rates
    # (``accounting.AccountingTerms``); empty: the defaults
    accounting: dict = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False, server_default="{}")
    )


class Borrower(TenantScoped, table=True):
    """A micro or small business (小微企业)."""

    __tablename__ = "lending_borrower"
    __table_args__ = (sa.UniqueConstraint("tenant_code", "credit_code"),)
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    credit_code: str = Field(max_length=18, index=True)
    legal_rep_name: str = Field(max_length=60)
    legal_rep_id_number: str = Field(max_length=18)
    industry: str = Field(max_length=60)
    established_on: dt.date  # months in business are counted from here
    customer_manager: str = Field(max_length=80)  # username
    phone: str = Field(default="", max_length=30)
    operating: bool = True
    created_at: dt.datetime = ts_field()


class TaxMonth(TenantScoped, table=True):
    """One month of a borrower's tax record, imported or pushed by the tax platform."""

    __tablename__ = "lending_tax_month"
    __table_args__ = (sa.UniqueConstraint("borrower_id", "period"),)
    id: int | None = Field(default=None, primary_key=True)
    borrower_id: int = Field(foreign_key="lending_borrower.id", index=True)
    period: dt.date  # first day of the month
    tax_paid: Decimal = money_field()
    sales: Decimal = money_field()
    grade: str = Field(max_length=1)
    source: str = Field(default="import", max_length=20)  # import | push | demo
    received_at: dt.datetime = ts_field()


class Application(TenantScoped, table=True):
    """A loan application and every step's timestamp and actor."""

    __tablename__ = "lending_application"
    id: int | None = Field(default=None, primary_key=True)
    borrower_id: int = Field(foreign_key="lending_borrower.id", index=True)
    product_id: int = Field(foreign_key="lending_product.id")
    requested_amount: Decimal = money_field()
    term_months: int
    channel: str = Field(default="portal", max_length=20)  # portal | api | online
    status: str = Field(default="submitted", max_length=20, index=True)
    submitted_by: int | None = None  # user id; None for the borrower's own online application
    submitted_by_name: str = Field(default="", max_length=120)
    submitted_at: dt.datetime = ts_field(index=True)
    prechecked_at: dt.datetime | None = opt_ts()
    precheck: list | None = json_field()
    tax_paid_12m: Decimal | None = money_field(nullable=True, default=None)
    credit_line: Decimal | None = money_field(nullable=True, default=None)
    granted_amount: Decimal | None = money_field(nullable=True, default=None)
    reviewed_by: int | None = None
    reviewed_by_name: str = Field(default="", max_length=120)
    reviewed_at: dt.datetime | None = opt_ts()
    review_note: str = Field(default="", max_length=500)
    decided_by: int | None = None
    decided_by_name: str = Field(default="", max_length=120)
    decided_at: dt.datetime | None = opt_ts()
    decision_note: str = Field(default="", max_length=500)
    contract_no: str | None = Field(default=None, max_length=40)
    contracted_at: dt.datetime | None = opt_ts()
    disbursed_at: dt.datetime | None = opt_ts()
    loan_id: int | None = None


class Loan(TenantScoped, table=True):
    """A disbursed loan. ``outstanding_principal`` is kept by repayments; ``days_past_due`` and
    ``category`` by the nightly close of business (dated in the portfolio snapshot)."""

    __tablename__ = "lending_loan"
    id: int | None = Field(default=None, primary_key=True)
    loan_no: str = Field(max_length=40, unique=True)
    borrower_id: int = Field(foreign_key="lending_borrower.id", index=True)
    application_id: int | None = Field(default=None, foreign_key="lending_application.id")
    product_id: int = Field(foreign_key="lending_product.id")
    origin: str = Field(default="application", max_length=20)  # application | renewal
    principal: Decimal = money_field()
    annual_rate: Decimal = rate_field()
    term_months: int
    day_count: str = Field(max_length=10)
    method: str = Field(max_length=30)
    allow_prepayment: bool = False
    disbursed_on: dt.date = Field(index=True)
    disbursed_at: dt.datetime = ts_field()
    maturity_date: dt.date
    anchor_day: int
    status: str = Field(default="active", max_length=20, index=True)  # active | closed | renewed
    closed_on: dt.date | None = None
    schedule_version: int = 1
    renewed_from_id: int | None = Field(default=None, foreign_key="lending_loan.id")
    renewed_to_id: int | None = None
    outstanding_principal: Decimal = money_field()
    days_past_due: int = 0
    category: str = Field(default="normal", max_length=20)
    # the loan book in accounting terms, kept by the close of business and the events
    # (``LoanEvent``) that change them; README "Loan accounting"
    fee: Decimal = book_field()  # arrangement fee withheld at disbursement
    accrued_through: dt.date | None = None  # last day interest and penalty were accrued
    interest_accrued: Decimal = book_field()
    penalty_accrued: Decimal = book_field()  # 罚息 and compound interest
    penalty_paid: Decimal = book_field()
    provision: Decimal = book_field()  # loan-loss provision held against this loan
    written_off: Decimal = book_field()  # principal and interest written off (核销)
    recovered: Decimal = book_field()  # recovered after the write-off


class Instalment(TenantScoped, table=True):
    """One line of a loan's schedule (one version of it)."""

    __tablename__ = "lending_instalment"
    __table_args__ = (
        sa.UniqueConstraint("loan_id", "version", "number"),
        # the close of business looks up each loan's oldest unpaid line through this index
        sa.Index("ix_lending_instalment_open", "loan_id", "active", "paid_off", "due_date"),
    )
    id: int | None = Field(default=None, primary_key=True)
    loan_id: int = Field(foreign_key="lending_loan.id")
    version: int = 1
    active: bool = True
    number: int
    period_start: dt.date
    due_date: dt.date
    days: int
    opening_principal: Decimal = money_field()
    principal: Decimal = money_field()
    interest: Decimal = money_field()
    principal_paid: Decimal = money_field()
    interest_paid: Decimal = money_field()
    paid_off: bool = False  # principal and interest fully paid
    # interest carried onto this line by a relief (billed and unpaid, or accrued up to the
    # relief date, on the old schedule): part of ``interest`` but already accrued there, so
    # the close of business does not accrue it again
    carried_interest: Decimal = book_field()


class Repayment(TenantScoped, table=True):
    """Money received on a loan (or a renewal settling it), with its allocation."""

    __tablename__ = "lending_repayment"
    __table_args__ = (sa.UniqueConstraint("loan_id", "reference"),)
    id: int | None = Field(default=None, primary_key=True)
    loan_id: int = Field(foreign_key="lending_loan.id", index=True)
    paid_on: dt.date = Field(index=True)
    amount: Decimal = money_field()
    interest: Decimal = money_field()
    principal: Decimal = money_field()
    penalty: Decimal = book_field()  # penalty interest paid (negative on a reversal)
    # repayment | renewal_settlement | reversal (a compensating row: negative amounts)
    kind: str = Field(default="repayment", max_length=20)
    reference: str = Field(max_length=60)  # the payer's reference: a retry is recognised
    allocation: dict = json_field(nullable=False, factory=dict)
    recorded_by: str = Field(default="", max_length=120)
    recorded_at: dt.datetime = ts_field()


class Relief(TenantScoped, table=True):
    """A relief request: refinancing, temporary extension or renewal, maker-checker approved."""

    __tablename__ = "lending_relief"
    id: int | None = Field(default=None, primary_key=True)
    loan_id: int = Field(foreign_key="lending_loan.id", index=True)
    kind: str = Field(max_length=20, index=True)
    relief_date: dt.date = Field(index=True)
    params: dict = json_field(nullable=False, factory=dict)
    reason: str = Field(default="", max_length=500)
    status: str = Field(default="requested", max_length=20)  # requested | approved | rejected
    eligibility: list | None = json_field()
    requested_by: int | None = None
    requested_by_name: str = Field(default="", max_length=120)
    requested_at: dt.datetime = ts_field()
    decided_by: int | None = None
    decided_by_name: str = Field(default="", max_length=120)
    decided_at: dt.datetime | None = opt_ts()
    outstanding_principal: Decimal | None = money_field(nullable=True, default=None)
    carried_interest: Decimal | None = money_field(nullable=True, default=None)
    old_schedule_version: int | None = None
    new_schedule_version: int | None = None
    new_loan_id: int | None = None


class OutreachCall(TenantScoped, table=True):
    """A customer manager's phone-back call (电话回访) and its outcome."""

    __tablename__ = "lending_outreach_call"
    id: int | None = Field(default=None, primary_key=True)
    borrower_id: int = Field(foreign_key="lending_borrower.id", index=True)
    loan_id: int | None = None
    reasons: list = json_field(nullable=False, factory=list)
    outcome: str = Field(max_length=20)
    note: str = Field(default="", max_length=500)
    called_by: str = Field(max_length=120)
    called_at: dt.datetime = ts_field()


class PortfolioSnapshot(TenantScoped, table=True):
    """Per unit, close-of-business date and category: loans and outstanding principal."""

    __tablename__ = "lending_portfolio_snapshot"
    __table_args__ = (sa.UniqueConstraint("tenant_code", "as_of", "category"),)
    id: int | None = Field(default=None, primary_key=True)
    as_of: dt.date = Field(index=True)
    category: str = Field(max_length=20)
    loans: int = 0
    outstanding: Decimal = money_field()


class LoanEvent(TenantScoped, table=True):
    """One accounting event of a loan, never edited: accrual, provision change, write-off,
    recovery, disbursement reversal. A correction is a new event (README "Loan accounting").

    ``amount`` is the event's total (for ``provision`` the signed change); the parts say what it
    is made of. ``reference`` makes each event once per loan (idempotent close of business)."""

    __tablename__ = "lending_loan_event"
    __table_args__ = (sa.UniqueConstraint("loan_id", "reference"),)
    id: int | None = Field(default=None, primary_key=True)
    loan_id: int = Field(foreign_key="lending_loan.id", index=True)
    kind: str = Field(max_length=30, index=True)
    event_date: dt.date = Field(index=True)
    amount: Decimal = money_field()
    principal: Decimal = money_field()
    interest: Decimal = money_field()
    penalty: Decimal = money_field()
    fee: Decimal = book_field()
    category: str = Field(default="", max_length=20)
    reference: str = Field(max_length=80)
    memo: str = Field(default="", max_length=200)
    recorded_by: str = Field(default="", max_length=120)
    recorded_at: dt.datetime = ts_field()


class WriteOff(TenantScoped, table=True):
    """A write-off (核销) of a 损失 loan: requested by a maker, approved by another user."""

    __tablename__ = "lending_write_off"
    id: int | None = Field(default=None, primary_key=True)
    loan_id: int = Field(foreign_key="lending_loan.id", index=True)
    status: str = Field(default="requested", max_length=20)  # requested | approved | rejected
    reason: str = Field(default="", max_length=500)
    principal: Decimal | None = money_field(nullable=True, default=None)
    interest: Decimal | None = money_field(nullable=True, default=None)
    requested_by: int | None = None
    requested_by_name: str = Field(default="", max_length=120)
    requested_at: dt.datetime = ts_field()
    decided_by: int | None = None
    decided_by_name: str = Field(default="", max_length=120)
    decided_at: dt.datetime | None = opt_ts()
    decision_note: str = Field(default="", max_length=500)
