"""Outcall's tracked jobs: platform notifications, portal imports and the periodic sweep."""

from __future__ import annotations

from typing import Any

import requests
from postalops.db import utcnow
from postalops.errors import PostalOpsError, ValidationError
from postalops.jobs import JobContext, job
from postalops.models import Job
from sqlmodel import select

from . import service
from .models import OutcallNotification, OutcallNotificationAttempt

NOTIFY = "outcall.notify"
IMPORT = "outcall.import_cases"
SWEEP = "outcall.sweep"


class WebhookFailed(Exception):
    """The platform did not confirm the notification; Dramatiq retries with backoff."""


def notify_key(notification: OutcallNotification) -> str:
    """Job idempotency key: one job per notification and per previous job.

    A re-send after the last job finished gets a new key (the previous job differs); two
    sweeps racing to re-send the same notification share one key, so only one job is made.
    """
    previous = notification.job_id or "first"
    return f"{NOTIFY}:{notification.tenant_code}:{notification.id}:{previous}"


@job(
    NOTIFY,
    max_retries=6,
    min_backoff_ms=500,
    label_zh="通知政务平台改邮寄",
    label_en="Notify the government platform",
    result_url="/p/outcall/notifications",
)
def notify_platform(ctx: JobContext, notification_id: int) -> dict[str, Any]:
    """POST the issuing-method change to the unit's webhook.

    Each try is recorded in its own transaction before the job succeeds or raises, so failures
    stay visible even while Dramatiq retries. A delivered notification is never sent again.
    """
    db, scope = ctx.call.db, ctx.call.scope
    with db.transaction(scope) as s:
        n = s.exec(
            select(OutcallNotification).where(OutcallNotification.id == notification_id)
        ).first()
        if n is None:
            return {"status": "missing"}
        if n.status == "delivered":
            return {"status": "delivered", "already": True}
        url = service.get_settings(s, n.tenant_code).webhook_url
        payload, key, tenant = dict(n.payload), n.payload.get("idempotency_key", ""), n.tenant_code
    if not url:
        with db.transaction(scope) as s:
            n = s.exec(
                select(OutcallNotification).where(OutcallNotification.id == notification_id)
            ).one()
            n.status, n.last_error = "waiting", "no webhook URL configured for the unit"
            s.add(n)
        return {"status": "waiting", "reason": "no webhook URL"}
    status_code, error = None, None
    try:
        resp = requests.post(url, json=payload, timeout=10, headers={"Idempotency-Key": key})
        status_code = resp.status_code
        if not 200 <= resp.status_code < 300:
            error = f"HTTP {resp.status_code}: {resp.text[:200]}"
    except requests.RequestException as exc:
        error = f"{type(exc).__name__}: {exc}"[:1000]
    with db.transaction(scope) as s:
        n = s.exec(
            select(OutcallNotification).where(OutcallNotification.id == notification_id)
        ).one()
        s.add(
            OutcallNotificationAttempt(
                tenant_code=tenant,
                notification_id=n.id,
                url=url,
                status_code=status_code,
                ok=error is None,
                error=error,
            )
        )
        n.attempts += 1
        n.job_id = ctx.id
        if error is None:
            n.status, n.delivered_at, n.last_error = "delivered", utcnow(), None
        else:
            n.status, n.last_error = "failing", error
        s.add(n)
    if error is not None:
        raise WebhookFailed(error)
    return {"status": "delivered", "http": status_code}


def submit_notification(submit: Any, notification: OutcallNotification) -> str:
    """Send the job for a notification (``submit`` is ``postalops.jobs.submit`` or a service's)."""
    row = submit(
        NOTIFY,
        {"notification_id": notification.id},
        idempotency_key=notify_key(notification),
        tenant=notification.tenant_code,
    )
    return row.id


@job(
    IMPORT,
    max_retries=0,
    label_zh="导入办件",
    label_en="Import cases",
    result_url="/p/outcall/cases",
)
def import_cases(ctx: JobContext, rows: list[list[Any]]) -> dict[str, Any]:
    """A portal upload: ``rows`` are ``[row_number, {column: value}]`` pairs.

    All or nothing like the API: a bad row fails the job with every bad row in its error and
    nothing written. Re-running it changes nothing (intake is idempotent on the case number).
    """
    ctx.progress(0, len(rows), "validating")
    try:
        report = service.intake_cases(ctx.session, ctx.tenant, [(int(n), r) for n, r in rows])
    except PostalOpsError as exc:
        # The job record keeps only the message: put every bad row and field into it.
        where = "; ".join(
            f"row {d.get('row', '?')}: {e.get('field', '')} {e.get('message', '')}".strip()
            for d in exc.details
            if isinstance(d, dict)
            for e in (d.get("errors") or [d])  # a batch names each row's every error
        )
        raise ValidationError(
            f"{exc.message} — {where}", code=exc.code, details=exc.details
        ) from exc
    ctx.session.commit()  # before progress: SQLite allows one writer at a time
    ctx.progress(len(rows), len(rows), "imported")
    return {"summary": report["summary"], "rows": report["rows"][:1000]}


@job(SWEEP, max_retries=1, label_zh="外呼队列整理", label_en="Outcall sweep")
def sweep(ctx: JobContext) -> dict[str, Any]:
    """Periodic: expire overdue cases, and resend every notification not yet delivered whose
    last job has finished (so a notification is never lost, even after its retries ran out)."""
    from postalops.jobs import FINAL

    expired = service.expire_due(ctx.session, ctx.tenant)
    ctx.session.commit()
    pending = ctx.session.exec(
        select(OutcallNotification).where(OutcallNotification.status != "delivered")
    ).all()
    resent = []
    for n in pending:
        if n.job_id:
            last = ctx.session.exec(select(Job.status).where(Job.id == n.job_id)).first()
            if last is not None and last not in FINAL:
                continue  # still queued or running: its own retries are in charge
        # The job record is written in its own transaction: nothing may hold the write lock
        # here (on SQLite the sweep would wait for itself), so each resend commits at once.
        n.job_id = submit_notification(ctx.submit, n)
        ctx.session.add(n)
        ctx.session.commit()
        resent.append(n.id)
    return {"expired": expired, "resent": resent}


ACTORS = [notify_platform, import_cases, sweep]
