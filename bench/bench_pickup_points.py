"""Benchmark: recompute pickup-point coverage for a province (issue 7).

50,000 service areas and 20,000 pickup points spread over Henan's extent, urban ones clustered
around the 18 city centres. Measures ``compute_coverage`` (STRtree candidates + geodesic decision)
and, in the same run on the same data, the all-pairs brute force
``compute_coverage_brute_force``; checks both give identical results. Target: under 10 s and at
least 20x faster than brute force.

    .venv/bin/python bench/bench_pickup_points.py [--areas 50000] [--points 20000] [--json] [--db]

With ``--db`` it also times the end-to-end recompute the job runs (load the rows from a fresh
SQLite database, compute, write every area's coverage back in batches) on the same data.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
from postalops_pickup_points.coverage import (
    Area,
    Site,
    compute_coverage,
    compute_coverage_brute_force,
    rollup,
)
from postalops_pickup_points.points import AreaCategory

# Henan's 18 city seats (approximate lon, lat).
CITY_CENTRES = [
    ("zhengzhou", 113.625, 34.746),
    ("kaifeng", 114.307, 34.797),
    ("luoyang", 112.454, 34.620),
    ("pingdingshan", 113.192, 33.766),
    ("anyang", 114.392, 36.098),
    ("hebi", 114.297, 35.748),
    ("xinxiang", 113.927, 35.303),
    ("jiaozuo", 113.242, 35.216),
    ("puyang", 115.029, 35.762),
    ("xuchang", 113.852, 34.036),
    ("luohe", 114.017, 33.582),
    ("sanmenxia", 111.200, 34.773),
    ("nanyang", 112.528, 32.991),
    ("shangqiu", 115.656, 34.414),
    ("xinyang", 114.091, 32.147),
    ("zhoukou", 114.697, 33.626),
    ("zhumadian", 114.022, 32.980),
    ("jiyuan", 112.602, 35.067),
]
BBOX = (110.35, 31.38, 116.65, 36.37)


def build(n_areas: int, n_points: int, seed: int = 7):
    """Deterministic province: (areas, sites, assignments)."""
    rng = np.random.default_rng(seed)
    centres = np.array([(x, y) for _, x, y in CITY_CENTRES])
    cats = rng.choice(3, size=n_areas, p=[0.35, 0.55, 0.10])
    city = rng.integers(0, len(CITY_CENTRES), size=n_areas)
    # Urban communities and mailrooms cluster within ~15 km of a city seat; villages spread out.
    lon = np.where(
        cats == 1,
        rng.uniform(BBOX[0], BBOX[2], n_areas),
        centres[city, 0] + rng.normal(0, 0.12, n_areas),
    )
    lat = np.where(
        cats == 1,
        rng.uniform(BBOX[1], BBOX[3], n_areas),
        centres[city, 1] + rng.normal(0, 0.10, n_areas),
    )
    households = rng.integers(30, 3000, n_areas)
    category = [AreaCategory.URBAN_COMMUNITY, AreaCategory.VILLAGE, AreaCategory.MAILROOM]
    areas = [
        Area(
            i,
            category[cats[i]],
            float(lon[i]),
            float(lat[i]),
            int(households[i]),
            f"cn.henan.{CITY_CENTRES[city[i]][0]}.d{i % 7}",
        )
        for i in range(n_areas)
    ]
    urban = rng.random(n_points) < 0.6
    pcity = rng.integers(0, len(CITY_CENTRES), n_points)
    plon = np.where(
        urban,
        centres[pcity, 0] + rng.normal(0, 0.12, n_points),
        rng.uniform(BBOX[0], BBOX[2], n_points),
    )
    plat = np.where(
        urban,
        centres[pcity, 1] + rng.normal(0, 0.10, n_points),
        rng.uniform(BBOX[1], BBOX[3], n_points),
    )
    active = rng.random(n_points) > 0.05
    sites = [
        Site(f"p{j}", float(plon[j]), float(plat[j]), bool(active[j])) for j in range(n_points)
    ]
    assignments = [
        (int(a), f"p{int(p)}")
        for a, p in zip(
            rng.integers(0, n_areas, n_areas // 10),
            rng.integers(0, n_points, n_areas // 10),
            strict=True,
        )
    ]
    return areas, sites, assignments


def end_to_end(areas, sites, assignments) -> dict:
    """Store the province in a temporary SQLite database and time ``recompute_and_store``."""
    import datetime as dt
    import tempfile
    from pathlib import Path

    import postalops_pickup_points.plugin as plugin
    import sqlalchemy as sa
    from postalops import context
    from postalops.app import create_app
    from postalops.config import Settings
    from postalops.context import CallContext, Principal
    from postalops.models import OrgUnit
    from postalops.tenancy import Scope
    from postalops_pickup_points import service
    from postalops_pickup_points.models import (
        PickupArea,
        PickupAssignment,
        PickupPoint,
        PickupStatusChange,
    )
    from sqlmodel import SQLModel

    tmp = Path(tempfile.mkdtemp(prefix="bench-pickup-"))
    settings = Settings.from_env(database_url=f"sqlite:///{tmp / 'bench.sqlite'}", testing=True)
    app = create_app(settings, extra_plugins=(plugin,), entry_points=False)
    db = app.extensions["postalops.db"]
    with db.engine.begin() as conn:
        SQLModel.metadata.create_all(conn)
    opened = dt.date(2022, 6, 1)
    now = dt.datetime.now(dt.UTC)
    with db.transaction(Scope.system_scope()) as s:
        s.add(OrgUnit(code="cn.henan", name_zh="河南", name_en="Henan", level="province", depth=1))
        s.execute(sa.insert(PickupArea), [
            {"id": a.id + 1, "tenant_code": "cn.henan", "code": f"A{a.id}", "name": f"A{a.id}",
             "category": a.category.value, "county": a.unit_path.rsplit(".", 1)[1], "lon": a.lon,
             "lat": a.lat, "households": a.households, "created_at": now}
            for a in areas
        ])  # fmt: skip
        s.execute(sa.insert(PickupPoint), [
            {"id": j + 1, "tenant_code": "cn.henan", "code": p.id, "name": p.id,
             "point_type": "own", "status": "active" if p.active else "suspended", "county": "x",
             "lon": p.lon, "lat": p.lat, "opened_on": opened, "created_at": now}
            for j, p in enumerate(sites)
        ])  # fmt: skip
        s.execute(sa.insert(PickupStatusChange), [
            {"tenant_code": "cn.henan", "point_id": j + 1, "effective": opened,
             "status": "active" if p.active else "suspended", "point_type": "own", "at": now}
            for j, p in enumerate(sites)
        ])  # fmt: skip
        pairs = {(a + 1, int(p[1:]) + 1) for a, p in assignments}
        s.execute(sa.insert(PickupAssignment), [
            {"tenant_code": "cn.henan", "area_id": a, "point_id": p} for a, p in sorted(pairs)
        ])  # fmt: skip
    call = CallContext(db=db, scope=Scope.unit("cn.henan"), principal=Principal.system("bench"),
                       unit="cn.henan")  # fmt: skip
    with context.activate(call) as ctx:
        t0 = time.perf_counter()
        result = service.recompute_and_store(ctx.session, "cn.henan", dt.date(2022, 9, 30))
        ctx.session.commit()
        seconds = time.perf_counter() - t0
    return {"db_recompute_seconds": round(seconds, 3), "db_covered_areas": result["covered"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--areas", type=int, default=50_000)
    parser.add_argument("--points", type=int, default=20_000)
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    parser.add_argument("--db", action="store_true", help="also time the recompute through SQLite")
    args = parser.parse_args(argv)

    areas, sites, assignments = build(args.areas, args.points)
    t0 = time.perf_counter()
    indexed = compute_coverage(areas, sites, assignments)
    figures = rollup(areas, indexed)
    t_indexed = time.perf_counter() - t0

    t0 = time.perf_counter()
    brute = compute_coverage_brute_force(areas, sites, assignments)
    t_brute = time.perf_counter() - t0

    identical = indexed == brute
    covered = sum(r.covered for r in indexed)
    speedup = t_brute / t_indexed if t_indexed else float("inf")
    result = {
        "benchmark": "pickup_points.coverage_recompute",
        "areas": args.areas,
        "points": args.points,
        "indexed_seconds": round(t_indexed, 3),
        "brute_force_seconds": round(t_brute, 3),
        "speedup": round(speedup, 1),
        "identical": identical,
        "covered_areas": covered,
        "province_urban_coverage": str(figures[("cn.henan", AreaCategory.URBAN_COMMUNITY)].rate),
        "target": "indexed < 10 s and >= 20x brute force",
        "meets_target": identical and t_indexed < 10 and speedup >= 20,
    }
    if args.db:
        result.update(end_to_end(areas, sites, assignments))
        result["identical"] = identical = identical and result["db_covered_areas"] == covered
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>26}: {value}")
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
