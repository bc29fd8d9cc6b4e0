"""core webhooks (endpoints, outbox events, deliveries, attempts) and plugin settings

Revision ID: core_0004
Revises: core_0003
Create Date: 2026-12-07 14:30:00

``core_webhook_endpoint`` and ``core_plugin_setting`` are configuration keyed by a unit (read
down the tree, row-level security by their ``unit_code``); events, deliveries and attempts are
tenant rows of the unit that raised the event. Plugins move their own webhook URLs and settings
here in their own migrations (outcall_0002, sorter_0003, pickup_points_0002).
"""

import postalops.db
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "core_0004"
down_revision = "core_0003"
branch_labels = None
depends_on = None

S = sqlmodel.sql.sqltypes.AutoString
TS = postalops.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "core_webhook_endpoint",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_code", S(length=200), nullable=False),
        sa.Column("url", S(length=500), nullable=False),
        sa.Column("secret", S(length=100), nullable=False),
        sa.Column("event_types", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("description", S(length=200), nullable=False),
        sa.Column("created_by", S(length=120), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_core_webhook_endpoint_unit_code", "core_webhook_endpoint", ["unit_code"])
    op.create_table(
        "core_webhook_event",
        sa.Column("tenant_code", S(length=200), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uid", S(length=36), nullable=False),
        sa.Column("event_type", S(length=120), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("uid"),
    )
    op.create_index("ix_core_webhook_event_tenant_code", "core_webhook_event", ["tenant_code"])
    op.create_index("ix_core_webhook_event_event_type", "core_webhook_event", ["event_type"])
    op.create_index("ix_core_webhook_event_created_at", "core_webhook_event", ["created_at"])
    op.create_table(
        "core_webhook_delivery",
        sa.Column("tenant_code", S(length=200), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("endpoint_id", sa.Integer(), nullable=False),
        sa.Column("event_type", S(length=120), nullable=False),
        sa.Column("status", S(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", S(length=500), nullable=True),
        sa.Column("next_attempt_at", TS, nullable=True),
        sa.Column("delivered_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["endpoint_id"], ["core_webhook_endpoint.id"]),
        sa.ForeignKeyConstraint(["event_id"], ["core_webhook_event.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id", "endpoint_id"),
    )
    for col in ("tenant_code", "event_id", "endpoint_id", "event_type", "status"):
        op.create_index(f"ix_core_webhook_delivery_{col}", "core_webhook_delivery", [col])
    op.create_table(
        "core_webhook_attempt",
        sa.Column("tenant_code", S(length=200), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=False),
        sa.Column("try_no", sa.Integer(), nullable=False),
        sa.Column("url", S(length=500), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("latency_ms", sa.Integer(), nullable=True),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("error", S(length=500), nullable=True),
        sa.Column("replay", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["delivery_id"], ["core_webhook_delivery.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("delivery_id", "try_no"),
    )
    op.create_index("ix_core_webhook_attempt_tenant_code", "core_webhook_attempt", ["tenant_code"])
    op.create_index("ix_core_webhook_attempt_delivery_id", "core_webhook_attempt", ["delivery_id"])
    op.create_table(
        "core_plugin_setting",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_code", S(length=200), nullable=False),
        sa.Column("plugin_key", S(length=60), nullable=False),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("changed_by", S(length=120), nullable=True),
        sa.Column("changed_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("unit_code", "plugin_key"),
    )
    op.create_index("ix_core_plugin_setting_unit_code", "core_plugin_setting", ["unit_code"])


def downgrade() -> None:
    op.drop_table("core_plugin_setting")
    op.drop_table("core_webhook_attempt")
    op.drop_table("core_webhook_delivery")
    op.drop_table("core_webhook_event")
    op.drop_table("core_webhook_endpoint")
