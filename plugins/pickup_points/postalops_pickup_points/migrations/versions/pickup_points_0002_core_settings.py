"""pickup-point rules move to the core's plugin settings

Revision ID: pickup_points_0002
Revises: pickup_points_0001
Create Date: 2026-12-07 15:10:00

Each ``pickup_points_settings`` row becomes the unit's own ``core_plugin_setting`` values for
``pickup_points`` (same JSON, same inheritance down the tree); the table is dropped. The
downgrade copies them back.
"""

import json

import postalops.db
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "pickup_points_0002"
down_revision = "pickup_points_0001"
branch_labels = None
depends_on = "core_0004"

TS = postalops.db.UTCDateTime()


def _rows(conn, sql):
    out = []
    for unit, values, by, at in conn.execute(sa.text(sql)).all():
        out.append((unit, json.loads(values) if isinstance(values, str) else values, by, at))
    return out


def upgrade() -> None:
    conn = op.get_bind()
    rows = _rows(conn, 'SELECT unit_code, "values", changed_by, at FROM pickup_points_settings')
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
                    "plugin_key": "pickup_points",
                    "values": values or {},
                    "changed_by": by,
                    "changed_at": postalops.db.utcnow(),  # raw SQL reads text on SQLite
                }
                for unit, values, by, _at in rows
            ],
        )
    with op.batch_alter_table("pickup_points_settings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pickup_points_settings_unit_code"))
    op.drop_table("pickup_points_settings")


def downgrade() -> None:
    op.create_table(
        "pickup_points_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_code", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("changed_by", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True),
        sa.Column("at", postalops.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("pickup_points_settings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_pickup_points_settings_unit_code"), ["unit_code"], unique=True
        )
    conn = op.get_bind()
    rows = _rows(
        conn,
        'SELECT unit_code, "values", changed_by, changed_at FROM core_plugin_setting '
        "WHERE plugin_key = 'pickup_points'",
    )
    table = sa.table(
        "pickup_points_settings",
        sa.column("unit_code", sa.String),
        sa.column("values", sa.JSON),
        sa.column("changed_by", sa.String),
        sa.column("at", TS),
    )
    for unit, values, by, _at in rows:
        conn.execute(
            table.insert().values(
                unit_code=unit, values=values, changed_by=by, at=postalops.db.utcnow()
            )
        )
