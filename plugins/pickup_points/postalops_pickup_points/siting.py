"""Optimal siting of pickup points: LSCP, MCLP and capacity-respecting assignment (issue 20 §3).

Pure functions over plain values (areas, candidate sites, radii); no Flask, no session.

* **LSCP** (location set covering): the fewest candidate sites such that every area is within
  its category's radius of at least one chosen site: 三覆盖 at 100 %. An exact 0-1 integer
  program solved by CBC (bundled with PuLP) under a time limit. When the limit stops the
  solver before it proves optimality, the best solution found is returned with the solver's
  lower bound and the optimality gap ``(sites - bound) / sites``.
* **MCLP** (maximal covering): the ``k`` sites covering the most households, the exact
  counterpart of today's greedy suggestion (:func:`site_suggestion.suggest_sites`), which
  :func:`greedy` re-runs on the same data so both can be reported side by side.
* **Capacity**: each area's daily items go to its nearest site within radius; a site whose
  nearest demand exceeds its daily capacity is flagged over capacity and its overflow is routed
  to the area's next nearest site with room, then the next, and so on (items no site in reach
  can take are left unserved). Utilisation per site = assigned items ÷ capacity.

An area that no candidate reaches cannot be covered by any choice; it is reported in
``unreachable`` and left out of the model rather than making the whole program infeasible.
"""

from __future__ import annotations

import math
import os
import re
import tempfile
import time
import warnings
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pulp
import shapely
from postalops.errors import ValidationError

from .coverage import Area, CoverageRules, _mm
from .distance import geodesic_m, search_box
from .points import AreaCategory
from .site_suggestion import Candidate, reach, suggest_sites

RATE_QUANTUM = Decimal("0.0001")

# Solver states reported to the planner.
OPTIMAL = "optimal"  # proven optimal
TIME_LIMIT = "time_limit"  # stopped by the time limit with a feasible solution (see ``gap``)
NO_SOLUTION = "no_solution"  # stopped before any feasible solution was found
HEURISTIC = "heuristic"  # the greedy: no optimality claim


@dataclass(frozen=True)
class SitingResult:
    """What one model chose and what it achieves on the areas it was given."""

    model: str  # "lscp" | "mclp" | "greedy"
    status: str
    sites: tuple[Hashable, ...]  # chosen candidate ids, in the candidates' order (greedy: picked)
    covered_households: int
    total_households: int
    covered_areas: int
    total_areas: int
    by_category: dict[str, tuple[int, int]]  # category → (covered households, total households)
    unreachable: tuple[Hashable, ...] = ()
    bound: float | None = None  # the solver's best bound on the objective when stopped
    gap: Decimal | None = None  # relative optimality gap when stopped by the time limit
    seconds: float = 0.0

    @property
    def coverage(self) -> Decimal | None:
        """Covered households ÷ households of the areas given (a fraction, 4 places)."""
        if not self.total_households:
            return None
        return (Decimal(self.covered_households) / Decimal(self.total_households)).quantize(
            RATE_QUANTUM, ROUND_HALF_UP
        )

    def as_dict(self) -> dict:
        return {
            "model": self.model,
            "status": self.status,
            "sites": [str(s) for s in self.sites],
            "site_count": len(self.sites),
            "covered_households": self.covered_households,
            "total_households": self.total_households,
            "covered_areas": self.covered_areas,
            "total_areas": self.total_areas,
            "coverage": None if self.coverage is None else str(self.coverage),
            "by_category": {k: list(v) for k, v in self.by_category.items()},
            "unreachable": [str(a) for a in self.unreachable],
            "bound": self.bound,
            "gap": None if self.gap is None else str(self.gap),
            "seconds": round(self.seconds, 3),
        }


def _check_candidates(candidates: Sequence[Candidate]) -> None:
    seen: set = set()
    for i, c in enumerate(candidates):
        if c.id in seen:
            raise ValidationError(
                "candidate ids must be unique",
                code="duplicate_candidate",
                details=[{"field": f"candidates[{i}].id", "message": f"{c.id!r} appears twice"}],
            )
        seen.add(c.id)
        if not (-180 <= c.lon <= 180 and -90 <= c.lat <= 90):
            raise ValidationError(
                "candidate outside lon/lat range",
                code="invalid_candidate",
                details=[{"field": f"candidates[{i}]", "message": "lon -180..180, lat -90..90"}],
            )


def _check_positive(name: str, value: object, upper: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= upper:
        raise ValidationError(
            f"{name} must be a whole number from 1 to {upper}",
            code=f"invalid_{name}",
            details=[{"field": name, "message": f"{value!r} is not 1..{upper}"}],
        )


def _outcome(
    model: str,
    status: str,
    areas: Sequence[Area],
    candidates: Sequence[Candidate],
    chosen: list[int],
    reach_sets: list[set[int]],
    unreachable: list[int],
    started: float,
    bound: float | None = None,
    gap: Decimal | None = None,
) -> SitingResult:
    covered: set[int] = set()
    for ci in chosen:
        covered |= reach_sets[ci]
    by_category: dict[str, list[int]] = {c.value: [0, 0] for c in AreaCategory}
    for ai, a in enumerate(areas):
        row = by_category[AreaCategory(a.category).value]
        row[1] += a.households
        if ai in covered:
            row[0] += a.households
    return SitingResult(
        model=model,
        status=status,
        sites=tuple(candidates[ci].id for ci in chosen),
        covered_households=sum(areas[ai].households for ai in covered),
        total_households=sum(a.households for a in areas),
        covered_areas=len(covered),
        total_areas=len(areas),
        by_category={k: (v[0], v[1]) for k, v in by_category.items()},
        unreachable=tuple(areas[ai].id for ai in unreachable),
        bound=bound,
        gap=gap,
        seconds=time.perf_counter() - started,
    )


def _binary(problem: pulp.LpProblem, name: str) -> pulp.LpVariable:
    # PuLP 3.3 attaches variables to the model (LpVariable(...) is deprecated there).
    if hasattr(problem, "add_variable"):
        return problem.add_variable(name, cat=pulp.LpBinary)
    return pulp.LpVariable(name, cat=pulp.LpBinary)


def _solve(problem: pulp.LpProblem, time_limit: float) -> tuple[str, float | None]:
    """Run CBC; return (state, the bound CBC printed when it stopped on the time limit)."""
    fd, log = tempfile.mkstemp(prefix="postalops-cbc-", suffix=".log")
    os.close(fd)
    try:
        with warnings.catch_warnings():
            # PuLP 3.3 announces that 4.0 moves the bundled CBC to an extra; pinned below 4.
            warnings.simplefilter("ignore", DeprecationWarning)
            solver = pulp.PULP_CBC_CMD(msg=False, timeLimit=time_limit, threads=1, logPath=log)
        problem.solve(solver)
        with open(log, encoding="utf-8", errors="replace") as f:
            text = f.read()
    finally:
        os.unlink(log)
    if problem.sol_status == pulp.LpSolutionOptimal:
        return OPTIMAL, None
    # CBC's summary: "Result - Stopped on time limit … Lower bound: 64.052". CBC minimises
    # internally, so a maximisation's bound is printed negated (handled by the caller).
    m = re.search(r"(?:Lower|Upper) bound:\s*(-?[0-9.eE+]+)", text)
    bound = float(m.group(1)) if m else None
    if problem.sol_status == pulp.LpSolutionIntegerFeasible:
        return TIME_LIMIT, bound
    return NO_SOLUTION, bound


def _relative_gap(value: float, bound: float | None) -> Decimal | None:
    if bound is None or value == 0:
        return None
    return (Decimal(repr(abs(value - bound))) / Decimal(repr(abs(value)))).quantize(
        RATE_QUANTUM, ROUND_HALF_UP
    )


def solve_lscp(
    areas: Sequence[Area],
    candidates: Sequence[Candidate],
    rules: CoverageRules | None = None,
    time_limit: int = 60,
) -> SitingResult:
    """The fewest candidates covering every reachable area (LSCP), exactly, within
    ``time_limit`` seconds.

    minimise Σ_j x_j  subject to  Σ_{j reaches i} x_j ≥ 1 for every reachable area i,
    x_j ∈ {0, 1}. Ties between optimal sets are CBC's choice; tests use instances whose
    optimum is unique.
    """
    _check_positive("time_limit", time_limit, 3600)
    _check_candidates(candidates)
    rules = rules or CoverageRules()
    started = time.perf_counter()
    reach_sets = reach(areas, candidates, rules)
    reached_by: list[list[int]] = [[] for _ in areas]
    for ci, s in enumerate(reach_sets):
        for ai in s:
            reached_by[ai].append(ci)
    unreachable = [ai for ai, by in enumerate(reached_by) if not by]
    demand = [ai for ai, by in enumerate(reached_by) if by]
    if not demand:
        return _outcome("lscp", OPTIMAL, areas, candidates, [], reach_sets, unreachable, started)
    useful = sorted({ci for ai in demand for ci in reached_by[ai]})
    problem = pulp.LpProblem("lscp", pulp.LpMinimize)
    x = {ci: _binary(problem, f"x{ci}") for ci in useful}
    problem += pulp.lpSum(x.values())
    for ai in demand:
        problem += pulp.lpSum(x[ci] for ci in reached_by[ai]) >= 1, f"a{ai}"
    state, bound = _solve(problem, time_limit)
    if state == NO_SOLUTION:
        # Stopped before CBC found a cover (a very short limit on a busy machine): the greedy's
        # cover of the same areas is always feasible, so report it against CBC's bound.
        index = {c.id: ci for ci, c in enumerate(candidates)}
        picked = suggest_sites([areas[ai] for ai in demand], candidates, len(candidates), rules)
        chosen = sorted(index[s.candidate_id] for s in picked)
        covered = set().union(*(reach_sets[ci] for ci in chosen)) if chosen else set()
        if not set(demand) <= covered:  # areas without households: the greedy skips them
            for ai in sorted(set(demand) - covered):
                chosen.append(reached_by[ai][0])
                covered |= reach_sets[reached_by[ai][0]]
            chosen = sorted(set(chosen))
        state = TIME_LIMIT
    else:
        chosen = [ci for ci in useful if (x[ci].value() or 0) > 0.5]
    gap = None
    if state == TIME_LIMIT and bound is not None:
        bound = float(math.ceil(bound - 1e-6))  # a count of sites: the bound rounds up
        gap = _relative_gap(len(chosen), bound)
    return _outcome(
        "lscp", state, areas, candidates, chosen, reach_sets, unreachable, started, bound, gap
    )


def solve_mclp(
    areas: Sequence[Area],
    candidates: Sequence[Candidate],
    k: int,
    rules: CoverageRules | None = None,
    time_limit: int = 60,
) -> SitingResult:
    """The ``k`` candidates covering the most households (MCLP), exactly, within ``time_limit``.

    maximise Σ_i h_i y_i  subject to  y_i ≤ Σ_{j reaches i} x_j,  Σ_j x_j ≤ k,
    x_j, y_i ∈ {0, 1}. Sites that add nothing are not opened (the objective is then
    indifferent; a tiny penalty per site breaks the tie towards fewer sites).
    """
    _check_positive("k", k, 10_000)
    _check_positive("time_limit", time_limit, 3600)
    _check_candidates(candidates)
    rules = rules or CoverageRules()
    started = time.perf_counter()
    reach_sets = reach(areas, candidates, rules)
    reached_by: list[list[int]] = [[] for _ in areas]
    for ci, s in enumerate(reach_sets):
        for ai in s:
            reached_by[ai].append(ci)
    unreachable = [ai for ai, by in enumerate(reached_by) if not by]
    demand = [ai for ai, by in enumerate(reached_by) if by and areas[ai].households > 0]
    if not demand:
        return _outcome("mclp", OPTIMAL, areas, candidates, [], reach_sets, unreachable, started)
    useful = sorted({ci for ai in demand for ci in reached_by[ai]})
    problem = pulp.LpProblem("mclp", pulp.LpMaximize)
    x = {ci: _binary(problem, f"x{ci}") for ci in useful}
    y = {ai: _binary(problem, f"y{ai}") for ai in demand}
    # Less than one household in total, so it never trades a household for a site.
    epsilon = 1.0 / (len(useful) + 1)
    problem += pulp.lpSum(areas[ai].households * y[ai] for ai in demand) - epsilon * pulp.lpSum(
        x.values()
    )
    problem += pulp.lpSum(x.values()) <= k, "k"
    for ai in demand:
        problem += y[ai] <= pulp.lpSum(x[ci] for ci in reached_by[ai]), f"a{ai}"
    state, bound = _solve(problem, time_limit)
    if state == NO_SOLUTION:
        return _outcome("mclp", state, areas, candidates, [], reach_sets, unreachable, started)
    chosen = [ci for ci in useful if (x[ci].value() or 0) > 0.5]
    result = _outcome("mclp", state, areas, candidates, chosen, reach_sets, unreachable, started)
    if state == TIME_LIMIT and bound is not None:
        bound = abs(bound)  # CBC prints the minimised negation's bound
        gap = _relative_gap(result.covered_households, bound)
        result = _outcome(
            "mclp", state, areas, candidates, chosen, reach_sets, unreachable, started, bound, gap
        )
    return result


def greedy(
    areas: Sequence[Area],
    candidates: Sequence[Candidate],
    k: int | None = None,
    rules: CoverageRules | None = None,
) -> SitingResult:
    """Today's greedy suggestion on the same data, in the same shape (``k=None``: keep picking
    until no candidate adds a household)."""
    _check_candidates(candidates)
    rules = rules or CoverageRules()
    started = time.perf_counter()
    limit = k if k is not None else max(1, len(candidates))
    picked = suggest_sites(areas, candidates, limit, rules)
    index = {c.id: ci for ci, c in enumerate(candidates)}
    chosen = [index[s.candidate_id] for s in picked]
    reach_sets = reach(areas, candidates, rules)
    reached = set().union(*reach_sets) if reach_sets else set()
    unreachable = [ai for ai in range(len(areas)) if ai not in reached]
    return _outcome(
        "greedy", HEURISTIC, areas, candidates, chosen, reach_sets, unreachable, started
    )


# --- capacity ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CapacitySite:
    """A site that can receive items: an existing point or a chosen candidate."""

    id: Hashable
    lon: float
    lat: float
    capacity: int | None  # items per day; None = no stated limit


@dataclass
class SiteLoad:
    """Per site: the items its nearest areas bring, what it takes, what it passes on."""

    site_id: Hashable
    capacity: int | None
    nearest_demand: int = 0  # items of the areas for which this is the nearest site
    assigned: int = 0  # items it serves after capacity (≤ capacity)
    overflow_out: int = 0  # of nearest_demand, items routed on to another site or unserved
    overflow_in: int = 0  # items taken from areas whose nearest site was full

    @property
    def over_capacity(self) -> bool:
        return self.capacity is not None and self.nearest_demand > self.capacity

    @property
    def utilisation(self) -> Decimal | None:
        if not self.capacity:
            return None
        return (Decimal(self.assigned) / Decimal(self.capacity)).quantize(
            RATE_QUANTUM, ROUND_HALF_UP
        )

    def as_dict(self) -> dict:
        return {
            "site": str(self.site_id),
            "capacity": self.capacity,
            "nearest_demand": self.nearest_demand,
            "assigned": self.assigned,
            "overflow_out": self.overflow_out,
            "overflow_in": self.overflow_in,
            "over_capacity": self.over_capacity,
            "utilisation": None if self.utilisation is None else str(self.utilisation),
        }


@dataclass
class Assignment:
    sites: list[SiteLoad]
    flows: list[tuple[Hashable, Hashable, int]] = field(default_factory=list)  # area, site, items
    unserved: dict[Hashable, int] = field(default_factory=dict)  # area → items no site took
    demand: dict[Hashable, int] = field(default_factory=dict)  # area → daily items


def daily_items(households: int, items_per_household: Decimal) -> int:
    """An area's daily items: households × items per household per day, half-up to a whole."""
    return int((Decimal(households) * items_per_household).quantize(Decimal(1), ROUND_HALF_UP))


def _pairs_in_reach(
    areas: Sequence[Area], sites: Sequence[CapacitySite], rules: CoverageRules
) -> list[list[tuple[float, int]]]:
    """Per area, the (distance m, site index) of every site within its radius, nearest first
    (ties → the site listed first)."""
    out: list[list[tuple[float, int]]] = [[] for _ in areas]
    if not areas or not sites:
        return out
    s_lon = np.array([s.lon for s in sites], dtype=float)
    s_lat = np.array([s.lat for s in sites], dtype=float)
    a_lon = np.array([a.lon for a in areas], dtype=float)
    a_lat = np.array([a.lat for a in areas], dtype=float)
    radius = np.array([rules.radius_for(AreaCategory(a.category)) for a in areas], dtype=float)
    tree = shapely.STRtree(shapely.points(s_lon, s_lat))
    pa, ps = tree.query(shapely.box(*search_box(a_lon, a_lat, radius)))
    d = _mm(geodesic_m(a_lon[pa], a_lat[pa], s_lon[ps], s_lat[ps]))
    keep = d <= radius[pa]
    for ai, si, dist in zip(pa[keep].tolist(), ps[keep].tolist(), d[keep].tolist(), strict=True):
        out[ai].append((dist, si))
    for row in out:
        row.sort()
    return out


def assign_with_capacity(
    areas: Sequence[Area],
    sites: Sequence[CapacitySite],
    items_per_household: Decimal,
    rules: CoverageRules | None = None,
) -> Assignment:
    """Route each area's daily items to sites within its radius, respecting capacity.

    1. Every area sends its items to its nearest site; a site takes them up to its capacity,
       areas nearest to it first (by distance, then the order given), so the far ones overflow.
    2. Each overflow goes to the area's next nearest site with room, then the next; what no
       site in reach can take is unserved.
    """
    rules = rules or CoverageRules()
    if items_per_household < 0:
        raise ValidationError(
            "items per household must not be negative",
            code="invalid_items_per_household",
            details=[{"field": "items_per_household", "message": "must be ≥ 0"}],
        )
    near = _pairs_in_reach(areas, sites, rules)
    loads = [SiteLoad(s.id, s.capacity) for s in sites]
    room = [math.inf if s.capacity is None else s.capacity for s in sites]
    demand = [daily_items(a.households, items_per_household) for a in areas]
    result = Assignment(loads, demand={a.id: demand[ai] for ai, a in enumerate(areas)})
    flows: dict[tuple[int, int], int] = {}
    left = list(demand)
    order = sorted(
        (row[0][0], ai) for ai, row in enumerate(near) if row and demand[ai] > 0
    )  # nearest first
    for _, ai in order:
        si = near[ai][0][1]
        loads[si].nearest_demand += demand[ai]
        take = int(min(room[si], left[ai]))
        if take:
            room[si] -= take
            left[ai] -= take
            loads[si].assigned += take
            flows[(ai, si)] = flows.get((ai, si), 0) + take
        loads[si].overflow_out += left[ai]
    for _, ai in order:
        for _dist, si in near[ai][1:]:
            if not left[ai]:
                break
            take = int(min(room[si], left[ai]))
            if take:
                room[si] -= take
                left[ai] -= take
                loads[si].assigned += take
                loads[si].overflow_in += take
                flows[(ai, si)] = flows.get((ai, si), 0) + take
    for ai, a in enumerate(areas):
        if left[ai]:
            result.unserved[a.id] = left[ai]
    result.flows = [(areas[ai].id, sites[si].id, n) for (ai, si), n in sorted(flows.items())]
    return result
