"""lending instalment carried interest: a relief's carried interest is not accrued twice

Revision ID: lending_0003
Revises: lending_0002
Create Date: 2026-12-07 21:40:00

Issue 19 §2: the interest a relief carries onto the first new instalment (billed and unpaid, or
accrued up to the relief date) was already accrued on the old schedule; the line records it so
the close of business leaves it out. Zero for every existing line.
"""
from alembic import op
import sqlalchemy as sa
import postalops.db


revision = 'lending_0003'
down_revision = 'lending_0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('lending_instalment', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('carried_interest', postalops.db.Money(), nullable=False, server_default='0')
        )


def downgrade() -> None:
    with op.batch_alter_table('lending_instalment', schema=None) as batch_op:
        batch_op.drop_column('carried_interest')
