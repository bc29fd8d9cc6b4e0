"""Campaigns and their plan targets: create, set (a new version), distribute to children."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from postalops import audit, context
from postalops.db import check_in_scope, utcnow
from postalops.errors import Conflict, NotFound, ValidationError
from postalops.models import OrgUnit
from postalops.tenancy import Scope
from sqlmodel import Session, select

from . import board_cache
from .groupbuy import GroupBuyRules
from .models import Campaign, Target
from .targets import (
    MONEY_KINDS,
    TargetVersion,
    check_distribution,
    check_within_parent,
    parse_target_value,
)
from .targets import target_in_force as _in_force


def create_campaign(
    session: Session,
    *,
    owner_code: str,
    code: str,
    name: str,
    starts_on: dt.date,
    ends_on: dt.date,
    min_session_orders: int = 10,
    ten_thousand_threshold: int = 10_000,
) -> Campaign:
    """Create a campaign owned by ``owner_code`` (in the caller's scope). The caller commits."""
    check_in_scope(session, owner_code)
    GroupBuyRules(min_session_orders, ten_thousand_threshold)  # validates the thresholds
    if ends_on < starts_on:
        raise ValidationError(
            "a campaign cannot end before it starts",
            code="period_invalid",
            details=[{"field": "ends_on", "message": "before starts_on"}],
        )
    if session.exec(
        select(Campaign).where(Campaign.owner_code == owner_code, Campaign.code == code)
    ).first():
        raise Conflict(
            f"campaign {code} already exists at {owner_code}",
            details=[{"field": "code", "message": "already exists"}],
        )
    campaign = Campaign(
        owner_code=owner_code,
        code=code,
        name=name,
        starts_on=starts_on,
        ends_on=ends_on,
        min_session_orders=min_session_orders,
        ten_thousand_threshold=ten_thousand_threshold,
    )
    session.add(campaign)
    session.flush()
    board_cache.bump(session, "campaign")
    audit.record(
        "ecommerce.campaign.create",
        target_type="campaign",
        target_id=campaign.id,
        tenant=owner_code,
        after=campaign.model_dump(exclude={"created_at"}),
        session=session,
    )
    return campaign


def get_campaign(session: Session, campaign_id: int) -> Campaign:
    """A campaign the caller may see: owned at, above or below the caller's scope."""
    campaign = session.get(Campaign, campaign_id)
    scope = session.info["scope"]
    if campaign is None or not (
        scope.system
        or scope.allows(campaign.owner_code)
        or (scope.code or "").startswith(campaign.owner_code + ".")
    ):
        raise NotFound(f"no campaign {campaign_id}", details=[{"field": "campaign_id"}])
    return campaign


def _versions(session: Session, campaign_id: int, kind: str, unit_code: str) -> list[TargetVersion]:
    rows = session.exec(
        select(Target).where(
            Target.campaign_id == campaign_id, Target.kind == kind, Target.tenant_code == unit_code
        )
    ).all()
    return [
        TargetVersion(r.tenant_code, r.kind, r.value, r.effective_from, r.id or 0) for r in rows
    ]


def target_in_force(
    session: Session, campaign_id: int, kind: str, unit_code: str, as_of: dt.datetime
):
    value = _in_force(_versions(session, campaign_id, kind, unit_code), as_of)
    if value is not None and kind not in MONEY_KINDS:
        value = int(value)
    return value


def _unit_exists(session: Session, code: str) -> bool:
    return session.exec(select(OrgUnit.id).where(OrgUnit.code == code)).first() is not None


def _covered(campaign: Campaign, unit_code: str) -> bool:
    return unit_code == campaign.owner_code or unit_code.startswith(campaign.owner_code + ".")


def set_target(
    session: Session,
    campaign: Campaign,
    *,
    unit_code: str,
    kind: str,
    value: object,
    effective_from: dt.datetime | None = None,
    check_tree: bool = True,
) -> Target:
    """Record a new version of a unit's target (the old one stays in the history).

    As of ``effective_from``, the unit's and its siblings' targets may not add up to more than
    their parent's, nor the unit's children's to more than the unit's (the same sum rule as
    :func:`distribute`, which checks its shares as a whole and passes ``check_tree=False``).
    """
    parsed = parse_target_value(kind, value)
    check_in_scope(session, unit_code)
    if not _covered(campaign, unit_code) or not _unit_exists(session, unit_code):
        raise ValidationError(
            f"unit {unit_code} is not in campaign {campaign.code}'s tree",
            details=[{"field": "unit", "message": "not covered"}],
        )
    effective_from = effective_from or utcnow()
    if check_tree:
        _check_tree(session, campaign, kind, unit_code, parsed, effective_from)
    before = target_in_force(session, campaign.id, kind, unit_code, effective_from)
    row = Target(
        tenant_code=unit_code,
        campaign_id=campaign.id,
        kind=kind,
        value=parsed,
        effective_from=effective_from,
        set_by=_actor(),
    )
    session.add(row)
    session.flush()
    board_cache.bump(session, "target")
    audit.record(
        "ecommerce.target.set",
        target_type="target",
        target_id=f"{campaign.id}:{unit_code}:{kind}",
        tenant=unit_code,
        before={"value": before},
        after={"value": parsed, "effective_from": effective_from},
        session=session,
    )
    return row


def _children_in_force(
    session: Session, campaign_id: int, kind: str, parent_code: str, as_of: dt.datetime
) -> dict[str, object]:
    """Targets in force at ``as_of`` of the direct children of ``parent_code``."""
    codes = session.exec(
        select(Target.tenant_code)
        .where(
            Target.campaign_id == campaign_id,
            Target.kind == kind,
            Target.tenant_code.startswith(parent_code + "."),
        )
        .distinct()
    ).all()
    out = {}
    for code in codes:
        if code.rsplit(".", 1)[0] != parent_code:
            continue
        value = target_in_force(session, campaign_id, kind, code, as_of)
        if value is not None:
            out[code] = value
    return out


@contextmanager
def _reading(session: Session, unit_code: str) -> Iterator[Session]:
    """A session that sees the targets of ``unit_code`` and its children.

    The caller's own session when the unit is in its scope (its uncommitted versions count);
    otherwise a read-only system view: a city planner's scope holds neither its province's
    target nor the other cities', yet together they bound what the city may take. Only those
    targets are read through it, and nothing is written.
    """
    scope = session.info.get("scope")
    ctx = context.current_or_none()
    if scope is None or scope.system or scope.allows(unit_code) or ctx is None:
        yield session
        return
    reader = ctx.db.session(Scope.system_scope())
    try:
        yield reader
    finally:
        reader.rollback()
        reader.close()


def _check_tree(
    session: Session,
    campaign: Campaign,
    kind: str,
    unit_code: str,
    value: object,
    as_of: dt.datetime,
) -> None:
    """Refuse ``value`` for ``unit_code`` if it and its siblings would exceed their parent's
    target, or if the unit's children already hold more than ``value``."""
    if "." in unit_code and unit_code != campaign.owner_code:
        parent_code = unit_code.rsplit(".", 1)[0]
        with _reading(session, parent_code) as reader:
            parent = target_in_force(reader, campaign.id, kind, parent_code, as_of)
            siblings = (
                _children_in_force(reader, campaign.id, kind, parent_code, as_of)
                if parent is not None
                else {}
            )
        if parent is not None:
            siblings[unit_code] = value
            check_within_parent(kind, parent_code, parent, siblings, code="exceeds_parent_target")
    children = _children_in_force(session, campaign.id, kind, unit_code, as_of)
    if children:
        check_within_parent(kind, unit_code, value, children, code="below_children_targets")


def distribute(
    session: Session,
    campaign: Campaign,
    *,
    parent_code: str,
    kind: str,
    shares: Mapping[str, object],
    effective_from: dt.datetime | None = None,
) -> list[Target]:
    """Hand a parent's target down to its direct children; refused unless the shares add up
    exactly to the parent's target in force."""
    effective_from = effective_from or utcnow()
    parent = target_in_force(session, campaign.id, kind, parent_code, effective_from)
    if parent is None:
        raise ValidationError(
            f"{parent_code} has no {kind} target to distribute",
            code="no_parent_target",
            details=[{"field": "parent", "message": "no target in force"}],
        )
    parsed, errors = {}, []
    for child, raw in shares.items():
        if child.rsplit(".", 1)[0] != parent_code or not _unit_exists(session, child):
            errors.append(
                {"field": f"children.{child}", "message": f"not a child of {parent_code}"}
            )
            continue
        try:
            parsed[child] = parse_target_value(kind, raw, field=f"children.{child}")
        except ValidationError as exc:
            errors.extend(exc.details)
    if errors:
        raise ValidationError("invalid distribution", details=errors)
    check_distribution(kind, parent, parsed)
    # The shares are the whole plan: a child left out keeps its target, and would overflow it.
    whole = _children_in_force(session, campaign.id, kind, parent_code, effective_from)
    whole.update(parsed)
    check_within_parent(kind, parent_code, parent, whole, code="exceeds_parent_target")
    for child, value in parsed.items():
        below = _children_in_force(session, campaign.id, kind, child, effective_from)
        if below:
            check_within_parent(kind, child, value, below, code="below_children_targets")
    return [
        set_target(
            session,
            campaign,
            unit_code=child,
            kind=kind,
            value=value,
            effective_from=effective_from,
            check_tree=False,  # the shares were checked as a whole above
        )
        for child, value in parsed.items()
    ]


def history(session: Session, campaign_id: int, unit_code: str | None = None) -> list[Target]:
    stmt = select(Target).where(Target.campaign_id == campaign_id)
    if unit_code:
        stmt = stmt.where(Target.tenant_code == unit_code)
    return list(
        session.exec(
            stmt.order_by(Target.tenant_code, Target.kind, Target.effective_from, Target.id)
        ).all()
    )


def _actor() -> str:
    ctx = context.current_or_none()
    return ctx.principal.name if ctx else "system"
