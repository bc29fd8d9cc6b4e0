"""Tracked jobs: coverage recompute, the direct-delivery proposal run and siting scenarios.

Both are idempotent: recompute overwrites the same coverage columns; the proposal run records a
switch only where none is in force, so a retried job never duplicates rows.
"""

from __future__ import annotations

import datetime as dt

from postalops import clock
from postalops.jobs import JobContext, job
from pydantic import BaseModel, Field

from . import service
from .permissions import MANAGE
from .service import SitingParams


class CoverageParams(BaseModel):
    """What a user may pass when starting the recompute (``POST /api/v1/jobs``)."""

    day: dt.date | None = Field(default=None, description="the day to recompute (default today)")


@job(
    "pickup_points.recompute_coverage",
    label_zh="重算自提点覆盖",
    label_en="Recompute coverage",
    result_url="/p/pickup_points/coverage",
    run_permission=MANAGE,
    params_model=CoverageParams,
)
def recompute_coverage_job(ctx: JobContext, day: str | None = None) -> dict:
    """Recompute coverage of every area in the job's unit on ``day`` (default today)."""
    when = dt.date.fromisoformat(day) if day else clock.today()
    ctx.progress(0, 1, "loading network")
    result = service.recompute_and_store(ctx.session, ctx.tenant, when, ctx.progress)
    ctx.session.commit()
    return result


@job(
    "pickup_points.propose_direct_delivery",
    label_zh="串点直投测算",
    label_en="Direct-delivery proposals",
    result_url="/p/pickup_points/direct",
)
def propose_direct_delivery_job(
    ctx: JobContext, window_end: str, effective: str, switch: bool = False
) -> dict:
    """Points averaging at least the threshold over the window; with ``switch``, record them."""
    end = dt.date.fromisoformat(window_end)
    ctx.progress(0, 1, "summing volumes")
    found, rules = service.proposals(ctx.session, ctx.tenant, end)
    if switch:
        for i, p in enumerate(found, 1):
            service.record_switch(
                ctx.session,
                p.point_id,
                dt.date.fromisoformat(effective),
                f"job:{ctx.id}",
                p,
                rules.window(end),
            )
            if i % 50 == 0:
                ctx.session.commit()  # release the write lock before the progress transaction
                ctx.progress(i, len(found), f"{i} switched")
        ctx.session.commit()
    ctx.progress(1, 1, "done")
    return {
        "proposed": len(found),
        "switched": len(found) if switch else 0,
        "points": [p.point_id for p in found],
    }


def _scenario_url(job: object) -> str | None:
    result = getattr(job, "result", None) or {}
    sid = result.get("scenario_id") if isinstance(result, dict) else None
    return f"/p/pickup_points/siting/{sid}" if sid else None


@job(
    "pickup_points.siting",
    label_zh="自提点选址测算",
    label_en="Pickup-point siting scenario",
    result_url=_scenario_url,
    run_permission=MANAGE,
    params_model=SitingParams,
)
def siting_job(ctx: JobContext, **params: object) -> dict:
    """Run one siting scenario (LSCP, MCLP, greedy, capacity) in the job's unit.

    Idempotent: the scenario is keyed by this job's id, so a redelivered message overwrites it.
    """
    parsed = SitingParams.model_validate(params)
    actor = getattr(getattr(ctx.call, "principal", None), "name", None)
    try:
        row = service.run_scenario(ctx.session, ctx.tenant, parsed, ctx.id, actor, ctx.progress)
    except Exception as error:
        ctx.session.rollback()
        service.mark_failed(ctx.session, ctx.tenant, ctx.id, str(error))
        raise
    result = row.result or {}
    return {
        "scenario_id": row.id,
        "lscp_sites": result["lscp"]["site_count"],
        "lscp_status": result["lscp"]["status"],
        "lscp_gap": result["lscp"]["gap"],
        "mclp_households": result["mclp"]["covered_households"],
        "greedy_households": result["greedy"]["covered_households"],
    }
