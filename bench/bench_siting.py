"""Benchmark: exact pickup-point siting (LSCP, MCLP) on Henan's demo areas (issue 20 §3).

The areas are exactly the demo's: the 18 Henan cities' 37 stations laid out by
``postalops_pickup_points.demo.plan_station`` (1,258 communities, villages and mailrooms, with
the demo's radii: 500 m urban and mailroom, 2 km village). From scratch (today's points
ignored), 500 candidate sites, deterministic (seeded):

* half placed near a random area (within 0.9 of its radius, so each reaches it),
* half at the midpoint of two areas of the same category less than 1.8 radii apart (a site that
  could serve both), so the set-covering choice is real.

Measured in one run on the same data: the exact LSCP (CBC through PuLP, 60 s limit; target
under 60 s) against the reference, the greedy run until no candidate adds a household (today's
suggestion); then MCLP and the greedy with the same K (half the LSCP's sites). Areas no
candidate reaches cannot be covered by any choice of these 500 and are reported apart.

``--dense`` adds a stress case of the same size where every candidate reaches several villages,
so CBC may stop at the time limit and report its gap.

    .venv/bin/python bench/bench_siting.py [--candidates 500] [--time-limit 60] [--seed 20]
                                           [--dense] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time

from postalops.demo import org_units
from postalops_pickup_points import demo
from postalops_pickup_points.coverage import Area, CoverageRules
from postalops_pickup_points.distance import geodesic_m, offset
from postalops_pickup_points.points import AreaCategory
from postalops_pickup_points.site_suggestion import Candidate
from postalops_pickup_points.siting import greedy, solve_lscp, solve_mclp


def henan_demo_areas() -> list[Area]:
    """The demo's Henan areas, laid out by the demo's own planner (no database)."""
    units = [u for u in org_units() if u[0].startswith("cn.henan.") and u[4] == "station"]
    areas: list[Area] = []
    for city, seat in demo.CITY_SEATS.items():
        stations = sorted(u[0] for u in units if u[0].startswith(f"cn.henan.{city}."))
        plans = {st: demo.plan_station(st, seat, i) for i, st in enumerate(stations)}
        demo.keep_gaps_open(city, plans)
        for st, plan in plans.items():
            for a in plan["areas"]:
                areas.append(
                    Area(
                        f"{st}:{a['code']}",
                        AreaCategory(a["category"]),
                        a["lon"],
                        a["lat"],
                        a["households"],
                        st,
                    )
                )
    return areas


def candidates_for(areas: list[Area], n: int, rules: CoverageRules, seed: int) -> list[Candidate]:
    rng = random.Random(seed)
    out: list[Candidate] = []
    by_station: dict[tuple[str, AreaCategory], list[Area]] = {}
    for a in areas:
        by_station.setdefault((a.unit_path, a.category), []).append(a)
    pairs = []
    for group in by_station.values():
        for i, a in enumerate(group):
            for b in group[i + 1 :]:
                r = rules.radius_for(a.category)
                d = float(geodesic_m(a.lon, a.lat, b.lon, b.lat))
                if d < 1.8 * r:
                    pairs.append((a, b))
    rng.shuffle(pairs)
    for a, b in pairs[: n // 2]:
        out.append(Candidate(f"M{len(out):04d}", (a.lon + b.lon) / 2, (a.lat + b.lat) / 2))
    while len(out) < n:
        a = rng.choice(areas)
        r = rules.radius_for(a.category) * 0.9 * math.sqrt(rng.random())
        lon, lat = offset(a.lon, a.lat, rng.uniform(0, 360), r)
        out.append(Candidate(f"N{len(out):04d}", lon, lat))
    return out


def dense_instance(
    n_areas: int, n_candidates: int, seed: int
) -> tuple[list[Area], list[Candidate]]:
    """A stress case (``--dense``): ``n_areas`` villages and ``n_candidates`` sites spread
    uniformly within 15 km of Zhengzhou's seat, so every candidate reaches several villages
    (2 km radius) and set covering is hard: CBC may stop at the time limit with a gap."""
    rng = random.Random(seed)
    seat = demo.CITY_SEATS["zhengzhou"]

    def spot() -> tuple[float, float]:
        return offset(*seat, rng.uniform(0, 360), 15_000 * math.sqrt(rng.random()))

    areas = [
        Area(f"V{i:04d}", AreaCategory.VILLAGE, *spot(), rng.randint(150, 900), "cn.henan")
        for i in range(n_areas)
    ]
    return areas, [Candidate(f"C{j:04d}", *spot()) for j in range(n_candidates)]


def run(name: str, areas: list[Area], cands: list[Candidate], rules, time_limit: int) -> dict:
    """LSCP against the greedy until full, then MCLP against the greedy at K = half the LSCP."""
    t = time.perf_counter()
    lscp = solve_lscp(areas, cands, rules, time_limit)
    lscp_s = time.perf_counter() - t
    t = time.perf_counter()
    full = greedy(areas, cands, None, rules)
    greedy_s = time.perf_counter() - t
    k = max(1, len(lscp.sites) // 2)
    mclp = solve_mclp(areas, cands, k, rules, time_limit)
    greedy_k = greedy(areas, cands, k, rules)
    reachable = len(areas) - len(lscp.unreachable)
    out = {
        "instance": name,
        "areas": len(areas),
        "households": lscp.total_households,
        "candidates": len(cands),
        "reachable_areas": reachable,
        "unreachable_areas": len(lscp.unreachable),
        "lscp": {
            "status": lscp.status,
            "sites": len(lscp.sites),
            "bound": lscp.bound,
            "gap": None if lscp.gap is None else str(lscp.gap),
            "covered_areas": lscp.covered_areas,
            "coverage": str(lscp.coverage),
            "seconds": round(lscp_s, 3),
        },
        "greedy_full": {
            "sites": len(full.sites),
            "covered_areas": full.covered_areas,
            "coverage": str(full.coverage),
            "seconds": round(greedy_s, 3),
        },
        "k": k,
        "mclp": {
            "status": mclp.status,
            "covered_households": mclp.covered_households,
            "coverage": str(mclp.coverage),
            "gap": None if mclp.gap is None else str(mclp.gap),
            "seconds": round(mclp.seconds, 3),
        },
        "greedy_k": {
            "covered_households": greedy_k.covered_households,
            "coverage": str(greedy_k.coverage),
            "seconds": round(greedy_k.seconds, 3),
        },
        "met": lscp_s < 60 and lscp.status in ("optimal", "time_limit"),
    }
    print(
        f"[{name}] {len(areas):,} areas ({lscp.total_households:,} households), "
        f"{len(cands)} candidates; {reachable:,} areas reachable, "
        f"{len(lscp.unreachable)} beyond every candidate"
    )
    print(
        f"  LSCP (CBC, exact): {len(lscp.sites)} sites, {lscp.status}"
        f"{'' if lscp.gap is None else f' (bound {lscp.bound:g}, gap {lscp.gap})'}, covers "
        f"{lscp.covered_areas:,} areas ({lscp.coverage} of households) in {lscp_s:.2f} s "
        "(target < 60 s)"
    )
    print(
        f"  reference, greedy until full: {len(full.sites)} sites, covers "
        f"{full.covered_areas:,} areas ({full.coverage}) in {greedy_s:.2f} s"
    )
    print(
        f"  K = {k}: MCLP {mclp.covered_households:,} households ({mclp.coverage}, "
        f"{mclp.status}{'' if mclp.gap is None else f', gap {mclp.gap}'}, {mclp.seconds:.2f} s)"
        f" vs greedy {greedy_k.covered_households:,} ({greedy_k.coverage}, "
        f"{greedy_k.seconds:.2f} s)"
    )
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--candidates", type=int, default=500)
    ap.add_argument("--time-limit", type=int, default=60)
    ap.add_argument("--seed", type=int, default=20)
    ap.add_argument("--dense", action="store_true", help="also run the dense stress case")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    rules = CoverageRules()
    areas = henan_demo_areas()
    results = [
        run(
            "henan_demo",
            areas,
            candidates_for(areas, args.candidates, rules, args.seed),
            rules,
            args.time_limit,
        )
    ]
    if args.dense:
        d_areas, d_cands = dense_instance(len(areas), args.candidates, args.seed)
        results.append(run("dense", d_areas, d_cands, rules, args.time_limit))
    met = results[0]["met"]
    if args.json:
        print(json.dumps(results, indent=2))
    print("MET" if met else "NOT MET", "(Henan demo LSCP under 60 s)")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
