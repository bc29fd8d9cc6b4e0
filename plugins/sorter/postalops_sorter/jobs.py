"""Tracked jobs: rollups, alert evaluation and raw-event retention.

Each is idempotent: rollups replace a device-day's rows, alerts reconcile against open ones
(a new alert emits ``sorter.alert.raised``, which the core's webhook outbox delivers),
retention drops what is already past the cutoff.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from postalops.jobs import JobContext, job
from postalops.tenancy import Scope
from pydantic import BaseModel

from . import alerting, purge
from .ingest import retention_days
from .recompute import recompute_dirty


class NoParams(BaseModel):
    """The rollup takes no parameters (anything passed is refused)."""

    model_config = {"extra": "forbid"}


def now_utc() -> dt.datetime:
    """The network clock (``postalops.clock``, frozen in tests) in UTC."""
    from postalops import clock

    return clock.now().astimezone(dt.UTC)


def committing(ctx: JobContext) -> Any:
    """Progress that first commits the work so far: the progress record is written in its own
    transaction, and on SQLite an open write transaction would block it."""

    def progress(done: int, total: int, message: str = "") -> None:
        ctx.session.commit()
        ctx.progress(done, total, message)

    return progress


@job(
    "sorter.rollup",
    max_retries=3,
    label_zh="分拣机数据汇总",
    label_en="Sorter rollups",
    result_url="/p/sorter/",
    run_permission="sorter.manage",
    params_model=NoParams,
)
def rollup(ctx: JobContext) -> dict[str, Any]:
    """Recompute the rollups of every device-day flagged by ingest (new, late, out-of-order)."""
    return recompute_dirty(
        ctx.session, now=now_utc(), retention_days=retention_days(), progress=committing(ctx)
    )


@job(
    "sorter.alerts",
    max_retries=1,
    label_zh="分拣机告警检查",
    label_en="Sorter alert check",
    result_url="/p/sorter/alerts",
)
def check_alerts(ctx: JobContext) -> dict[str, Any]:
    """Evaluate the alert rules for every device in scope. Each new alert is emitted to the
    core's webhooks in the transaction that stores it; the core delivers it after the commit."""
    result = alerting.evaluate_all(ctx.session, now_utc(), progress=committing(ctx))
    ctx.session.commit()
    return result


@job(
    "sorter.retention", max_retries=2, label_zh="原始数据保留期清理", label_en="Raw event retention"
)
def retention(ctx: JobContext) -> dict[str, Any]:
    """Create next months' partitions and drop (PostgreSQL) or delete raw events past retention.

    Partition DDL needs the table owner, so this runs on an owner session of the whole database;
    it touches only the sorter's raw event table.
    """
    days = retention_days()
    db = ctx.call.db
    with db.session(Scope.system_scope(), owner=True) as s:
        conn = s.connection()
        created = purge.ensure_partitions(conn, now_utc(), days)
        result = purge.purge(conn, now_utc(), days)
        s.commit()
    return {**result, "created_partitions": created}


@job(
    "sorter.escalation",
    max_retries=1,
    label_zh="分拣机告警升级",
    label_en="Sorter alert escalation",
    result_url="/p/sorter/alerts",
)
def escalation(ctx: JobContext) -> dict[str, Any]:
    """Wake snoozed alerts whose snooze ended; pass alerts unacknowledged past their rule's M
    minutes to the second contact (``sorter.alert.escalated`` through the core's webhooks)."""
    result = alerting.escalate_due(ctx.session, now_utc())
    ctx.session.commit()
    return result


ACTORS = [rollup, check_alerts, retention, escalation]
