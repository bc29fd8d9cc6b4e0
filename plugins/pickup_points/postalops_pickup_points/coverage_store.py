"""Coverage over the stored network: load, compute with the pure rules, store, report.

Metrics compute coverage on the fly for the period's last day (points active that day). The
recompute job also writes each area's current coverage and nearest point back to its row, which
the map, the uncovered list and the coverage tables read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import shapely
import sqlalchemy as sa
from postalops.db import in_scope_clause, utcnow
from sqlmodel import Session, select

from .coverage import (
    Area,
    AreaCoverage,
    CoverageFigure,
    Site,
    compute_coverage,
    rollup,
    uncovered_with_nearest,
)
from .models import PickupArea, PickupAssignment
from .network import points_on
from .points import AreaCategory, PointStatus
from .rules_store import rules_for
from .site_suggestion import Candidate, suggest_sites


def county_path(tenant_code: str, county: str) -> str:
    """The path coverage rolls up along: the unit, then the county below it if not the unit."""
    if tenant_code == county or tenant_code.endswith("." + county):
        return tenant_code
    return f"{tenant_code}.{county}"


@dataclass
class Network:
    """A unit's areas and points as the pure rules see them, with the rows behind them."""

    areas: list[Area]
    sites: list[Site]
    assignments: list[tuple[int, int]]
    point_rows: dict[int, Any]


def load_network(session: Session, tenant: str, day: dt.date) -> Network:
    """Areas, points (active on ``day``) and assignments under ``tenant``."""
    area_rows = session.exec(
        select(
            PickupArea.id,
            PickupArea.category,
            PickupArea.lon,
            PickupArea.lat,
            PickupArea.households,
            PickupArea.tenant_code,
            PickupArea.county,
            PickupArea.polygon_wkt,
        ).where(in_scope_clause(PickupArea.tenant_code, tenant))
    ).all()
    areas = [
        Area(
            aid,
            AreaCategory(cat),
            lon,
            lat,
            hh,
            county_path(tc, county),
            shapely.from_wkt(wkt) if wkt else None,
        )
        for aid, cat, lon, lat, hh, tc, county, wkt in area_rows
    ]
    pts = points_on(session, tenant, day)
    sites = [Site(p.id, p.lon, p.lat, state.status is PointStatus.ACTIVE) for p, state in pts]
    assignments = session.exec(
        select(PickupAssignment.area_id, PickupAssignment.point_id).where(
            in_scope_clause(PickupAssignment.tenant_code, tenant)
        )
    ).all()
    return Network(areas, sites, [tuple(a) for a in assignments], {p.id: p for p, _ in pts})


def coverage_on(
    session: Session, tenant: str, day: dt.date
) -> tuple[Network, list[AreaCoverage], dict[tuple[str, AreaCategory], CoverageFigure]]:
    """Coverage of every area under ``tenant`` on ``day``, and its rollup up the tree."""
    rules = rules_for(session, tenant).coverage
    net = load_network(session, tenant, day)
    results = compute_coverage(net.areas, net.sites, net.assignments, rules)
    return net, results, rollup(net.areas, results)


def category_rates(
    figures: dict[tuple[str, AreaCategory], CoverageFigure], tenant: str
) -> dict[AreaCategory, Decimal | None]:
    """Coverage fraction per category at ``tenant`` (None where it has no such areas)."""
    return {c: figures.get((tenant, c), CoverageFigure()).rate for c in AreaCategory}


def recompute_and_store(
    session: Session,
    tenant: str,
    day: dt.date,
    progress: Callable[[int, int, str], None] | None = None,
    batch: int = 2000,
) -> dict[str, Any]:
    """Recompute coverage under ``tenant`` and write it to the area rows in batches.

    Idempotent: a re-run overwrites the same columns with the same values. With ``progress``,
    each batch is committed before progress is reported.
    """
    net, results, figures = coverage_on(session, tenant, day)
    nearest = {
        u.area.id: u.nearest[0]
        for u in uncovered_with_nearest(net.areas, net.sites, results, k=1)
        if u.nearest
    }
    now = utcnow()
    updates = [
        {
            "id": r.area_id,
            "covered": r.covered,
            "covered_reason": r.reason,
            "covered_by": r.site_id,
            "distance_m": r.distance_m,
            "nearest_point": nearest[r.area_id].site_id if r.area_id in nearest else r.site_id,
            "nearest_m": (nearest[r.area_id].distance_m if r.area_id in nearest else r.distance_m),
            "coverage_at": now,
        }
        for r in results
    ]
    total = len(updates)
    # One executemany per batch on the table (the ORM's bulk update by primary key is several
    # times slower); the rows were read through the scoped session and the statement repeats
    # the unit condition, so it cannot touch another unit's rows.
    table = PickupArea.__table__
    stmt = (
        sa.update(table)
        .where(table.c.id == sa.bindparam("b_id"), in_scope_clause(table.c.tenant_code, tenant))
        .values({k: sa.bindparam(f"b_{k}") for k in updates[0] if k != "id"} if updates else {})
    )
    updates = [{f"b_{k}": v for k, v in u.items()} for u in updates]
    for start in range(0, total, batch):
        session.execute(stmt, updates[start : start + batch])
        if progress:
            # Progress is written in its own transaction: release our write lock first (SQLite
            # has one writer). Each batch is final on its own, so a retry just rewrites it.
            session.commit()
            progress(min(start + batch, total), total, f"{min(start + batch, total)}/{total} areas")
    rates = category_rates(figures, tenant)
    return {
        "tenant": tenant,
        "day": day.isoformat(),
        "areas": total,
        "covered": sum(r.covered for r in results),
        "rates": {c.value: (str(v) if v is not None else None) for c, v in rates.items()},
    }


def coverage_table(session: Session, tenant: str, day: dt.date) -> list[dict[str, Any]]:
    """Rows (unit path, category, households covered/total, areas, rate) at and below
    ``tenant``, for the coverage page and its CSV export."""
    _, _, figures = coverage_on(session, tenant, day)
    rows = []
    for (path, category), f in sorted(figures.items(), key=lambda kv: (kv[0][0], kv[0][1].value)):
        if not (path == tenant or path.startswith(tenant + ".")):
            continue
        rows.append(
            {
                "unit": path,
                "category": category.value,
                "covered_households": f.covered_households,
                "total_households": f.total_households,
                "covered_areas": f.covered_areas,
                "total_areas": f.total_areas,
                "rate": str(f.rate) if f.rate is not None else None,
            }
        )
    return rows


def uncovered_list(session: Session, tenant: str, day: dt.date, k: int = 3) -> list[dict]:
    """Uncovered areas under ``tenant`` on ``day``, biggest first, with the nearest points."""
    net, results, _ = coverage_on(session, tenant, day)
    names = dict(
        session.exec(
            select(PickupArea.id, PickupArea.name).where(
                in_scope_clause(PickupArea.tenant_code, tenant)
            )
        ).all()
    )
    out = []
    for u in uncovered_with_nearest(net.areas, net.sites, results, k=k):
        out.append(
            {
                "area_id": u.area.id,
                "name": names.get(u.area.id),
                "category": u.area.category.value,
                "unit": u.area.unit_path,
                "households": u.area.households,
                "lon": u.area.lon,
                "lat": u.area.lat,
                "nearest": [
                    {
                        "point_id": n.site_id,
                        "code": net.point_rows[n.site_id].code,
                        "distance_m": round(n.distance_m, 1),
                    }
                    for n in u.nearest
                ],
            }
        )
    return out


def suggest(
    session: Session, tenant: str, day: dt.date, candidates: list[Candidate], limit: int
) -> list[dict[str, Any]]:
    """Greedy new-site suggestions for the areas uncovered under ``tenant`` on ``day``."""
    rules = rules_for(session, tenant).coverage
    net, results, _ = coverage_on(session, tenant, day)
    uncovered_ids = {r.area_id for r in results if not r.covered}
    uncovered = [a for a in net.areas if a.id in uncovered_ids]
    picked = suggest_sites(uncovered, candidates, limit, rules)
    return [
        {
            "rank": s.rank,
            "candidate": s.candidate_id,
            "new_households": s.new_households,
            "area_ids": list(s.area_ids),
        }
        for s in picked
    ]
