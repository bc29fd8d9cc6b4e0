"""Outcall tables. Every row is tenant-scoped (``TenantScoped``) and every table name starts
with ``outcall_`` so the plugin's Alembic branch knows its own."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from postalops.models import TenantScoped, ts_field
from sqlmodel import JSON, Column, Field, SQLModel


class OutcallSettings(TenantScoped, table=True):
    """One unit's queue policy, webhook and waybill numbering (the supervisor edits it)."""

    __tablename__ = "outcall_settings"
    __table_args__ = (sa.UniqueConstraint("tenant_code", name="uq_outcall_settings_tenant"),)
    id: int | None = Field(default=None, primary_key=True)
    retry_delay_minutes: int = 120
    max_attempts: int = 3
    claim_minutes: int = 10
    calling_start: str = Field(default="09:00", max_length=5)
    calling_end: str = Field(default="20:00", max_length=5)
    timezone: str = Field(default="Asia/Shanghai", max_length=40)
    queue_days: int = 7
    callback_hold_minutes: int = 30
    webhook_url: str | None = Field(default=None, max_length=500)
    waybill_prefix: str = Field(default="RA", max_length=2)
    updated_at: dt.datetime = ts_field()


class OutcallCatalogueItem(TenantScoped, table=True):
    """A service item (事项) of a department in the unit's hall, and whether outcall covers it."""

    __tablename__ = "outcall_catalogue_item"
    __table_args__ = (
        sa.UniqueConstraint("tenant_code", "department", "item", name="uq_outcall_catalogue"),
    )
    id: int | None = Field(default=None, primary_key=True)
    department: str = Field(max_length=100)
    item: str = Field(max_length=200)
    participating: bool = True
    script: str = Field(default="", max_length=2000)  # call script shown to the agent


class OutcallCase(TenantScoped, table=True):
    """A government-service case (办件) as the platform sent it, with its queue state."""

    __tablename__ = "outcall_case"
    __table_args__ = (
        sa.UniqueConstraint("tenant_code", "case_no", name="uq_outcall_case_no"),
        sa.Index("ix_outcall_case_queue", "tenant_code", "status", "next_call_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    case_no: str = Field(max_length=64)
    department: str = Field(max_length=100)
    service_item: str = Field(max_length=200)
    applicant_type: str = Field(max_length=20)
    approval_level: str = Field(max_length=20)
    applicant_name: str = Field(max_length=100)
    phone: str = Field(max_length=20)
    id_number: str = Field(max_length=18)
    approved_at: dt.datetime = ts_field(default_now=False)
    issuing_method: str = Field(max_length=10)
    old_certificate_return: bool = False
    ready_at: dt.datetime | None = ts_field(nullable=True, default_now=False, default=None)
    collected_at: dt.datetime | None = ts_field(nullable=True, default_now=False, default=None)
    eligible: bool = False
    rules: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # Queue state (call_policy.QueueState) plus the claim.
    status: str = Field(default="queued", max_length=20, index=True)
    attempts: int = 0
    next_call_at: dt.datetime | None = ts_field(nullable=True, default_now=False, default=None)
    reserved_agent: str | None = Field(default=None, max_length=120)
    reserved_until: dt.datetime | None = ts_field(nullable=True, default_now=False, default=None)
    deadline: dt.datetime | None = ts_field(nullable=True, default_now=False, default=None)
    claimed_by: str | None = Field(default=None, max_length=120)
    claim_expires_at: dt.datetime | None = ts_field(nullable=True, default_now=False, default=None)
    first_called_at: dt.datetime | None = ts_field(
        nullable=True, default_now=False, default=None, index=True
    )
    created_at: dt.datetime = ts_field()
    updated_at: dt.datetime = ts_field()


class OutcallAttempt(TenantScoped, table=True):
    """One call attempt and its outcome."""

    __tablename__ = "outcall_attempt"
    __table_args__ = (sa.Index("ix_outcall_attempt_period", "tenant_code", "at"),)
    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="outcall_case.id", index=True)
    agent: str = Field(max_length=120, index=True)
    outcome: str = Field(max_length=20)
    at: dt.datetime = ts_field(default_now=False)
    callback_at: dt.datetime | None = ts_field(nullable=True, default_now=False, default=None)
    note: str = Field(default="", max_length=500)


class OutcallOrder(TenantScoped, table=True):
    """A government-mail delivery order (政务邮件) with its S10 waybill number."""

    __tablename__ = "outcall_order"
    __table_args__ = (
        sa.UniqueConstraint("tenant_code", "source", "source_ref", name="uq_outcall_order_source"),
    )
    id: int | None = Field(default=None, primary_key=True)
    waybill_no: str = Field(max_length=13, unique=True)
    source: str = Field(max_length=20)  # "outcall" (converted case) | "hall" (mailed by a hall)
    source_ref: str = Field(max_length=64)  # case number or the hall's reference
    case_id: int | None = Field(default=None, foreign_key="outcall_case.id", index=True)
    item: str = Field(max_length=200)
    sender: str = Field(default="", max_length=200)
    recipient: str = Field(max_length=100)
    phone: str = Field(max_length=20)
    province: str = Field(max_length=50)
    city: str = Field(max_length=50)
    district: str = Field(max_length=50)
    detail: str = Field(max_length=200)
    created_by: str = Field(default="", max_length=120)
    created_at: dt.datetime = ts_field(index=True)


class OutcallNotification(TenantScoped, table=True):
    """Telling the government platform that a case's issuing method became mail."""

    __tablename__ = "outcall_notification"
    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="outcall_order.id", unique=True)
    case_no: str = Field(max_length=64)
    payload: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = Field(default="pending", max_length=20, index=True)  # pending|delivered|failed
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=1000)
    job_id: str | None = Field(default=None, max_length=36)
    created_at: dt.datetime = ts_field()
    delivered_at: dt.datetime | None = ts_field(nullable=True, default_now=False, default=None)


class OutcallNotificationAttempt(TenantScoped, table=True):
    """Each try at delivering a notification, kept so failures stay visible."""

    __tablename__ = "outcall_notification_attempt"
    id: int | None = Field(default=None, primary_key=True)
    notification_id: int = Field(foreign_key="outcall_notification.id", index=True)
    at: dt.datetime = ts_field()
    url: str = Field(default="", max_length=500)
    status_code: int | None = None
    ok: bool = False
    error: str | None = Field(default=None, max_length=1000)


class OutcallWaybillCounter(SQLModel, table=True):
    """The next S10 serial per service prefix. Global, not per unit: waybill numbers are unique
    across the whole network, whichever unit issues them."""

    __tablename__ = "outcall_waybill_counter"
    prefix: str = Field(primary_key=True, max_length=2)
    next_serial: int = 1
