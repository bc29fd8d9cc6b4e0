"""Siting scenarios in the database: load a unit's network, run LSCP / MCLP / greedy /
capacity on it (``siting``), keep the result, and accept chosen sites as planned points.

A scenario is keyed by ``code`` (the job id that ran it, or ``demo-…``): running the same code
again overwrites its result, so a retried job never adds a second scenario.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Literal

from postalops import audit, clock
from postalops.db import in_scope_clause, utcnow
from postalops.errors import Conflict, NotFound, ValidationError
from pydantic import BaseModel, Field
from sqlmodel import Session, select

from . import siting
from .coverage import CoverageRules, compute_coverage
from .coverage_store import load_network
from .models import (
    PickupArea,
    PickupPlannedSite,
    PickupPoint,
    PickupSitingScenario,
    PickupStatusChange,
)
from .points import AreaCategory, PointStatus, PointType
from .rules_store import rules_for
from .site_suggestion import Candidate, reach


class CandidateIn(BaseModel):
    """A location where a point could open."""

    id: str = Field(min_length=1, max_length=64)
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    name: str | None = Field(default=None, max_length=200)


class SitingParams(BaseModel):
    """A scenario: what a planner passes when starting ``pickup_points.siting``."""

    name: str = Field(default="", max_length=200, description="the scenario's name")
    k: int = Field(default=5, ge=1, le=1000, description="sites MCLP and the greedy may open")
    existing: Literal["keep", "ignore"] = Field(
        default="keep",
        description="keep: today's active points stay and only uncovered areas need a site; "
        "ignore: plan the network from scratch",
    )
    candidates: list[CandidateIn] | None = Field(
        default=None,
        max_length=5000,
        description="candidate sites; default: the areas to cover (and, with existing=ignore, "
        "today's points) as candidates",
    )
    radius_urban_community_m: float | None = Field(default=None, ge=0, le=100_000)
    radius_village_m: float | None = Field(default=None, ge=0, le=100_000)
    radius_mailroom_m: float | None = Field(default=None, ge=0, le=100_000)
    time_limit_s: int = Field(default=60, ge=1, le=600, description="solver time limit per model")
    items_per_household: Decimal = Field(
        default=Decimal("0.03"), ge=0, le=10, description="daily items per household"
    )
    new_site_capacity: int = Field(default=500, ge=1, le=1_000_000, description="items a day")
    day: dt.date | None = Field(default=None, description="the network as on this day")


def scenario_rules(session: Session, tenant: str, params: SitingParams) -> CoverageRules:
    """The unit's coverage radii, with the scenario's overrides."""
    radii = dict(rules_for(session, tenant).coverage.radius_m)
    for cat, value in (
        (AreaCategory.URBAN_COMMUNITY, params.radius_urban_community_m),
        (AreaCategory.VILLAGE, params.radius_village_m),
        (AreaCategory.MAILROOM, params.radius_mailroom_m),
    ):
        if value is not None:
            radii[cat] = float(value)
    return CoverageRules(radii)


def run_scenario(
    session: Session,
    tenant: str,
    params: SitingParams,
    code: str,
    started_by: str | None,
    progress: Callable[[int, int, str], None] | None = None,
) -> PickupSitingScenario:
    """Run (or re-run) scenario ``code`` at ``tenant`` and store its result."""
    progress = progress or (lambda *a: None)
    day = params.day or clock.today()
    row = session.exec(
        select(PickupSitingScenario).where(
            PickupSitingScenario.tenant_code == tenant, PickupSitingScenario.code == code
        )
    ).first()
    if row is None:
        row = PickupSitingScenario(tenant_code=tenant, code=code, name="")
    row.name = params.name or code
    row.params = params.model_dump(mode="json")
    row.status, row.result, row.finished_at, row.started_by = "running", None, None, started_by
    session.add(row)
    session.commit()

    rules = scenario_rules(session, tenant, params)
    progress(0, 5, "loading network")
    net = load_network(session, tenant, day)
    names = dict(
        session.exec(
            select(PickupArea.id, PickupArea.name).where(
                in_scope_clause(PickupArea.tenant_code, tenant)
            )
        ).all()
    )
    if params.existing == "keep":
        today = compute_coverage(net.areas, net.sites, net.assignments, rules)
        uncovered = {r.area_id for r in today if not r.covered}
        demand = [a for a in net.areas if a.id in uncovered]
    else:
        demand = list(net.areas)

    if params.candidates is not None:
        info = {c.id: (c.name or c.id, c.lon, c.lat) for c in params.candidates}
        candidates = [Candidate(c.id, c.lon, c.lat) for c in params.candidates]
    else:
        info = {f"A{a.id}": (names.get(a.id) or str(a.id), a.lon, a.lat) for a in demand}
        if params.existing == "ignore":
            for s in net.sites:
                if s.active:
                    p = net.point_rows[s.id]
                    info[f"P{s.id}"] = (f"{p.code} {p.name}", s.lon, s.lat)
        candidates = [Candidate(cid, lon, lat) for cid, (_, lon, lat) in info.items()]

    progress(1, 5, "LSCP")
    lscp = siting.solve_lscp(demand, candidates, rules, params.time_limit_s)
    progress(2, 5, "MCLP")
    mclp = siting.solve_mclp(demand, candidates, params.k, rules, params.time_limit_s)
    progress(3, 5, "greedy")
    greedy_k = siting.greedy(demand, candidates, params.k, rules)
    greedy_full = siting.greedy(demand, candidates, None, rules)

    progress(4, 5, "capacity")
    cap_sites: list[siting.CapacitySite] = []
    site_names: dict[str, str] = {}
    if params.existing == "keep":
        for s in net.sites:
            if s.active:
                p = net.point_rows[s.id]
                key = f"P{s.id}"
                cap_sites.append(siting.CapacitySite(key, s.lon, s.lat, p.capacity))
                site_names[key] = f"{p.code} {p.name}"
    for cid in lscp.sites:
        name, lon, lat = info[cid]
        key = f"new:{cid}"
        cap_sites.append(siting.CapacitySite(key, lon, lat, params.new_site_capacity))
        site_names[key] = name
    assignment = siting.assign_with_capacity(
        net.areas, cap_sites, params.items_per_household, rules
    )

    chosen = set(lscp.sites) | set(mclp.sites) | set(greedy_k.sites)
    index = {c.id: i for i, c in enumerate(candidates)}
    reach_sets = reach(demand, [candidates[index[c]] for c in sorted(chosen)], rules)
    reached = {
        c: sum(demand[ai].households for ai in s)
        for c, s in zip(sorted(chosen), reach_sets, strict=True)
    }
    row.result = {
        "day": day.isoformat(),
        "areas_to_cover": len(demand),
        "candidates": len(candidates),
        "sites": {
            c: {
                "name": info[c][0],
                "lon": info[c][1],
                "lat": info[c][2],
                "households": reached[c],
                "lscp": c in lscp.sites,
                "mclp": c in mclp.sites,
                "greedy": c in greedy_k.sites,
            }
            for c in sorted(chosen)
        },
        "lscp": lscp.as_dict(),
        "mclp": mclp.as_dict(),
        "greedy": greedy_k.as_dict(),
        "greedy_full": greedy_full.as_dict(),
        "capacity": {
            "demand_items": sum(assignment.demand.values()),
            "unserved_items": sum(assignment.unserved.values()),
            "sites": [
                dict(load.as_dict(), name=site_names.get(str(load.site_id), str(load.site_id)))
                for load in assignment.sites
            ],
        },
    }
    row.status, row.finished_at = "done", utcnow()
    session.add(row)
    session.commit()
    progress(5, 5, "done")
    return row


def mark_failed(session: Session, tenant: str, code: str, message: str) -> None:
    row = session.exec(
        select(PickupSitingScenario).where(
            PickupSitingScenario.tenant_code == tenant, PickupSitingScenario.code == code
        )
    ).first()
    if row is not None:
        row.status, row.finished_at = "failed", utcnow()
        row.result = {"error": message[:500]}
        session.add(row)
        session.commit()


def get_scenario(session: Session, scenario_id: int) -> PickupSitingScenario:
    """A scenario in the caller's scope (404 otherwise)."""
    row = session.get(PickupSitingScenario, scenario_id)
    if row is None:
        raise NotFound("no such siting scenario", code="scenario_not_found")
    return row


def planned_sites(session: Session, scenario_id: int) -> list[PickupPlannedSite]:
    return list(
        session.exec(
            select(PickupPlannedSite)
            .where(PickupPlannedSite.scenario_id == scenario_id)
            .order_by(PickupPlannedSite.candidate_id)
        ).all()
    )


def accept_sites(
    session: Session, scenario: PickupSitingScenario, candidate_ids: list[str], actor: str | None
) -> list[PickupPlannedSite]:
    """Record chosen sites of a finished scenario as planned points (audited); a site already
    accepted is left as it is. Unknown ids are refused, naming each; nothing is written then."""
    if scenario.status != "done" or not scenario.result:
        raise ValidationError(
            "the scenario has no result yet",
            code="scenario_not_done",
            details=[{"field": "scenario", "message": f"status {scenario.status}"}],
        )
    sites = scenario.result.get("sites", {})
    if not candidate_ids:
        raise ValidationError(
            "choose at least one site",
            code="no_sites",
            details=[{"field": "sites", "message": "required"}],
        )
    bad = [
        {"field": f"sites[{i}]", "message": f"{c!r} is not a site of this scenario"}
        for i, c in enumerate(candidate_ids)
        if c not in sites
    ]
    if bad:
        raise ValidationError("unknown sites", code="unknown_site", details=bad)
    done = {p.candidate_id for p in planned_sites(session, scenario.id)}
    added = []
    for cid in dict.fromkeys(candidate_ids):
        if cid in done:
            continue
        s = sites[cid]
        row = PickupPlannedSite(
            tenant_code=scenario.tenant_code,
            scenario_id=scenario.id,
            candidate_id=cid,
            name=str(s["name"])[:200],
            lon=float(s["lon"]),
            lat=float(s["lat"]),
            households=int(s["households"]),
            accepted_by=actor,
        )
        session.add(row)
        added.append(row)
    if added:
        audit.record(
            "pickup_points.siting.accept",
            target_type="pickup_points.siting_scenario",
            target_id=scenario.id,
            tenant=scenario.tenant_code,
            before={"planned": sorted(done)},
            after={"planned": sorted(done | {r.candidate_id for r in added})},
            session=session,
            actor=actor,
        )
    session.commit()
    return added


# --- planned sites promoted to points ---------------------------------------------------------
# Coverage decision: a promoted site becomes a point with status ``planned`` (筹建). Like a
# suspended or closed point it covers nobody: coverage, the uncovered list and the KPIs count
# active points only, so a plan never shows as service. It counts once a planner opens it
# (status ``active``, POST /points/<id>/status), from that date on.


class PromoteIn(BaseModel):
    """What a planner fills in to turn a planned site into a pickup point."""

    name: str = Field(min_length=1, max_length=200, description="the point's name")
    point_type: PointType = Field(description="own, partner_shop, smart_locker, ...")
    operator: str | None = Field(default=None, max_length=200, description="who runs it")
    capacity: int = Field(ge=0, le=1_000_000, description="daily capacity (items a day)")
    code: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="the point's code; default S<scenario id>-<candidate id>",
    )
    county: str | None = Field(
        default=None,
        min_length=1,
        max_length=60,
        description="the unit's own code segment (default) or a unit directly below it",
    )


def planned_site_out(site: PickupPlannedSite, point: PickupPoint | None) -> dict[str, Any]:
    """A planned site as the API lists it, with the point it was promoted to (or None)."""
    return {
        "id": site.id,
        "scenario_id": site.scenario_id,
        "candidate_id": site.candidate_id,
        "name": site.name,
        "tenant": site.tenant_code,
        "lon": site.lon,
        "lat": site.lat,
        "households": site.households,
        "accepted_by": site.accepted_by,
        "accepted_at": site.accepted_at.isoformat() if site.accepted_at else None,
        "point": (
            {"id": point.id, "code": point.code, "status": point.status}
            if point is not None
            else None
        ),
        "promoted_by": site.promoted_by,
        "promoted_at": site.promoted_at.isoformat() if site.promoted_at else None,
    }


def planned_sites_stmt(tenant: str, scenario_id: int | None = None) -> Any:
    """Planned sites under ``tenant`` (optionally one scenario's) with their points."""
    stmt = (
        select(PickupPlannedSite, PickupPoint)
        .join(PickupPoint, PickupPoint.id == PickupPlannedSite.point_id, isouter=True)
        .where(in_scope_clause(PickupPlannedSite.tenant_code, tenant))
        .order_by(PickupPlannedSite.scenario_id.desc(), PickupPlannedSite.candidate_id)
    )
    if scenario_id is not None:
        stmt = stmt.where(PickupPlannedSite.scenario_id == scenario_id)
    return stmt


def get_planned_site(session: Session, site_id: int) -> PickupPlannedSite:
    """A planned site in the caller's scope (404 otherwise)."""
    site = session.get(PickupPlannedSite, site_id)
    if site is None:
        raise NotFound(
            f"no planned site {site_id}",
            code="planned_site_not_found",
            details=[{"field": "site", "message": "not found"}],
        )
    return site


def promote_site(
    session: Session, site_id: int, body: PromoteIn, actor: str | None, today: dt.date
) -> PickupPoint:
    """Create a pickup point with status ``planned`` at a planned site's location, in the
    site's unit, and link the site to it (audited as ``pickup_points.siting.promote``).

    A site already promoted: 409 ``already_promoted`` naming the site and its point. A code
    already used in the unit or a county that is neither the unit nor a unit directly below it:
    422 naming each field; nothing is written. The caller commits."""
    from .network import allowed_counties

    site = get_planned_site(session, site_id)
    # Lock the site (PostgreSQL), so two planners promoting it at once make one point.
    session.exec(
        select(PickupPlannedSite.id).where(PickupPlannedSite.id == site.id).with_for_update()
    ).first()
    session.refresh(site)
    if site.point_id is not None:
        point = session.get(PickupPoint, site.point_id)
        code = point.code if point is not None else str(site.point_id)
        raise Conflict(
            f"planned site {site.name} ({site.candidate_id}) is already promoted to point {code}",
            code="already_promoted",
            details=[{"field": "site", "message": f"{site.candidate_id}: already point {code}"}],
        )
    tenant = site.tenant_code
    code = body.code or f"S{site.scenario_id}-{site.candidate_id}"[:64]
    county = body.county or tenant.rsplit(".", 1)[-1]
    errors = []
    taken = session.exec(
        select(PickupPoint.id).where(PickupPoint.tenant_code == tenant, PickupPoint.code == code)
    ).first()
    if taken is not None:
        errors.append({"field": "code", "message": f"{code!r} is already a point of {tenant}"})
    if county not in allowed_counties(session, tenant):
        errors.append(
            {"field": "county", "message": f"{county!r}: neither {tenant} nor a unit below it"}
        )
    if errors:
        raise ValidationError("cannot promote the site", code="invalid_promotion", details=errors)
    point = PickupPoint(
        tenant_code=tenant,
        code=code,
        name=body.name,
        point_type=body.point_type.value,
        status=PointStatus.PLANNED.value,
        county=county,
        lon=site.lon,
        lat=site.lat,
        operator=body.operator or None,
        capacity=body.capacity,
        opened_on=today,
    )
    session.add(point)
    session.flush()
    session.add(
        PickupStatusChange(
            tenant_code=tenant,
            point_id=point.id,
            effective=today,
            status=PointStatus.PLANNED.value,
            point_type=point.point_type,
            changed_by=actor,
        )
    )
    site.point_id, site.promoted_by, site.promoted_at = point.id, actor, utcnow()
    session.add(site)
    audit.record(
        "pickup_points.siting.promote",
        target_type="pickup_points.planned_site",
        target_id=site.id,
        tenant=tenant,
        before={"point": None},
        after={"point": code, "status": PointStatus.PLANNED.value},
        session=session,
        actor=actor,
    )
    session.flush()
    return point


def scenario_summary(row: PickupSitingScenario) -> dict[str, Any]:
    """The scenario as the API returns it."""
    return {
        "id": row.id,
        "code": row.code,
        "name": row.name,
        "tenant": row.tenant_code,
        "status": row.status,
        "params": row.params,
        "result": row.result,
        "started_by": row.started_by,
        "created_at": row.created_at.isoformat() if row.created_at else None,
        "finished_at": row.finished_at.isoformat() if row.finished_at else None,
    }


# --- figures for the metrics hook ----------------------------------------------------------


def capacity_figures(
    session: Session, tenant: str, date_from: dt.date, date_to: dt.date
) -> tuple[int, int, int]:
    """(inbound items, capacity offered, points over capacity) over the daily volumes of points
    with a stated capacity in ``[from, to]``: each volume row offers its point's capacity once;
    a point is over capacity when its inbound exceeded the capacity on at least one day."""
    import sqlalchemy as sa

    from .models import PickupDailyVolume, PickupPoint

    where = (
        in_scope_clause(PickupDailyVolume.tenant_code, tenant),
        PickupPoint.capacity.is_not(None),
        PickupDailyVolume.day >= date_from,
        PickupDailyVolume.day <= date_to,
    )
    joined = (PickupPoint, PickupPoint.id == PickupDailyVolume.point_id)
    items, offered = session.exec(
        select(
            sa.func.coalesce(sa.func.sum(PickupDailyVolume.inbound_items), 0),
            sa.func.coalesce(sa.func.sum(PickupPoint.capacity), 0),
        )
        .select_from(PickupDailyVolume)
        .join(*joined)
        .where(*where)
    ).one()
    over = session.exec(
        select(sa.func.count(sa.distinct(PickupDailyVolume.point_id)))
        .select_from(PickupDailyVolume)
        .join(*joined)
        .where(*where, PickupDailyVolume.inbound_items > PickupPoint.capacity)
    ).one()
    return int(items), int(offered), int(over)


def _local_end(day: dt.date) -> dt.datetime:
    """The first instant after ``day`` ends in Asia/Shanghai, in UTC."""
    from zoneinfo import ZoneInfo

    nxt = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), ZoneInfo("Asia/Shanghai"))
    return nxt.astimezone(dt.UTC)


def planned_count(session: Session, tenant: str, date_to: dt.date) -> int:
    """Planned sites accepted under ``tenant`` on or before ``to`` (local date)."""
    import sqlalchemy as sa

    return int(
        session.exec(
            select(sa.func.count(PickupPlannedSite.id)).where(
                in_scope_clause(PickupPlannedSite.tenant_code, tenant),
                PickupPlannedSite.accepted_at < _local_end(date_to),
            )
        ).one()
    )


def latest_done(session: Session, tenant: str, date_to: dt.date) -> PickupSitingScenario | None:
    """The scenario under ``tenant`` finished last on or before ``to`` (local date)."""
    return session.exec(
        select(PickupSitingScenario)
        .where(
            in_scope_clause(PickupSitingScenario.tenant_code, tenant),
            PickupSitingScenario.status == "done",
            PickupSitingScenario.finished_at < _local_end(date_to),
        )
        .order_by(PickupSitingScenario.finished_at.desc(), PickupSitingScenario.id.desc())
    ).first()


def siting_comparison(session: Session, tenant: str, date_to: dt.date) -> list[dict[str, Any]]:
    """Per unit at or below ``tenant``, its latest scenario finished on or before ``to`` (local
    date; the rule of the ``siting_*`` KPIs): LSCP's sites for full coverage beside the greedy's
    until full, and MCLP's coverage with K sites beside the greedy's with the same K. Sorted by
    unit code; units without a finished scenario are left out."""
    latest: dict[str, int] = {}
    for sid, unit in session.exec(
        select(PickupSitingScenario.id, PickupSitingScenario.tenant_code)
        .where(
            in_scope_clause(PickupSitingScenario.tenant_code, tenant),
            PickupSitingScenario.status == "done",
            PickupSitingScenario.finished_at < _local_end(date_to),
        )
        .order_by(PickupSitingScenario.finished_at.desc(), PickupSitingScenario.id.desc())
    ).all():
        latest.setdefault(unit, sid)
    if not latest:
        return []
    rows = session.exec(
        select(PickupSitingScenario).where(
            PickupSitingScenario.id.in_(list(latest.values()))  # type: ignore[attr-defined]
        )
    ).all()
    out = []
    for row in sorted(rows, key=lambda r: r.tenant_code):
        res = row.result or {}
        lscp, full = res.get("lscp") or {}, res.get("greedy_full") or {}
        mclp, greedy_k = res.get("mclp") or {}, res.get("greedy") or {}
        out.append(
            {
                "unit": row.tenant_code,
                "scenario": row.name,
                "scenario_id": row.id,
                "k": (row.params or {}).get("k"),
                "lscp_sites": lscp.get("site_count"),
                "lscp_status": lscp.get("status"),
                "greedy_full_sites": full.get("site_count"),
                "mclp_coverage": mclp.get("coverage"),
                "greedy_coverage": greedy_k.get("coverage"),
                "mclp_households": mclp.get("covered_households"),
                "greedy_households": greedy_k.get("covered_households"),
                "total_households": mclp.get("total_households"),
            }
        )
    return out
