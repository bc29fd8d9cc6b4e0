"""Benchmark: recompute pickup-point coverage for a province (issue 7).

50,000 service areas and 20,000 pickup points spread over Henan's extent, urban ones clustered
around the 18 city centres. Measures ``compute_coverage`` (STRtree candidates + geodesic decision)
and, in the same run on the same data, the all-pairs brute force
``compute_coverage_brute_force``; checks both give identical results. Target: under 10 s and at
least 20x faster than brute force.

    .venv/bin/python bench/bench_pickup_points.py [--areas 50000] [--points 20000] [--json]
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--areas", type=int, default=50_000)
    parser.add_argument("--points", type=int, default=20_000)
    parser.add_argument("--json", action="store_true", help="print one JSON line")
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
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>26}: {value}")
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
