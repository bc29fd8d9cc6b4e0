"""sorter: reason catalogues per unit with inheritance (a city's or province's reasons apply to
the stations below; a station's own code overrides) - ``sorter_reason`` is keyed by
``unit_code`` instead of ``tenant_code`` and scoped as inherited configuration (read along the
path, like ``sorter_alarm_rule``)

The table is rebuilt (new table, rows copied, old one dropped): the same steps on SQLite and
PostgreSQL, and the tenant policy goes with the old table (``db upgrade`` puts the unit-column
policies on). Reason ids are referenced nowhere (stops keep the code), so they are renumbered.

Revision ID: sorter_0005
Revises: sorter_0004
Create Date: 2026-12-07 21:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "sorter_0005"
down_revision = "sorter_0004"
branch_labels = None
depends_on = None

COLUMNS = "code, name_zh, name_en, loss, active"


def _create(name: str, unit_column: str, nullable: bool) -> None:
    op.create_table(
        name,
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(unit_column, sa.String(length=200), nullable=nullable),
        sa.Column("code", sa.String(length=30), nullable=False),
        sa.Column("name_zh", sa.String(length=60), nullable=False),
        sa.Column("name_en", sa.String(length=60), nullable=False),
        sa.Column("loss", sa.String(length=20), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.UniqueConstraint(unit_column, "code", name=f"uq_sorter_reason_{unit_column}"),
    )


def upgrade() -> None:
    _create("sorter_reason_new", "unit_code", nullable=False)
    op.execute(
        f"INSERT INTO sorter_reason_new (unit_code, {COLUMNS}) "
        f"SELECT tenant_code, {COLUMNS} FROM sorter_reason WHERE tenant_code IS NOT NULL "
        "ORDER BY id"
    )
    op.drop_table("sorter_reason")
    op.rename_table("sorter_reason_new", "sorter_reason")
    op.create_index("ix_sorter_reason_unit_code", "sorter_reason", ["unit_code"])


def downgrade() -> None:
    _create("sorter_reason_old", "tenant_code", nullable=True)
    op.execute(
        f"INSERT INTO sorter_reason_old (tenant_code, {COLUMNS}) "
        f"SELECT unit_code, {COLUMNS} FROM sorter_reason ORDER BY id"
    )
    op.drop_table("sorter_reason")
    op.rename_table("sorter_reason_old", "sorter_reason")
    op.create_index("ix_sorter_reason_tenant_code", "sorter_reason", ["tenant_code"])
