"""Coverage of service areas by active pickup points (三覆盖).

An area is *covered* when an active point is assigned to it, or when an active point lies within
the radius for the area's category (distance measured geodesically on WGS84, to the millimetre,
from the area's location; a point inside the area's polygon is at distance 0). Suspended and
closed points cover nothing, whether assigned or near.

Coverage % is covered households ÷ total households, per category, at every level of the org
tree the areas sit under (county → city → province → group).

``compute_coverage`` uses an STRtree over the active points to propose candidate pairs and then
decides each pair geodesically; ``compute_coverage_brute_force`` looks at every (area, point) pair
and must give the same answer (the benchmark and a property test check that).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import shapely
from postalops.errors import ValidationError

from .distance import geodesic_m, haversine_m, search_box
from .points import AreaCategory

RATE_QUANTUM = Decimal("0.0001")


@dataclass(frozen=True)
class Area:
    """A service area: an urban community, an administrative village or a mailroom."""

    id: Hashable
    category: AreaCategory
    lon: float
    lat: float
    households: int
    unit_path: str
    """Code path of the county/district (or station) the area belongs to, e.g.
    ``cn.henan.zhengzhou.jinshui``; coverage rolls up along its prefixes."""
    polygon: shapely.Geometry | None = None


@dataclass(frozen=True)
class Site:
    """A pickup point as coverage sees it: where it is and whether it serves today."""

    id: Hashable
    lon: float
    lat: float
    active: bool = True


@dataclass(frozen=True)
class CoverageRules:
    """Radius in metres within which an active point covers an area of each category."""

    radius_m: Mapping[AreaCategory, float] = field(
        default_factory=lambda: {
            AreaCategory.URBAN_COMMUNITY: 500.0,
            AreaCategory.VILLAGE: 2000.0,
            AreaCategory.MAILROOM: 500.0,
        }
    )

    def __post_init__(self) -> None:
        errors = []
        for category in AreaCategory:
            value = self.radius_m.get(category)
            if value is None:
                errors.append({"field": f"radius_m.{category.value}", "message": "missing"})
            elif not (0 <= float(value) <= 100_000):
                errors.append(
                    {"field": f"radius_m.{category.value}", "message": "must be 0..100000 m"}
                )
        if errors:
            raise ValidationError("invalid coverage radii", code="invalid_radius", details=errors)

    def radius_for(self, category: AreaCategory) -> float:
        return float(self.radius_m[category])


@dataclass(frozen=True)
class AreaCoverage:
    """How one area is covered: ``reason`` is "assigned", "within_radius" or None (uncovered)."""

    area_id: Hashable
    covered: bool
    reason: str | None
    site_id: Hashable | None
    distance_m: float | None


def _mm(d: np.ndarray) -> np.ndarray:
    # Decide on millimetres so a point placed exactly on the radius counts as inside whatever
    # the last bits of the geodesic solution say.
    return np.round(d, 3)


def _assigned_cover(
    areas: Sequence[Area], sites: Sequence[Site], assignments: Iterable[tuple[Hashable, Hashable]]
) -> dict[int, Hashable]:
    """Area index → id of an active point assigned to it (the lowest site index wins)."""
    active_rank = {s.id: i for i, s in enumerate(sites) if s.active}
    area_index = {a.id: i for i, a in enumerate(areas)}
    best: dict[int, tuple[int, Hashable]] = {}
    for area_id, site_id in assignments:
        ai = area_index.get(area_id)
        rank = active_rank.get(site_id)
        if ai is None or rank is None:
            continue
        if ai not in best or rank < best[ai][0]:
            best[ai] = (rank, site_id)
    return {ai: sid for ai, (_, sid) in best.items()}


def _nearest_within(
    n_areas: int, pair_area: np.ndarray, pair_site: np.ndarray, pair_dist: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per area, the site index and distance of the nearest pair (ties → lowest site index)."""
    best_site = np.full(n_areas, -1, dtype=np.int64)
    best_dist = np.full(n_areas, np.inf)
    if len(pair_area):
        order = np.lexsort((pair_site, pair_dist, pair_area))
        pa, ps, pd = pair_area[order], pair_site[order], pair_dist[order]
        first = np.ones(len(pa), dtype=bool)
        first[1:] = pa[1:] != pa[:-1]
        best_site[pa[first]] = ps[first]
        best_dist[pa[first]] = pd[first]
    return best_site, best_dist


def _finish(
    areas: Sequence[Area],
    active: Sequence[Site],
    assigned: dict[int, Hashable],
    best_site: np.ndarray,
    best_dist: np.ndarray,
) -> list[AreaCoverage]:
    out = []
    for i, area in enumerate(areas):
        if i in assigned:
            out.append(AreaCoverage(area.id, True, "assigned", assigned[i], None))
        elif best_site[i] >= 0:
            out.append(
                AreaCoverage(
                    area.id,
                    True,
                    "within_radius",
                    active[int(best_site[i])].id,
                    float(best_dist[i]),
                )
            )
        else:
            out.append(AreaCoverage(area.id, False, None, None, None))
    return out


def _arrays(areas: Sequence[Area], rules: CoverageRules):
    lon = np.fromiter((a.lon for a in areas), dtype=float, count=len(areas))
    lat = np.fromiter((a.lat for a in areas), dtype=float, count=len(areas))
    radius = np.fromiter((rules.radius_for(a.category) for a in areas), float, len(areas))
    return lon, lat, radius


def compute_coverage(
    areas: Sequence[Area],
    sites: Sequence[Site],
    assignments: Iterable[tuple[Hashable, Hashable]] = (),
    rules: CoverageRules | None = None,
) -> list[AreaCoverage]:
    """Coverage of every area, in the order given, using a spatial index over active sites."""
    rules = rules or CoverageRules()
    assigned = _assigned_cover(areas, sites, assignments)
    active = [s for s in sites if s.active]
    n = len(areas)
    if not active or not n:
        return _finish(areas, active, assigned, np.full(n, -1), np.full(n, np.inf))

    site_lon = np.fromiter((s.lon for s in active), float, len(active))
    site_lat = np.fromiter((s.lat for s in active), float, len(active))
    tree = shapely.STRtree(shapely.points(site_lon, site_lat))

    lon, lat, radius = _arrays(areas, rules)
    boxes = shapely.box(*search_box(lon, lat, radius))
    pair_area, pair_site = tree.query(boxes)
    dist = _mm(geodesic_m(lon[pair_area], lat[pair_area], site_lon[pair_site], site_lat[pair_site]))
    keep = dist <= radius[pair_area]
    pair_area, pair_site, dist = pair_area[keep], pair_site[keep], dist[keep]

    with_polygon = [i for i, a in enumerate(areas) if a.polygon is not None]
    if with_polygon:
        inside_area, inside_site = tree.query(
            [areas[i].polygon for i in with_polygon], predicate="intersects"
        )
        pair_area = np.concatenate([pair_area, np.asarray(with_polygon)[inside_area]])
        pair_site = np.concatenate([pair_site, inside_site])
        dist = np.concatenate([dist, np.zeros(len(inside_area))])

    best_site, best_dist = _nearest_within(n, pair_area, pair_site, dist)
    return _finish(areas, active, assigned, best_site, best_dist)


def compute_coverage_brute_force(
    areas: Sequence[Area],
    sites: Sequence[Site],
    assignments: Iterable[tuple[Hashable, Hashable]] = (),
    rules: CoverageRules | None = None,
    chunk: int = 256,
) -> list[AreaCoverage]:
    """Reference implementation: every (area, active site) pair is measured, no index.

    Each pair is first measured on the sphere; pairs within the radius plus 1 % (the sphere is
    off the ellipsoid by under 0.6 %) are measured again geodesically and decided exactly as in
    ``compute_coverage``.
    """
    rules = rules or CoverageRules()
    assigned = _assigned_cover(areas, sites, assignments)
    active = [s for s in sites if s.active]
    n = len(areas)
    site_lon = np.fromiter((s.lon for s in active), float, len(active))
    site_lat = np.fromiter((s.lat for s in active), float, len(active))
    lon, lat, radius = _arrays(areas, rules)
    pa, ps, pd = [], [], []
    if len(active):
        for start in range(0, n, chunk):
            stop = min(start + chunk, n)
            sphere = haversine_m(
                lon[start:stop, None], lat[start:stop, None], site_lon[None, :], site_lat[None, :]
            )
            ai, si = np.nonzero(sphere <= radius[start:stop, None] * 1.01 + 1.0)
            ai = ai + start
            d = _mm(geodesic_m(lon[ai], lat[ai], site_lon[si], site_lat[si]))
            keep = d <= radius[ai]
            pa.append(ai[keep])
            ps.append(si[keep])
            pd.append(d[keep])
        for i, area in enumerate(areas):
            if area.polygon is None:
                continue
            inside = np.nonzero(
                shapely.intersects(area.polygon, shapely.points(site_lon, site_lat))
            )[0]
            pa.append(np.full(len(inside), i))
            ps.append(inside)
            pd.append(np.zeros(len(inside)))
    pair_area = np.concatenate(pa) if pa else np.empty(0, dtype=np.int64)
    pair_site = np.concatenate(ps) if ps else np.empty(0, dtype=np.int64)
    dist = np.concatenate(pd) if pd else np.empty(0)
    best_site, best_dist = _nearest_within(
        n, pair_area.astype(np.int64), pair_site.astype(np.int64), dist
    )
    return _finish(areas, active, assigned, best_site, best_dist)


@dataclass(frozen=True)
class NearbySite:
    site_id: Hashable
    distance_m: float


def nearest_sites(
    lon: float, lat: float, sites: Sequence[Site], k: int = 3, start_radius_m: float = 2_000.0
) -> list[NearbySite]:
    """The ``k`` nearest active sites to (lon, lat), nearest first, by geodesic distance.

    Grows a search box until it holds ``k`` sites within its radius, so the answer is exact.
    """
    active = [s for s in sites if s.active]
    if not active or k <= 0:
        return []
    site_lon = np.fromiter((s.lon for s in active), float, len(active))
    site_lat = np.fromiter((s.lat for s in active), float, len(active))
    tree = shapely.STRtree(shapely.points(site_lon, site_lat))
    return _nearest_from_tree(lon, lat, active, site_lon, site_lat, tree, k, start_radius_m)


def _nearest_from_tree(lon, lat, active, site_lon, site_lat, tree, k, radius):
    want = min(k, len(active))
    while True:
        idx = tree.query(shapely.box(*search_box(lon, lat, radius)))
        if len(idx):
            d = _mm(geodesic_m(lon, lat, site_lon[idx], site_lat[idx]))
            inside = d <= radius
            if inside.sum() >= want or radius > 25_000_000:
                order = np.lexsort((idx[inside], d[inside]))[:want]
                return [
                    NearbySite(active[int(idx[inside][j])].id, float(d[inside][j])) for j in order
                ]
        radius *= 2


def nearest_each(
    lon: np.ndarray, lat: np.ndarray, sites: Sequence[Site]
) -> tuple[list[Hashable | None], np.ndarray]:
    """The nearest active site to every (lon, lat), by geodesic distance, all at once.

    The index's planar nearest (in degrees) is only a first guess; every active site within the
    geodesic distance of that guess is then measured, so the answer is exact.
    """
    active = [s for s in sites if s.active]
    n = len(lon)
    if not active or not n:
        return [None] * n, np.full(n, np.inf)
    site_lon = np.fromiter((s.lon for s in active), float, len(active))
    site_lat = np.fromiter((s.lat for s in active), float, len(active))
    tree = shapely.STRtree(shapely.points(site_lon, site_lat))
    qi, si = tree.query_nearest(shapely.points(lon, lat), all_matches=False)
    guess = np.full(n, np.inf)
    guess[qi] = geodesic_m(lon[qi], lat[qi], site_lon[si], site_lat[si])
    pa, ps = tree.query(shapely.box(*search_box(lon, lat, guess + 1.0)))
    d = _mm(geodesic_m(lon[pa], lat[pa], site_lon[ps], site_lat[ps]))
    best_site, best_dist = _nearest_within(n, pa, ps, d)
    return [active[int(i)].id if i >= 0 else None for i in best_site], best_dist


@dataclass(frozen=True)
class UncoveredArea:
    area: Area
    nearest: list[NearbySite]


def uncovered_with_nearest(
    areas: Sequence[Area], sites: Sequence[Site], results: Sequence[AreaCoverage], k: int = 3
) -> list[UncoveredArea]:
    """Uncovered areas (largest households first) each with its ``k`` nearest active points."""
    active = [s for s in sites if s.active]
    by_id = {a.id: a for a in areas}
    todo = [by_id[r.area_id] for r in results if not r.covered]
    todo.sort(key=lambda a: (-a.households, str(a.id)))
    if not active:
        return [UncoveredArea(a, []) for a in todo]
    if k == 1:
        ids, dists = nearest_each(
            np.array([a.lon for a in todo], dtype=float),
            np.array([a.lat for a in todo], dtype=float),
            active,
        )
        return [
            UncoveredArea(a, [NearbySite(sid, float(d))] if sid is not None else [])
            for a, sid, d in zip(todo, ids, dists, strict=True)
        ]
    site_lon = np.fromiter((s.lon for s in active), float, len(active))
    site_lat = np.fromiter((s.lat for s in active), float, len(active))
    tree = shapely.STRtree(shapely.points(site_lon, site_lat))
    return [
        UncoveredArea(
            a, _nearest_from_tree(a.lon, a.lat, active, site_lon, site_lat, tree, k, 2_000.0)
        )
        for a in todo
    ]


@dataclass(frozen=True)
class CoverageFigure:
    """Households and areas, covered and total, for one org unit and category."""

    covered_households: int = 0
    total_households: int = 0
    covered_areas: int = 0
    total_areas: int = 0

    @property
    def rate(self) -> Decimal | None:
        """Covered households ÷ total households, to 4 places; None when there are none."""
        if not self.total_households:
            return None
        return (Decimal(self.covered_households) / Decimal(self.total_households)).quantize(
            RATE_QUANTUM, rounding=ROUND_HALF_UP
        )

    def __add__(self, other: CoverageFigure) -> CoverageFigure:
        return CoverageFigure(
            self.covered_households + other.covered_households,
            self.total_households + other.total_households,
            self.covered_areas + other.covered_areas,
            self.total_areas + other.total_areas,
        )


def ancestors(path: str) -> list[str]:
    """``cn.henan.zhengzhou`` → [``cn``, ``cn.henan``, ``cn.henan.zhengzhou``]."""
    parts = path.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def rollup(
    areas: Sequence[Area], results: Sequence[AreaCoverage]
) -> dict[tuple[str, AreaCategory], CoverageFigure]:
    """Coverage figures keyed by (org-unit code path, category), at every level of the tree."""
    covered = {r.area_id: r.covered for r in results}
    leaf: dict[tuple[str, AreaCategory], CoverageFigure] = defaultdict(CoverageFigure)
    for a in areas:
        is_covered = covered.get(a.id, False)
        leaf[(a.unit_path, a.category)] += CoverageFigure(
            a.households if is_covered else 0, a.households, int(is_covered), 1
        )
    out: dict[tuple[str, AreaCategory], CoverageFigure] = defaultdict(CoverageFigure)
    for (path, category), figure in leaf.items():
        for prefix in ancestors(path):
            out[(prefix, category)] += figure
    return dict(out)
