"""Outcall tables. Every row is tenant-scoped (``TenantScoped``) and every table name starts
with ``outcall_`` so the plugin's Alembic branch knows its own."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from postalops.models import TenantScoped, ts_field
from sqlmodel import JSON, Column, Field, SQLModel


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
        sa.Index("ix_outcall_case_list", "approved_at", "id"),  # the list's order (issue 17)
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
    # Handle time (issue 20): the call's start and end, and the wrap-up after it (seconds).
    started_at: dt.datetime | None = ts_field(nullable=True, default_now=False, default=None)
    ended_at: dt.datetime | None = ts_field(nullable=True, default_now=False, default=None)
    wrapup_seconds: int | None = Field(default=None)
    disposition: str | None = Field(default=None, max_length=40)  # the unit's own reason code
    recording_ref: str | None = Field(default=None, max_length=200)


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


class OutcallWaybillCounter(SQLModel, table=True):
    """The next S10 serial per service prefix. Global, not per unit: waybill numbers are unique
    across the whole network, whichever unit issues them."""

    __tablename__ = "outcall_waybill_counter"
    prefix: str = Field(primary_key=True, max_length=2)
    next_serial: int = 1


# --- issue 20 §2: do-not-call, agent states, dispositions, click-to-dial ----------------------


class OutcallDoNotCall(TenantScoped, table=True):
    """A phone number the unit's agents must not call (opt-out, complaint, …), until ``expires_at``
    (None: for good). It applies to the cases of the unit and of its subtree."""

    __tablename__ = "outcall_dnc"
    __table_args__ = (sa.UniqueConstraint("tenant_code", "phone", name="uq_outcall_dnc_phone"),)
    id: int | None = Field(default=None, primary_key=True)
    phone: str = Field(max_length=20, index=True)
    reason: str = Field(max_length=20)  # dnc.REASONS: opt_out | complaint | wrong_person | other
    note: str = Field(default="", max_length=200)
    expires_at: dt.datetime | None = ts_field(nullable=True, default_now=False, default=None)
    created_by: str = Field(default="", max_length=120)
    created_at: dt.datetime = ts_field()


class OutcallAgentState(TenantScoped, table=True):
    """An agent's live state for the supervisor's view, and the times of the call in progress."""

    __tablename__ = "outcall_agent_state"
    __table_args__ = (sa.UniqueConstraint("tenant_code", "agent", name="uq_outcall_agent_state"),)
    id: int | None = Field(default=None, primary_key=True)
    agent: str = Field(max_length=120)
    state: str = Field(default="available", max_length=20)  # live.AGENT_STATES
    pause_code: str | None = Field(default=None, max_length=20)
    since: dt.datetime = ts_field()
    case_id: int | None = Field(default=None)
    call_started_at: dt.datetime | None = ts_field(nullable=True, default_now=False, default=None)
    call_ended_at: dt.datetime | None = ts_field(nullable=True, default_now=False, default=None)
    recording_ref: str | None = Field(default=None, max_length=200)


class OutcallDisposition(TenantScoped, table=True):
    """A centre's own reason for a call's result (地址不详, 已委托他人领取…), mapped onto one of
    the six fixed outcomes the queue rules use."""

    __tablename__ = "outcall_disposition"
    __table_args__ = (sa.UniqueConstraint("tenant_code", "code", name="uq_outcall_disposition"),)
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=40)
    label: str = Field(max_length=100)
    outcome: str = Field(max_length=20)  # call_policy.Outcome
    active: bool = True


class OutcallCtiConfig(TenantScoped, table=True):
    """A unit's telephony provider for click-to-dial (none: agents dial by hand)."""

    __tablename__ = "outcall_cti_config"
    __table_args__ = (sa.UniqueConstraint("tenant_code", name="uq_outcall_cti_config"),)
    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(max_length=500)
    auth: str = Field(default="token", max_length=10)  # token (Bearer) | hmac (signed body)
    secret: str = Field(max_length=200)
    caller_id: str = Field(default="", max_length=20)
    enabled: bool = True
    updated_at: dt.datetime = ts_field()


class OutcallCtiCall(TenantScoped, table=True):
    """A call placed through the provider, and what its callbacks reported."""

    __tablename__ = "outcall_cti_call"
    __table_args__ = (sa.UniqueConstraint("call_ref", name="uq_outcall_cti_call_ref"),)
    id: int | None = Field(default=None, primary_key=True)
    call_ref: str = Field(max_length=40)  # ours, sent to the provider
    provider_call_id: str = Field(default="", max_length=100)
    case_id: int = Field(foreign_key="outcall_case.id", index=True)
    agent: str = Field(max_length=120)
    status: str = Field(default="placed", max_length=20)  # placed | started | ended
    placed_at: dt.datetime = ts_field()
    started_at: dt.datetime | None = ts_field(nullable=True, default_now=False, default=None)
    ended_at: dt.datetime | None = ts_field(nullable=True, default_now=False, default=None)
    recording_ref: str = Field(default="", max_length=200)
