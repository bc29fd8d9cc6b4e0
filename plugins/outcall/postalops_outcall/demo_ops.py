"""The demo's part of issue 20 §2, after the calls are made (``demo.build_demo``): Guangzhou's
disposition catalogue, call times and a disposition on every attempt (2022 and the rolling
present), a few numbers on the do-not-call list, and the four agents' live states.

Idempotent and fast: attempts already timed are left alone (one bulk UPDATE for the others),
list entries and states are written only where missing. The times are derived from each
attempt's id and outcome (no random state), inside the simulator's 3-7 minute handle window
that ends when the outcome is saved, so ``at`` and every KPI of the article stay as they were.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from postalops import clock
from postalops.db import in_scope_clause
from sqlmodel import Session, select

from . import demo_plan as plan
from . import dispositions, dnc, live
from .call_policy import REACHED_OUTCOMES, CaseStatus, Outcome
from .models import OutcallAgentState, OutcallAttempt, OutcallCase, OutcallDoNotCall

# Which of the default dispositions an outcome is recorded as (alternating by attempt id).
DISPOSITION_OF = {
    Outcome.ACCEPTED.value: ("agreed_mail",),
    Outcome.DECLINED.value: ("collect_self", "delegated", "collect_self"),
    Outcome.CALLBACK.value: ("address_unknown",),
    Outcome.NO_ANSWER.value: ("no_answer", "powered_off"),
    Outcome.BUSY.value: ("busy",),
    Outcome.WRONG_NUMBER.value: ("vacant_number",),
}
_REACHED = {o.value for o in REACHED_OUTCOMES}


def call_times(attempt_id: int, outcome: str, at: dt.datetime) -> dict[str, Any]:
    """Talk 45-224 s when the applicant answered (ringing 20-44 s otherwise) and wrap-up
    15-74 s, ending at ``at`` (when the outcome was saved)."""
    talk = 45 + (attempt_id * 37) % 180 if outcome in _REACHED else 20 + (attempt_id * 7) % 25
    wrap = 15 + (attempt_id * 13) % 60
    ended = at - dt.timedelta(seconds=wrap)
    return {
        "started_at": ended - dt.timedelta(seconds=talk),
        "ended_at": ended,
        "wrapup_seconds": wrap,
    }


def build(session: Session, tenant: str) -> dict[str, int]:
    dispositions.ensure_defaults(session, tenant, actor="demo")
    timed = _time_attempts(session, tenant)
    listed = _do_not_call(session, tenant)
    states = _agent_states(session, tenant)
    session.commit()
    return {"timed_attempts": timed, "do_not_call": listed, "agent_states": states}


def _time_attempts(session: Session, tenant: str) -> int:
    a = OutcallAttempt
    rows = session.execute(
        sa.select(a.id, a.outcome, a.at).where(
            in_scope_clause(a.tenant_code, tenant), a.started_at.is_(None)
        )
    ).all()
    if not rows:
        return 0
    params = []
    for attempt_id, outcome, at in rows:
        codes = DISPOSITION_OF.get(outcome, (None,))
        params.append(
            {
                "id": attempt_id,
                **call_times(attempt_id, outcome, at),
                "disposition": codes[attempt_id % len(codes)],
            }
        )
    session.execute(sa.update(OutcallAttempt), params)  # bulk UPDATE by primary key
    session.flush()
    return len(params)


def _do_not_call(session: Session, tenant: str) -> int:
    """The numbers of the first applicants who declined (opted out), and one complaint."""
    if session.exec(
        select(OutcallDoNotCall.id).where(OutcallDoNotCall.tenant_code == tenant).limit(1)
    ).first():
        return 0
    a, c = OutcallAttempt, OutcallCase
    phones = list(
        session.execute(
            sa.select(c.phone)
            .join(a, a.case_id == c.id)
            .where(
                in_scope_clause(c.tenant_code, tenant),
                a.outcome == Outcome.DECLINED.value,
                c.status == CaseStatus.DECLINED.value,
            )
            .group_by(c.phone)
            .order_by(sa.func.min(a.id))
            .limit(6)
        ).scalars()
    )
    now = clock.now().astimezone(dt.UTC)
    for n, phone in enumerate(phones):
        reason = "complaint" if n == 2 else "opt_out"
        expires = now + dt.timedelta(days=90) if n % 3 == 1 else None
        note = "申请人来电投诉重复外呼" if reason == "complaint" else "申请人两次拒绝后要求不再来电"
        dnc.add(
            session,
            tenant,
            {"phone": phone, "reason": reason, "note": note, "expires_at": expires},
            actor="demo",
            now=now,
        )
    return len(phones)


def _agent_states(session: Session, tenant: str) -> int:
    """The four agents now: one available, one on a call, one in wrap-up, one at lunch."""
    if session.exec(
        select(OutcallAgentState.id).where(OutcallAgentState.tenant_code == tenant).limit(1)
    ).first():
        return 0
    now = clock.now().astimezone(dt.UTC)
    queued = session.exec(
        select(OutcallCase.id)
        .where(OutcallCase.tenant_code == tenant, OutcallCase.status == CaseStatus.QUEUED.value)
        .order_by(OutcallCase.id)
        .limit(2)
    ).all()
    a1, a2, a3, a4 = (f"user:{a}" for a in plan.AGENTS)
    live.state_of(session, tenant, a1, now - dt.timedelta(minutes=4))
    if queued:
        live.call_started(session, tenant, a2, queued[0], now - dt.timedelta(minutes=3))
        live.call_started(session, tenant, a3, queued[-1], now - dt.timedelta(minutes=6))
        live.call_ended(session, tenant, a3, queued[-1], now - dt.timedelta(minutes=1))
    live.set_state(
        session, tenant, a4, "paused", pause_code="meal", now=now - dt.timedelta(minutes=12)
    )
    return 4
