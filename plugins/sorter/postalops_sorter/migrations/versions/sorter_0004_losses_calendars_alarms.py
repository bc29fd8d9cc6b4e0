"""sorter: downtime reasons and stops, production calendars, alarm rules and timelines,
maintenance log (issue 20 §1)

Revision ID: sorter_0004
Revises: sorter_0003
Create Date: 2026-12-07 18:30:00
"""

import postalops.db
import sqlalchemy as sa
from alembic import op

revision = "sorter_0004"
down_revision = "sorter_0003"
branch_labels = None
depends_on = None

TS = postalops.db.UTCDateTime(timezone=True)


def _tenant() -> sa.Column:
    return sa.Column("tenant_code", sa.String(length=200), nullable=True)


def _index_tenant(table: str) -> None:
    op.create_index(f"ix_{table}_tenant_code", table, ["tenant_code"])


def upgrade() -> None:
    with op.batch_alter_table("sorter_alert", schema=None) as b:
        b.add_column(
            sa.Column("severity", sa.String(length=10), nullable=False, server_default="warning")
        )
        b.add_column(sa.Column("escalate_due_at", TS, nullable=True))
        b.add_column(sa.Column("escalate_to", sa.String(length=120), nullable=True))
        b.add_column(sa.Column("escalated_at", TS, nullable=True))
        b.add_column(sa.Column("snoozed_until", TS, nullable=True))
        b.add_column(sa.Column("subject", sa.String(length=40), nullable=True))

    op.create_table(
        "sorter_alert_event",
        _tenant(),
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("who", sa.String(length=120), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("note", sa.String(length=1000), nullable=False),
    )
    _index_tenant("sorter_alert_event")
    op.create_index("ix_sorter_alert_event_alert_id", "sorter_alert_event", ["alert_id"])

    op.create_table(
        "sorter_alarm_rule",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("unit_code", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("severity", sa.String(length=10), nullable=False),
        sa.Column("threshold", sa.Numeric(10, 4, asdecimal=True), nullable=True),
        sa.Column("minutes", sa.Integer(), nullable=True),
        sa.Column("escalate_after_minutes", sa.Integer(), nullable=True),
        sa.Column("escalate_to", sa.String(length=120), nullable=True),
        sa.UniqueConstraint("unit_code", "kind"),
    )
    op.create_index("ix_sorter_alarm_rule_unit_code", "sorter_alarm_rule", ["unit_code"])

    op.create_table(
        "sorter_reason",
        _tenant(),
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("code", sa.String(length=30), nullable=False),
        sa.Column("name_zh", sa.String(length=60), nullable=False),
        sa.Column("name_en", sa.String(length=60), nullable=False),
        sa.Column("loss", sa.String(length=20), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.UniqueConstraint("tenant_code", "code"),
    )
    _index_tenant("sorter_reason")

    op.create_table(
        "sorter_stop",
        _tenant(),
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("ended_at", TS, nullable=False),
        sa.Column("duration_ms", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason_code", sa.String(length=30), nullable=False),
        sa.Column("loss", sa.String(length=20), nullable=False),
        sa.Column("reason_by", sa.String(length=120), nullable=True),
        sa.Column("maintenance_id", sa.Integer(), nullable=True),
        sa.UniqueConstraint("device_id", "started_at", name="uq_sorter_stop_start"),
    )
    _index_tenant("sorter_stop")
    op.create_index("ix_sorter_stop_day", "sorter_stop", ["day"])
    op.create_index("ix_sorter_stop_device_id", "sorter_stop", ["device_id"])
    op.create_index("ix_sorter_stop_maintenance_id", "sorter_stop", ["maintenance_id"])

    op.create_table(
        "sorter_shift",
        _tenant(),
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("start", sa.Time(), nullable=False),
        sa.Column("end", sa.Time(), nullable=False),
        sa.Column("weekdays", sa.String(length=7), nullable=False),
        sa.UniqueConstraint("tenant_code", "number"),
    )
    _index_tenant("sorter_shift")

    op.create_table(
        "sorter_calendar_entry",
        _tenant(),
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("starts_at", TS, nullable=True),
        sa.Column("ends_at", TS, nullable=True),
        sa.Column("note", sa.String(length=200), nullable=False),
    )
    _index_tenant("sorter_calendar_entry")
    op.create_index("ix_sorter_calendar_entry_day", "sorter_calendar_entry", ["day"])

    op.create_table(
        "sorter_maintenance",
        _tenant(),
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("parts", sa.String(length=300), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("done_by", sa.String(length=120), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    _index_tenant("sorter_maintenance")
    op.create_index("ix_sorter_maintenance_device_id", "sorter_maintenance", ["device_id"])


def downgrade() -> None:
    for table in (
        "sorter_maintenance",
        "sorter_calendar_entry",
        "sorter_shift",
        "sorter_stop",
        "sorter_reason",
        "sorter_alarm_rule",
        "sorter_alert_event",
    ):
        op.drop_table(table)
    with op.batch_alter_table("sorter_alert", schema=None) as b:
        for col in ("subject", "snoozed_until", "escalated_at", "escalate_to", "escalate_due_at"):
            b.drop_column(col)
        b.drop_column("severity")
