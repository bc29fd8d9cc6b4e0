"""sorter: an alert resolved by hand suppresses its kind on its device until a chosen time

Revision ID: sorter_0002
Revises: sorter_0001
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

import postalops.db

revision = "sorter_0002"
down_revision = "sorter_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sorter_alert", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("suppressed_until", postalops.db.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("sorter_alert", schema=None) as batch_op:
        batch_op.drop_column("suppressed_until")
