"""Tables of the e-commerce plugin (all prefixed ``ecommerce_``).

Business rows are :class:`postalops.models.TenantScoped`: ``tenant_code`` is the unit they belong
to (an order, leader or session: its branch; a target: the unit it is set for). Campaigns are the
exception: a campaign set by a province applies to its whole subtree, so city staff must see it
though it sits above them; it carries ``owner_code`` and is filtered explicitly by the services.

Aggregates are kept in integer fen (``*_fen``): exact on SQLite and PostgreSQL alike, where a SUM
over NUMERIC-as-text would go through floating point on SQLite.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa
from postalops.db import SCOPE_INFO, Money, UTCDateTime
from postalops.models import TenantScoped, ts_field
from sqlmodel import JSON, Column, Field, SQLModel


class Campaign(SQLModel, table=True):
    """A festival campaign ("919 电商节") with its period and group-buy thresholds."""

    __tablename__ = "ecommerce_campaign"
    __table_args__ = (sa.UniqueConstraint("owner_code", "code"),)
    id: int | None = Field(default=None, primary_key=True)
    owner_code: str = Field(max_length=200, index=True)
    code: str = Field(max_length=40)
    name: str = Field(max_length=100)
    starts_on: dt.date
    ends_on: dt.date
    min_session_orders: int = 10
    ten_thousand_threshold: int = 10_000
    created_at: dt.datetime = ts_field()


class Target(TenantScoped, table=True):
    """One version of a plan target; never updated, a change is a new row."""

    __tablename__ = "ecommerce_target"
    __table_args__ = (sa.Index("ix_ecommerce_target_lookup", "campaign_id", "kind", "tenant_code"),)
    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="ecommerce_campaign.id")
    kind: str = Field(max_length=30)
    value: Decimal = Field(sa_column=Column(Money(), nullable=False))
    effective_from: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    set_by: str = Field(default="", max_length=120)
    recorded_at: dt.datetime = ts_field()


class Merchant(TenantScoped, table=True):
    __tablename__ = "ecommerce_merchant"
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=40, unique=True)
    name: str = Field(max_length=100)


class Product(TenantScoped, table=True):
    """A product with the price agreed at the pricing meeting and the featured (特色) flag."""

    __tablename__ = "ecommerce_product"
    id: int | None = Field(default=None, primary_key=True)
    sku: str = Field(max_length=40, unique=True)
    merchant_id: int = Field(foreign_key="ecommerce_merchant.id", index=True)
    name: str = Field(max_length=100)
    category: str = Field(max_length=30)
    agreed_price: Decimal = Field(sa_column=Column(Money(), nullable=False))
    featured: bool = False


class Pavilion(TenantScoped, table=True):
    """The provincial pavilion or a city's 乡村振兴馆 on the 邮乐 platform."""

    __tablename__ = "ecommerce_pavilion"
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=40, unique=True)
    name: str = Field(max_length=100)
    level: str = Field(max_length=20)  # province | city
    operators: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class Listing(TenantScoped, table=True):
    __tablename__ = "ecommerce_listing"
    __table_args__ = (sa.UniqueConstraint("pavilion_id", "product_id"),)
    id: int | None = Field(default=None, primary_key=True)
    pavilion_id: int = Field(foreign_key="ecommerce_pavilion.id", index=True)
    product_id: int = Field(foreign_key="ecommerce_product.id")


class Leader(TenantScoped, table=True):
    """A group-buy leader (团长) of a branch, collecting at one pickup point (a code)."""

    __tablename__ = "ecommerce_leader"
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=40, unique=True)
    name: str = Field(max_length=100)
    pickup_point: str = Field(max_length=64)


class GroupSession(TenantScoped, table=True):
    """A group-buy session (团购场次): a leader, a campaign, products and a time window."""

    __tablename__ = "ecommerce_session"
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=40, unique=True)
    campaign_id: int = Field(foreign_key="ecommerce_campaign.id", index=True)
    leader_id: int = Field(foreign_key="ecommerce_leader.id", index=True)
    starts_at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    ends_at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    skus: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    min_orders: int | None = None
    """成团: the fewest paid orders the session needs; closing below it cancels the session."""
    state: str = Field(
        default="open", max_length=12, sa_column_kwargs={"server_default": "open"}
    )  # open | closed | cancelled
    closed_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class Order(TenantScoped, table=True):
    """An order from the e-shop; ``net_fen`` is what it contributes now (0 once cancelled)."""

    __tablename__ = "ecommerce_order"
    id: int | None = Field(default=None, primary_key=True)
    order_no: str = Field(max_length=64, unique=True)
    channel: str = Field(max_length=10)
    paid_at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    day: dt.date = Field(index=True)
    amount: Decimal = Field(sa_column=Column(Money(), nullable=False))
    refunded: Decimal = Field(sa_column=Column(Money(), nullable=False))
    cancelled: bool = False
    net_fen: int = Field(sa_column=Column(sa.BigInteger(), nullable=False))
    campaign_id: int = Field(default=0)  # 0: none; a sentinel keeps rollup keys non-null
    leader_id: int = Field(default=0)
    session_id: int = Field(default=0)
    pickup_point: str = Field(default="", max_length=64)
    province_code: str = Field(default="", max_length=200)
    city_code: str = Field(default="", max_length=200)


class OrderLine(TenantScoped, table=True):
    __tablename__ = "ecommerce_order_line"
    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="ecommerce_order.id", index=True)
    sku: str = Field(max_length=40)
    quantity: int
    unit_price: Decimal = Field(sa_column=Column(Money(), nullable=False))
    amount: Decimal = Field(sa_column=Column(Money(), nullable=False))


class Refund(TenantScoped, table=True):
    """A refund received from the e-shop; ``refund_no`` makes a retried push harmless."""

    __tablename__ = "ecommerce_refund"
    id: int | None = Field(default=None, primary_key=True)
    refund_no: str = Field(max_length=64, unique=True)
    order_id: int = Field(foreign_key="ecommerce_order.id", index=True)
    amount: Decimal = Field(sa_column=Column(Money(), nullable=False))
    at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


ROLLUP_KEY = (
    "tenant_code",
    "day",
    "channel",
    "campaign_id",
    "leader_id",
    "session_id",
    "pickup_point",
)


class PendingDelta(TenantScoped, table=True):
    """A change to the figures not yet folded into the rollup (written by ingest and events,
    consumed and deleted by the refresh job)."""

    __tablename__ = "ecommerce_pending_delta"
    id: int | None = Field(default=None, primary_key=True)
    day: dt.date
    channel: str = Field(max_length=10)
    campaign_id: int = 0
    leader_id: int = 0
    session_id: int = 0
    pickup_point: str = Field(default="", max_length=64)
    province_code: str = Field(default="", max_length=200)
    city_code: str = Field(default="", max_length=200)
    amount_fen: int = Field(sa_column=Column(sa.BigInteger(), nullable=False))
    orders: int
    claim: str | None = Field(default=None, max_length=36, index=True)


class Rollup(TenantScoped, table=True):
    """Running sums per branch, day, channel, campaign, leader, session and pickup point."""

    __tablename__ = "ecommerce_rollup"
    __table_args__ = (
        sa.UniqueConstraint(*ROLLUP_KEY, name="uq_ecommerce_rollup_key"),
        sa.Index("ix_ecommerce_rollup_city_day", "city_code", "day"),
        sa.Index("ix_ecommerce_rollup_province_day", "province_code", "day"),
    )
    id: int | None = Field(default=None, primary_key=True)
    day: dt.date = Field(index=True)
    channel: str = Field(max_length=10)
    campaign_id: int = 0
    leader_id: int = 0
    session_id: int = 0
    pickup_point: str = Field(default="", max_length=64)
    province_code: str = Field(default="", max_length=200)
    city_code: str = Field(default="", max_length=200)
    amount_fen: int = Field(sa_column=Column(sa.BigInteger(), nullable=False))
    orders: int


class FiguresVersion(SQLModel, table=True):
    """One row per change of the figures (a refresh that folded deltas, a recompute, a target or
    campaign change). The newest id is the version a cached leaderboard was computed at."""

    __tablename__ = "ecommerce_figures_version"
    id: int | None = Field(default=None, primary_key=True)
    reason: str = Field(max_length=40)
    at: dt.datetime = ts_field()


class CommissionRate(SQLModel, table=True):
    """A leader commission rate (团长佣金比例) for one product (``sku``) or a whole ``category``,
    set at a unit for its subtree, in force from ``effective_from`` (a local day) until a later
    row for the same product or category. Never updated: a change is a new row. ``rate`` is a
    fraction as exact text ("0.08" for 8 %). Like a setting, a unit reads its own rates and
    those above it (a province's rates apply in its cities) and writes only in its subtree."""

    __tablename__ = "ecommerce_commission_rate"
    __table_args__ = (
        sa.Index("ix_ecommerce_commission_rate_key", "sku", "category"),
        {"info": {SCOPE_INFO: {"column": "unit_code", "read": "path"}}},
    )
    id: int | None = Field(default=None, primary_key=True)
    unit_code: str = Field(max_length=200, index=True)
    sku: str = Field(default="", max_length=40)
    category: str = Field(default="", max_length=30)
    rate: str = Field(max_length=12)
    effective_from: dt.date
    set_by: str = Field(default="", max_length=120)
    recorded_at: dt.datetime = ts_field()


class Pickup(TenantScoped, table=True):
    """The verification (核销) of an order's pickup code at its pickup point: the order is then
    picked up, which is what leader commission and the point's agent fee count. One per order."""

    __tablename__ = "ecommerce_pickup"
    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="ecommerce_order.id", unique=True)
    pickup_point: str = Field(max_length=64, index=True)
    day: dt.date = Field(index=True)
    verified_at: dt.datetime = ts_field()
    verified_by: str = Field(default="", max_length=120)


class Statement(TenantScoped, table=True):
    """A leader's commission statement (佣金结算单) for one month, approved by maker-checker.

    ``earned`` is the commission of orders picked up and not yet settled, ``clawback`` (≤ 0)
    takes back what refunds after settlement removed, ``carried`` (≤ 0) is the leader's previous
    statement's negative balance (whatever its approval state), ``payable = earned + clawback + carried``; paid out only when
    positive."""

    __tablename__ = "ecommerce_statement"
    id: int | None = Field(default=None, primary_key=True)
    leader_id: int = Field(foreign_key="ecommerce_leader.id", index=True)
    period: str = Field(max_length=7, index=True)  # YYYY-MM
    status: str = Field(default="pending", max_length=12)  # pending|approved|rejected|paid
    earned: Decimal = Field(sa_column=Column(Money(), nullable=False))
    clawback: Decimal = Field(sa_column=Column(Money(), nullable=False))
    carried: Decimal = Field(sa_column=Column(Money(), nullable=False))
    payable: Decimal = Field(sa_column=Column(Money(), nullable=False))
    prepared_by: str = Field(default="", max_length=120)
    prepared_at: dt.datetime = ts_field()
    decided_by: str = Field(default="", max_length=120)
    decided_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    decided_on: dt.date | None = None
    paid_by: str = Field(default="", max_length=120)
    paid_on: dt.date | None = None


class StatementLine(TenantScoped, table=True):
    """One order on a statement: its commission earned (> 0) or clawed back (< 0)."""

    __tablename__ = "ecommerce_statement_line"
    id: int | None = Field(default=None, primary_key=True)
    statement_id: int = Field(foreign_key="ecommerce_statement.id", index=True)
    order_id: int = Field(foreign_key="ecommerce_order.id", index=True)
    order_no: str = Field(max_length=64)
    kind: str = Field(max_length=10)  # earned | clawback
    base: Decimal = Field(sa_column=Column(Money(), nullable=False))
    commission: Decimal = Field(sa_column=Column(Money(), nullable=False))
    picked_up_on: dt.date
