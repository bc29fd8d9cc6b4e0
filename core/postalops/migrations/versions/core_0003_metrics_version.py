"""core_metrics_version: per-area data versions that invalidate cached metrics

Revision ID: core_0003
Revises: core_0002
Create Date: 2026-12-07 14:40:00

A committing transaction that wrote a plugin's tables bumps that plugin's row (``core`` for the
org tree and enablement) in the same transaction; cached KPIs computed at an older version are
recomputed (postalops.metrics_cache).
"""

import sqlalchemy as sa
from alembic import op

import postalops.db

revision = "core_0003"
down_revision = "core_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "core_metrics_version",
        sa.Column("area", sa.String(length=64), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("changed_at", postalops.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("area"),
    )


def downgrade() -> None:
    op.drop_table("core_metrics_version")
