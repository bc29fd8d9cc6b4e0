"""Outcall KPIs aggregated in SQL for a tenant subtree and a period (metrics contract).

Definitions live in ``kpis.KPI_DEFS`` and the README; this module only counts. The period is a
range of Asia/Shanghai calendar dates applied to the attempt time.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from postalops.db import in_scope_clause, utcnow
from sqlmodel import Session

from .call_policy import REACHED_OUTCOMES, Outcome
from .kpis import KpiCounts, kpi_values, ratio
from .models import OutcallAttempt, OutcallCase, OutcallCatalogueItem
from .rules import period_bounds as _period_bounds

_REACHED = [o.value for o in REACHED_OUTCOMES]


def counts(session: Session, tenant: str, date_from: dt.date, date_to: dt.date) -> KpiCounts:
    """Every count the KPIs need, in three queries."""
    start, end = _period_bounds(date_from, date_to)
    a = OutcallAttempt
    accepted = a.outcome == Outcome.ACCEPTED.value
    row = session.execute(
        sa.select(
            sa.func.count(a.id),
            sa.func.count(sa.distinct(a.case_id)),
            sa.func.coalesce(sa.func.sum(sa.case((a.outcome.in_(_REACHED), 1), else_=0)), 0),
            sa.func.coalesce(sa.func.sum(sa.case((accepted, 1), else_=0)), 0),
            sa.func.count(sa.distinct(sa.case((accepted, a.case_id), else_=None))),
        ).where(in_scope_clause(a.tenant_code, tenant), a.at >= start, a.at < end)
    ).one()
    c = OutcallCatalogueItem
    items = session.execute(
        sa.select(c.tenant_code, c.department, c.item).where(
            in_scope_clause(c.tenant_code, tenant), c.participating.is_(True)
        )
    ).all()
    k = OutcallCase
    firsts = session.execute(
        sa.select(k.first_called_at, k.approved_at).where(
            in_scope_clause(k.tenant_code, tenant),
            k.first_called_at >= start,
            k.first_called_at < end,
        )
    ).all()
    timed = session.execute(
        sa.select(a.started_at, a.ended_at, a.wrapup_seconds).where(
            in_scope_clause(a.tenant_code, tenant),
            a.at >= start,
            a.at < end,
            a.started_at.is_not(None),
            a.ended_at.is_not(None),
        )
    ).all()
    from .live import service_level
    from .service import get_settings

    met, eligible = service_level(
        session, tenant, start, end, utcnow(), get_settings(session, tenant).service_level_hours
    )
    return KpiCounts(
        talk_seconds=tuple(int((e - s_).total_seconds()) for s_, e, _w in timed),
        wrapup_seconds=tuple(w or 0 for _s, _e, w in timed),
        service_level_met=met,
        service_level_cases=eligible,
        calls=int(row[0]),
        cases_called=int(row[1]),
        reached=int(row[2]),
        accepted_attempts=int(row[3]),
        accepted_cases=int(row[4]),
        departments=len({(t, d) for t, d, _ in items}),
        service_items=len(items),
        minutes_to_first_call=tuple(
            Decimal(int((f - a_).total_seconds())) / 60 for f, a_ in firsts
        ),
    )


def outcall_metrics(
    session: Session, tenant: str, date_from: dt.date, date_to: dt.date
) -> dict[str, dict[str, Any]]:
    """The metrics-contract payload for the ``postalops_metrics`` hook."""
    return kpi_values(counts(session, tenant, date_from, date_to))


BREAKDOWNS = {
    "department": OutcallCase.department,
    "service_item": OutcallCase.service_item,
    "agent": OutcallAttempt.agent,
}


def breakdown(
    session: Session, tenant: str, date_from: dt.date, date_to: dt.date, by: str
) -> list[dict[str, Any]]:
    """Calls, accepted attempts and success rate per department, item or agent (dashboard)."""
    start, end = _period_bounds(date_from, date_to)
    key = BREAKDOWNS[by]
    a = OutcallAttempt
    accepted = sa.func.coalesce(
        sa.func.sum(sa.case((a.outcome == Outcome.ACCEPTED.value, 1), else_=0)), 0
    )
    rows = session.execute(
        sa.select(key, sa.func.count(a.id), accepted)
        .select_from(a)
        .join(OutcallCase, OutcallCase.id == a.case_id)
        .where(in_scope_clause(a.tenant_code, tenant), a.at >= start, a.at < end)
        .group_by(key)
        .order_by(sa.func.count(a.id).desc())
    ).all()
    return [
        {by: k, "calls": int(n), "accepted": int(acc), "success_rate": str(ratio(int(acc), int(n)))}
        for k, n, acc in rows
    ]


def daily(
    session: Session, tenant: str, date_from: dt.date, date_to: dt.date
) -> list[dict[str, Any]]:
    """Calls and accepted attempts per local day (dashboard trend).

    Attempt times are bucketed in Python after one narrow query, because SQLite and PostgreSQL
    disagree on time-zone functions; the rows fetched are two small columns.
    """
    from zoneinfo import ZoneInfo

    zone = ZoneInfo("Asia/Shanghai")
    start, end = _period_bounds(date_from, date_to)
    a = OutcallAttempt
    per_day: dict[dt.date, list[int]] = {}
    d = date_from
    while d <= date_to:
        per_day[d] = [0, 0]
        d += dt.timedelta(days=1)
    for at, outcome in session.execute(
        sa.select(a.at, a.outcome).where(
            in_scope_clause(a.tenant_code, tenant), a.at >= start, a.at < end
        )
    ):
        bucket = per_day[at.astimezone(zone).date()]
        bucket[0] += 1
        bucket[1] += outcome == Outcome.ACCEPTED.value
    return [
        {"date": day.isoformat(), "calls": c, "accepted": acc, "success_rate": str(ratio(acc, c))}
        for day, (c, acc) in per_day.items()
    ]
