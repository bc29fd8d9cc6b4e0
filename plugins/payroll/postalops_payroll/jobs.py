"""Tracked jobs: the payroll run (progress bar from the job record)."""

from __future__ import annotations

from postalops.jobs import JobContext, job

from .payroll_run import run_payroll
from .period import Month


@job(
    "payroll.run",
    max_retries=2,
    label_zh="工资核算",
    label_en="Payroll run",
    result_url="/p/payroll/runs/{result[run_id]}",
)
def run_payroll_job(ctx: JobContext, unit: str, month: str, actor: str = "") -> dict:
    """Compute the draft payroll of ``unit`` for ``month``. Re-running replaces the draft, so a
    redelivered message gives the same slips and totals."""
    run = run_payroll(
        ctx.session,
        unit,
        Month.parse(month),
        actor or f"job:{ctx.id}",
        job_id=ctx.id,
        progress=ctx.progress,
    )
    ctx.session.commit()
    return {
        "run_id": run.id,
        "unit": unit,
        "month": month,
        "couriers": run.couriers,
        "payroll_total": str(run.payroll_total),
        "own_items": run.own_items,
        "outsourced_items": run.outsourced_items,
    }
