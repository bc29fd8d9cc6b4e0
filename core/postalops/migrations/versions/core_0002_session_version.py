"""core_user.session_version (server-side logout) and an index for the per-address throttle

Revision ID: core_0002
Revises: core_0001
Create Date: 2026-12-07 07:30:00

A session cookie carries the user's ``session_version``; logout, a password change and disabling
the user bump it, so cookies signed before no longer authenticate. Sessions signed before this
migration carry no version and must sign in again once.
"""

import sqlalchemy as sa
from alembic import op

revision = "core_0002"
down_revision = "core_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("core_user", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("session_version", sa.Integer(), server_default="0", nullable=False)
        )
    with op.batch_alter_table("core_login_failure", schema=None) as batch_op:
        batch_op.create_index("ix_core_login_failure_address_at", ["address", "at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("core_login_failure", schema=None) as batch_op:
        batch_op.drop_index("ix_core_login_failure_address_at")
    with op.batch_alter_table("core_user", schema=None) as batch_op:
        batch_op.drop_column("session_version")
