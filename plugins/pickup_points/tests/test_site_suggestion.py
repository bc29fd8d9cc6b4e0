"""New-site suggestions: greedy maximal covering on a fixture with a known best answer."""

from __future__ import annotations

import pytest
from postalops.errors import ValidationError
from postalops_pickup_points.coverage import Area
from postalops_pickup_points.distance import offset
from postalops_pickup_points.points import AreaCategory
from postalops_pickup_points.site_suggestion import Candidate, suggest_sites

URBAN = AreaCategory.URBAN_COMMUNITY
LON, LAT = 113.6654, 34.7579  # Zhengzhou


def east(metres):
    return offset(LON, LAT, 90, metres)


def community(aid, metres_east, households):
    x, y = east(metres_east)
    return Area(aid, URBAN, x, y, households, "cn.henan.zhengzhou.jinshui")


def candidate(cid, metres_east):
    x, y = east(metres_east)
    return Candidate(cid, x, y)


# Communities along one street (urban radius 500 m):
#   a1 at 0 m (100 hh), a2 at 800 m (100 hh), a3 at 1600 m (150 hh), a4 at 5000 m (300 hh)
# Candidates:
#   A at 400 m reaches a1, a2 (400 m each)      -> 200 hh
#   B at 1200 m reaches a2, a3 (400 m each)     -> 250 hh
#   C at 5000 m reaches a4                       -> 300 hh
#   D at 2500 m reaches nothing (900 m to a3)    ->   0 hh
# With two new sites the best answer is {C, B} = 550 hh (C+A = 500, A+B = 350).
AREAS = [
    community("a1", 0, 100),
    community("a2", 800, 100),
    community("a3", 1600, 150),
    community("a4", 5000, 300),
]
CANDIDATES = [candidate("A", 400), candidate("B", 1200), candidate("C", 5000), candidate("D", 2500)]


def test_two_sites_pick_the_known_best_pair():
    picked = suggest_sites(AREAS, CANDIDATES, limit=2)
    assert [(s.candidate_id, s.new_households, s.area_ids) for s in picked] == [
        ("C", 300, ("a4",)),
        ("B", 250, ("a2", "a3")),
    ]


def test_third_site_only_adds_what_is_still_uncovered():
    # After C and B only a1 (100 hh) is left, which A covers.
    picked = suggest_sites(AREAS, CANDIDATES, limit=10)
    assert [(s.rank, s.candidate_id, s.new_households) for s in picked] == [
        (1, "C", 300),
        (2, "B", 250),
        (3, "A", 100),
    ]  # D adds nothing, so the list stops before the limit


def test_ties_go_to_the_candidate_listed_first():
    twins = [candidate("first", 5000), candidate("second", 5000)]
    assert suggest_sites(AREAS, twins, limit=1)[0].candidate_id == "first"


@pytest.mark.parametrize("limit", [0, -1, 1.5, "2", True])
def test_limit_must_be_a_positive_whole_number(limit):
    with pytest.raises(ValidationError) as err:
        suggest_sites(AREAS, CANDIDATES, limit=limit)
    assert err.value.details[0]["field"] == "limit"
