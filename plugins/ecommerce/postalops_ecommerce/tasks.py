"""What waits for festival staff on the workbench (``postalops_tasks``): the unit's targets of a
running campaign that are behind the plan's pace. The plan rises evenly over the campaign
(``plan_curve``), so by the end of yesterday a target should be (days elapsed / campaign days)
done; a KPI whose attainment is below that is behind. One item per running campaign, naming
each target behind, linking to the campaign's figures."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from postalops import clock, formatting
from postalops.plugins import Task
from sqlmodel import Session

from . import metrics as figures

PACED = (  # attainment KPI, zh and en name of the target
    ("retail_attainment", "零售额", "retail turnover"),
    ("groupbuy_attainment", "团购交易额", "group-buy turnover"),
    ("valid_sessions_attainment", "有效团购场次", "valid sessions"),
)


def behind_plan(
    session: Session, unit: str, today: dt.date | None = None
) -> list[tuple[Any, Decimal, list[tuple[str, str, Decimal]]]]:
    """``[(campaign, expected share, [(name_zh, name_en, attainment), ...])]`` for each campaign
    running at ``unit`` today with at least one target behind pace."""
    today = today or clock.today()
    out = []
    for c in figures.campaigns_for(session, unit, today, today):
        total_days = (c.ends_on - c.starts_on).days + 1
        elapsed = (today - c.starts_on).days  # whole days before today
        if elapsed <= 0:
            continue
        expected = Decimal(elapsed) / Decimal(total_days)
        kpis = figures.metrics(session, unit, c.starts_on, today - dt.timedelta(days=1))
        behind = []
        for key, zh, en in PACED:
            value = (kpis.get(key) or {}).get("value")
            if value is None:
                continue  # no plan for this target
            attained = Decimal(str(value))
            if attained < expected:
                behind.append((zh, en, attained))
        if behind:
            out.append((c, expected, behind))
    return out


def plan_tasks(session: Session, user: Any, unit: str) -> list[Task]:
    """Targets behind pace for holders of ``ecommerce.plan`` or ``ecommerce.groupbuy``."""
    if not (user.can("ecommerce.plan") or user.can("ecommerce.groupbuy")):
        return []
    tasks = []
    for c, expected, behind in behind_plan(session, unit):
        pace_zh, pace_en = formatting.percent(expected, "zh"), formatting.percent(expected, "en")
        tasks.append(
            Task(
                "targets_behind_plan",
                f"{c.name}：指标落后于计划进度",
                f"{c.name}: targets behind plan",
                f"/p/ecommerce/?campaign={c.id}",
                count=len(behind),
                unit="targets",
                detail_zh="；".join(
                    f"{zh}完成 {formatting.percent(a, 'zh')}" for zh, _, a in behind
                )
                + f"（按进度应达 {pace_zh}）",
                detail_en="; ".join(
                    f"{en} {formatting.percent(a, 'en')} done" for _, en, a in behind
                )
                + f" (should be {pace_en} by now)",
                due=c.ends_on,
                tone="warning",
            )
        )
    return tasks


def statement_tasks(session: Session, user: Any, unit: str) -> list[Task]:
    """Commission statements awaiting approval that this user may approve (not their own:
    maker-checker), for holders of ``ecommerce.settle_approve``."""
    if not user.can("ecommerce.settle_approve"):
        return []
    import sqlalchemy as sa
    from postalops.db import in_scope_clause
    from sqlmodel import select

    from .models import Statement

    name = getattr(user, "name", "")
    n, oldest, total = session.exec(
        select(
            sa.func.count(), sa.func.min(Statement.prepared_at), sa.func.sum(Statement.payable)
        ).where(
            in_scope_clause(Statement.tenant_code, unit),
            Statement.status == "pending",
            Statement.prepared_by != name,
        )
    ).one()
    if not n:
        return []
    amount = Decimal(str(total or 0)).quantize(Decimal("0.01"))
    return [
        Task(
            "approve_statements",
            "团长佣金结算单待审批",
            "Leader commission statements to approve",
            "/p/ecommerce/statements?status=pending",
            count=int(n),
            detail_zh=f"{int(n)} 张，应付合计 {formatting.money(amount, 'zh')}",
            detail_en=f"{int(n)} statements, {formatting.money(amount, 'en')} payable in all",
            since=oldest,
            tone="info",
        )
    ]
