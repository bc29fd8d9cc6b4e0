"""Core tables and the :class:`TenantScoped` mixin every plugin's business rows use.

Core table names start with ``core_``; a plugin's start with its key (``payroll_``), which is how
each Alembic branch knows which tables are its own.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlmodel import JSON, Column, Field, SQLModel

from .db import SCOPE_INFO, UTCDateTime, utcnow

__all__ = [
    "TenantScoped",
    "ts_field",
    "OrgUnit",
    "WebhookDelivery",
]


def ts_field(**kw: Any) -> Any:
    """A timezone-aware UTC timestamp column (``created_at: datetime = ts_field()``)."""
    nullable = kw.pop("nullable", False)
    default_now = kw.pop("default_now", True)
    index = kw.pop("index", False)
    if default_now:
        kw["default_factory"] = utcnow
    return Field(sa_column=Column(UTCDateTime(), nullable=nullable, index=index), **kw)


class TenantScoped(SQLModel):
    """Mixin for every business row: ``tenant_code`` is the org-unit code path it belongs to.

    Sessions filter reads/updates/deletes of subclasses to the caller's subtree and refuse writes
    outside it; on PostgreSQL a row-level-security policy is added to the table automatically.
    A new row with no ``tenant_code`` takes the session's scope unit.
    """

    tenant_code: str | None = Field(default=None, max_length=200, index=True)


class OrgUnit(SQLModel, table=True):
    """A node of the org tree: group -> province -> city -> county/station."""

    __tablename__ = "core_org_unit"
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=200, unique=True, index=True)
    parent_code: str | None = Field(default=None, max_length=200, index=True)
    name_zh: str = Field(max_length=100)
    name_en: str = Field(max_length=100)
    level: str = Field(max_length=20)  # group | province | city | county | station | branch
    depth: int = 0


class PluginEnablement(SQLModel, table=True):
    """An explicit on/off for a plugin at a unit; units without a row inherit from above."""

    __tablename__ = "core_plugin_enablement"
    # PostgreSQL: a unit reads its own rows and those above it (inherited), writes its subtree.
    __table_args__ = (
        sa.UniqueConstraint("unit_code", "plugin_key"),
        {"info": {SCOPE_INFO: {"column": "unit_code", "read": "path"}}},
    )
    id: int | None = Field(default=None, primary_key=True)
    unit_code: str = Field(max_length=200, index=True)
    plugin_key: str = Field(max_length=60)
    enabled: bool
    changed_by: str | None = Field(default=None, max_length=100)
    changed_at: dt.datetime = ts_field()


class User(SQLModel, table=True):
    __tablename__ = "core_user"
    # PostgreSQL: visible in the subtree of the user's home unit; sign-in, before any scope,
    # finds exactly one row by name (login) or id (the session's user).
    __table_args__ = {
        "info": {
            SCOPE_INFO: {
                "column": "home_unit_code",
                "read": "subtree",
                "lookups": ["username", "id"],
            }
        }
    }
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=80, unique=True, index=True)
    display_name: str = Field(default="", max_length=100)
    password_hash: str = Field(max_length=200)
    home_unit_code: str = Field(max_length=200, index=True)
    roles: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    locale: str | None = Field(default=None, max_length=10)
    active: bool = True
    # Stored in the session cookie at login; logout, a password change and disabling the user
    # bump it, which ends every session signed before (checked on each request).
    session_version: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    created_at: dt.datetime = ts_field()


class ApiToken(SQLModel, table=True):
    """A machine client's bearer token; only its SHA-256 is stored."""

    __tablename__ = "core_api_token"
    # PostgreSQL: visible in the subtree of the token's unit; a bearer finds its row by hash.
    __table_args__ = {
        "info": {SCOPE_INFO: {"column": "unit_code", "read": "subtree", "lookups": ["token_hash"]}}
    }
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    prefix: str = Field(max_length=12, index=True)
    token_hash: str = Field(max_length=64, unique=True)
    unit_code: str = Field(max_length=200, index=True)
    permissions: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_by: str | None = Field(default=None, max_length=80)
    subject: str | None = Field(default=None, max_length=120)  # e.g. "sorter:17" for one device
    created_at: dt.datetime = ts_field()
    expires_at: dt.datetime | None = ts_field(nullable=True, default_now=False, default=None)
    revoked_at: dt.datetime | None = ts_field(nullable=True, default_now=False, default=None)
    last_used_at: dt.datetime | None = ts_field(nullable=True, default_now=False, default=None)


class LoginFailure(SQLModel, table=True):
    """Failed logins, kept briefly to throttle guessing per username + address."""

    __tablename__ = "core_login_failure"
    __table_args__ = (sa.Index("ix_core_login_failure_address_at", "address", "at"),)
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=80, index=True)
    address: str = Field(max_length=64)
    at: dt.datetime = ts_field(index=True)


class AuditRecord(TenantScoped, table=True):
    """Who did what, when, with the state before and after."""

    __tablename__ = "core_audit"
    id: int | None = Field(default=None, primary_key=True)
    at: dt.datetime = ts_field(index=True)
    actor: str = Field(max_length=120)
    action: str = Field(max_length=80, index=True)
    target_type: str = Field(max_length=80)
    target_id: str = Field(max_length=120)
    before: dict | None = Field(default=None, sa_column=Column(JSON))
    after: dict | None = Field(default=None, sa_column=Column(JSON))


class Job(TenantScoped, table=True):
    """A tracked background job: what the portal's progress bars and /api/v1/jobs show."""

    __tablename__ = "core_job"
    id: str = Field(primary_key=True, max_length=36)
    kind: str = Field(max_length=120, index=True)
    idempotency_key: str | None = Field(default=None, max_length=200, unique=True)
    started_by: str | None = Field(default=None, max_length=120)
    status: str = Field(default="queued", max_length=20, index=True)
    done: int = 0
    total: int = 0
    message: str = Field(default="", max_length=500)
    params: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    result: dict | None = Field(default=None, sa_column=Column(JSON))
    error: str | None = Field(default=None, sa_column=Column(sa.Text))
    attempts: int = 0
    cancel_requested: bool = False
    created_at: dt.datetime = ts_field(index=True)
    started_at: dt.datetime | None = ts_field(nullable=True, default_now=False, default=None)
    finished_at: dt.datetime | None = ts_field(nullable=True, default_now=False, default=None)


class ScheduledRun(SQLModel, table=True):
    """One firing of a periodic job; the unique key makes two schedulers fire it once."""

    __tablename__ = "core_scheduled_run"
    __table_args__ = (sa.UniqueConstraint("schedule", "period"),)
    id: int | None = Field(default=None, primary_key=True)
    schedule: str = Field(max_length=120)
    period: str = Field(max_length=40)
    fired_by: str = Field(max_length=120)
    fired_at: dt.datetime = ts_field()
    job_id: str | None = Field(default=None, max_length=36)


class WebhookEndpoint(SQLModel, table=True):
    """Where a unit's events are POSTed (``postalops.webhooks``): a URL, its signing secret and
    the event types it subscribes to. An endpoint at a unit receives the events of its subtree."""

    __tablename__ = "core_webhook_endpoint"
    # PostgreSQL: a unit reads its own endpoints and those above it (an event raised in a city
    # goes to the province's endpoint too), writes only in its subtree.
    __table_args__ = {"info": {SCOPE_INFO: {"column": "unit_code", "read": "path"}}}
    id: int | None = Field(default=None, primary_key=True)
    unit_code: str = Field(max_length=200, index=True)
    url: str = Field(max_length=500)
    # The HMAC key; kept in clear because signing needs it, shown once at creation.
    secret: str = Field(max_length=100)
    event_types: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    active: bool = True
    description: str = Field(default="", max_length=200)
    created_by: str | None = Field(default=None, max_length=120)
    created_at: dt.datetime = ts_field()


class WebhookEvent(TenantScoped, table=True):
    """One event a plugin emitted (the outbox), written in the plugin's own transaction."""

    __tablename__ = "core_webhook_event"
    id: int | None = Field(default=None, primary_key=True)
    uid: str = Field(max_length=36, unique=True)  # sent as the event id; stable across retries
    event_type: str = Field(max_length=120, index=True)
    payload: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: dt.datetime = ts_field(index=True)


class WebhookDelivery(TenantScoped, table=True):
    """One event for one endpoint: its state and the next try (the delivery job's record)."""

    __tablename__ = "core_webhook_delivery"
    __table_args__ = (sa.UniqueConstraint("event_id", "endpoint_id"),)
    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="core_webhook_event.id", index=True)
    endpoint_id: int = Field(foreign_key="core_webhook_endpoint.id", index=True)
    event_type: str = Field(max_length=120, index=True)
    # pending | sending | retrying | delivered | failed
    status: str = Field(default="pending", max_length=12, index=True)
    attempts: int = 0
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, max_length=500)
    next_attempt_at: dt.datetime | None = ts_field(nullable=True, default_now=False, default=None)
    delivered_at: dt.datetime | None = ts_field(nullable=True, default_now=False, default=None)
    created_at: dt.datetime = ts_field()


class WebhookAttempt(TenantScoped, table=True):
    """The delivery log: one row per try, written before the request is sent (so a try is
    made at most once) and completed with the answer."""

    __tablename__ = "core_webhook_attempt"
    __table_args__ = (sa.UniqueConstraint("delivery_id", "try_no"),)
    id: int | None = Field(default=None, primary_key=True)
    delivery_id: int = Field(foreign_key="core_webhook_delivery.id", index=True)
    try_no: int
    url: str = Field(max_length=500)
    started_at: dt.datetime = ts_field()
    status_code: int | None = None
    latency_ms: int | None = None
    ok: bool = False
    error: str | None = Field(default=None, max_length=500)
    replay: bool = False


class PluginSetting(SQLModel, table=True):
    """A plugin's settings values set at a unit (``postalops.plugin_settings``); units below
    inherit each value unless they set it themselves."""

    __tablename__ = "core_plugin_setting"
    # PostgreSQL: a unit reads its own values and those above it (inherited), writes its subtree.
    __table_args__ = (
        sa.UniqueConstraint("unit_code", "plugin_key"),
        {"info": {SCOPE_INFO: {"column": "unit_code", "read": "path"}}},
    )
    id: int | None = Field(default=None, primary_key=True)
    unit_code: str = Field(max_length=200, index=True)
    plugin_key: str = Field(max_length=60)
    values: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    changed_by: str | None = Field(default=None, max_length=120)
    changed_at: dt.datetime = ts_field()
