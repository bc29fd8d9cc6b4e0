"""``postalops scheduler``: fires plugins' periodic jobs (APScheduler cron triggers).

Any number of scheduler processes may run: each firing first inserts a ``core_scheduled_run`` row
keyed by (schedule, minute); the unique constraint lets exactly one process win, so a period
fires once even with two schedulers (or a restart) racing.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import time
from typing import Any

import sqlalchemy as sa
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from . import context
from .context import CallContext, Principal
from .db import utcnow
from .errors import PostalOpsError
from .models import OrgUnit, ScheduledRun
from .plugins import Schedule
from .tenancy import Scope

log = logging.getLogger(__name__)


def schedules(app: Any) -> list[Schedule]:
    reg = app.extensions["postalops.plugins"]
    return [s for _, items in reg.call_each("postalops_schedules") for s in items]


def target_units(app: Any, schedule: Schedule) -> list[str]:
    """Where ``schedule`` sends its jobs: ``[schedule.tenant]``, or with ``per_unit`` every unit
    of that level under ``schedule.tenant`` where the job's plugin is enabled."""
    if not schedule.per_unit:
        return [schedule.tenant]
    db = app.extensions["postalops.db"]
    reg = app.extensions["postalops.plugins"]
    plugin = app.extensions["postalops.jobs"].plugin_of(schedule.kind)
    root = schedule.tenant
    with db.session(Scope.system_scope()) as s:
        codes = s.exec(
            select(OrgUnit.code)
            .where(OrgUnit.level == schedule.per_unit)
            .where(
                sa.or_(OrgUnit.code == root, OrgUnit.code.like(root + ".%"))  # type: ignore[attr-defined]
            )
            .order_by(OrgUnit.code)
        ).all()
        return [c for c in codes if reg.is_enabled(s, c, plugin)]


def fire(app: Any, schedule: Schedule, period: str | None = None) -> str | None:
    """Fire ``schedule`` for ``period`` (default: the current UTC minute) unless another
    process already did. Returns the (first) job id, or None when this process lost the race
    or no job was sent. A ``per_unit`` schedule sends one job per enabled unit
    (:func:`target_units`), each scoped to its unit."""
    db = app.extensions["postalops.db"]
    jobs = app.extensions["postalops.jobs"]
    period = period or utcnow().strftime("%Y-%m-%dT%H:%M")
    me = f"{socket.gethostname()}:{os.getpid()}"
    with db.session(None) as s:
        s.add(ScheduledRun(schedule=schedule.name, period=period, fired_by=me))
        try:
            s.commit()
        except IntegrityError:
            s.rollback()
            return None
    who = Principal.system(f"scheduler:{schedule.name}")
    ids: list[str] = []
    for unit in target_units(app, schedule):
        key = f"schedule:{schedule.name}:{period}"
        if schedule.per_unit:
            key = f"schedule:{schedule.name}:{unit}:{period}"
        call = CallContext(db=db, scope=Scope.unit(unit), principal=who, unit=unit)
        with context.activate(call):
            try:
                row = jobs.submit(
                    schedule.kind, dict(schedule.params), idempotency_key=key, tenant=unit
                )
            except PostalOpsError as exc:
                log.warning("schedule %s not fired at %s: %s", schedule.name, unit, exc.message)
                continue
        ids.append(row.id)
    if not ids:
        return None
    with db.session(None) as s:
        run = s.exec(
            select(ScheduledRun).where(
                ScheduledRun.schedule == schedule.name, ScheduledRun.period == period
            )
        ).one()
        run.job_id = ids[0]
        s.commit()
    return ids[0]


def tick(app: Any, now: dt.datetime | None = None, grace_s: int = 30) -> list[str]:
    """One pass of the scheduler at ``now`` (default: the UTC time): fire every schedule whose
    latest cron time at or before ``now`` is at most ``grace_s`` seconds old (the scheduler's
    misfire grace), with that time as its period. Returns the names fired by this call."""
    now = (now or utcnow()).astimezone(dt.UTC)
    fired = []
    for item in schedules(app):
        trigger = trigger_for(item.cron)
        period = period_of(trigger, now)
        at = dt.datetime.strptime(period, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=dt.UTC)
        if dt.timedelta(0) <= now - at <= dt.timedelta(seconds=grace_s):
            if fire(app, item, period) is not None:
                fired.append(item.name)
    return fired


def trigger_for(cron: str) -> CronTrigger:
    """Five fields (minute hour day month weekday) or six with leading seconds."""
    fields = cron.split()
    if len(fields) == 6:
        second, minute, hour, day, month, dow = fields
        return CronTrigger(
            second=second,
            minute=minute,
            hour=hour,
            day=day,
            month=month,
            day_of_week=dow,
            timezone="UTC",
        )
    return CronTrigger.from_crontab(cron, timezone="UTC")


def period_of(trigger: CronTrigger, now: dt.datetime) -> str:
    """The latest scheduled time at or before ``now``: the same key in every process."""
    t = trigger.get_next_fire_time(None, now - dt.timedelta(minutes=5))
    last = t
    while t is not None and t <= now:
        last = t
        t = trigger.get_next_fire_time(t, t + dt.timedelta(microseconds=1))
    return (last or now).astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _install(app: Any, sched: Any) -> None:
    for item in schedules(app):
        trigger = trigger_for(item.cron)

        def run(item: Schedule = item, trigger: CronTrigger = trigger) -> None:
            fire(app, item, period_of(trigger, utcnow()))

        sched.add_job(
            run,
            trigger,
            id=item.name,
            name=item.name,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=30,
        )


def start_background(app: Any) -> BackgroundScheduler:
    """In-process scheduler for ``postalops serve`` (embedded mode)."""
    sched = BackgroundScheduler(timezone="UTC")
    _install(app, sched)
    sched.start()
    return sched


def run_blocking(app: Any) -> None:
    sched = BlockingScheduler(timezone="UTC")
    _install(app, sched)
    log.info("scheduler started with %d schedules", len(sched.get_jobs()))
    print(f"scheduler running: {[j.id for j in sched.get_jobs()]}", flush=True)
    try:
        sched.start()
    except (KeyboardInterrupt, SystemExit):
        time.sleep(0)
