"""sorter alerts go through the core's webhooks: move each unit's webhook URL to a core endpoint

Revision ID: sorter_0003
Revises: sorter_0002
Create Date: 2026-12-07 14:50:00

Each ``sorter_unit_setting.webhook_url`` becomes a ``core_webhook_endpoint`` at that unit taking
``sorter.*`` events, with a new signing secret (an administrator reads it by rotating it on
/admin/webhooks). The sorter's own delivery state (``notified_at``, ``notify_attempts``,
``notify_error`` on alerts) and the settings table are dropped; the downgrade brings back the
URLs, not the delivery state.
"""

import secrets

import postalops.db
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "sorter_0003"
down_revision = "sorter_0002"
branch_labels = None
depends_on = "core_0004"

TYPES = ["sorter.*"]
endpoint = sa.table(
    "core_webhook_endpoint",
    sa.column("unit_code", sa.String),
    sa.column("url", sa.String),
    sa.column("secret", sa.String),
    sa.column("event_types", sa.JSON),
    sa.column("active", sa.Boolean),
    sa.column("description", sa.String),
    sa.column("created_by", sa.String),
    sa.column("created_at", postalops.db.UTCDateTime()),
)


def upgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(
        sa.text(
            "SELECT tenant_code, webhook_url FROM sorter_unit_setting "
            "WHERE webhook_url IS NOT NULL AND webhook_url <> ''"
        )
    ).all()
    if rows:
        op.bulk_insert(
            endpoint,
            [
                {
                    "unit_code": unit,
                    "url": url,
                    "secret": "whsec_" + secrets.token_urlsafe(32),
                    "event_types": TYPES,
                    "active": True,
                    "description": "sorter alerts (moved from the sorter settings)",
                    "created_by": "migration:sorter_0003",
                    "created_at": postalops.db.utcnow(),
                }
                for unit, url in rows
            ],
        )
    with op.batch_alter_table("sorter_unit_setting", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sorter_unit_setting_tenant_code"))
    op.drop_table("sorter_unit_setting")
    with op.batch_alter_table("sorter_alert", schema=None) as batch_op:
        batch_op.drop_column("notify_error")
        batch_op.drop_column("notify_attempts")
        batch_op.drop_column("notified_at")


def downgrade() -> None:
    with op.batch_alter_table("sorter_alert", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("notified_at", postalops.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("notify_attempts", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("notify_error", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True)
        )
    op.create_table(
        "sorter_unit_setting",
        sa.Column("tenant_code", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("webhook_url", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tenant_code"),
    )
    with op.batch_alter_table("sorter_unit_setting", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sorter_unit_setting_tenant_code"), ["tenant_code"], unique=False
        )
    conn = op.get_bind()
    for unit, url, types in conn.execute(
        sa.text("SELECT unit_code, url, event_types FROM core_webhook_endpoint WHERE active")
    ).all():
        if types in (TYPES, '["sorter.*"]'):
            conn.execute(
                sa.text(
                    "INSERT INTO sorter_unit_setting (tenant_code, webhook_url) VALUES (:u, :w)"
                ),
                {"u": unit, "w": url},
            )
