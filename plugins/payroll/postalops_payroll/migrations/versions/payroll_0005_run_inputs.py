"""payroll_run.inputs: what a run priced, so approval refuses a draft that changed since

Revision ID: payroll_0005
Revises: payroll_0004
Create Date: 2026-12-07 11:50:00

Runs stored before this have no inputs: their drafts count as stale until run again
(``run_inputs.changes_since_run``); approved runs are unaffected.
"""

import sqlalchemy as sa
from alembic import op

revision = "payroll_0005"
down_revision = "payroll_0004"
branch_labels = None
depends_on = None


# Plain ADD/DROP COLUMN on both backends (SQLite >= 3.35): a batch copy of payroll_run would
# drop the table its payslips reference.


def upgrade() -> None:
    op.add_column("payroll_run", sa.Column("inputs", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("payroll_run", "inputs")
