"""Dispositions: a unit's own reasons for a call's result (地址不详, 已委托他人领取…), each mapped
onto one of the six fixed outcomes the queue rules use (``call_policy.Outcome``).

An agent records a disposition; the queue sees only its outcome, so retries, callbacks and the
KPIs stay the same whatever words a centre chooses.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from postalops import audit
from postalops.errors import ValidationError
from sqlmodel import Session, select

from . import call_policy as cp
from .models import OutcallDisposition

CODE = re.compile(r"^[a-z0-9_]{1,40}$")

# What a new centre starts with (the demo's and the tests' catalogue).
DEFAULTS: tuple[tuple[str, str, str], ...] = (
    ("agreed_mail", "同意改为邮寄", "accepted"),
    ("collect_self", "本人到窗口领取", "declined"),
    ("delegated", "已委托他人领取", "declined"),
    ("address_unknown", "地址不详，约定再联系", "callback"),
    ("no_answer", "无人接听", "no_answer"),
    ("powered_off", "关机或不在服务区", "no_answer"),
    ("busy", "占线", "busy"),
    ("vacant_number", "空号或非本人", "wrong_number"),
)


def catalogue(
    session: Session, tenant: str, *, only_active: bool = False
) -> list[OutcallDisposition]:
    stmt = select(OutcallDisposition).where(OutcallDisposition.tenant_code == tenant)
    if only_active:
        stmt = stmt.where(OutcallDisposition.active.is_(True))
    return list(
        session.exec(stmt.order_by(OutcallDisposition.outcome, OutcallDisposition.code)).all()
    )


def save(
    session: Session, tenant: str, entries: Iterable[Mapping[str, Any]], *, actor: str
) -> dict[str, int]:
    """Add or update entries by code (all checked first: 422 naming the row, nothing written)."""
    entries = list(entries)
    outcomes = {o.value for o in cp.Outcome}
    problems = []
    for row, e in enumerate(entries):
        if not CODE.match(str(e.get("code") or "")):
            problems.append({"row": row, "field": "code", "message": "a-z, 0-9 and _, 1-40"})
        label = str(e.get("label") or "").strip()
        if not label or len(label) > 100:
            problems.append({"row": row, "field": "label", "message": "1-100 characters"})
        if e.get("outcome") not in outcomes:
            problems.append(
                {"row": row, "field": "outcome", "message": "one of " + "/".join(sorted(outcomes))}
            )
    if problems:
        raise ValidationError(
            "处理结果目录无效 / invalid disposition", code="invalid_disposition", details=problems
        )
    have = {d.code: d for d in catalogue(session, tenant)}
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    for e in entries:
        row = have.get(e["code"])
        new = (str(e["label"]).strip(), e["outcome"], bool(e.get("active", True)))
        if row is None:
            row = OutcallDisposition(tenant_code=tenant, code=e["code"])
            counts["created"] += 1
        elif (row.label, row.outcome, row.active) == new:
            counts["unchanged"] += 1
            continue
        else:
            counts["updated"] += 1
        row.label, row.outcome, row.active = new
        session.add(row)
        have[e["code"]] = row
    session.flush()
    if counts["created"] or counts["updated"]:
        audit.record(
            "outcall.dispositions.save",
            target_type="outcall_disposition",
            target_id=tenant,
            tenant=tenant,
            after=counts,
            session=session,
            actor=actor,
        )
    return counts


def ensure_defaults(session: Session, tenant: str, *, actor: str = "system") -> None:
    """Give a unit without a catalogue the default one (idempotent)."""
    if not catalogue(session, tenant):
        save(
            session,
            tenant,
            [{"code": c, "label": lbl, "outcome": o} for c, lbl, o in DEFAULTS],
            actor=actor,
        )


def resolve(
    session: Session, tenant: str, code: str | None, outcome: str | None
) -> tuple[str | None, str]:
    """The (disposition, outcome) to record: a disposition gives its outcome; an outcome given
    too must match it (422 otherwise)."""
    if not code:
        if not outcome:
            raise ValidationError(
                "请选择外呼结果 / choose the outcome or a disposition",
                code="invalid_outcome",
                details=[{"field": "outcome", "message": "required"}],
            )
        return None, outcome
    row = session.exec(
        select(OutcallDisposition).where(
            OutcallDisposition.tenant_code == tenant,
            OutcallDisposition.code == code,
            OutcallDisposition.active.is_(True),
        )
    ).first()
    if row is None:
        raise ValidationError(
            "未知处理结果 / unknown disposition",
            code="invalid_disposition",
            details=[{"field": "disposition", "message": f"not in the unit's catalogue: {code}"}],
        )
    if outcome and outcome != row.outcome:
        raise ValidationError(
            "处理结果与外呼结果不符 / the disposition maps to another outcome",
            code="invalid_disposition",
            details=[
                {"field": "disposition", "message": f"{code} is {row.outcome}, not {outcome}"}
            ],
        )
    return row.code, row.outcome


def entry_json(row: OutcallDisposition) -> dict[str, Any]:
    return {"code": row.code, "label": row.label, "outcome": row.outcome, "active": row.active}
