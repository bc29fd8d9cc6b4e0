"""payroll: delivery and collection tallies; pay lines keyed by (run, courier, position)

Revision ID: payroll_0002
Revises: payroll_0001
Create Date: 2026-11-27

The tallies are filled from the events already stored, so runs of past months give the same
slips as before. Pay lines are copied into the re-keyed table (approved months keep their
lines); the id column, the run foreign key and the tenant index go.
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

import postalops.db
import postalops_payroll.models

revision = "payroll_0002"
down_revision = "payroll_0001"
branch_labels = None
depends_on = None

LINE_COLUMNS = (
    "tenant_code, run_id, courier_id, position, kind, category, mode, tier, volume_tier, "
    "quantity, unit_rate, amount, rate_card_version, contract_term, reason, author"
)


def _line_columns() -> list[sa.Column]:
    """The columns a pay line has in both layouts (new objects on each call)."""
    rate = postalops_payroll.models.Rate(precision=14, scale=6)
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
        sa.Column("amount", postalops.db.Money(precision=18, scale=2), nullable=False),
        sa.Column("rate_card_version", sa.Integer(), nullable=True),
        sa.Column("contract_term", text(length=60), nullable=True),
        sa.Column("reason", text(length=300), nullable=True),
        sa.Column("author", text(length=120), nullable=True),
    ]


def _fen(column: str) -> str:
    if op.get_bind().dialect.name == "sqlite":  # money is exact text there
        return f"CAST(ROUND(CAST({column} AS NUMERIC) * 100) AS INTEGER)"
    return f"CAST(ROUND({column} * 100) AS BIGINT)"


def upgrade() -> None:
    op.create_table(
        "payroll_delivery_tally",
        sa.Column("tenant_code", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("courier_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Integer(), nullable=False),
        sa.Column("category", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("mode", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("tier", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("items", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("courier_id", "month", "category", "mode", "tier", "tenant_code"),
    )
    op.create_table(
        "payroll_collection_tally",
        sa.Column("tenant_code", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("courier_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Integer(), nullable=False),
        sa.Column("category", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("items", sa.BigInteger(), nullable=False),
        sa.Column("postage_fen", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("courier_id", "month", "category", "tenant_code"),
    )
    op.execute(
        "INSERT INTO payroll_delivery_tally "
        "(tenant_code, courier_id, month, category, mode, tier, items) "
        "SELECT tenant_code, courier_id, month, category, mode, tier, count(*) "
        "FROM payroll_delivery WHERE tenant_code IS NOT NULL "
        "GROUP BY tenant_code, courier_id, month, category, mode, tier"
    )
    op.execute(
        "INSERT INTO payroll_collection_tally "
        "(tenant_code, courier_id, month, category, items, postage_fen) "
        f"SELECT tenant_code, courier_id, month, category, count(*), sum({_fen('postage')}) "
        "FROM payroll_collection WHERE tenant_code IS NOT NULL "
        "GROUP BY tenant_code, courier_id, month, category"
    )

    op.create_table(
        "payroll_pay_line_new",
        sa.Column("tenant_code", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        *_line_columns(),
        sa.PrimaryKeyConstraint("run_id", "courier_id", "position"),
    )
    op.execute(
        f"INSERT INTO payroll_pay_line_new ({LINE_COLUMNS}) "
        f"SELECT {LINE_COLUMNS} FROM payroll_pay_line"
    )
    op.drop_table("payroll_pay_line")
    op.rename_table("payroll_pay_line_new", "payroll_pay_line")
    if op.get_bind().dialect.name == "postgresql":  # the name a fresh table's key would have
        op.execute(
            "ALTER TABLE payroll_pay_line "
            "RENAME CONSTRAINT payroll_pay_line_new_pkey TO payroll_pay_line_pkey"
        )


def downgrade() -> None:
    op.create_table(
        "payroll_pay_line_old",
        sa.Column("tenant_code", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        *_line_columns(),
        sa.ForeignKeyConstraint(["run_id"], ["payroll_run.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.execute(
        f"INSERT INTO payroll_pay_line_old ({LINE_COLUMNS}) "
        f"SELECT {LINE_COLUMNS} FROM payroll_pay_line ORDER BY run_id, courier_id, position"
    )
    op.drop_table("payroll_pay_line")
    op.rename_table("payroll_pay_line_old", "payroll_pay_line")
    with op.batch_alter_table("payroll_pay_line", schema=None) as batch_op:
        batch_op.create_index("ix_payroll_pay_line_slip", ["run_id", "courier_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_payroll_pay_line_tenant_code"), ["tenant_code"], unique=False
        )
    op.drop_table("payroll_collection_tally")
    op.drop_table("payroll_delivery_tally")
