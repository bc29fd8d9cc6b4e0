"""Hand-computed LSCP, MCLP, greedy and capacity cases (issue 20 §3).

Everything sits on the equator, so distances along it are easy: one *step* of 0.005° longitude
is 6,378,137 m × 0.005 × π/180 = 556.597 m (WGS84 equatorial radius; the geodesic along the
equator is the arc). Default radii: urban community 500 m, village 2,000 m, mailroom 500 m.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from postalops.errors import ValidationError
from postalops_pickup_points.coverage import Area
from postalops_pickup_points.points import AreaCategory
from postalops_pickup_points.site_suggestion import Candidate
from postalops_pickup_points.siting import (
    CapacitySite,
    assign_with_capacity,
    greedy,
    solve_lscp,
    solve_mclp,
)

STEP = 0.005
U, V, M = AreaCategory.URBAN_COMMUNITY, AreaCategory.VILLAGE, AreaCategory.MAILROOM


def at(pos: float) -> tuple[float, float]:
    return (pos * STEP, 0.0)


def area(aid, cat, pos, households):
    return Area(aid, cat, *at(pos), households, "cn.t")


# Areas (position in steps, households):
#   U0 0 (40), U1 1 (70), U2 2 (70), U3 3 (40)   urban, radius 500 m
#   MR 3.3 (2)                                     mailroom, radius 500 m
#   V 10 (300)                                     village, radius 2,000 m
#   FAR 40 (500)                                   village, no candidate within 2,000 m
# Candidates: L at 0.5, M at 1.5, R at 2.5, VS at 13.
# Reach (half a step = 278.30 m ≤ 500; 1.5 steps = 834.90 m > 500):
#   L  → U0, U1                       (110 households)
#   M  → U1, U2                       (140)
#   R  → U2, U3, MR (0.8 step 445.28 m) (112)
#   VS → V (3 steps = 1,669.79 m ≤ 2,000) (300)
#   FAR: nearest candidate VS is 27 steps = 15,028 m away → unreachable.
AREAS = [
    area("U0", U, 0, 40),
    area("U1", U, 1, 70),
    area("U2", U, 2, 70),
    area("U3", U, 3, 40),
    area("MR", M, 3.3, 2),
    area("V", V, 10, 300),
    area("FAR", V, 40, 500),
]
CANDIDATES = [
    Candidate("L", *at(0.5)),
    Candidate("M", *at(1.5)),
    Candidate("R", *at(2.5)),
    Candidate("VS", *at(13)),
]


def test_lscp_fewest_sites_cover_every_reachable_area():
    # U0 is reached only by L, U3 and MR only by R, V only by VS: all three are forced, and
    # they already cover U1 (L) and U2 (R), so M is redundant. Unique optimum {L, R, VS}.
    r = solve_lscp(AREAS, CANDIDATES, time_limit=10)
    assert r.status == "optimal"
    assert set(r.sites) == {"L", "R", "VS"}
    assert r.unreachable == ("FAR",)
    assert r.gap is None
    # 40 + 70 + 70 + 40 + 2 + 300 = 522 of 1,022 (FAR's 500 cannot be reached)
    assert (r.covered_households, r.total_households) == (522, 1022)
    assert r.by_category == {
        "urban_community": (220, 220),
        "village": (300, 800),
        "mailroom": (2, 2),
    }


def test_greedy_needs_more_sites_than_lscp_for_full_coverage():
    # Greedy gains: VS 300, M 140, R 112, L 110 → VS; then R adds U3+MR = 42, L adds U0 = 40
    # → R; then L adds 40 → 4 sites for the same 522 households.
    r = greedy(AREAS, CANDIDATES)
    assert r.sites == ("VS", "M", "R", "L")
    assert r.covered_households == 522


def test_mclp_beats_greedy_at_k3():
    # k = 3. MCLP: VS + L + R = 300 + 110 + 112 = 522 (every reachable household);
    # VS + M + R = 300 + 140 + 42 = 482; VS + M + L = 300 + 140 + 40 = 480. Optimum {L, R, VS}.
    # Greedy takes VS, M, then R (42 > 40) → 482.
    # Coverage of the 1,022 households: 522 / 1022 = 0.51076 → 0.5108; 482 / 1022 = 0.47162
    # → 0.4716.
    best = solve_mclp(AREAS, CANDIDATES, 3, time_limit=10)
    ours = greedy(AREAS, CANDIDATES, 3)
    assert best.status == "optimal"
    assert set(best.sites) == {"L", "R", "VS"}
    assert best.covered_households == 522 and best.coverage == Decimal("0.5108")
    assert ours.sites == ("VS", "M", "R")
    assert ours.covered_households == 482 and ours.coverage == Decimal("0.4716")


def test_mclp_k2_matches_greedy_and_opens_no_useless_site():
    # k = 2: VS + M = 440 beats VS + R = 412, VS + L = 410, L + R = 222. Greedy agrees.
    best = solve_mclp(AREAS, CANDIDATES, 2, time_limit=10)
    assert set(best.sites) == {"VS", "M"} and best.covered_households == 440
    # k = 10 > useful sites: only the 3 that add households open (522).
    wide = solve_mclp(AREAS, CANDIDATES, 10, time_limit=10)
    assert set(wide.sites) == {"L", "R", "VS"} and wide.covered_households == 522


def test_bad_parameters_name_the_field():
    with pytest.raises(ValidationError) as e:
        solve_mclp(AREAS, CANDIDATES, 0)
    assert e.value.details[0]["field"] == "k"
    with pytest.raises(ValidationError) as e:
        solve_lscp(AREAS, [Candidate("A", 0, 0), Candidate("A", 1, 0)])
    assert e.value.details[0]["field"] == "candidates[1].id"


def test_capacity_overflow_goes_to_next_nearest():
    # Areas (urban): A at 0 (1,000 households), B at 0.25 (500), C at 5 (200); 0.1 item per
    # household per day → A 100, B 50, C 20 items.
    # Sites: P1 at 0.1 (capacity 120), P2 at 0.6 (100), P3 at 5.5 (10).
    # Distances: A–P1 0.1 step = 55.66 m, A–P2 0.6 = 333.96 m; B–P1 0.15 = 83.49 m,
    # B–P2 0.35 = 194.81 m; C–P3 0.5 = 278.30 m (C reaches nothing else).
    # Nearest first: A (55.66 m) fills P1 with 100 (room 20), B (83.49 m) puts 20 there and
    # overflows 30 → P1's nearest demand 150 > 120: over capacity. B's 30 go to P2 (room 100).
    # C's 20 meet P3's 10: 10 served, 10 unserved; P3 over capacity too.
    # Utilisation: P1 120/120 = 1.0000, P2 30/100 = 0.3000, P3 10/10 = 1.0000.
    areas = [area("A", U, 0, 1000), area("B", U, 0.25, 500), area("C", U, 5, 200)]
    sites = [
        CapacitySite("P1", *at(0.1), 120),
        CapacitySite("P2", *at(0.6), 100),
        CapacitySite("P3", *at(5.5), 10),
    ]
    out = assign_with_capacity(areas, sites, Decimal("0.1"))
    loads = {s.site_id: s for s in out.sites}
    assert out.demand == {"A": 100, "B": 50, "C": 20}
    assert (loads["P1"].nearest_demand, loads["P1"].assigned, loads["P1"].overflow_out) == (
        150,
        120,
        30,
    )
    assert loads["P1"].over_capacity and loads["P3"].over_capacity
    assert not loads["P2"].over_capacity
    assert (loads["P2"].assigned, loads["P2"].overflow_in) == (30, 30)
    assert [loads[k].utilisation for k in ("P1", "P2", "P3")] == [
        Decimal("1.0000"),
        Decimal("0.3000"),
        Decimal("1.0000"),
    ]
    assert out.flows == [("A", "P1", 100), ("B", "P1", 20), ("B", "P2", 30), ("C", "P3", 10)]
    assert out.unserved == {"C": 10}


def test_time_limit_reports_the_gap():
    # 1,200 villages and 500 candidates spread within 15 km: every candidate reaches several
    # villages and CBC cannot prove the optimum within 2 s. The best solution found is kept
    # with CBC's bound, and the gap is (sites − ⌈bound⌉) / sites.
    import math
    import random

    from postalops_pickup_points.distance import offset

    rng = random.Random(7)

    def spot():
        return offset(113.625, 34.746, rng.uniform(0, 360), 15_000 * math.sqrt(rng.random()))

    areas = [Area(f"V{i}", V, *spot(), 100, "cn.t") for i in range(1200)]
    cands = [Candidate(f"C{j}", *spot()) for j in range(500)]
    r = solve_lscp(areas, cands, time_limit=2)
    assert r.status == "time_limit", r.as_dict()
    assert r.bound is not None and r.bound == int(r.bound) and r.bound <= len(r.sites)
    expected = (Decimal(len(r.sites)) - Decimal(int(r.bound))) / Decimal(len(r.sites))
    assert r.gap == expected.quantize(Decimal("0.0001"))
    # Still a cover: every reachable village is covered.
    assert r.covered_areas == len(areas) - len(r.unreachable)
