"""Nightly housekeeping: forget old login failures and scheduler bookkeeping."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from postalops.db import utcnow
from postalops.jobs import JobContext, job
from postalops.models import LoginFailure, ScheduledRun


@job("core.housekeeping", label_zh="系统清理", label_en="Housekeeping")
def housekeeping(ctx: JobContext, keep_failures_days: int = 1, keep_runs_days: int = 30) -> dict:
    """Delete login failures and scheduled-run rows past their retention (idempotent)."""
    s = ctx.session
    now = utcnow()
    failures = s.execute(
        sa.delete(LoginFailure).where(LoginFailure.at < now - dt.timedelta(days=keep_failures_days))
    ).rowcount
    ctx.progress(1, 2, "login failures")
    runs = s.execute(
        sa.delete(ScheduledRun).where(
            ScheduledRun.fired_at < now - dt.timedelta(days=keep_runs_days)
        )
    ).rowcount
    s.commit()
    ctx.progress(2, 2, "scheduled runs")
    return {"login_failures_deleted": failures, "scheduled_runs_deleted": runs}
