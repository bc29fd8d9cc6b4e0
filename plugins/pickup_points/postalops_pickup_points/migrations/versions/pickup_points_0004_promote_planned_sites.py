"""pickup_points planned sites promoted to points (point_id, promoted_by, promoted_at)

Revision ID: pickup_points_0004
Revises: pickup_points_0003
Create Date: 2026-12-07 21:30:00.000000
"""

import postalops.db
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "pickup_points_0004"
down_revision = "pickup_points_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("pickup_points_planned_site", schema=None) as batch_op:
        batch_op.add_column(sa.Column("point_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("promoted_by", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True)
        )
        batch_op.add_column(
            sa.Column("promoted_at", postalops.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(
            batch_op.f("ix_pickup_points_planned_site_point_id"), ["point_id"], unique=False
        )
        batch_op.create_foreign_key(
            "fk_pickup_points_planned_site_point_id",
            "pickup_points_point",
            ["point_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("pickup_points_planned_site", schema=None) as batch_op:
        batch_op.drop_constraint("fk_pickup_points_planned_site_point_id", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_pickup_points_planned_site_point_id"))
        batch_op.drop_column("promoted_at")
        batch_op.drop_column("promoted_by")
        batch_op.drop_column("point_id")
