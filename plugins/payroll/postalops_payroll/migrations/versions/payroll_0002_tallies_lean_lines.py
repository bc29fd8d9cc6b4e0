"""payroll: delivery and collection tallies; pay lines keyed by (run, courier, position)

Revision ID: payroll_0002
Revises: payroll_0001
Create Date: 2026-11-27

The tallies are filled from the events already stored, so runs of past months give the same
slips as before. Pay lines are copied into the re-keyed table (approved months keep their
lines); the id column, the run foreign key and the tenant index go.
"""

import sqlalchemy as sa
from alembic import op

from postalops_payroll.migration_tables import (
    LINE_KEY,
    TALLY_KEYS,
    line_columns,
    line_tenant,
    rebuild,
    tally_columns,
)

revision = "payroll_0002"
down_revision = "payroll_0001"
branch_labels = None
depends_on = None

LINE_COLUMNS = ", ".join(column.name for column in (line_tenant(), *line_columns()))


def _fen(column: str) -> str:
    if op.get_bind().dialect.name == "sqlite":  # money is exact text there
        return f"CAST(ROUND(CAST({column} AS NUMERIC) * 100) AS INTEGER)"
    return f"CAST(ROUND({column} * 100) AS BIGINT)"


def upgrade() -> None:
    for name, key in TALLY_KEYS.items():
        op.create_table(name, *tally_columns(name), sa.PrimaryKeyConstraint(*key))
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

    rebuild("payroll_pay_line", [line_tenant(), *line_columns()], LINE_KEY)


def downgrade() -> None:
    op.create_table(
        "payroll_pay_line_old",
        line_tenant(),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        *line_columns(),
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
