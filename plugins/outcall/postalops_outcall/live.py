"""The supervisor's live view: agents' states, the queue right now and the service level.

An agent's state moves available → on call (the call starts) → wrap-up (it ends) → available
(the outcome is saved), or to paused with a pause code and back. The times of the call in
progress are kept on the agent's state row; ``finish_call`` hands them to the attempt (handle
time, ``handle_time.py``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from postalops.db import in_scope_clause
from postalops.errors import ValidationError
from sqlmodel import Session, select

from . import call_policy as cp
from .masking import mask_name
from .models import OutcallAgentState, OutcallCase

AGENT_STATES = ("available", "on_call", "wrap_up", "paused")
PAUSE_CODES = ("break", "meal", "training", "meeting", "admin")


def state_of(session: Session, tenant: str, agent: str, now: dt.datetime) -> OutcallAgentState:
    """The agent's state row at the unit (a new agent starts available)."""
    row = session.exec(
        select(OutcallAgentState).where(
            OutcallAgentState.tenant_code == tenant, OutcallAgentState.agent == agent
        )
    ).first()
    if row is None:
        row = OutcallAgentState(tenant_code=tenant, agent=agent, state="available", since=now)
        session.add(row)
        session.flush()
    return row


def _move(row: OutcallAgentState, state: str, now: dt.datetime) -> None:
    if row.state != state:
        row.since = now
    row.state = state


def set_state(
    session: Session,
    tenant: str,
    agent: str,
    state: str,
    *,
    pause_code: str | None = None,
    now: dt.datetime,
) -> OutcallAgentState:
    """An agent makes themself available or pauses (with a pause code)."""
    if state not in ("available", "paused"):
        raise ValidationError(
            "只能设为空闲或暂停 / set available or paused (calls set the other states)",
            code="invalid_state",
            details=[{"field": "state", "message": "available/paused"}],
        )
    if state == "paused" and pause_code not in PAUSE_CODES:
        raise ValidationError(
            "暂停须选择原因 / a pause needs its code",
            code="invalid_pause_code",
            details=[{"field": "pause_code", "message": "one of " + "/".join(PAUSE_CODES)}],
        )
    row = state_of(session, tenant, agent, now)
    if row.state == "on_call":
        raise ValidationError(
            "通话中不能切换状态 / end the call first",
            code="on_call",
            details=[{"field": "state", "message": "on a call"}],
        )
    if state == "paused" and row.pause_code != pause_code:
        row.since = now
    _move(row, state, now)
    row.pause_code = pause_code if state == "paused" else None
    session.add(row)
    session.flush()
    return row


def call_started(
    session: Session,
    tenant: str,
    agent: str,
    case_id: int,
    now: dt.datetime,
    *,
    recording_ref: str | None = None,
) -> OutcallAgentState:
    row = state_of(session, tenant, agent, now)
    _move(row, "on_call", now)
    row.pause_code = None
    row.case_id = case_id
    row.call_started_at = now
    row.call_ended_at = None
    row.recording_ref = recording_ref
    session.add(row)
    session.flush()
    return row


def call_ended(
    session: Session,
    tenant: str,
    agent: str,
    case_id: int,
    now: dt.datetime,
    *,
    recording_ref: str | None = None,
) -> OutcallAgentState:
    row = state_of(session, tenant, agent, now)
    if row.case_id != case_id or row.call_started_at is None:
        raise ValidationError(
            "该办件没有进行中的通话 / no call in progress on this case",
            code="no_call",
            details=[{"field": "case_id", "message": "start the call first"}],
        )
    _move(row, "wrap_up", now)
    row.call_ended_at = max(now, row.call_started_at)
    if recording_ref:
        row.recording_ref = recording_ref
    session.add(row)
    session.flush()
    return row


def finish_call(
    session: Session, tenant: str, agent: str, case_id: int, now: dt.datetime
) -> dict[str, Any]:
    """The outcome is saved: the agent is available again; returns the call's times for the
    attempt (empty when no start was recorded on this case)."""
    row = state_of(session, tenant, agent, now)
    out: dict[str, Any] = {}
    if row.case_id == case_id and row.call_started_at is not None:
        ended = row.call_ended_at or now
        out = {
            "started_at": row.call_started_at,
            "ended_at": ended,
            "wrapup_seconds": max(0, int((now - ended).total_seconds())),
            "recording_ref": row.recording_ref,
        }
    if row.state != "paused":
        _move(row, "available", now)
    row.case_id = None
    row.call_started_at = row.call_ended_at = None
    row.recording_ref = None
    session.add(row)
    session.flush()
    return out


# --- the snapshot -----------------------------------------------------------------------------


def service_level(
    session: Session,
    tenant: str,
    start: dt.datetime,
    end: dt.datetime,
    now: dt.datetime,
    hours: int,
) -> tuple[int, int]:
    """(met, eligible): eligible cases approved in [start, end) whose N-hour window is over or
    who were called, and how many of them had their first call within ``hours`` of approval.
    A case still inside its window and not called yet is not decided, so it is left out."""
    c = OutcallCase
    window = dt.timedelta(hours=hours)
    rows = session.execute(
        sa.select(c.approved_at, c.first_called_at).where(
            in_scope_clause(c.tenant_code, tenant),
            c.eligible.is_(True),
            c.approved_at >= start,
            c.approved_at < end,
        )
    ).all()
    met = eligible = 0
    for approved, first in rows:
        if first is None and approved + window > now:
            continue
        eligible += 1
        if first is not None and first <= approved + window:
            met += 1
    return met, eligible


def snapshot(session: Session, tenant: str, now: dt.datetime, *, hours: int) -> dict[str, Any]:
    """What the supervisor sees now (``GET /api/v1/outcall/live``)."""
    from .kpis import ratio

    agents = session.exec(
        select(OutcallAgentState)
        .where(in_scope_clause(OutcallAgentState.tenant_code, tenant))
        .order_by(OutcallAgentState.agent)
    ).all()
    c = OutcallCase
    depth = dict(
        session.execute(
            sa.select(c.status, sa.func.count())
            .where(in_scope_clause(c.tenant_code, tenant))
            .group_by(c.status)
        ).all()
    )
    queued = sa.and_(in_scope_clause(c.tenant_code, tenant), c.status == cp.CaseStatus.QUEUED.value)
    due_now = session.execute(
        sa.select(sa.func.count()).where(queued, c.next_call_at <= now, c.deadline > now)
    ).scalar()
    oldest = session.exec(
        select(OutcallCase)
        .where(queued, c.next_call_at <= now, c.deadline > now)
        .order_by(c.next_call_at, c.id)
        .limit(1)
    ).first()
    callbacks = session.exec(
        select(OutcallCase)
        .where(
            queued,
            c.reserved_agent.is_not(None),
            c.next_call_at > now,
            c.next_call_at <= now + dt.timedelta(hours=1),
        )
        .order_by(c.next_call_at, c.id)
        .limit(20)
    ).all()
    counts = {s: 0 for s in AGENT_STATES}
    for a in agents:
        counts[a.state] = counts.get(a.state, 0) + 1
    met, eligible = service_level(session, tenant, now - dt.timedelta(days=7), now, now, hours)
    return {
        "at": now,
        "agents": [
            {
                "agent": a.agent,
                "unit": a.tenant_code,
                "state": a.state,
                "pause_code": a.pause_code,
                "since": a.since,
                "seconds_in_state": max(0, int((now - a.since).total_seconds())),
                "case_id": a.case_id,
            }
            for a in agents
        ],
        "agents_by_state": counts,
        "queue_by_status": {s.value: int(depth.get(s.value, 0)) for s in cp.CaseStatus},
        "due_now": int(due_now or 0),
        "oldest_waiting": None
        if oldest is None
        else {
            "case_id": oldest.id,
            "case_no": oldest.case_no,
            "waiting_since": oldest.next_call_at,
            "waiting_minutes": int((now - oldest.next_call_at).total_seconds() // 60),
        },
        "callbacks_next_hour": [
            {
                "case_id": k.id,
                "case_no": k.case_no,
                "applicant": mask_name(k.applicant_name),
                "at": k.next_call_at,
                "agent": k.reserved_agent,
            }
            for k in callbacks
        ],
        "service_level": {
            "hours": hours,
            "days": 7,
            "met": met,
            "eligible": eligible,
            "value": str(ratio(met, eligible)),
        },
    }
