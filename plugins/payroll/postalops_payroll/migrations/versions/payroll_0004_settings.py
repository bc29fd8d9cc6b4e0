"""payroll_setting: per-unit payroll controls (maker-checker on approval)

Revision ID: payroll_0004
Revises: payroll_0003
Create Date: 2026-12-07 07:40:00

No row means the defaults: maker-checker on. A unit inherits the nearest setting above it.
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

import postalops.db

revision = "payroll_0004"
down_revision = "payroll_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "payroll_setting",
        sa.Column("tenant_code", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("maker_checker", sa.Boolean(), nullable=False),
        sa.Column("changed_by", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("changed_at", postalops.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tenant_code", name="uq_payroll_setting"),
    )
    with op.batch_alter_table("payroll_setting", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_payroll_setting_tenant_code"), ["tenant_code"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("payroll_setting", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payroll_setting_tenant_code"))
    op.drop_table("payroll_setting")
