"""Handle time and the statistics built on it: average handle time, attempts per conversion and
conversion by hour of day, for the queue and for each agent (issue 20 §2).

An attempt records when the call started and ended and the wrap-up after it. Handle time =
talk (end − start) + wrap-up. The arithmetic is pure (``stats`` over ``CallFact``); ``facts``
reads the period's attempts.

- average handle seconds: mean handle time over the period's attempts that have a start and an
  end (1 decimal, half-up; 0 when none);
- attempts per conversion: attempts ÷ distinct cases accepted, both in the period (2 decimals;
  0 when nothing was accepted);
- conversion by hour: per local hour of the call's start (its recording time when no start),
  accepted attempts ÷ attempts.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from postalops.db import in_scope_clause
from postalops.errors import ValidationError
from sqlmodel import Session

from .call_policy import Outcome
from .kpis import ratio
from .models import OutcallAttempt

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
TENTH = Decimal("0.1")
HUNDREDTH = Decimal("0.01")


@dataclass(frozen=True)
class CallFact:
    agent: str
    case_id: int
    outcome: str
    at: dt.datetime
    started_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    wrapup_seconds: int | None = None

    @property
    def timed(self) -> bool:
        return self.started_at is not None and self.ended_at is not None

    @property
    def talk_seconds(self) -> int:
        return int((self.ended_at - self.started_at).total_seconds()) if self.timed else 0

    @property
    def handle_seconds(self) -> int:
        return self.talk_seconds + (self.wrapup_seconds or 0)

    @property
    def hour(self) -> int:
        return (self.started_at or self.at).astimezone(LOCAL_TZ).hour


def mean(values: list[int], places: Decimal = TENTH) -> Decimal:
    if not values:
        return Decimal("0").quantize(places)
    return (Decimal(sum(values)) / Decimal(len(values))).quantize(places, rounding=ROUND_HALF_UP)


def per_conversion(calls: int, converted: int) -> Decimal:
    if converted == 0:
        return Decimal("0.00")
    return (Decimal(calls) / Decimal(converted)).quantize(HUNDREDTH, rounding=ROUND_HALF_UP)


def summary(facts: Iterable[CallFact]) -> dict[str, Any]:
    """Calls, timed calls, average talk / wrap-up / handle seconds, conversions and attempts per
    conversion of a set of attempts."""
    facts = list(facts)
    timed = [f for f in facts if f.timed]
    accepted = {f.case_id for f in facts if f.outcome == Outcome.ACCEPTED.value}
    return {
        "calls": len(facts),
        "timed_calls": len(timed),
        "average_talk_seconds": str(mean([f.talk_seconds for f in timed])),
        "average_wrapup_seconds": str(mean([f.wrapup_seconds or 0 for f in timed])),
        "average_handle_seconds": str(mean([f.handle_seconds for f in timed])),
        "conversions": len(accepted),
        "attempts_per_conversion": str(per_conversion(len(facts), len(accepted))),
    }


def by_hour(facts: Iterable[CallFact]) -> list[dict[str, Any]]:
    """Per local hour with calls: calls, accepted attempts and their ratio."""
    calls: dict[int, int] = defaultdict(int)
    won: dict[int, int] = defaultdict(int)
    for f in facts:
        calls[f.hour] += 1
        won[f.hour] += f.outcome == Outcome.ACCEPTED.value
    return [
        {"hour": h, "calls": calls[h], "accepted": won[h], "rate": str(ratio(won[h], calls[h]))}
        for h in sorted(calls)
    ]


def stats(facts: Iterable[CallFact]) -> dict[str, Any]:
    """The queue's figures, each agent's, and conversion by hour."""
    facts = list(facts)
    agents: dict[str, list[CallFact]] = defaultdict(list)
    for f in facts:
        agents[f.agent].append(f)
    return {
        "queue": summary(facts),
        "agents": [{"agent": a, **summary(fs)} for a, fs in sorted(agents.items())],
        "by_hour": by_hour(facts),
    }


def facts(session: Session, tenant: str, start: dt.datetime, end: dt.datetime) -> list[CallFact]:
    a = OutcallAttempt
    rows = session.execute(
        sa.select(
            a.agent, a.case_id, a.outcome, a.at, a.started_at, a.ended_at, a.wrapup_seconds
        ).where(in_scope_clause(a.tenant_code, tenant), a.at >= start, a.at < end)
    ).all()
    return [CallFact(*r) for r in rows]


def period_stats(session: Session, tenant: str, date_from: dt.date, date_to: dt.date) -> dict:
    from .rules import period_bounds as _period_bounds

    start, end = _period_bounds(date_from, date_to)
    return {"from": date_from, "to": date_to, **stats(facts(session, tenant, start, end))}


def check_times(
    started_at: dt.datetime | None,
    ended_at: dt.datetime | None,
    wrapup_seconds: int | None,
    now: dt.datetime,
) -> dict[str, Any]:
    """Times a client sends with the outcome: both or neither of start and end, start ≤ end ≤
    now, wrap-up 0..86400 s. 422 naming the field otherwise."""
    problems = []
    if (started_at is None) != (ended_at is None):
        problems.append(
            {"field": "ended_at" if ended_at is None else "started_at", "message": "give both"}
        )
    if started_at is not None and ended_at is not None:
        if ended_at < started_at:
            problems.append({"field": "ended_at", "message": "before started_at"})
        if ended_at > now + dt.timedelta(minutes=1):
            problems.append({"field": "ended_at", "message": "in the future"})
    if wrapup_seconds is not None and not 0 <= wrapup_seconds <= 86400:
        problems.append({"field": "wrapup_seconds", "message": "0 to 86400"})
    if problems:
        raise ValidationError(
            "通话时间无效 / invalid call times", code="invalid_call_times", details=problems
        )
    out: dict[str, Any] = {}
    if started_at is not None:
        out = {"started_at": started_at, "ended_at": ended_at}
        out["wrapup_seconds"] = (
            wrapup_seconds
            if wrapup_seconds is not None
            else max(0, int((now - ended_at).total_seconds()))
        )
    elif wrapup_seconds is not None:
        out["wrapup_seconds"] = wrapup_seconds
    return out
