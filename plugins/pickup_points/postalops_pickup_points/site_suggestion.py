"""New-site suggestions: greedy maximal covering of uncovered households.

Given the uncovered areas and candidate locations (vacant shops, village stations, lockers that
could be placed), pick at most ``limit`` candidates, each time the one that covers the most
households not yet covered by the ones already picked. Greedy maximal covering is within
1 - 1/e of the optimum and is what planners can follow by hand; ties go to the candidate listed
first, so the answer is deterministic.
"""

from __future__ import annotations

import heapq
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from postalops.errors import ValidationError

from .coverage import Area, CoverageRules, _mm
from .distance import geodesic_m, search_box


@dataclass(frozen=True)
class Candidate:
    """A location where a new pickup point could open."""

    id: Hashable
    lon: float
    lat: float


@dataclass(frozen=True)
class Suggestion:
    """One picked candidate, in the order picked, with what it adds."""

    rank: int
    candidate_id: Hashable
    new_households: int
    area_ids: tuple[Hashable, ...]


def reach(
    areas: Sequence[Area], candidates: Sequence[Candidate], rules: CoverageRules
) -> list[set[int]]:
    """For each candidate, the indices of the areas it would cover by distance."""
    reach_sets: list[set[int]] = [set() for _ in candidates]
    if not areas or not candidates:
        return reach_sets
    c_lon = np.array([c.lon for c in candidates], dtype=float)
    c_lat = np.array([c.lat for c in candidates], dtype=float)
    a_lon = np.array([a.lon for a in areas], dtype=float)
    a_lat = np.array([a.lat for a in areas], dtype=float)
    radius = np.array([rules.radius_for(a.category) for a in areas], dtype=float)
    tree = shapely.STRtree(shapely.points(c_lon, c_lat))
    pa, pc = tree.query(shapely.box(*search_box(a_lon, a_lat, radius)))
    d = _mm(geodesic_m(a_lon[pa], a_lat[pa], c_lon[pc], c_lat[pc]))
    keep = d <= radius[pa]
    for ai, ci in zip(pa[keep].tolist(), pc[keep].tolist(), strict=True):
        reach_sets[ci].add(ai)
    for ai, area in enumerate(areas):
        if area.polygon is not None:
            inside = shapely.intersects(area.polygon, shapely.points(c_lon, c_lat))
            for ci in np.nonzero(inside)[0].tolist():
                reach_sets[ci].add(ai)
    return reach_sets


def suggest_sites(
    uncovered: Sequence[Area],
    candidates: Sequence[Candidate],
    limit: int,
    rules: CoverageRules | None = None,
) -> list[Suggestion]:
    """Pick up to ``limit`` candidates greedily by newly covered households.

    Stops early when no candidate adds a household. Uses lazy evaluation (a candidate's gain
    only shrinks as others are picked), so it scales to thousands of candidates.
    """
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise ValidationError(
            "limit must be a positive whole number",
            code="invalid_limit",
            details=[{"field": "limit", "message": f"{limit!r} is not a positive integer"}],
        )
    rules = rules or CoverageRules()
    reach_sets = reach(uncovered, candidates, rules)
    households = [a.households for a in uncovered]
    taken: set[int] = set()

    def gain(ci: int) -> int:
        return sum(households[ai] for ai in reach_sets[ci] if ai not in taken)

    # Heap of (-gain, candidate index): ties resolve to the candidate listed first.
    heap = [(-gain(ci), ci) for ci in range(len(candidates))]
    heapq.heapify(heap)
    picked: list[Suggestion] = []
    while heap and len(picked) < limit:
        neg, ci = heapq.heappop(heap)
        fresh = gain(ci)
        if fresh != -neg:
            heapq.heappush(heap, (-fresh, ci))
            continue
        if fresh <= 0:
            break
        new = sorted(ai for ai in reach_sets[ci] if ai not in taken)
        taken.update(new)
        picked.append(
            Suggestion(
                rank=len(picked) + 1,
                candidate_id=candidates[ci].id,
                new_households=fresh,
                area_ids=tuple(uncovered[ai].id for ai in new),
            )
        )
    return picked
