"""Demo siting scenarios (issue 20 §3), so the siting pages show data: Zhengzhou's network
re-planned from scratch (which of today's points and area locations are the fewest that cover
every community, village and mailroom), and Zhoukou's gap filled with today's points kept.
Zhengzhou's new sites are given a small daily capacity (60 items), so the biggest
communities overflow to their next nearest site; its three chosen sites reaching the most
households are accepted as planned points.

Idempotent: a scenario already done under its demo code is left as it is, and accepting a site
twice adds nothing. Small scenarios (about 100 areas each): a second or so in all.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlmodel import Session, select

from . import service
from .models import PickupSitingScenario
from .service import SitingParams

DAY = dt.date(2022, 9, 30)
SCENARIOS = [
    (
        "cn.henan.zhengzhou",
        "demo-zhengzhou-redesign",
        SitingParams(
            name="郑州市自提点网络从零规划（演示）",
            k=20,
            existing="ignore",
            time_limit_s=30,
            day=DAY,
            new_site_capacity=60,  # small new sites: the biggest communities overflow
        ),
        3,  # the chosen sites reaching the most households, accepted as planned points
    ),
    (
        "cn.henan.zhoukou",
        "demo-zhoukou-gap",
        SitingParams(
            name="周口市补齐覆盖缺口（演示）", k=1, existing="keep", time_limit_s=30, day=DAY
        ),
        0,
    ),
]


def build_siting(
    session: Session, units: dict[str, Any], progress: Callable[..., None] | None = None
) -> int:
    """Run the demo scenarios not yet done; returns how many ran."""
    ran = 0
    for unit, code, params, accept in SCENARIOS:
        if unit not in units:
            continue
        row = session.exec(
            select(PickupSitingScenario).where(
                PickupSitingScenario.tenant_code == unit, PickupSitingScenario.code == code
            )
        ).first()
        if row is None or row.status != "done":
            row = service.run_scenario(session, unit, params, code, "demo")
            ran += 1
        if accept and row.result:
            sites = row.result["sites"]
            chosen = sorted(row.result["lscp"]["sites"], key=lambda c: (-sites[c]["households"], c))
            chosen = chosen[:accept]
            if chosen:
                service.accept_sites(session, row, chosen, "demo")
    return ran
