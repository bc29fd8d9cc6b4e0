"""payroll controls move to the core's plugin settings

Revision ID: payroll_0006
Revises: payroll_0005
Create Date: 2026-12-07 15:20:00

Each ``payroll_setting`` row becomes the unit's own ``core_plugin_setting`` values for
``payroll`` (``{"maker_checker": ...}``, inherited down the tree as before); the table is
dropped. The downgrade copies them back.
"""

import json

import postalops.db
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "payroll_0006"
down_revision = "payroll_0005"
branch_labels = None
depends_on = "core_0004"

TS = postalops.db.UTCDateTime()


def upgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(
        sa.text("SELECT tenant_code, maker_checker, changed_by, changed_at FROM payroll_setting")
    ).all()
    now = postalops.db.utcnow()
    if rows:
        setting = sa.table(
            "core_plugin_setting",
            sa.column("unit_code", sa.String),
            sa.column("plugin_key", sa.String),
            sa.column("values", sa.JSON),
            sa.column("changed_by", sa.String),
            sa.column("changed_at", TS),
        )
        op.bulk_insert(
            setting,
            [
                {
                    "unit_code": unit,
                    "plugin_key": "payroll",
                    "values": {"maker_checker": bool(on)},
                    "changed_by": by,
                    "changed_at": now,  # raw SQL reads the old time as text on SQLite
                }
                for unit, on, by, _at in rows
                if unit
            ],
        )
    with op.batch_alter_table("payroll_setting", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payroll_setting_tenant_code"))
    op.drop_table("payroll_setting")


def downgrade() -> None:
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
    conn = op.get_bind()
    table = sa.table(
        "payroll_setting",
        sa.column("tenant_code", sa.String),
        sa.column("maker_checker", sa.Boolean),
        sa.column("changed_by", sa.String),
        sa.column("changed_at", TS),
    )
    for unit, values, by, _at in conn.execute(
        sa.text(
            'SELECT unit_code, "values", changed_by, changed_at FROM core_plugin_setting '
            "WHERE plugin_key = 'payroll'"
        )
    ).all():
        values = json.loads(values) if isinstance(values, str) else values
        conn.execute(
            table.insert().values(
                tenant_code=unit,
                maker_checker=bool(values.get("maker_checker", True)),
                changed_by=by or "",
                changed_at=postalops.db.utcnow(),
            )
        )
