"""Payroll tables. Every row is tenant-scoped (``TenantScoped``), so the core's session filters
reads to the caller's subtree and refuses writes outside it; table names start with ``payroll_``.

Where a row's ``tenant_code`` points:

* couriers, events, tallies, payslips (their lines inside them), adjustments: the courier's
  station, so a station head sees exactly their couriers and a city sees all of its stations;
* rate cards, months, runs, budgets, contractors, contract terms: the unit that owns them
  (normally a city, 市分公司).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, NamedTuple

import sqlalchemy as sa
from postalops.db import Money, UTCDateTime, utcnow
from postalops.models import TenantScoped, ts_field
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import JSON, Column, Field


class Rate(sa.types.TypeDecorator):
    """A per-item rate or fraction kept at full precision (0.585), exact text on SQLite."""

    impl = sa.Numeric(14, 6, asdecimal=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, float):
            raise TypeError("rates must be Decimal, not float")
        value = Decimal(value)
        return str(value) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Any) -> Decimal | None:
        return None if value is None else Decimal(str(value)).normalize()

    def load_dialect_impl(self, dialect: Any) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.String(40))
        return dialect.type_descriptor(sa.Numeric(14, 6, asdecimal=True))


class StoredLine(NamedTuple):
    """One line as a slip stores it; what it is follows from its position
    (``payslip.line_identity``)."""

    position: int
    quantity: Decimal
    unit_rate: Decimal
    amount: Decimal
    rate_card_version: int | None  # none on adjustment and contractor lines


def _plain(value: Any) -> Decimal:
    """A stored number as an exact Decimal without trailing zeros or exponent (0.385, 3000)."""
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    return number.quantize(_ONE) if number == number.to_integral_value() else number.normalize()


_ONE = Decimal(1)
_FEN = Decimal("0.01")


def _fen(amount: Any) -> Decimal:
    return Decimal(amount).quantize(_FEN)


def lines_as_json(lines: Any) -> list[list]:
    """A slip's lines as SQLite stores them in JSON: decimals as exact text."""
    return [
        [int(p), str(Decimal(quantity)), str(Decimal(rate)), str(_fen(amount)), version]
        for p, quantity, rate, amount, version in lines
    ]


def _number(value: Any) -> Decimal | None:
    return None if value is None else Decimal(value)


class PayLines(sa.types.TypeDecorator):
    """A slip's lines, stored with the slip as rows of five numbers:
    ``(position, quantity, unit_rate, amount, rate_card_version)``.

    PostgreSQL keeps them as a two-dimensional ``numeric[]`` (exact, built by the pricing SQL
    with ``array_agg``), SQLite as JSON with decimals as exact text. A province run writes
    20,000 slips instead of 560,000 line rows: the run is bound by what it writes.
    """

    impl = sa.JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> Any:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(ARRAY(sa.Numeric(asdecimal=True), dimensions=2))
        return dialect.type_descriptor(sa.JSON())

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        if value is None:
            return None
        if dialect.name != "postgresql":
            return lines_as_json(value)
        return [  # one element type for psycopg's array dumper
            [Decimal(p), Decimal(quantity), Decimal(rate), _fen(amount), _number(version)]
            for p, quantity, rate, amount, version in value
        ]

    def process_result_value(self, value: Any, dialect: Any) -> list[StoredLine]:
        return [
            StoredLine(
                int(position),
                _plain(quantity),
                _plain(unit_rate),
                _fen(str(amount)),
                None if version is None else int(version),
            )
            for position, quantity, unit_rate, amount, version in value or ()
        ]


def money_field(**kw: Any) -> Any:
    nullable = kw.pop("nullable", False)
    return Field(sa_column=Column(Money(), nullable=nullable), **kw)


def rate_field(**kw: Any) -> Any:
    nullable = kw.pop("nullable", True)
    return Field(sa_column=Column(Rate(), nullable=nullable), **kw)


class PayrollContractor(TenantScoped, table=True):
    """An outsourcing company (外包商) working for a city."""

    __tablename__ = "payroll_contractor"
    __table_args__ = (sa.UniqueConstraint("code", name="uq_payroll_contractor_code"),)
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=40)
    name: str = Field(max_length=100)


class PayrollContractTerm(TenantScoped, table=True):
    """A contractor's all-in unit price for whole months, ``start`` .. ``end`` inclusive."""

    __tablename__ = "payroll_contract_term"
    __table_args__ = (sa.UniqueConstraint("code", name="uq_payroll_contract_term_code"),)
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=60)
    contractor_id: int = Field(foreign_key="payroll_contractor.id", index=True)
    start: dt.date
    end: dt.date
    unit_price: Decimal = money_field()


class PayrollCourier(TenantScoped, table=True):
    """A collect-and-deliver courier (揽投员): own staff or outsourced.

    ``code`` is the employee/work number printed on scans; it is unique across the network so a
    scan names its courier without a unit. ``username`` links a portal login to the courier so
    they see their own payslips.
    """

    __tablename__ = "payroll_courier"
    __table_args__ = (sa.UniqueConstraint("code", name="uq_payroll_courier_code"),)
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=40)
    name: str = Field(max_length=100)
    kind: str = Field(default="own", max_length=12)  # own | outsourced
    grade: str | None = Field(default=None, max_length=20)
    base_pay: Decimal | None = money_field(nullable=True, default=None)
    contractor_id: int | None = Field(default=None, foreign_key="payroll_contractor.id")
    username: str | None = Field(default=None, max_length=80, index=True)
    active: bool = True
    # Salary account for the bank payment file (代发工资); own staff only (migration payroll_0007).
    bank_account: str | None = Field(default=None, max_length=40)
    bank_name: str | None = Field(default=None, max_length=60)
    # Special additional deductions (专项附加扣除) per month, as the employee declared them.
    special_deduction: Decimal | None = money_field(nullable=True, default=None)


class PayrollRateCard(TenantScoped, table=True):
    """One version of a unit's rate card; ``body`` is the JSON shape of ``rate_card.py``."""

    __tablename__ = "payroll_rate_card"
    __table_args__ = (
        sa.UniqueConstraint("tenant_code", "version", name="uq_payroll_rate_card_version"),
    )
    id: int | None = Field(default=None, primary_key=True)
    version: int
    effective_from: dt.date
    body: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_by: str = Field(default="", max_length=120)
    created_at: dt.datetime = ts_field()


class PayrollDelivery(TenantScoped, table=True):
    """A delivery scan (投递). Idempotent on waybill + courier (the table is the event type)."""

    __tablename__ = "payroll_delivery"
    __table_args__ = (
        sa.UniqueConstraint("waybill", "courier_id", name="uq_payroll_delivery_key"),
        sa.Index("ix_payroll_delivery_month_courier", "month", "courier_id"),
    )
    id: int | None = Field(
        default=None,
        sa_column=Column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    )
    waybill: str = Field(max_length=40)
    courier_id: int
    scanned_at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    month: int  # 202209: the Shanghai-clock month, so a run's filter is one indexed equality
    category: str = Field(max_length=12)
    mode: str = Field(max_length=12)
    tier: str = Field(max_length=12)
    pickup_point: str | None = Field(default=None, max_length=60)


class PayrollCollection(TenantScoped, table=True):
    """A collection record (揽收) with the postage the sender paid."""

    __tablename__ = "payroll_collection"
    __table_args__ = (
        sa.UniqueConstraint("waybill", "courier_id", name="uq_payroll_collection_key"),
        sa.Index("ix_payroll_collection_month_courier", "month", "courier_id"),
    )
    id: int | None = Field(
        default=None,
        sa_column=Column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    )
    waybill: str = Field(max_length=40)
    courier_id: int
    collected_at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    month: int
    category: str = Field(max_length=12)
    postage: Decimal = money_field()


class PayrollDeliveryTally(TenantScoped, table=True):
    """Delivered items per courier, month and rate cell, kept by ingest (计件台账).

    Ingest adds to it, in the transaction that stores the scans, exactly the scans it inserted
    (a replayed scan adds nothing), so a payroll run reads some twenty rows per courier instead
    of scanning the month's events. ``rebuild_tallies`` recomputes it from the events.
    """

    __tablename__ = "payroll_delivery_tally"
    # Keyed month first: a run reads one month's rows in key order, already grouped by courier
    # and cell, with no hashing or sorting.
    month: int = Field(primary_key=True)
    courier_id: int = Field(primary_key=True)
    category: str = Field(primary_key=True, max_length=12)
    mode: str = Field(primary_key=True, max_length=12)
    tier: str = Field(primary_key=True, max_length=12)
    # Part of the key: a courier moved to another station mid-month keeps both stations' items.
    tenant_code: str = Field(primary_key=True, max_length=200)
    items: int = Field(default=0, sa_column=Column(sa.BigInteger, nullable=False))


class PayrollCollectionTally(TenantScoped, table=True):
    """Collected postage per courier, month and category, kept by ingest like deliveries.

    Postage is summed in whole fen (an integer): exact on every backend, and additive in SQL.
    """

    __tablename__ = "payroll_collection_tally"
    month: int = Field(primary_key=True)
    courier_id: int = Field(primary_key=True)
    category: str = Field(primary_key=True, max_length=12)
    tenant_code: str = Field(primary_key=True, max_length=200)
    items: int = Field(default=0, sa_column=Column(sa.BigInteger, nullable=False))
    postage_fen: int = Field(default=0, sa_column=Column(sa.BigInteger, nullable=False))


class PayrollMonth(TenantScoped, table=True):
    """Approval state of one unit's month; ``locked`` refuses events, runs and adjustments."""

    __tablename__ = "payroll_month"
    __table_args__ = (sa.UniqueConstraint("tenant_code", "month", name="uq_payroll_month"),)
    id: int | None = Field(default=None, primary_key=True)
    month: int
    locked: bool = False
    approved_by: str | None = Field(default=None, max_length=120)
    approved_at: dt.datetime | None = ts_field(nullable=True, default_now=False, default=None)
    reopened_by: str | None = Field(default=None, max_length=120)
    reopen_reason: str | None = Field(default=None, max_length=500)


class PayrollRun(TenantScoped, table=True):
    """A payroll run of one unit and month; re-running a draft replaces its slips."""

    __tablename__ = "payroll_run"
    __table_args__ = (sa.UniqueConstraint("tenant_code", "month", name="uq_payroll_run"),)
    id: int | None = Field(default=None, primary_key=True)
    month: int
    status: str = Field(default="draft", max_length=12)  # draft | approved
    job_id: str | None = Field(default=None, max_length=36)
    started_by: str = Field(default="", max_length=120)
    computed_at: dt.datetime = ts_field()
    couriers: int = 0
    own_items: int = 0
    outsourced_items: int = 0
    pickup_point_items: int = 0
    own_total: Decimal = money_field(default=Decimal("0"))
    agent_fees: Decimal = money_field(default=Decimal("0"))
    outsourced_total: Decimal = money_field(default=Decimal("0"))
    payroll_total: Decimal = money_field(default=Decimal("0"))
    rate_card_versions: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # What the run priced (``run_inputs.py``): approval refuses a draft whose inputs changed.
    inputs: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    # From gross to net (``net_pay.py``, migration payroll_0007): sums of the own-staff slips.
    deductions_total: Decimal = money_field(default=Decimal("0"))  # employee SI + housing fund
    employer_total: Decimal = money_field(default=Decimal("0"))  # employer SI + housing fund
    income_tax_total: Decimal = money_field(default=Decimal("0"))
    net_total: Decimal = money_field(default=Decimal("0"))
    # The local date the bank payment file was first produced: the payment voucher's date.
    paid_on: dt.date | None = None
    # Set when an approval recomputed later months' cumulative tax: months, couriers, when.
    net_notice: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class PayrollPayslip(TenantScoped, table=True):
    __tablename__ = "payroll_payslip"
    __table_args__ = (sa.UniqueConstraint("run_id", "courier_id", name="uq_payroll_payslip"),)
    id: int | None = Field(default=None, primary_key=True)
    # Read by run through uq_payroll_payslip (run_id first): no index of its own.
    run_id: int = Field(foreign_key="payroll_run.id")
    month: int = Field(index=True)
    courier_id: int = Field(index=True)
    courier_code: str = Field(max_length=40)
    kind: str = Field(max_length=12)
    delivered_items: int = 0
    pickup_point_items: int = 0
    quota: Decimal | None = money_field(nullable=True, default=None)
    collected_postage: Decimal | None = money_field(nullable=True, default=None)
    quota_completion: Decimal | None = rate_field(default=None)
    quota_band: str | None = Field(default=None, max_length=40)
    quota_multiplier: Decimal | None = rate_field(default=None)
    rate_card_version: int | None = None
    agent_fees: Decimal = money_field(default=Decimal("0"))
    total: Decimal = money_field()
    # The slip's lines (``PayLines``), and the texts some carry, by position: the contract term
    # of an outsourced line, the reason and author of an adjustment.
    lines: list = Field(default_factory=list, sa_column=Column(PayLines(), nullable=False))
    line_notes: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    # From gross (``total``) to net (``net_pay.py``); null until computed (slips before 0007).
    contribution_base: Decimal | None = money_field(nullable=True, default=None)
    pension: Decimal | None = money_field(nullable=True, default=None)
    medical: Decimal | None = money_field(nullable=True, default=None)
    unemployment: Decimal | None = money_field(nullable=True, default=None)
    housing_fund: Decimal | None = money_field(nullable=True, default=None)
    employer_costs: Decimal | None = money_field(nullable=True, default=None)
    special_deduction: Decimal | None = money_field(nullable=True, default=None)
    ytd_taxable: Decimal | None = money_field(nullable=True, default=None)  # 累计应纳税所得额
    ytd_tax: Decimal | None = money_field(nullable=True, default=None)  # 累计应纳税额
    income_tax: Decimal | None = money_field(
        nullable=True, default=None
    )  # this month's withholding
    net_pay: Decimal | None = money_field(nullable=True, default=None)


class PayrollAdjustment(TenantScoped, table=True):
    """A manual amount for a courier's month (补扣款), picked up by the next run of that month."""

    __tablename__ = "payroll_adjustment"
    id: int | None = Field(default=None, primary_key=True)
    courier_id: int = Field(index=True)
    month: int
    amount: Decimal = money_field()
    reason: str = Field(max_length=300)
    author: str = Field(max_length=120)
    created_at: dt.datetime = ts_field()


class PayrollBudget(TenantScoped, table=True):
    """A city's monthly outsourced-volume budget (items) and unit-price cap."""

    __tablename__ = "payroll_budget"
    __table_args__ = (sa.UniqueConstraint("tenant_code", "month", name="uq_payroll_budget"),)
    id: int | None = Field(default=None, primary_key=True)
    month: int
    volume_budget: int
    unit_price_cap: Decimal = money_field()


class PayrollDeductionRate(TenantScoped, table=True):
    """One effective-dated version of a unit's statutory rates (五险一金): employee and employer
    shares as fractions of the contribution base, which is clamped to [floor, ceiling]."""

    __tablename__ = "payroll_deduction_rate"
    __table_args__ = (
        sa.UniqueConstraint("tenant_code", "effective_from", name="uq_payroll_deduction_rate"),
    )
    id: int | None = Field(default=None, primary_key=True)
    effective_from: dt.date
    pension: Decimal = rate_field(nullable=False)
    medical: Decimal = rate_field(nullable=False)
    unemployment: Decimal = rate_field(nullable=False)
    housing_fund: Decimal = rate_field(nullable=False)
    employer_pension: Decimal = rate_field(nullable=False)
    employer_medical: Decimal = rate_field(nullable=False)
    employer_unemployment: Decimal = rate_field(nullable=False)
    employer_housing_fund: Decimal = rate_field(nullable=False)
    base_floor: Decimal = money_field()
    base_ceiling: Decimal = money_field()
    created_by: str = Field(default="", max_length=120)
    created_at: dt.datetime = ts_field()


def month_key(year: int, month: int) -> int:
    return year * 100 + month


__all__ = [name for name in dir() if name.startswith("Payroll")] + ["Rate", "month_key", "utcnow"]
