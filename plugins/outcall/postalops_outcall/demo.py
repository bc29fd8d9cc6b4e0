"""The demo hook: Guangzhou's first fortnight of outcall and Linfen's certificate mailing.

Everything is produced through the plugin's services: the platform's daily batches go through
``intake_cases``; simulated agents (``simulation.Simulator``) claim, call and record outcomes
through ``claim_next`` / ``record_outcome`` on a simulated clock; Linfen's orders go through
``create_orders``. No total is written. Re-running adds nothing: intake and orders are
idempotent, and the simulation is skipped when the unit already has calls. Then
``demo_present`` carries both units on from the article to today (the rolling present).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from postalops.db import UTCDateTime, in_scope_clause
from sqlmodel import Session, select

from . import demo_plan as plan
from . import rules
from . import service as services
from .call_policy import CaseStatus, Outcome
from .models import OutcallAttempt, OutcallCase
from .simulation import Simulator

SCRIPT = (
    "您好，请问是{name}吗？这里是广州市政务服务中心96185出件外呼。您办理的「{item}」已审批完成。"
    "如您不便到窗口领取，我们可免费改为邮寄送达，请问需要吗？"
)


class DatabaseQueue:
    """The simulator's ``QueuePort`` backed by the plugin's real services and tables."""

    def __init__(self, session: Session, tenant: str) -> None:
        self.session = session
        self.tenant = tenant
        self.policy = rules.policy_of(services.get_settings(session, tenant))

    def claim_next(self, agent: str, now: dt.datetime) -> str | None:
        case = services.claim_next(
            self.session, self.tenant, agent, now=now, policy=self.policy, resume=False
        )
        return None if case is None else str(case.id)

    def record(self, case_no, agent, outcome, now, *, callback_at=None, address=None) -> None:
        services.record_outcome(
            self.session,
            self.tenant,
            int(case_no),
            agent,
            Outcome(outcome),
            now=now,
            callback_at=callback_at,
            address=address,
            policy=self.policy,
        )

    def contact(self, case_no: str, agent: str) -> tuple[str, str]:
        case = self.session.get(OutcallCase, int(case_no))  # just claimed: in the identity map
        return case.applicant_name, case.phone

    def next_due(self, agent: str, now: dt.datetime) -> dt.datetime | None:
        """Earliest time ``agent`` could claim a case still in the queue: its call time, or the
        end of the hold when it is another agent's callback."""
        c = OutcallCase
        held_for_other = sa.and_(
            c.reserved_agent.is_not(None),
            c.reserved_agent != agent,
            c.reserved_until > c.next_call_at,
        )
        available = sa.case((held_for_other, c.reserved_until), else_=c.next_call_at)
        return self.session.execute(
            sa.select(sa.func.min(available, type_=UTCDateTime())).where(
                in_scope_clause(OutcallCase.tenant_code, self.tenant),
                OutcallCase.status == CaseStatus.QUEUED.value,
                OutcallCase.deadline > now,
            )
        ).scalar()


def _unit(units: dict[str, Any], code: str) -> str | None:
    return code if code in units else None


def build_demo(
    session: Session, units: dict[str, Any], progress: Callable[[int, int, str], None]
) -> dict[str, int]:
    """Build the outcall demo (idempotent); returns what it did."""
    done: dict[str, int] = {}
    gz = _unit(units, plan.GUANGZHOU)
    if gz:
        _agent_accounts(session, gz)
        done.update(_guangzhou(session, gz, progress))
    lf = _unit(units, plan.LINFEN)
    if lf:
        done.update(_linfen(session, lf, progress))
    from .demo_present import build_present

    done.update(build_present(session, units, progress))
    if gz:  # dispositions, call times, do-not-call entries, agents' states (issue 20 §2)
        from . import demo_ops

        done.update(demo_ops.build(session, gz))
    return done


def _agent_accounts(session: Session, tenant: str) -> None:
    """The Guangzhou call agents of the story, as (disabled) accounts with their names, so
    call lists and the by-agent chart show people, not login ids. They cannot sign in: no
    password is set (the demo's own logins are made by the core)."""
    from postalops.models import User

    have = set(session.exec(select(User.username).where(User.username.in_(plan.AGENTS))).all())
    for login in plan.AGENTS:
        if login not in have:
            session.add(
                User(
                    username=login,
                    display_name=plan.AGENT_NAMES[login],
                    password_hash="!",  # matches no password
                    home_unit_code=tenant,
                    roles=["outcall_agent"],
                    active=False,
                )
            )
    session.flush()


def _guangzhou(
    session: Session, tenant: str, progress: Callable[[int, int, str], None]
) -> dict[str, int]:
    services.get_settings(session, tenant)
    services.save_catalogue_entries(
        session,
        tenant,
        [
            {
                "department": e.department,
                "item": e.item,
                "participating": e.participating,
                "script": SCRIPT.replace("{item}", e.item),
            }
            for e in plan.GUANGZHOU_CATALOGUE
        ],
        actor="demo",
    )
    session.commit()
    days = plan.guangzhou_days()
    already = session.exec(
        select(sa.func.count(OutcallAttempt.id)).where(
            in_scope_clause(OutcallAttempt.tenant_code, tenant)
        )
    ).one()
    queue = DatabaseQueue(session, tenant)
    sim = Simulator(tuple(f"user:{a}" for a in plan.AGENTS))
    calls = 0
    tail = list(plan.working_days(dt.date(2022, 9, 1), dt.date(2022, 9, 9)))
    total = len(days) + len(tail)
    for i, day in enumerate(days, 1):
        services.intake_cases(session, tenant, list(enumerate(day.cases, 1)))
        if not already:
            services.expire_due(session, tenant, _morning(day.day))
            calls += sim.run_day(queue, day.day)
        session.commit()
        progress(i, total, f"Guangzhou {day.day}")
    if not already:
        for i, day in enumerate(tail, len(days) + 1):
            services.expire_due(session, tenant, _morning(day))
            calls += sim.run_day(queue, day)
            session.commit()
            progress(i, total, f"Guangzhou {day}")
    return {"guangzhou_cases": sum(len(d.cases) for d in days), "guangzhou_calls": calls}


def _morning(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(8, 0), plan.LOCAL_TZ).astimezone(dt.UTC)


def _linfen(
    session: Session, tenant: str, progress: Callable[[int, int, str], None]
) -> dict[str, int]:
    services.get_settings(session, tenant)
    rows = plan.linfen_certificates()
    for start in range(0, len(rows), 500):
        batch = rows[start : start + 500]
        services.create_orders(
            session,
            tenant,
            [
                {
                    "source": "hall",
                    "source_ref": r["reference"],
                    "item": r["item"],
                    "sender": r["sender"],
                    "address": r["address"],
                    "created_at": r["created_at"].astimezone(dt.UTC),
                }
                for r in batch
            ],
            actor="demo",
        )
        session.commit()
        progress(start + len(batch), len(rows), "Linfen teacher certificates")
    return {"linfen_orders": len(rows)}
