"""Click-to-dial: an optional per-unit telephony provider (CTI) that places the agent's call.

With a provider configured, ``place_call`` POSTs to its URL::

    {"call_ref": "<ours>", "agent": "...", "phone": "<full number>", "caller_id": "...",
     "case_no": "...", "callback_url": "https://…/api/v1/outcall/cti/events"}

authenticated either with ``Authorization: Bearer <secret>`` (``auth = "token"``) or signed
with ``X-PostalOps-Signature: t=<unix>,v1=<hmac-sha256>`` like the core's webhooks
(``auth = "hmac"``). It answers 2xx with ``{"call_id": "..."}``. The provider then reports the
call's progress to ``POST /api/v1/outcall/cti/events`` with a PostalOps token holding
``outcall.cti``: ``{"call_ref", "event": "started" | "ended", "at", "recording_ref"}``; the
times become the attempt's handle time when the agent saves the outcome.

Without a provider, agents dial by hand (the workbench's ``tel:`` link) as before.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

from postalops import audit, webhooks
from postalops.errors import NotFound, PostalOpsError, ValidationError
from postalops.tenancy import ancestors
from sqlmodel import Session, select

from . import live
from .models import OutcallCase, OutcallCtiCall, OutcallCtiConfig

AUTH_MODES = ("token", "hmac")
TIMEOUT_S = 5


class ProviderError(PostalOpsError):
    """The telephony provider refused the call or did not answer (502)."""

    status = 502
    code = "cti_failed"


def config_for(session: Session, tenant: str) -> OutcallCtiConfig | None:
    """The enabled provider of ``tenant`` or of the nearest unit above it that has one."""
    chain = ancestors(tenant)  # nearest first
    rows = {
        r.tenant_code: r
        for r in session.exec(
            select(OutcallCtiConfig).where(
                OutcallCtiConfig.tenant_code.in_(chain), OutcallCtiConfig.enabled.is_(True)
            )
        ).all()
    }
    return next((rows[u] for u in chain if u in rows), None)


def save_config(
    session: Session, tenant: str, body: Mapping[str, Any], *, actor: str, now: dt.datetime
) -> OutcallCtiConfig:
    problems = []
    url = str(body.get("url") or "")
    if not url.startswith(("http://", "https://")) or len(url) > 500:
        problems.append({"field": "url", "message": "an http(s) URL"})
    if body.get("auth", "token") not in AUTH_MODES:
        problems.append({"field": "auth", "message": "token/hmac"})
    secret = str(body.get("secret") or "")
    if not 8 <= len(secret) <= 200:
        problems.append({"field": "secret", "message": "8 to 200 characters"})
    if problems:
        raise ValidationError(
            "外呼平台配置无效 / invalid telephony provider", code="invalid_cti", details=problems
        )
    row = session.exec(
        select(OutcallCtiConfig).where(OutcallCtiConfig.tenant_code == tenant)
    ).first() or OutcallCtiConfig(tenant_code=tenant, url=url, secret=secret)
    row.url, row.secret = url, secret
    row.auth = body.get("auth", "token")
    row.caller_id = str(body.get("caller_id") or "")[:20]
    row.enabled = bool(body.get("enabled", True))
    row.updated_at = now
    session.add(row)
    session.flush()
    audit.record(
        "outcall.cti.save",
        target_type="outcall_cti_config",
        target_id=row.id,
        tenant=tenant,
        after={"url": url, "auth": row.auth, "enabled": row.enabled},
        session=session,
        actor=actor,
    )
    return row


def config_json(row: OutcallCtiConfig | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {
        "unit": row.tenant_code,
        "url": row.url,
        "auth": row.auth,
        "caller_id": row.caller_id,
        "enabled": row.enabled,
        "updated_at": row.updated_at,
    }


def _post(config: OutcallCtiConfig, payload: dict[str, Any]) -> dict[str, Any]:
    body = json.dumps(payload, ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json"}
    if config.auth == "hmac":
        headers["X-PostalOps-Signature"] = webhooks.sign(config.secret, body)
    else:
        headers["Authorization"] = f"Bearer {config.secret}"
    req = urllib.request.Request(config.url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT_S) as resp:  # noqa: S310 (configured URL)
            text = resp.read().decode() or "{}"
    except urllib.error.HTTPError as exc:
        raise ProviderError(
            f"外呼平台拒绝了呼叫 / the telephony provider answered {exc.code}",
            details=[{"field": "provider", "message": f"HTTP {exc.code}"}],
        ) from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise ProviderError(
            "外呼平台无法连接 / the telephony provider did not answer",
            details=[{"field": "provider", "message": str(getattr(exc, "reason", exc))}],
        ) from None
    try:
        out = json.loads(text)
    except ValueError:
        out = {}
    return out if isinstance(out, dict) else {}


def place_call(
    session: Session,
    tenant: str,
    case: OutcallCase,
    agent: str,
    *,
    callback_url: str,
    now: dt.datetime,
) -> OutcallCtiCall:
    """Ask the provider to call the applicant of a case the agent holds (see the module doc)."""
    config = config_for(session, case.tenant_code)
    if config is None:
        raise PostalOpsError(
            "本单位未配置外呼平台，请手动拨号 / no telephony provider: dial by hand",
            code="no_cti",
            status=409,
            details=[{"field": "provider", "message": "not configured"}],
        )
    call = OutcallCtiCall(
        tenant_code=case.tenant_code,
        call_ref=secrets.token_hex(12),
        case_id=case.id,
        agent=agent,
        placed_at=now,
    )
    answer = _post(
        config,
        {
            "call_ref": call.call_ref,
            "agent": agent,
            "phone": case.phone,
            "caller_id": config.caller_id,
            "case_no": case.case_no,
            "callback_url": callback_url,
        },
    )
    call.provider_call_id = str(answer.get("call_id") or "")[:100]
    session.add(call)
    session.flush()
    return call


def record_event(
    session: Session,
    call_ref: str,
    event: str,
    *,
    at: dt.datetime,
    recording_ref: str | None = None,
) -> OutcallCtiCall:
    """The provider reports that the call started or ended (idempotent per event)."""
    call = session.exec(select(OutcallCtiCall).where(OutcallCtiCall.call_ref == call_ref)).first()
    if call is None:
        raise NotFound(
            f"呼叫不存在 / no call {call_ref}",
            details=[{"field": "call_ref", "message": "unknown"}],
        )
    if event == "started":
        if call.started_at is None:
            call.started_at = at
            call.status = "started"
            live.call_started(
                session, call.tenant_code, call.agent, call.case_id, at, recording_ref=recording_ref
            )
    elif event == "ended":
        if call.started_at is None:  # never answered: the call took no talk time
            call.started_at = at
            live.call_started(session, call.tenant_code, call.agent, call.case_id, at)
        if call.ended_at is None:
            call.ended_at = max(at, call.started_at)
            call.status = "ended"
            live.call_ended(
                session,
                call.tenant_code,
                call.agent,
                call.case_id,
                call.ended_at,
                recording_ref=recording_ref,
            )
    else:
        raise ValidationError(
            "未知事件 / unknown event",
            code="invalid_event",
            details=[{"field": "event", "message": "started/ended"}],
        )
    if recording_ref:
        call.recording_ref = recording_ref[:200]
    session.add(call)
    session.flush()
    return call


def call_json(call: OutcallCtiCall) -> dict[str, Any]:
    return {
        "call_ref": call.call_ref,
        "provider_call_id": call.provider_call_id,
        "case_id": call.case_id,
        "agent": call.agent,
        "status": call.status,
        "placed_at": call.placed_at,
        "started_at": call.started_at,
        "ended_at": call.ended_at,
        "recording_ref": call.recording_ref,
    }
