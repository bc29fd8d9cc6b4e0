"""One agent's call from the API and the workbench alike: the disposition gives the outcome, the
call's times come from the client, the click-to-dial provider or the agent's start/end buttons,
the outcome is recorded (``service.record_outcome``), the agent is available again, and an
applicant who has now declined twice is offered to opt out."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from . import dispositions, dnc, handle_time, live
from . import service as services
from .models import OutcallCase, OutcallOrder


@dataclass
class CallResult:
    case: OutcallCase
    order: OutcallOrder | None
    offer_opt_out: bool


def record_call(
    session: Session,
    tenant: str,
    case_id: int,
    agent: str,
    *,
    outcome: str | None = None,
    disposition: str | None = None,
    started_at: dt.datetime | None = None,
    ended_at: dt.datetime | None = None,
    wrapup_seconds: int | None = None,
    callback_at: dt.datetime | None = None,
    address: Mapping[str, Any] | None = None,
    note: str = "",
    now: dt.datetime,
) -> CallResult:
    """Record the call; nothing is written when any part is refused (the caller rolls back)."""
    code, outcome = dispositions.resolve(session, tenant, disposition, outcome)
    given = handle_time.check_times(started_at, ended_at, wrapup_seconds, now)
    tracked = live.finish_call(session, tenant, agent, case_id, now)
    details: dict[str, Any] = {**tracked, **given, "disposition": code}
    case, order = services.record_outcome(
        session,
        tenant,
        case_id,
        agent,
        outcome,
        now=now,
        callback_at=callback_at,
        address=address,
        note=note,
        details=details,
    )
    offer = outcome == "declined" and dnc.offer_opt_out(session, tenant, case.phone, now)
    return CallResult(case, order, offer)


def opt_out(session: Session, tenant: str, case_id: int, *, actor: str, now: dt.datetime) -> Any:
    """The applicant of a case asked not to be called again: their number joins the list."""
    case = services.get_case(session, tenant, case_id)
    return dnc.add(
        session,
        case.tenant_code,
        {"phone": case.phone, "reason": "opt_out", "note": case.case_no},
        actor=actor,
        now=now,
    )
