"""The demo's rolling present for outcall: Guangzhou's hall keeps sending cases and the agents
keep calling, and Linfen keeps mailing certificates, up to today.

Window: the last 45 days up to ``postalops.clock.today()`` (``PRESENT_DAYS``; the article ended
on 9 Sep 2022): enough for the default period (last 30 days, current month) and the queue's
7-day deadlines, while keeping the simulated calls, the demo's slowest part, few. Each working day's cases and answers are drawn from an
rng seeded by the day, so a day's records are the same whichever day the demo runs on. Records
go through the same services as the article's fortnight (``intake_cases``, the ``Simulator``
on ``claim_next`` / ``record_outcome``, ``create_orders``); nothing is tallied directly.

- Guangzhou: 15–45 cases per working day (Monday heaviest, Friday lightest, now and then a
  backlog day at twice the size), two or three agents, and a success rate that drifts from day to
  day around the article's 54 % (declines and wrong numbers vary too). Every past working day is
  called; today's cases are taken in but not called, so the queue is not empty today (together
  with yesterday's retries and late cases).
- Linfen: a few dozen government-mail orders per working day.

Idempotent: intake and orders are keyed by case number / reference, and a day is only called
when it has no attempts yet; today is never called, so a re-run on the same day adds nothing.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from postalops import clock
from postalops.db import in_scope_clause
from postalops.demo import day_rng, present_days, scaled
from sqlmodel import Session

from . import demo_plan as plan
from . import service as services
from .call_policy import Outcome
from .models import OutcallAttempt
from .simulation import Simulator

ARTICLE_END = dt.date(2022, 9, 9)  # the last day of the article's records (Linfen's mailing)
WEEKDAY_LOAD = (1.3, 1.1, 1.0, 1.0, 0.85)  # Monday .. Friday
PRESENT_DAYS = 45
CASES_PER_DAY = 25


def build_present(
    session: Session,
    units: dict[str, Any],
    progress: Callable[[int, int, str], None],
    today: dt.date | None = None,
) -> dict[str, int]:
    today = today or clock.today()
    days = [d for d in present_days(ARTICLE_END, today, PRESENT_DAYS) if d.weekday() < 5]
    done = {"present_cases": 0, "present_calls": 0, "present_orders": 0}
    gz = plan.GUANGZHOU if plan.GUANGZHOU in units else None
    lf = plan.LINFEN if plan.LINFEN in units else None
    for i, day in enumerate(days, 1):
        if gz:
            cases, calls = _guangzhou_day(session, gz, day, today)
            done["present_cases"] += cases
            done["present_calls"] += calls
        if lf:
            done["present_orders"] += _linfen_day(session, lf, day)
        session.commit()
        progress(i, len(days), f"present {day}")
    return done


def day_cases(day: dt.date) -> list[dict]:
    """The hall's rows for one working day of the present (same rules as the article's)."""
    rng = day_rng("outcall.gz", day)
    size = scaled(CASES_PER_DAY) * WEEKDAY_LOAD[day.weekday()] * max(0.5, rng.gauss(1.0, 0.15))
    if rng.random() < 0.04:  # a backlog batch after a platform outage
        size *= 2
    items = list(plan.GUANGZHOU_CATALOGUE)
    participating = [e for e in items if e.participating]
    rows = []
    for n in range(1, max(10, int(size)) + 1):
        entry = rng.choice(participating) if rng.random() < 0.97 else rng.choice(items)
        approved = dt.datetime.combine(day, dt.time(9, 0), plan.LOCAL_TZ) + dt.timedelta(
            minutes=rng.randrange(0, 8 * 60 + 30)
        )
        rows.append(
            {
                "case_no": f"GZZW{day:%Y%m%d}P{n:04d}",
                "department": entry.department,
                "service_item": entry.item,
                "applicant_type": "enterprise" if rng.random() < 0.06 else "personal",
                "approval_level": "district" if rng.random() < 0.05 else "municipal",
                "applicant_name": plan.make_name(rng),
                "phone": plan.make_phone(rng),
                "id_number": plan.make_id_number(rng, rng.choice(plan._DISTRICT_CODES)),
                "approved_at": approved.isoformat(),
                "issuing_method": "mail" if rng.random() < 0.05 else "window",
                "old_certificate_return": rng.random() < 0.04,
                "ready_at": (approved + dt.timedelta(minutes=rng.randrange(10, 90))).isoformat(),
            }
        )
    return rows


def day_shares(rng: random.Random) -> tuple[tuple[Outcome, float], ...]:
    """Answer shares for one day: acceptance drifts around 54 %, the rest keeps its proportions."""
    accepted = min(0.7, max(0.38, rng.gauss(0.54, 0.05)))
    declined = min(0.3, max(0.06, rng.gauss(0.14, 0.04)))
    rest = [(o, s) for o, s in plan.OUTCOME_SHARES if o not in (Outcome.ACCEPTED, Outcome.DECLINED)]
    scale = (1.0 - accepted - declined) / sum(s for _, s in rest)
    return ((Outcome.ACCEPTED, accepted), (Outcome.DECLINED, declined)) + tuple(
        (o, s * scale) for o, s in rest
    )


def _guangzhou_day(session: Session, tenant: str, day: dt.date, today: dt.date) -> tuple[int, int]:
    from .demo import DatabaseQueue, _morning

    rows = day_cases(day)
    evening = dt.datetime.combine(day, dt.time(18, 0), plan.LOCAL_TZ).astimezone(dt.UTC)
    services.intake_cases(session, tenant, list(enumerate(rows, 1)), now=evening)
    if day >= today or _called_on(session, tenant, day):
        return len(rows), 0
    rng = day_rng("outcall.gz.calls", day)
    agents = tuple(f"user:{a}" for a in plan.AGENTS[: rng.choice((2, 2, 3))])
    sim = Simulator(
        agents, outcomes=plan.OutcomeSequence(day_shares(rng)), rng=random.Random(rng.random())
    )
    services.expire_due(session, tenant, _morning(day))
    return len(rows), sim.run_day(DatabaseQueue(session, tenant), day)


def _called_on(session: Session, tenant: str, day: dt.date) -> bool:
    start = dt.datetime.combine(day, dt.time(0, 0), plan.LOCAL_TZ).astimezone(dt.UTC)
    a = OutcallAttempt
    return (
        session.execute(
            sa.select(a.id)
            .where(
                in_scope_clause(a.tenant_code, tenant),
                a.at >= start,
                a.at < start + dt.timedelta(days=1),
            )
            .limit(1)
        ).first()
        is not None
    )


def _linfen_day(session: Session, tenant: str, day: dt.date) -> int:
    rng = day_rng("outcall.lf", day)
    count = int(scaled(20) * WEEKDAY_LOAD[day.weekday()] * max(0.3, rng.gauss(1.0, 0.25)))
    orders = []
    for n in range(1, count + 1):
        name, phone = plan.make_name(rng), plan.make_phone(rng)
        orders.append(
            {
                "source": "hall",
                "source_ref": f"LF{day:%Y%m%d}{n:04d}",
                "item": rng.choice(("教师资格证", "教师资格证", "营业执照", "不动产权证书")),
                "sender": plan.LINFEN_HALL,
                "created_at": (
                    dt.datetime.combine(day, dt.time(9, 30), plan.LOCAL_TZ)
                    + dt.timedelta(minutes=rng.randrange(0, 450))
                ).astimezone(dt.UTC),
                "address": {
                    "province": "山西省",
                    "city": "临汾市",
                    "district": rng.choice(plan._LINFEN_DISTRICTS),
                    "detail": f"{rng.choice(('鼓楼', '解放', '五一', '滨河', '平阳'))}路"
                    f"{rng.randrange(1, 300)}号",
                    "recipient": name,
                    "phone": phone,
                },
            }
        )
    if orders:
        services.create_orders(session, tenant, orders, actor="demo")
    return count
