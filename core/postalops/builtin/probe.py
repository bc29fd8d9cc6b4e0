"""The diagnostic job: proves the broker, a worker, progress reporting and tenant scope work.

Operators run it from the jobs page after deploying a worker. Each step writes one probe row
keyed by (job, step), so a redelivered job never duplicates its rows.
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from sqlmodel import Field, select

from postalops.jobs import JobContext, job
from postalops.models import TenantScoped


class JobProbe(TenantScoped, table=True):
    __tablename__ = "core_job_probe"
    __table_args__ = (sa.UniqueConstraint("job_id", "step"),)
    id: int | None = Field(default=None, primary_key=True)
    job_id: str = Field(max_length=36, index=True)
    step: int


@job("core.probe", max_retries=3, label_zh="诊断作业", label_en="Diagnostic job")
def probe(ctx: JobContext, steps: int = 10, delay_ms: int = 200, unit: str | None = None) -> dict:
    """Write ``steps`` probe rows for ``unit`` (default: the job's unit), ``delay_ms`` apart."""
    steps = max(1, min(int(steps), 10_000))
    unit = unit or ctx.tenant
    s = ctx.session
    done_steps = set(s.exec(select(JobProbe.step).where(JobProbe.job_id == ctx.id)).all())
    for step in range(1, steps + 1):
        if step not in done_steps:
            s.add(JobProbe(job_id=ctx.id, step=step, tenant_code=unit))
            s.commit()
        ctx.progress(step, steps, f"step {step}/{steps}")
        if delay_ms:
            time.sleep(delay_ms / 1000)
    return {"steps": steps, "unit": unit}
