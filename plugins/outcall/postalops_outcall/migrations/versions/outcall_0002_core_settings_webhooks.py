"""outcall settings and platform notifications move to the core (settings, webhooks)

Revision ID: outcall_0002
Revises: outcall_0001
Create Date: 2026-12-07 15:00:00

- Each ``outcall_settings`` row becomes the unit's own ``core_plugin_setting`` values for
  ``outcall`` (every field, so no unit starts inheriting a value it had set); its
  ``webhook_url`` becomes a ``core_webhook_endpoint`` at the unit taking ``outcall.*`` events,
  with a new signing secret (rotate it on /admin/webhooks to read it).
- Each notification not yet delivered becomes an ``outcall.issuing_method_changed`` event with
  a pending delivery to its unit's endpoint; the core's sweep sends it within minutes.
  Delivered notifications and the tries log are not carried over.
- ``outcall_notification_attempt``, ``outcall_notification`` and ``outcall_settings`` are dropped.
  The downgrade recreates them with the settings and URLs (not the notifications).
"""

import json
import secrets
import uuid

import postalops.db
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "outcall_0002"
down_revision = "outcall_0001"
branch_labels = None
depends_on = "core_0004"

FIELDS = (
    "retry_delay_minutes",
    "max_attempts",
    "claim_minutes",
    "calling_start",
    "calling_end",
    "timezone",
    "queue_days",
    "callback_hold_minutes",
    "waybill_prefix",
)
TYPES = ["outcall.*"]
TS = postalops.db.UTCDateTime()
S = sqlmodel.sql.sqltypes.AutoString

setting = sa.table(
    "core_plugin_setting",
    sa.column("unit_code", sa.String),
    sa.column("plugin_key", sa.String),
    sa.column("values", sa.JSON),
    sa.column("changed_by", sa.String),
    sa.column("changed_at", TS),
)
endpoint = sa.table(
    "core_webhook_endpoint",
    sa.column("id", sa.Integer),
    sa.column("unit_code", sa.String),
    sa.column("url", sa.String),
    sa.column("secret", sa.String),
    sa.column("event_types", sa.JSON),
    sa.column("active", sa.Boolean),
    sa.column("description", sa.String),
    sa.column("created_by", sa.String),
    sa.column("created_at", TS),
)
event = sa.table(
    "core_webhook_event",
    sa.column("id", sa.Integer),
    sa.column("tenant_code", sa.String),
    sa.column("uid", sa.String),
    sa.column("event_type", sa.String),
    sa.column("payload", sa.JSON),
    sa.column("created_at", TS),
)
delivery = sa.table(
    "core_webhook_delivery",
    sa.column("tenant_code", sa.String),
    sa.column("event_id", sa.Integer),
    sa.column("endpoint_id", sa.Integer),
    sa.column("event_type", sa.String),
    sa.column("status", sa.String),
    sa.column("attempts", sa.Integer),
    sa.column("next_attempt_at", TS),
    sa.column("created_at", TS),
)


def upgrade() -> None:
    conn = op.get_bind()
    now = postalops.db.utcnow()
    cols = ", ".join(("tenant_code", "webhook_url", *FIELDS))
    rows = conn.execute(sa.text(f"SELECT {cols} FROM outcall_settings")).mappings().all()
    if rows:
        op.bulk_insert(
            setting,
            [
                {
                    "unit_code": r["tenant_code"],
                    "plugin_key": "outcall",
                    "values": {f: r[f] for f in FIELDS},
                    "changed_by": "migration:outcall_0002",
                    "changed_at": now,
                }
                for r in rows
                if r["tenant_code"]
            ],
        )
    endpoints: dict[str, int] = {}
    for r in rows:
        if r["tenant_code"] and r["webhook_url"]:
            endpoints[r["tenant_code"]] = conn.execute(
                endpoint.insert()
                .values(
                    unit_code=r["tenant_code"],
                    url=r["webhook_url"],
                    secret="whsec_" + secrets.token_urlsafe(32),
                    event_types=TYPES,
                    active=True,
                    description="government platform (moved from the outcall settings)",
                    created_by="migration:outcall_0002",
                    created_at=now,
                )
                .returning(endpoint.c.id)
            ).scalar_one()
    notification = sa.table(
        "outcall_notification",
        sa.column("id", sa.Integer),
        sa.column("tenant_code", sa.String),
        sa.column("payload", sa.JSON),
        sa.column("status", sa.String),
        sa.column("created_at", TS),  # typed: raw SQL would read text on SQLite
    )
    pending = conn.execute(
        sa.select(notification.c.tenant_code, notification.c.payload, notification.c.created_at)
        .where(notification.c.status != "delivered")
        .order_by(notification.c.id)
    ).all()
    for tenant, payload, created in pending:
        if isinstance(payload, str):
            payload = json.loads(payload)
        event_id = conn.execute(
            event.insert()
            .values(
                tenant_code=tenant,
                uid=str(uuid.uuid4()),
                event_type="outcall.issuing_method_changed",
                payload=payload,
                created_at=created,
            )
            .returning(event.c.id)
        ).scalar_one()
        chain = tenant.split(".")
        for i in range(1, len(chain) + 1):
            ep = endpoints.get(".".join(chain[:i]))
            if ep is not None:
                conn.execute(
                    delivery.insert().values(
                        tenant_code=tenant,
                        event_id=event_id,
                        endpoint_id=ep,
                        event_type="outcall.issuing_method_changed",
                        status="pending",
                        attempts=0,
                        next_attempt_at=now,
                        created_at=now,
                    )
                )
    op.drop_table("outcall_notification_attempt")
    op.drop_table("outcall_notification")
    op.drop_table("outcall_settings")


def downgrade() -> None:
    op.create_table(
        "outcall_settings",
        sa.Column("tenant_code", S(length=200), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("retry_delay_minutes", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("claim_minutes", sa.Integer(), nullable=False),
        sa.Column("calling_start", S(length=5), nullable=False),
        sa.Column("calling_end", S(length=5), nullable=False),
        sa.Column("timezone", S(length=40), nullable=False),
        sa.Column("queue_days", sa.Integer(), nullable=False),
        sa.Column("callback_hold_minutes", sa.Integer(), nullable=False),
        sa.Column("webhook_url", S(length=500), nullable=True),
        sa.Column("waybill_prefix", S(length=2), nullable=False),
        sa.Column("updated_at", postalops.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tenant_code", name="uq_outcall_settings_tenant"),
    )
    op.create_index("ix_outcall_settings_tenant_code", "outcall_settings", ["tenant_code"])
    op.create_table(
        "outcall_notification",
        sa.Column("tenant_code", S(length=200), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("case_no", S(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", S(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", S(length=1000), nullable=True),
        sa.Column("job_id", S(length=36), nullable=True),
        sa.Column("created_at", postalops.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", postalops.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["order_id"], ["outcall_order.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("order_id"),
    )
    op.create_index("ix_outcall_notification_status", "outcall_notification", ["status"])
    op.create_index("ix_outcall_notification_tenant_code", "outcall_notification", ["tenant_code"])
    op.create_table(
        "outcall_notification_attempt",
        sa.Column("tenant_code", S(length=200), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notification_id", sa.Integer(), nullable=False),
        sa.Column("at", postalops.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("url", S(length=500), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("error", S(length=1000), nullable=True),
        sa.ForeignKeyConstraint(["notification_id"], ["outcall_notification.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_outcall_notification_attempt_notification_id",
        "outcall_notification_attempt",
        ["notification_id"],
    )
    op.create_index(
        "ix_outcall_notification_attempt_tenant_code",
        "outcall_notification_attempt",
        ["tenant_code"],
    )
    conn = op.get_bind()
    defaults = {
        "retry_delay_minutes": 120,
        "max_attempts": 3,
        "claim_minutes": 10,
        "calling_start": "09:00",
        "calling_end": "20:00",
        "timezone": "Asia/Shanghai",
        "queue_days": 7,
        "callback_hold_minutes": 30,
        "waybill_prefix": "RA",
    }
    urls = {
        u: url
        for u, url, types in conn.execute(
            sa.text("SELECT unit_code, url, event_types FROM core_webhook_endpoint WHERE active")
        ).all()
        if (json.loads(types) if isinstance(types, str) else types) == TYPES
    }
    table = sa.table(
        "outcall_settings",
        *(sa.column(c) for c in ("tenant_code", "webhook_url", *FIELDS)),
        sa.column("updated_at", TS),
    )
    for unit, values in conn.execute(
        sa.text(
            "SELECT unit_code, \"values\" FROM core_plugin_setting WHERE plugin_key = 'outcall'"
        )
    ).all():
        values = json.loads(values) if isinstance(values, str) else values
        conn.execute(
            table.insert().values(
                tenant_code=unit,
                webhook_url=urls.get(unit),
                updated_at=postalops.db.utcnow(),
                **{f: values.get(f, defaults[f]) for f in FIELDS},
            )
        )
