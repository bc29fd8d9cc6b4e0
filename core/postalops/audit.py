"""The audit log: every state change that matters records who, when, what, before and after.

Call :func:`record` inside the same transaction as the change, so both commit or neither does.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

from sqlmodel import Session

from . import context
from .models import AuditRecord

__all__ = [
    "record",
]


def _plain(value: Any) -> Any:
    """JSON-safe copy: Decimal -> str, datetimes/dates -> ISO strings."""
    return json.loads(json.dumps(value, default=_default)) if value is not None else None


def _default(obj: Any) -> Any:
    if isinstance(obj, Decimal):
        return str(obj)
    if isinstance(obj, dt.datetime | dt.date):
        return obj.isoformat()
    if hasattr(obj, "model_dump"):
        return obj.model_dump()
    raise TypeError(f"not JSON-serialisable: {type(obj).__name__}")


def record(
    action: str,
    *,
    target_type: str,
    target_id: Any,
    tenant: str | None = None,
    before: Any = None,
    after: Any = None,
    session: Session | None = None,
    actor: str | None = None,
) -> AuditRecord:
    """Add an audit record for ``action`` (e.g. ``"payroll.rate_card.publish"``).

    ``tenant`` defaults to the caller's active unit; ``actor`` to the caller's name.
    """
    ctx = context.current_or_none()
    session = session or (ctx.session if ctx else None)
    if session is None:
        raise RuntimeError("audit.record needs a session or an active call context")
    rec = AuditRecord(
        tenant_code=tenant or (ctx.unit if ctx and ctx.unit else "cn"),
        actor=actor or (ctx.principal.name if ctx else "system"),
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        before=_as_object(before),
        after=_as_object(after),
    )
    session.add(rec)
    return rec


def _as_object(value: Any) -> Any:
    """A record's before/after is a JSON object or null (the API's schema); anything else (a
    list of rules, a number) is kept under ``items``."""
    plain = _plain(value)
    return plain if plain is None or isinstance(plain, dict) else {"items": plain}
