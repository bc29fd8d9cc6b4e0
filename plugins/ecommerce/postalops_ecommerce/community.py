"""Community group-buy setup: leaders (团长) and sessions (团购场次)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from postalops.db import check_in_scope
from postalops.errors import Conflict, NotFound, ValidationError
from postalops.imports import RowErrors
from postalops.models import OrgUnit
from sqlmodel import Session, select

from .models import Campaign, GroupSession, Leader
from .pickup import PointDirectory


def add_leader(
    session: Session,
    *,
    branch: str,
    code: str,
    name: str,
    pickup_point: str,
    points: PointDirectory | None = None,
) -> Leader:
    """A leader of ``branch`` collecting at ``pickup_point``, one of the active points of the
    pickup_points plugin. With ``points`` given, a branch where pickup_points is off is refused
    (409 ``pickup_points_disabled``); without, the point is not checked (demo, fixtures)."""
    check_in_scope(session, branch)
    if session.exec(select(OrgUnit.id).where(OrgUnit.code == branch)).first() is None:
        raise ValidationError("unknown branch", details=[{"field": "branch"}])
    if points is not None:
        points.require(branch)
    if not pickup_point:
        raise ValidationError("pickup_point is required", details=[{"field": "pickup_point"}])
    if points is not None and not points.known(branch, pickup_point):
        raise ValidationError(
            f"pickup point {pickup_point} is not active at {branch}",
            code="unknown_pickup_point",
            details=[{"field": "pickup_point", "message": "unknown point"}],
        )
    if session.exec(select(Leader.id).where(Leader.code == code)).first():
        raise Conflict(f"leader {code} exists", details=[{"field": "code"}])
    leader = Leader(tenant_code=branch, code=code, name=name, pickup_point=pickup_point)
    session.add(leader)
    session.flush()
    return leader


def add_session(
    session: Session,
    *,
    campaign: Campaign,
    leader_code: str,
    code: str,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    skus: list[str],
    min_orders: int | None = None,
) -> GroupSession:
    leader = session.exec(select(Leader).where(Leader.code == leader_code)).first()
    if leader is None:
        raise NotFound("unknown leader", details=[{"field": "leader"}])
    if ends_at <= starts_at:
        raise ValidationError("a session ends after it starts", details=[{"field": "ends_at"}])
    if session.exec(select(GroupSession.id).where(GroupSession.code == code)).first():
        raise Conflict(f"session {code} exists", details=[{"field": "code"}])
    gs = GroupSession(
        tenant_code=leader.tenant_code,
        code=code,
        campaign_id=campaign.id,
        leader_id=leader.id,
        starts_at=starts_at,
        ends_at=ends_at,
        skus=list(skus),
        min_orders=min_orders,
    )
    session.add(gs)
    session.flush()
    return gs


def require_pickup_points(
    session: Session, rows: list[tuple[int, Mapping[str, Any]]], points: PointDirectory
) -> None:
    """Refuse the whole batch (409 ``pickup_points_disabled``) when one of its known, in-scope
    branches has pickup_points off; unknown branches are left to the row errors."""
    branches = {r.get("branch") for _, r in rows if isinstance(r.get("branch"), str)}
    scope = session.info["scope"]
    known = session.exec(select(OrgUnit.code).where(OrgUnit.code.in_(branches))).all()
    for branch in sorted(b for b in known if scope.allows(b)):
        points.require(branch)


def leader_reference_errors(
    session: Session,
    rows: list[tuple[int, Mapping[str, Any]]],
    points: PointDirectory | None,
    errors: RowErrors,
) -> None:
    """Add to ``errors`` each row's unknown or out-of-scope branch and unknown pickup point.
    Rows that failed their shape check are passed too (as read): whatever of them is readable
    is checked, so one answer names both kinds."""
    branches = {r.get("branch") for _, r in rows if isinstance(r.get("branch"), str)}
    known = set(session.exec(select(OrgUnit.code).where(OrgUnit.code.in_(branches))).all())
    scope = session.info["scope"]
    for n, r in sorted(rows, key=lambda item: item[0]):
        branch, point = r.get("branch"), r.get("pickup_point")
        if not isinstance(branch, str):
            continue  # missing or not text: its shape error names it
        if branch not in known or not scope.allows(branch):
            errors.add(n, "branch", "unknown or outside scope")
        elif isinstance(point, str) and point and points and not points.known(branch, point):
            errors.add(n, "pickup_point", "unknown point")


def import_leaders(session: Session, rows: list[dict], points: PointDirectory | None = None) -> int:
    """Batch version of :func:`add_leader` (``branch``, ``code``, ``name``, ``pickup_point``);
    all-or-nothing, every bad row named (rows numbered from 0). Existing codes are skipped.
    Returns how many were new."""
    import sqlalchemy as sa

    have = set(
        session.exec(select(Leader.code).where(Leader.code.in_([r["code"] for r in rows]))).all()
    )
    if points is not None:
        require_pickup_points(session, list(enumerate(rows)), points)
    errors = RowErrors()
    for i, r in enumerate(rows):
        if not r.get("pickup_point"):
            errors.add(i, "pickup_point", "required")
    leader_reference_errors(session, list(enumerate(rows)), points, errors)
    errors.raise_if_any()
    new = [
        {
            "tenant_code": r["branch"],
            "code": r["code"],
            "name": r["name"],
            "pickup_point": r["pickup_point"],
        }
        for r in rows
        if r["code"] not in have
    ]
    if new:
        session.execute(sa.insert(Leader), new)
    return len(new)


def session_reference_errors(
    session: Session, rows: list[tuple[int, Mapping[str, Any]]], errors: RowErrors
) -> None:
    """Add to ``errors`` each row's unknown (or out-of-scope) leader and a session that does not
    end after it starts. Rows that failed their shape check are passed too (as read)."""
    codes = {r.get("leader") for _, r in rows if isinstance(r.get("leader"), str)}
    known = set(session.exec(select(Leader.code).where(Leader.code.in_(codes))).all())
    for n, r in sorted(rows, key=lambda item: item[0]):
        leader, starts, ends = r.get("leader"), r.get("starts_at"), r.get("ends_at")
        if isinstance(leader, str) and leader not in known:
            errors.add(n, "leader", "unknown leader")
        if isinstance(starts, dt.datetime) and isinstance(ends, dt.datetime) and ends <= starts:
            errors.add(n, "ends_at", "not after starts_at")


def import_sessions(session: Session, campaign: Campaign, rows: list[dict]) -> int:
    """Batch version of :func:`add_session` (``code``, ``leader``, ``starts_at``, ``ends_at``,
    ``skus``); all-or-nothing. Existing codes are skipped. Returns how many were new."""
    import sqlalchemy as sa

    leaders = {
        ld.code: ld
        for ld in session.exec(
            select(Leader).where(Leader.code.in_({r["leader"] for r in rows}))
        ).all()
    }
    have = set(
        session.exec(
            select(GroupSession.code).where(GroupSession.code.in_([r["code"] for r in rows]))
        ).all()
    )
    errors = RowErrors()
    session_reference_errors(session, list(enumerate(rows)), errors)
    errors.raise_if_any()
    new = [
        {
            "tenant_code": leaders[r["leader"]].tenant_code,
            "code": r["code"],
            "campaign_id": campaign.id,
            "leader_id": leaders[r["leader"]].id,
            "starts_at": r["starts_at"],
            "ends_at": r["ends_at"],
            "skus": list(r["skus"]),
            "min_orders": r.get("min_orders"),
            "state": "open",
        }
        for r in rows
        if r["code"] not in have
    ]
    if new:
        session.execute(sa.insert(GroupSession), new)
    return len(new)
