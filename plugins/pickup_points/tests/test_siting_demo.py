"""The demo's saved siting scenario: built through the plugin's own services, idempotent."""

from __future__ import annotations

from postalops import clock
from postalops.testing import count_rows, system_scope
from postalops_pickup_points import service
from postalops_pickup_points.demo_siting import build_siting
from postalops_pickup_points.models import PickupPlannedSite, PickupSitingScenario

from .test_siting_scenario import ZZ, network  # noqa: F401  (fixture)


def test_demo_scenario_is_saved_once(po_app, network):  # noqa: F811
    db = po_app.extensions["postalops.db"]
    for expected_runs in (1, 0):  # the second build finds it done and adds nothing
        with db.transaction(system_scope()) as s:
            assert build_siting(s, {ZZ: None}) == expected_runs
    assert count_rows(po_app, PickupSitingScenario) == 1
    with db.transaction(system_scope()) as s:
        row = s.exec(PickupSitingScenario.__table__.select()).first()
        assert row.status == "done" and row.code == "demo-zhengzhou-redesign"
        # From scratch the three areas need three sites: U2 can only be its own candidate.
        assert row.result["lscp"]["site_count"] == 3
        # The dashboard's siting chart has it at Henan for a period ending today: 3 sites by
        # LSCP and by the greedy; K = 20 covers all 100 + 300 + 60 = 460 households both ways.
        got = service.siting_comparison(s, "cn.henan", clock.today())
        assert [(r["unit"], r["lscp_sites"], r["greedy_full_sites"], r["mclp_coverage"],
                 r["greedy_coverage"], r["total_households"]) for r in got] == [
            (ZZ, 3, 3, "1.0000", "1.0000", 460)
        ]  # fmt: skip
    assert count_rows(po_app, PickupPlannedSite) == 3
