"""Do-not-call: the unit's list of numbers never to call, the daily cap per number, and the
opt-out offered to an applicant who declined twice (issue 20 §2).

A list entry applies to the cases of its unit and of the units under it, until it expires. The
queue (``service.claim_next``) takes its filters from ``claim_filters``, so a blocked or capped
number is never offered, whichever agent asks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from postalops import audit
from postalops.db import in_scope_clause
from postalops.errors import NotFound, ValidationError
from sqlalchemy.orm import aliased
from sqlmodel import Session, select

from . import call_policy as cp
from .identity import validate_phone
from .models import OutcallAttempt, OutcallCase, OutcallDoNotCall

REASONS = ("opt_out", "complaint", "wrong_person", "other")
# An applicant who declined this many calls (over all their cases) is offered to opt out.
DECLINES_BEFORE_OPT_OUT = 2


def active(now: dt.datetime) -> Any:
    """SQL: the entry is in force at ``now``."""
    d = OutcallDoNotCall
    return sa.or_(d.expires_at.is_(None), d.expires_at > now)


def _covers_case() -> Any:
    """SQL: the entry's unit is the case's unit or above it."""
    d, c = OutcallDoNotCall, OutcallCase
    return sa.or_(c.tenant_code == d.tenant_code, c.tenant_code.startswith(d.tenant_code + "."))


def day_start(now: dt.datetime, zone: str) -> dt.datetime:
    """Midnight of ``now``'s local day in ``zone``, as UTC."""
    local = now.astimezone(ZoneInfo(zone))
    return dt.datetime.combine(local.date(), dt.time(0), ZoneInfo(zone)).astimezone(dt.UTC)


def capped_phones(
    session: Session, tenant: str, now: dt.datetime, policy: cp.CallPolicy
) -> list[str]:
    """Numbers already called ``daily_calls_per_phone`` times today, over all the unit's cases
    (call-backs included: they count, though one the applicant asked for is still made)."""
    a, c = OutcallAttempt, OutcallCase
    start = day_start(now, policy.calling_hours.tz)
    return list(
        session.execute(
            sa.select(c.phone)
            .select_from(a)
            .join(c, c.id == a.case_id)
            .where(in_scope_clause(a.tenant_code, tenant), a.at >= start, a.at <= now)
            .group_by(c.phone)
            .having(sa.func.count(a.id) >= policy.daily_calls_per_phone)
        )
        .scalars()
        .all()
    )


def claim_filters(
    session: Session, tenant: str, now: dt.datetime, policy: cp.CallPolicy
) -> list[Any]:
    """WHERE clauses on ``OutcallCase`` that keep blocked and capped numbers out of the queue."""
    d = OutcallDoNotCall
    blocked = sa.exists().where(d.phone == OutcallCase.phone, active(now), _covers_case())
    # The capped numbers as a subquery of the claim's own statement (the query of
    # ``capped_phones``): no round trip of its own per claim (issue 17 §5: the demo's simulated
    # agents claim thousands of times; on PostgreSQL each extra round trip showed).
    a, c = aliased(OutcallAttempt), aliased(OutcallCase)
    start = day_start(now, policy.calling_hours.tz)
    capped = (
        sa.select(c.phone)
        .select_from(a)
        .join(c, c.id == a.case_id)
        .where(in_scope_clause(a.tenant_code, tenant), a.at >= start, a.at <= now)
        .group_by(c.phone)
        .having(sa.func.count(a.id) >= policy.daily_calls_per_phone)
    )
    # A call-back the applicant asked for is honoured even at the cap, as it is past
    # max_attempts (call_policy): only the calls the centre starts are capped.
    callback = OutcallCase.reserved_agent.is_not(None)
    return [~blocked, sa.or_(OutcallCase.phone.not_in(capped), callback)]


def is_blocked(session: Session, tenant: str, phone: str, now: dt.datetime) -> bool:
    d = OutcallDoNotCall
    return (
        session.execute(
            sa.select(d.id).where(
                d.phone == phone,
                active(now),
                sa.or_(d.tenant_code == tenant, sa.literal(tenant).startswith(d.tenant_code + ".")),
            )
        ).first()
        is not None
    )


def declines(session: Session, tenant: str, phone: str) -> int:
    """Declined calls to ``phone`` over every case of the unit's subtree."""
    a, c = OutcallAttempt, OutcallCase
    return int(
        session.execute(
            sa.select(sa.func.count(a.id))
            .select_from(a)
            .join(c, c.id == a.case_id)
            .where(
                in_scope_clause(a.tenant_code, tenant),
                c.phone == phone,
                a.outcome == cp.Outcome.DECLINED.value,
            )
        ).scalar()
        or 0
    )


def offer_opt_out(session: Session, tenant: str, phone: str, now: dt.datetime) -> bool:
    """True when the applicant declined twice (or more) and is not on the list yet."""
    return declines(session, tenant, phone) >= DECLINES_BEFORE_OPT_OUT and not is_blocked(
        session, tenant, phone, now
    )


def _check(entry: Mapping[str, Any], now: dt.datetime) -> tuple[str, str, dt.datetime | None]:
    problems = []
    phone = ""
    try:
        phone = validate_phone(entry.get("phone"))
    except ValidationError as exc:
        problems.extend(exc.details)
    reason = entry.get("reason") or ""
    if reason not in REASONS:
        problems.append({"field": "reason", "message": "one of " + "/".join(REASONS)})
    expires = entry.get("expires_at")
    if expires is not None:
        if expires.tzinfo is None:
            expires = expires.replace(tzinfo=ZoneInfo("Asia/Shanghai"))
        if expires <= now:
            problems.append({"field": "expires_at", "message": "must be in the future"})
    if problems:
        raise ValidationError(
            "免打扰号码无效 / invalid do-not-call entry", code="invalid_dnc", details=problems
        )
    return phone, reason, expires


def add(
    session: Session,
    tenant: str,
    entry: Mapping[str, Any],
    *,
    actor: str,
    now: dt.datetime,
) -> OutcallDoNotCall:
    """Put a number on the unit's list (or renew its entry); audited."""
    phone, reason, expires = _check(entry, now)
    row = session.exec(
        select(OutcallDoNotCall).where(
            OutcallDoNotCall.tenant_code == tenant, OutcallDoNotCall.phone == phone
        )
    ).first()
    before = None
    if row is None:
        row = OutcallDoNotCall(tenant_code=tenant, phone=phone, reason=reason, created_at=now)
    else:
        before = {"reason": row.reason, "expires_at": str(row.expires_at)}
    row.reason = reason
    row.note = str(entry.get("note") or "")[:200]
    row.expires_at = expires
    row.created_by = actor
    session.add(row)
    session.flush()
    audit.record(
        "outcall.dnc.add",
        target_type="outcall_dnc",
        target_id=row.id,
        tenant=tenant,
        before=before,
        after={"reason": reason, "expires_at": str(expires) if expires else None},
        session=session,
        actor=actor,
    )
    return row


def remove(session: Session, tenant: str, entry_id: int, *, actor: str) -> None:
    row = session.exec(
        select(OutcallDoNotCall).where(
            OutcallDoNotCall.id == entry_id,
            in_scope_clause(OutcallDoNotCall.tenant_code, tenant),
        )
    ).first()
    if row is None:
        raise NotFound(
            f"免打扰记录不存在 / no do-not-call entry {entry_id}",
            details=[{"field": "id", "message": str(entry_id)}],
        )
    audit.record(
        "outcall.dnc.remove",
        target_type="outcall_dnc",
        target_id=row.id,
        tenant=row.tenant_code,
        before={"reason": row.reason},
        after=None,
        session=session,
        actor=actor,
    )
    session.delete(row)
    session.flush()


def entry_json(row: OutcallDoNotCall) -> dict[str, Any]:
    from .masking import mask_phone

    return {
        "id": row.id,
        "tenant": row.tenant_code,
        "phone": mask_phone(row.phone),
        "reason": row.reason,
        "note": row.note,
        "expires_at": row.expires_at,
        "created_by": row.created_by,
        "created_at": row.created_at,
    }
