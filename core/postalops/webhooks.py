"""Core webhooks: one signed outbox for every plugin.

A plugin calls :func:`emit` inside its own transaction; the event row and one delivery row per
subscribed endpoint are written in that transaction (the outbox pattern: no event without the
change, no change without its event). After the commit, the core queues one
``core.webhooks.deliver`` job per delivery; the job POSTs the signed event, logs the try
(:class:`~postalops.models.WebhookAttempt`: status code, latency, error) and, on failure,
queues the next try after an exponential backoff. A try is recorded before it is sent, so a
redelivered message never sends the same try twice.

Receivers verify the ``X-PostalOps-Signature`` header (see :func:`sign` / :func:`verify`)::

    X-PostalOps-Signature: t=1765090000,v1=<hex HMAC-SHA256(secret, "<t>." + raw body)>

and reject a timestamp older than five minutes (replay protection). ``X-PostalOps-Event-Id``
stays the same across retries and replays: de-duplicate on it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import secrets
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from . import audit, context
from .db import check_in_scope, utcnow
from .errors import Conflict, NotFound, ValidationError
from .jobs import JobContext, job
from .models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent

__all__ = [
    "emit",
    "sign",
    "verify",
    "plugin_endpoint",
    "set_plugin_endpoint",
    "replay",
    "deliveries_of",
    "payload_of",
    "delivery_json",
]


DELIVER = "core.webhooks.deliver"
SIGNATURE_HEADER = "X-PostalOps-Signature"
TOLERANCE_S = 300
TIMEOUT_S = 10
_PENDING = "postalops.webhooks.pending"
# Who queues the retries and the sweep's tries: a fixed name, since nesting the previous job's
# name ("job:<id>(job:<id>(user:…))") would outgrow core_job.started_by.
RETRY_ACTOR = "system:webhooks"


def max_attempts() -> int:
    """Tries per delivery before it is marked failed (``POSTALOPS_WEBHOOK_MAX_ATTEMPTS``, 8)."""
    return max(1, int(os.environ.get("POSTALOPS_WEBHOOK_MAX_ATTEMPTS") or 8))


def backoff_seconds(try_no: int) -> float:
    """Delay before try ``try_no + 1``: base × 2^(try_no − 1), at most 6 h. The base is
    ``POSTALOPS_WEBHOOK_BACKOFF_S`` (30 s): 30 s, 1 min, 2 min, 4 min …"""
    base = float(os.environ.get("POSTALOPS_WEBHOOK_BACKOFF_S") or 30)
    return min(base * 2 ** (try_no - 1), 6 * 3600.0)


# --- signing --------------------------------------------------------------------------------


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The ``X-PostalOps-Signature`` value for ``body``: ``t=<unix>,v1=<hex>``."""
    t = int(time.time()) if timestamp is None else int(timestamp)
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def verify(
    secret: str, header: str, body: bytes, *, tolerance: int = TOLERANCE_S, now: float | None = None
) -> bool:
    """True when ``header`` signs ``body`` with ``secret`` and is at most ``tolerance`` s old.

    What a receiver runs (copy it; it needs only the standard library)."""
    try:
        parts = dict(p.split("=", 1) for p in header.split(","))
        t = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - t) > tolerance:
        return False
    expected = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts.get("v1", ""))


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


# --- endpoints ------------------------------------------------------------------------------


def _check_unit(session: Session, unit: str) -> None:
    from .models import OrgUnit

    if session.exec(select(OrgUnit.id).where(OrgUnit.code == unit)).first() is None:
        raise ValidationError(
            f"unknown unit {unit!r}", details=[{"field": "unit", "message": "unknown unit"}]
        )


def _check_url(url: str) -> str:
    url = (url or "").strip()
    if not (url.startswith("http://") or url.startswith("https://")) or len(url) > 500:
        raise ValidationError(
            "the URL must be http(s), at most 500 characters",
            code="invalid_url",
            details=[{"field": "url", "message": "must be an http(s) URL"}],
        )
    return url


def _check_types(types: Iterable[str]) -> list[str]:
    out = sorted({t.strip() for t in types if t and t.strip()})
    bad = [t for t in out if len(t) > 120 or " " in t]
    if not out or bad:
        raise ValidationError(
            "name at least one event type (e.g. outcall.* or sorter.alert.raised)",
            code="invalid_event_types",
            details=[{"field": "event_types", "message": "one or more event types"}],
        )
    return out


def create_endpoint(
    session: Session,
    unit: str,
    url: str,
    event_types: Iterable[str],
    *,
    active: bool = True,
    description: str = "",
    actor: str | None = None,
) -> WebhookEndpoint:
    """Add an endpoint at ``unit`` (in the caller's scope; audited). Its ``secret`` is new."""
    check_in_scope(session, unit)
    _check_unit(session, unit)
    row = WebhookEndpoint(
        unit_code=unit,
        url=_check_url(url),
        secret=new_secret(),
        event_types=_check_types(event_types),
        active=active,
        description=(description or "")[:200],
        created_by=actor,
    )
    session.add(row)
    session.flush()
    audit.record(
        "core.webhook.create",
        target_type="webhook_endpoint",
        target_id=row.id,
        tenant=unit,
        after=_public(row),
        session=session,
        actor=actor,
    )
    return row


def endpoint(session: Session, endpoint_id: int) -> WebhookEndpoint:
    """An endpoint in the caller's subtree (404 otherwise: those above are only inherited)."""
    row = session.get(WebhookEndpoint, endpoint_id)
    if row is None or not context_scope_allows(session, row.unit_code):
        raise NotFound(f"no webhook endpoint {endpoint_id}", details=[{"field": "endpoint_id"}])
    return row


def context_scope_allows(session: Session, unit: str) -> bool:
    from .db import scope_of

    return scope_of(session).allows(unit)


def update_endpoint(
    session: Session, endpoint_id: int, changes: dict[str, Any], *, actor: str | None = None
) -> tuple[WebhookEndpoint, str | None]:
    """Change url / event_types / active / description; ``rotate_secret`` makes a new secret
    (returned, shown once). Audited."""
    row = endpoint(session, endpoint_id)
    before = _public(row)
    if changes.get("url") is not None:
        row.url = _check_url(changes["url"])
    if changes.get("event_types") is not None:
        row.event_types = _check_types(changes["event_types"])
    if changes.get("active") is not None:
        row.active = bool(changes["active"])
    if changes.get("description") is not None:
        row.description = str(changes["description"])[:200]
    secret = None
    if changes.get("rotate_secret"):
        row.secret = secret = new_secret()
    session.add(row)
    session.flush()
    after = _public(row)
    if secret:
        after["secret"] = "rotated"
    audit.record(
        "core.webhook.update",
        target_type="webhook_endpoint",
        target_id=row.id,
        tenant=row.unit_code,
        before=before,
        after=after,
        session=session,
        actor=actor,
    )
    return row, secret


def _public(row: WebhookEndpoint) -> dict[str, Any]:
    return {
        "id": row.id,
        "unit": row.unit_code,
        "url": row.url,
        "event_types": list(row.event_types),
        "active": row.active,
        "description": row.description,
    }


def endpoint_json(row: WebhookEndpoint) -> dict[str, Any]:
    """An endpoint as the API shows it (never its secret)."""
    return {**_public(row), "created_at": row.created_at, "created_by": row.created_by}


def plugin_endpoint(session: Session, unit: str, event_types: list[str]) -> WebhookEndpoint | None:
    """The active endpoint at ``unit`` subscribed to exactly ``event_types``, if any: what a
    plugin's deprecated one-URL webhook setting (kept for one release) reads."""
    rows = session.exec(
        select(WebhookEndpoint)
        .where(WebhookEndpoint.unit_code == unit, WebhookEndpoint.active.is_(True))  # type: ignore[attr-defined]
        .order_by(WebhookEndpoint.id)
    ).all()
    return next((r for r in rows if sorted(r.event_types) == sorted(event_types)), None)


def set_plugin_endpoint(
    session: Session, unit: str, event_types: list[str], url: str | None, *, actor: str | None
) -> WebhookEndpoint | None:
    """Point the endpoint of :func:`plugin_endpoint` at ``url`` (created when missing; switched
    off when ``url`` is None). For plugins' deprecated one-URL webhook settings."""
    row = plugin_endpoint(session, unit, event_types)
    if url is None:
        if row is not None:
            update_endpoint(session, row.id, {"active": False}, actor=actor)  # type: ignore[arg-type]
        return None
    if row is None:
        return create_endpoint(session, unit, url, event_types, actor=actor)
    return update_endpoint(session, row.id, {"url": url}, actor=actor)[0]  # type: ignore[arg-type]


def subscribed(event_types: Iterable[str], event_type: str) -> bool:
    """``*`` takes every event, ``outcall.*`` every event starting ``outcall.``."""
    for t in event_types:
        if t == "*" or t == event_type or (t.endswith(".*") and event_type.startswith(t[:-1])):
            return True
    return False


def _chain(unit: str) -> list[str]:
    parts = unit.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


# --- emitting -------------------------------------------------------------------------------


def emit(session: Session, unit: str, event_type: str, payload: dict[str, Any]) -> WebhookEvent:
    """Record ``event_type`` at ``unit`` with its JSON ``payload`` in the caller's transaction.

    Every active endpoint at ``unit`` or above it that subscribes to the type gets a delivery
    row; the deliveries are queued as jobs when ``session`` commits (nothing is sent if it
    rolls back). Returns the event; its ``uid`` is the id receivers see.
    """
    check_in_scope(session, unit)
    try:
        body = json.loads(json.dumps(payload, default=str))
    except (TypeError, ValueError) as exc:
        raise ValidationError(
            f"webhook payload is not JSON: {exc}", details=[{"field": "payload"}]
        ) from exc
    ev = WebhookEvent(tenant_code=unit, uid=str(uuid.uuid4()), event_type=event_type, payload=body)
    session.add(ev)
    session.flush()
    endpoints = session.exec(
        select(WebhookEndpoint).where(
            WebhookEndpoint.unit_code.in_(_chain(unit)),  # type: ignore[attr-defined]
            WebhookEndpoint.active.is_(True),  # type: ignore[attr-defined]
        )
    ).all()
    deliveries = [
        WebhookDelivery(
            tenant_code=unit,
            event_id=ev.id,
            endpoint_id=e.id,
            event_type=event_type,
            next_attempt_at=utcnow(),
        )
        for e in endpoints
        if subscribed(e.event_types, event_type)
    ]
    if deliveries:
        session.add_all(deliveries)
        session.flush()
        _queue_after_commit(session, [(d.id, d.tenant_code, 1) for d in deliveries])
    return ev


def _queue_after_commit(session: Session, items: list[tuple[int, str, int]]) -> None:
    pending = session.info.get(_PENDING)
    if pending is None:
        pending = session.info[_PENDING] = []
        sa_event.listen(session, "after_commit", _after_commit)
        sa_event.listen(session, "after_rollback", _after_rollback)
    pending.extend(items)


def _after_rollback(session: Session) -> None:
    session.info.get(_PENDING, []).clear()


def _after_commit(session: Session) -> None:
    items = list(session.info.get(_PENDING, []))
    session.info.get(_PENDING, []).clear()
    if not items:
        return
    ctx = context.current_or_none()
    db = ctx.db if ctx is not None else None
    jobs = getattr(db, "jobs", None)
    if jobs is None:
        return  # no job service (a bare script): the sweep sends them
    actor = ctx.principal.name if ctx is not None else "system"
    for delivery_id, tenant, try_no in items:
        _send_try(jobs, delivery_id, tenant, try_no, actor=actor)


def _send_try(
    jobs: Any,
    delivery_id: int,
    tenant: str,
    try_no: int,
    *,
    actor: str,
    delay_ms: int | None = None,
) -> Any:
    return jobs.send(
        DELIVER,
        {"delivery_id": delivery_id, "try_no": try_no},
        tenant=tenant,
        actor=actor[:120],
        idempotency_key=f"{DELIVER}:{delivery_id}:{try_no}",
        delay_ms=delay_ms,
    )


# --- delivering -----------------------------------------------------------------------------


def envelope(ev: WebhookEvent) -> bytes:
    """The JSON body POSTed for an event."""
    return json.dumps(
        {
            "id": ev.uid,
            "type": ev.event_type,
            "unit": ev.tenant_code,
            "created_at": ev.created_at.isoformat(),
            "data": ev.payload,
        },
        ensure_ascii=False,
        sort_keys=True,
    ).encode()


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int | None, str | None]:
    """POST ``body``; (status code, error or None). A non-2xx answer is an error."""
    req = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT_S) as resp:  # noqa: S310 - admin-set URL
            return resp.status, None
    except urllib.error.HTTPError as exc:
        text = exc.read(200).decode("utf-8", "replace") if exc.fp else ""
        return exc.code, f"HTTP {exc.code}: {text}".strip()[:500]
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return None, f"{type(exc).__name__}: {reason}"[:500]


@job(DELIVER, max_retries=0, label_zh="推送事件", label_en="Webhook delivery")
def deliver(ctx: JobContext, delivery_id: int, try_no: int) -> dict[str, Any]:
    """Make try ``try_no`` of a delivery: record it, POST the signed event, record the answer,
    and queue the next try after the backoff while tries remain. Runs once per try: a try
    already recorded (a redelivered message, a second job) is not sent again."""
    s = ctx.session
    d = s.get(WebhookDelivery, delivery_id)
    if d is None:
        return {"status": "missing"}
    if d.status == "delivered" or d.attempts >= try_no:
        return {"status": d.status, "skipped": f"try {try_no} already made"}
    ep = s.get(WebhookEndpoint, d.endpoint_id)
    ev = s.get(WebhookEvent, d.event_id)
    if ep is None or ev is None or not ep.active:
        d.status, d.last_error = "failed", "endpoint removed or inactive"
        s.add(d)
        s.commit()
        return {"status": "failed", "reason": d.last_error}
    replay = d.status == "pending" and try_no > 1
    attempt = WebhookAttempt(
        tenant_code=d.tenant_code, delivery_id=d.id, try_no=try_no, url=ep.url, replay=replay
    )
    d.attempts, d.status = try_no, "sending"
    s.add_all([attempt, d])
    try:
        s.commit()  # the try is on record before anything is sent
    except IntegrityError:
        s.rollback()
        return {"status": "sending", "skipped": f"try {try_no} already made"}
    url, secret, body = ep.url, ep.secret, envelope(ev)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "PostalOps-Webhooks/1",
        SIGNATURE_HEADER: sign(secret, body),
        "X-PostalOps-Event": ev.event_type,
        "X-PostalOps-Event-Id": ev.uid,
        "X-PostalOps-Delivery": str(d.id),
        "X-PostalOps-Attempt": str(try_no),
    }
    started = time.monotonic()
    code, error = post(url, body, headers)
    attempt.latency_ms = int((time.monotonic() - started) * 1000)
    attempt.status_code, attempt.error, attempt.ok = code, error, error is None
    d.last_status_code, d.last_error = code, error
    retry_in = None
    if error is None:
        d.status, d.delivered_at, d.next_attempt_at = "delivered", utcnow(), None
    elif try_no < max_attempts():
        retry_in = backoff_seconds(try_no)
        d.status, d.next_attempt_at = "retrying", utcnow() + dt.timedelta(seconds=retry_in)
    else:
        d.status, d.next_attempt_at = "failed", None
    s.add_all([attempt, d])
    s.commit()
    if retry_in is not None:
        _send_try(
            ctx.call.db.jobs,
            d.id,
            d.tenant_code,
            try_no + 1,
            actor=RETRY_ACTOR,
            delay_ms=int(retry_in * 1000),
        )
    return {"status": d.status, "http": code, "try": try_no, "error": error}


SWEEP = "core.webhooks.sweep"
STUCK_AFTER = dt.timedelta(minutes=5)


@job(SWEEP, max_retries=1, label_zh="补发事件推送", label_en="Webhook sweep")
def sweep(ctx: JobContext) -> dict[str, Any]:
    """Periodic: queue the next try of every delivery whose try is overdue by five minutes
    (its job was lost, or it was written by a migration). The job key is per try, so a try
    whose job exists is not queued twice."""
    cutoff = utcnow() - STUCK_AFTER
    rows = ctx.session.exec(
        select(WebhookDelivery).where(
            WebhookDelivery.status.in_(("pending", "retrying", "sending")),  # type: ignore[attr-defined]
            WebhookDelivery.next_attempt_at < cutoff,  # type: ignore[operator]
        )
    ).all()
    queued = []
    for d in rows:
        job_row = _send_try(
            ctx.call.db.jobs, d.id, d.tenant_code, d.attempts + 1, actor=RETRY_ACTOR
        )
        if job_row.status == "queued":
            queued.append(d.id)
    return {"overdue": len(rows), "queued": queued}


def replay(session: Session, delivery_id: int, *, actor: str | None = None) -> WebhookDelivery:
    """Send a delivered or failed delivery again now, as its next try (audited). A delivery
    still being tried answers 409. The job is queued when ``session`` commits."""
    d = session.get(WebhookDelivery, delivery_id)
    if d is None:
        raise NotFound(f"no webhook delivery {delivery_id}", details=[{"field": "delivery_id"}])
    if d.status not in ("delivered", "failed"):
        raise Conflict(
            f"delivery {delivery_id} is {d.status}: its next try is already queued",
            code="delivery_in_progress",
        )
    before = {"status": d.status, "attempts": d.attempts}
    d.status, d.next_attempt_at = "pending", utcnow()
    session.add(d)
    session.flush()
    audit.record(
        "core.webhook.replay",
        target_type="webhook_delivery",
        target_id=d.id,
        tenant=d.tenant_code,
        before=before,
        after={"status": "pending", "try": d.attempts + 1},
        session=session,
        actor=actor,
    )
    _queue_after_commit(session, [(d.id, d.tenant_code, d.attempts + 1)])
    return d


def deliveries_of(event_prefix: str) -> Any:
    """``select`` of the deliveries of events whose type starts with ``event_prefix`` (a
    plugin's own log page: ``deliveries_of("outcall.")``); the session scopes it."""
    return select(WebhookDelivery).where(
        WebhookDelivery.event_type.startswith(event_prefix)  # type: ignore[attr-defined]
    )


def payload_of(session: Session, delivery: WebhookDelivery) -> dict[str, Any]:
    """The payload of the event a delivery sends."""
    ev = session.get(WebhookEvent, delivery.event_id)
    return dict(ev.payload) if ev else {}


def delivery_json(session: Session, d: WebhookDelivery, *, tries: bool = True) -> dict[str, Any]:
    """A delivery with its endpoint URL, event id and (optionally) its delivery log."""
    ev = session.get(WebhookEvent, d.event_id)
    ep = session.get(WebhookEndpoint, d.endpoint_id)
    out: dict[str, Any] = {
        "id": d.id,
        "event_id": ev.uid if ev else None,
        "event_type": d.event_type,
        "unit": d.tenant_code,
        "endpoint_id": d.endpoint_id,
        "url": ep.url if ep else None,
        "status": d.status,
        "attempts": d.attempts,
        "last_status_code": d.last_status_code,
        "last_error": d.last_error,
        "next_attempt_at": d.next_attempt_at,
        "delivered_at": d.delivered_at,
        "created_at": d.created_at,
    }
    if tries:
        out["tries"] = [
            {
                "try": a.try_no,
                "at": a.started_at,
                "status_code": a.status_code,
                "latency_ms": a.latency_ms,
                "ok": a.ok,
                "error": a.error,
                "replay": a.replay,
            }
            for a in session.exec(
                select(WebhookAttempt)
                .where(WebhookAttempt.delivery_id == d.id)
                .order_by(WebhookAttempt.try_no)
            ).all()
        ]
    return out


def status_labels() -> dict[str, dict[str, Any]]:
    """The delivery and endpoint states in words (merged into the core's status labels)."""
    from .ui import Status

    return {
        "core.webhook.delivery": {
            "pending": Status("待发送", "Pending", "neutral"),
            "sending": Status("发送中", "Sending", "progress"),
            "retrying": Status("等待重试", "Retrying", "warning"),
            "delivered": Status("已送达", "Delivered", "success"),
            "failed": Status("发送失败", "Failed", "danger"),
        },
        "core.webhook.endpoint": {
            "active": Status("启用", "Active", "success"),
            "inactive": Status("停用", "Switched off", "neutral"),
        },
    }
