"""What waits for pickup network staff on the workbench (``postalops_tasks``): service areas the
last coverage recompute left without a pickup point in reach (coverage gaps), and areas never
computed. One grouped query over the unit's subtree; both link to the coverage page, where gaps
are looked at, sites suggested and coverage recomputed."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from postalops import formatting
from postalops.db import in_scope_clause
from postalops.plugins import Task
from sqlmodel import Session

from .models import PickupArea
from .permissions import MANAGE

COVERAGE = "/p/pickup_points/coverage"


def planner_tasks(session: Session, user: Any, unit: str) -> list[Task]:
    """Coverage gaps of ``unit``'s subtree for a holder of ``pickup_points.manage``."""
    if not user.can(MANAGE):
        return []
    a = PickupArea
    state = sa.case((a.covered.is_(None), "unknown"), (a.covered.is_(False), "gap"), else_="ok")
    rows = {
        s: (int(n), int(h or 0), at)
        for s, n, h, at in session.execute(
            sa.select(state, sa.func.count(), sa.func.sum(a.households), sa.func.min(a.coverage_at))
            .where(in_scope_clause(a.tenant_code, unit))
            .group_by(state)
        ).all()
    }
    tasks = []
    if "gap" in rows:
        n, households, computed = rows["gap"]
        tasks.append(
            Task(
                "coverage_gaps",
                "自提点覆盖空白",
                "Pickup coverage gaps",
                COVERAGE,
                count=n,
                unit="areas",
                detail_zh=f"{formatting.number(households)} 户不在任何自提点的服务半径内",
                detail_en=f"{formatting.number(households)} households out of reach of any point",
                since=computed,
                tone="warning",
            )
        )
    if "unknown" in rows:
        n, _, _ = rows["unknown"]
        tasks.append(
            Task(
                "coverage_unknown",
                "尚未计算覆盖的服务区域",
                "Areas whose coverage is not computed",
                COVERAGE,
                count=n,
                unit="areas",
                detail_zh="重算覆盖后即可看到空白区域",
                detail_en="Recompute coverage to find the gaps",
            )
        )
    return tasks
