"""Coverage on hand-made geometries (三覆盖)."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from postalops.errors import ValidationError
from postalops_pickup_points.coverage import (
    Area,
    CoverageRules,
    Site,
    compute_coverage,
    compute_coverage_brute_force,
    nearest_sites,
    rollup,
    uncovered_with_nearest,
)
from postalops_pickup_points.distance import geodesic_m, offset
from postalops_pickup_points.points import AreaCategory

URBAN = AreaCategory.URBAN_COMMUNITY
VILLAGE = AreaCategory.VILLAGE
MAILROOM = AreaCategory.MAILROOM
# A community in Zhengzhou's Jinshui district.
LON, LAT = 113.6654, 34.7579
JINSHUI = "cn.henan.zhengzhou.jinshui"


def area(aid, category=URBAN, lon=LON, lat=LAT, households=100, unit=JINSHUI, polygon=None):
    return Area(aid, category, lon, lat, households, unit, polygon)


def site_at(sid, metres, azimuth=90.0, active=True, lon=LON, lat=LAT):
    x, y = offset(lon, lat, azimuth, metres)
    return Site(sid, x, y, active)


def covered_by(results):
    return {r.area_id: (r.covered, r.reason, r.site_id) for r in results}


@pytest.mark.parametrize("compute", [compute_coverage, compute_coverage_brute_force])
@pytest.mark.parametrize(
    ("metres", "covered"),
    [
        (499.0, True),  # inside the 500 m urban radius
        (500.0, True),  # exactly on the boundary counts as inside
        (500.002, False),  # 2 mm beyond: decisions are taken to the millimetre
        (501.0, False),  # outside
    ],
)
def test_urban_community_covered_within_500_m(compute, metres, covered):
    result = compute([area("c1")], [site_at("p1", metres)])
    assert result[0].covered is covered
    if covered:
        assert result[0].reason == "within_radius"
        assert result[0].distance_m == pytest.approx(metres, abs=0.001)


@pytest.mark.parametrize("compute", [compute_coverage, compute_coverage_brute_force])
def test_village_uses_its_own_2_km_radius(compute):
    areas = [area("v1", VILLAGE), area("c1", URBAN)]
    # 1,999 m east: inside the village radius, far outside the urban one.
    result = covered_by(compute(areas, [site_at("p1", 1999.0)]))
    assert result == {"v1": (True, "within_radius", "p1"), "c1": (False, None, None)}


def test_radius_is_configurable_per_category():
    rules = CoverageRules({URBAN: 300.0, VILLAGE: 2000.0, MAILROOM: 50.0})
    result = compute_coverage([area("c1"), area("m1", MAILROOM)], [site_at("p1", 400.0)], (), rules)
    assert [r.covered for r in result] == [False, False]


def test_assignment_overrides_distance():
    # The point is 5 km away, far beyond 500 m, but it is assigned to serve the community.
    result = compute_coverage([area("c1")], [site_at("p1", 5000.0)], [("c1", "p1")])
    assert covered_by(result) == {"c1": (True, "assigned", "p1")}


@pytest.mark.parametrize("compute", [compute_coverage, compute_coverage_brute_force])
def test_suspended_point_covers_nothing_even_when_assigned_or_near(compute):
    near_but_suspended = site_at("p1", 100.0, active=False)
    result = compute([area("c1"), area("c2")], [near_but_suspended], [("c2", "p1")])
    assert covered_by(result) == {"c1": (False, None, None), "c2": (False, None, None)}


def test_nearest_active_point_is_reported_as_the_cover():
    sites = [
        site_at("far", 450.0),
        site_at("near", 120.0, azimuth=0),
        site_at("x", 50, active=False),
    ]
    result = compute_coverage([area("c1")], sites)
    assert result[0].site_id == "near"


@pytest.mark.parametrize("compute", [compute_coverage, compute_coverage_brute_force])
def test_point_inside_the_area_polygon_covers_it(compute):
    # A 2 km x 2 km campus; its location is the SW corner, the locker is 1.2 km NE inside it.
    x0, y0 = LON, LAT
    x1, _ = offset(LON, LAT, 90, 2000)
    _, y1 = offset(LON, LAT, 0, 2000)
    campus = shapely.box(x0, y0, x1, y1)
    locker = site_at("locker", 1200.0, azimuth=45)
    result = compute([area("campus", MAILROOM, polygon=campus)], [locker])
    assert covered_by(result) == {"campus": (True, "within_radius", "locker")}
    assert result[0].distance_m == 0.0


def test_invalid_radius_names_the_category():
    with pytest.raises(ValidationError) as err:
        CoverageRules({URBAN: -1.0, VILLAGE: 2000.0})
    fields = {d["field"] for d in err.value.details}
    assert fields == {"radius_m.urban_community", "radius_m.mailroom"}


def test_rollup_sums_households_up_the_tree():
    # jinshui: c1 (100 hh, covered) + c2 (300 hh, uncovered) -> 100/400 = 0.25
    # erqi:    c3 (200 hh, covered)                          -> 200/200 = 1
    # zhengzhou: 300 / 600 = 0.5 ; villages counted separately: v1 60/60
    erqi = "cn.henan.zhengzhou.erqi"
    far_lon, far_lat = offset(LON, LAT, 180, 10_000)
    areas = [
        area("c1", households=100),
        area("c2", households=300, lon=far_lon, lat=far_lat),
        area("c3", households=200, unit=erqi),
        area("v1", VILLAGE, households=60, unit=erqi),
    ]
    results = compute_coverage(areas, [site_at("p1", 10.0)])
    figures = rollup(areas, results)
    assert str(figures[(JINSHUI, URBAN)].rate) == "0.2500"
    assert str(figures[(erqi, URBAN)].rate) == "1.0000"
    assert str(figures[("cn.henan.zhengzhou", URBAN)].rate) == "0.5000"
    assert figures[("cn", URBAN)].total_households == 600
    assert figures[("cn", URBAN)].covered_areas == 2
    assert str(figures[("cn.henan", VILLAGE)].rate) == "1.0000"


def test_nearest_points_are_listed_by_geodesic_distance():
    sites = [site_at("a", 3000.0), site_at("b", 800.0, azimuth=0), site_at("c", 12_000.0)]
    sites.append(site_at("off", 100.0, active=False))
    nearest = nearest_sites(LON, LAT, sites, k=2)
    assert [n.site_id for n in nearest] == ["b", "a"]
    assert nearest[0].distance_m == pytest.approx(800.0, abs=0.001)


def test_uncovered_list_puts_biggest_first_with_nearest_points():
    far1 = offset(LON, LAT, 0, 5000)
    far2 = offset(LON, LAT, 180, 9000)
    areas = [
        area("small", lon=far1[0], lat=far1[1], households=50),
        area("big", lon=far2[0], lat=far2[1], households=900),
        area("ok"),
    ]
    sites = [site_at("p1", 10.0)]
    results = compute_coverage(areas, sites)
    listed = uncovered_with_nearest(areas, sites, results, k=1)
    assert [u.area.id for u in listed] == ["big", "small"]
    assert listed[0].nearest[0].site_id == "p1"
    expected = float(geodesic_m(far2[0], far2[1], sites[0].lon, sites[0].lat))
    assert listed[0].nearest[0].distance_m == pytest.approx(expected, abs=0.001)


coords = st.tuples(st.floats(113.60, 113.70), st.floats(34.70, 34.80))


@settings(max_examples=40, deadline=None)
@given(
    area_xy=st.lists(coords, min_size=1, max_size=30),
    site_xy=st.lists(st.tuples(coords, st.booleans()), min_size=0, max_size=30),
    categories=st.lists(st.sampled_from(list(AreaCategory)), min_size=30, max_size=30),
)
def test_indexed_coverage_equals_brute_force(area_xy, site_xy, categories):
    areas = [area(i, categories[i], x, y) for i, (x, y) in enumerate(area_xy)]
    sites = [Site(f"s{j}", x, y, active) for j, ((x, y), active) in enumerate(site_xy)]
    assert compute_coverage(areas, sites) == compute_coverage_brute_force(areas, sites)


@settings(max_examples=30, deadline=None)
@given(
    area_xy=st.lists(coords, min_size=1, max_size=25),
    site_xy=st.lists(st.tuples(coords, st.booleans()), min_size=1, max_size=25),
)
def test_vectorised_nearest_equals_the_one_by_one_search(area_xy, site_xy):
    from postalops_pickup_points.coverage import nearest_each

    sites = [Site(f"s{j}", x, y, active) for j, ((x, y), active) in enumerate(site_xy)]
    lon = np.array([x for x, _ in area_xy])
    lat = np.array([y for _, y in area_xy])
    ids, dists = nearest_each(lon, lat, sites)
    for (x, y), sid, d in zip(area_xy, ids, dists, strict=True):
        expected = nearest_sites(x, y, sites, k=1)
        if not expected:
            assert sid is None
        else:
            assert d == pytest.approx(expected[0].distance_m, abs=0.001)
