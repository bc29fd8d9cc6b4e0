"""Table layouts as the payroll migrations left them, shared by the migrations that read or
rebuild them (the models describe only the current schema). Migrations only."""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op
from postalops.db import Money

from .models import Rate

# The tallies' keys as payroll_0002 created them (payroll_0003 puts the month first).
TALLY_KEYS = {
    "payroll_delivery_tally": ["courier_id", "month", "category", "mode", "tier", "tenant_code"],
    "payroll_collection_tally": ["courier_id", "month", "category", "tenant_code"],
}


def tally_columns(name: str) -> list[sa.Column]:
    """The columns of tally table ``name`` (new objects on each call)."""
    text = sqlmodel.sql.sqltypes.AutoString
    columns = [
        sa.Column("tenant_code", text(length=200), nullable=False),
        sa.Column("courier_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Integer(), nullable=False),
        sa.Column("category", text(length=12), nullable=False),
    ]
    if name == "payroll_delivery_tally":
        columns += [
            sa.Column("mode", text(length=12), nullable=False),
            sa.Column("tier", text(length=12), nullable=False),
        ]
    columns.append(sa.Column("items", sa.BigInteger(), nullable=False))
    if name == "payroll_collection_tally":
        columns.append(sa.Column("postage_fen", sa.BigInteger(), nullable=False))
    return columns


def line_columns() -> list[sa.Column]:
    """The columns a pay line had in every layout of its table, tenant and id aside."""
    rate = Rate(precision=14, scale=6)
    text = sqlmodel.sql.sqltypes.AutoString
    return [
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("courier_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", text(length=16), nullable=False),
        sa.Column("category", text(length=12), nullable=True),
        sa.Column("mode", text(length=12), nullable=True),
        sa.Column("tier", text(length=12), nullable=True),
        sa.Column("volume_tier", sa.Integer(), nullable=True),
        sa.Column("quantity", rate, nullable=False),
        sa.Column("unit_rate", rate, nullable=False),
        sa.Column("amount", Money(precision=18, scale=2), nullable=False),
        sa.Column("rate_card_version", sa.Integer(), nullable=True),
        sa.Column("contract_term", text(length=60), nullable=True),
        sa.Column("reason", text(length=300), nullable=True),
        sa.Column("author", text(length=120), nullable=True),
    ]


LINE_KEY = ["run_id", "courier_id", "position"]


def line_tenant() -> sa.Column:
    return sa.Column("tenant_code", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True)


def line_table() -> sa.Table:
    """``payroll_pay_line`` keyed by (run, courier, position), as payroll_0002 left it."""
    key = sa.PrimaryKeyConstraint(*LINE_KEY)
    return sa.Table("payroll_pay_line", sa.MetaData(), line_tenant(), *line_columns(), key)


def rebuild(name: str, columns: list[sa.Column], key: list[str]) -> None:
    """Rebuild table ``name`` with ``columns`` and primary key ``key``, its rows copied.

    The key keeps the name a fresh table's would have, so later migrations find it.
    """
    names = ", ".join(column.name for column in columns)
    op.create_table(f"{name}_new", *columns, sa.PrimaryKeyConstraint(*key))
    op.execute(f"INSERT INTO {name}_new ({names}) SELECT {names} FROM {name}")
    op.drop_table(name)
    op.rename_table(f"{name}_new", name)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE {name} RENAME CONSTRAINT {name}_new_pkey TO {name}_pkey")
