"""Pickup network staff's workbench inbox (issue 14 §3), through the portal: areas whose
coverage was never computed, then, after the recompute, the coverage gaps (areas and households
out of reach), linking to the coverage page; a viewer gets none."""

from __future__ import annotations

import re

from postalops import clock
from postalops_pickup_points import service

from .test_api_and_services import ALL, ZZ, import_network


def tasks(html: str) -> dict[str, str]:
    out = {}
    for key, body in re.findall(r'data-task="pickup_points:([a-z_]+)">(.*?)</li>', html, re.S):
        out[key] = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)).strip()
    return out


def test_a_planner_sees_the_coverage_gaps(make_token, make_user, login, as_unit):
    import_network(make_token(ZZ, *ALL))
    planner = login(make_user("planner", ZZ, "pickup_planner"))
    html = planner.get("/").get_data(as_text=True)
    got = tasks(html)
    assert list(got) == ["coverage_unknown"] and "3 个" in got["coverage_unknown"]

    with as_unit(ZZ) as s:
        service.recompute_and_store(s, ZZ, clock.today(), lambda *a: None)
        s.commit()
    html = planner.get("/").get_data(as_text=True)
    got = tasks(html)
    # U2 (300 households, 5 km from the nearest point) is the one gap
    assert list(got) == ["coverage_gaps"]
    assert "自提点覆盖空白 1 个" in got["coverage_gaps"] and "300 户" in got["coverage_gaps"]
    assert 'href="/p/pickup_points/coverage"' in html
    viewer = login(make_user("vw", ZZ, "viewer"))
    assert tasks(viewer.get("/").get_data(as_text=True)) == {}
