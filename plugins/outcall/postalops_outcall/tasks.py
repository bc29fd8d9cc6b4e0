"""What waits for an outcall agent on the workbench (``postalops_tasks``): the case they hold,
the call-backs they promised that are due (and those still to come today), and the cases the
queue would give them now. A few aggregate queries over the unit's subtree; all link to the
agent's call page, where calls are made."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from postalops import clock
from postalops.db import in_scope_clause, utcnow
from postalops.plugins import Task
from sqlmodel import Session

from .call_policy import CaseStatus
from .models import OutcallCase

WORK = "/p/outcall/work"


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def agent_tasks(
    session: Session, user: Any, unit: str, now: dt.datetime | None = None
) -> list[Task]:
    """The tasks of ``user`` (an agent holding ``outcall.call``) in ``unit``'s subtree."""
    if not user.can("outcall.call"):
        return []
    now = now or utcnow()
    agent = user.name
    c = OutcallCase
    queued = [in_scope_clause(c.tenant_code, unit), c.status == CaseStatus.QUEUED.value]
    tasks: list[Task] = []

    held = session.execute(
        sa.select(c.case_no, c.claim_expires_at)
        .where(*queued, c.claimed_by == agent, c.claim_expires_at > now)
        .limit(1)
    ).first()
    if held is not None:
        tasks.append(
            Task(
                "claimed_case",
                "正在处理的办件",
                "Case you are calling",
                WORK,
                detail_zh=f"办件 {held.case_no}：请记录外呼结果",
                detail_en=f"Case {held.case_no}: record the outcome of the call",
                due=_aware(held.claim_expires_at),
                tone="warning",
            )
        )

    mine = c.reserved_agent == agent
    free = sa.or_(c.claimed_by.is_(None), c.claim_expires_at <= now)  # the held case is above
    due_n, due_first = session.execute(
        sa.select(sa.func.count(), sa.func.min(c.next_call_at)).where(
            *queued, mine, c.next_call_at <= now, c.deadline > now, free
        )
    ).one()
    if due_n:
        tasks.append(
            Task(
                "callbacks_due",
                "到时间的预约回呼",
                "Call-backs due",
                WORK,
                count=due_n,
                unit="cases",
                detail_zh="申请人约定了回呼时间，请尽快回拨",
                detail_en="The applicants asked to be called back by now",
                due=_aware(due_first),
                tone="danger",
            )
        )
    end_of_day = dt.datetime.combine(
        now.astimezone(clock.zone()).date() + dt.timedelta(days=1), dt.time(), clock.zone()
    )
    later_n, later_first = session.execute(
        sa.select(sa.func.count(), sa.func.min(c.next_call_at)).where(
            *queued, mine, c.next_call_at > now, c.next_call_at < end_of_day
        )
    ).one()
    if later_n:
        tasks.append(
            Task(
                "callbacks_today",
                "今天稍后的预约回呼",
                "Call-backs later today",
                WORK,
                count=later_n,
                unit="cases",
                due=_aware(later_first),
            )
        )

    # not promised to anyone, or promised to someone else whose hold has lapsed (this agent's
    # own call-backs are counted above)
    open_to_me = sa.or_(
        c.reserved_agent.is_(None), sa.and_(c.reserved_agent != agent, c.reserved_until <= now)
    )
    # the queue's own fairness: no number on the do-not-call list or at its daily cap
    from . import dnc
    from .rules import policy_of
    from .service import get_settings

    fair = dnc.claim_filters(session, unit, now, policy_of(get_settings(session, unit)))
    n, oldest, soonest = session.execute(
        sa.select(sa.func.count(), sa.func.min(c.next_call_at), sa.func.min(c.deadline)).where(
            *queued, c.next_call_at <= now, c.deadline > now, free, open_to_me, *fair
        )
    ).one()
    if n:
        tasks.append(
            Task(
                "cases_to_call",
                "待外呼办件",
                "Cases to call",
                WORK,
                count=n,
                unit="cases",
                detail_zh="在办件过期前联系申请人，改为邮寄到家",
                detail_en="Reach the applicants before the cases expire and offer delivery",
                due=_aware(soonest),
                since=_aware(oldest),
                tone="warning"
                if soonest and _aware(soonest) - now < dt.timedelta(days=1)
                else "info",
            )
        )
    return tasks
