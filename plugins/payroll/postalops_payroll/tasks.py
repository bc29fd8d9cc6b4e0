"""What waits for a payroll checker on the workbench (``postalops_tasks``): draft runs of the
unit's subtree they may approve (maker-checker: not the drafts they ran themselves where the
unit's control is on). One item per run when few, else one summary linking to the run list."""

from __future__ import annotations

from typing import Any

from postalops import formatting
from postalops.db import in_scope_clause
from postalops.plugins import Task
from postalops.ui import unit_names
from sqlmodel import Session, select

from .controls import controls_for
from .models import PayrollRun
from .permissions import APPROVE

EACH_UP_TO = 3  # runs listed one by one; above that, one summary item


def _month(key: int, locale: str) -> str:
    return formatting.month(f"{key // 100:04d}-{key % 100:02d}", locale)


def checker_tasks(session: Session, user: Any, unit: str) -> list[Task]:
    """Draft runs in ``unit``'s subtree that ``user`` (holding ``payroll.approve``) may approve."""
    if not user.can(APPROVE):
        return []
    drafts = session.exec(
        select(PayrollRun)
        .where(in_scope_clause(PayrollRun.tenant_code, unit), PayrollRun.status == "draft")
        .order_by(PayrollRun.computed_at, PayrollRun.id)  # type: ignore[arg-type]
        .limit(200)
    ).all()
    mine = {r.tenant_code for r in drafts if r.started_by == user.name}
    blocked = {code for code in mine if controls_for(session, code).maker_checker}
    runs = [r for r in drafts if not (r.started_by == user.name and r.tenant_code in blocked)]
    if not runs:
        return []
    names = unit_names()

    def name(code: str, zh: bool) -> str:
        pair = names.get(code)
        return code if pair is None else pair[0 if zh else 1]

    if len(runs) <= EACH_UP_TO:
        return [
            Task(
                "approve_run",
                f"审批{name(r.tenant_code, True)}{_month(r.month, 'zh')}工资",
                f"Approve {_month(r.month, 'en')} payroll of {name(r.tenant_code, False)}",
                f"/p/payroll/runs/{r.id}",
                detail_zh=f"草稿：{formatting.count(r.couriers, 'couriers', 'zh')}，"
                f"合计 {formatting.money(r.payroll_total, 'zh')}；审批后锁定该月",
                detail_en=f"Draft: {formatting.count(r.couriers, 'couriers', 'en')}, "
                f"total {formatting.money(r.payroll_total, 'en')}; approving locks the month",
                since=r.computed_at,
            )
            for r in runs
        ]
    months = sorted({r.month for r in runs})
    return [
        Task(
            "approve_runs",
            "待审批的工资核算",
            "Payroll runs to approve",
            "/p/payroll/?status=draft",  # the list of what waits, not every run
            count=len(runs),
            unit="runs",
            detail_zh="月份：" + "、".join(_month(m, "zh") for m in months[:4]),
            detail_en="Months: " + ", ".join(_month(m, "en") for m in months[:4]),
            since=runs[0].computed_at,
        )
    ]
