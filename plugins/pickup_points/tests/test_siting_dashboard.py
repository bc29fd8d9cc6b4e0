"""The siting chart of the 自提点 dashboard page: per unit, the latest finished scenario, optimal
(LSCP, MCLP) against the greedy suggestion, in sites and in coverage.

The instance of ``test_siting.py`` (on the equator, one step of 0.005° = 556.597 m), imported as
areas of Zhengzhou and of Kaifeng, with candidates L 0.5, M 1.5, R 2.5 and VS 13 steps:
  L → U0, U1 (110 households); M → U1, U2 (140); R → U2, U3, MR (112); VS → V (300);
  FAR (500) no candidate reaches. All households: 40 + 70 + 70 + 40 + 2 + 300 + 500 = 1,022.
  LSCP: {L, R, VS} = 3 sites; the greedy until full: VS, M, R, L = 4 sites.
  K = 3: MCLP {L, R, VS} = 522 → 522 / 1022 = 0.5108; greedy VS, M, R = 482 → 0.4716.
  K = 2: MCLP VS + M = 440 → 0.4305; greedy VS, M = 440 → 0.4305.
  K = 1: VS = 300 → 0.2935 (Zhengzhou's earlier scenario, replaced by its later K = 3 one).
"""

from __future__ import annotations

import datetime as dt

import pytest
from postalops import clock, context
from postalops.testing import system_context
from postalops_pickup_points import service

STEP = 0.005
ZZ, KF, HENAN = "cn.henan.zhengzhou", "cn.henan.kaifeng", "cn.henan"
AREAS = [("U0", "urban_community", 0, 40), ("U1", "urban_community", 1, 70),
         ("U2", "urban_community", 2, 70), ("U3", "urban_community", 3, 40),
         ("MR", "mailroom", 3.3, 2), ("V", "village", 10, 300),
         ("FAR", "village", 40, 500)]  # fmt: skip
CANDIDATES = [{"id": c, "lon": pos * STEP, "lat": 0.0} for c, pos in
              (("L", 0.5), ("M", 1.5), ("R", 2.5), ("VS", 13))]  # fmt: skip


def _import(make_token, unit: str) -> None:
    county = unit.rsplit(".", 1)[-1]
    csv = "code,name,category,lon,lat,households,county\n" + "".join(
        f"{code},{code}区,{cat},{pos * STEP},0,{hh},{county}\n" for code, cat, pos, hh in AREAS
    )
    api = make_token(unit, "pickup_points.view", "pickup_points.manage")
    r = api.post(
        "/api/v1/pickup_points/areas/import",
        data=csv.encode(),
        headers={"Content-Type": "text/csv"},
    )
    assert r.status_code == 200, r.get_json()


def _run(po_app, unit: str, code: str, k: int) -> None:
    params = service.SitingParams(k=k, candidates=CANDIDATES, time_limit_s=10)
    with context.activate(system_context(po_app, unit)) as ctx:
        service.run_scenario(ctx.session, unit, params, code, "test")


@pytest.fixture
def scenarios(po_app, make_token):
    _import(make_token, ZZ)
    _import(make_token, KF)
    _run(po_app, ZZ, "zz-first", 1)
    _run(po_app, KF, "kf", 2)
    _run(po_app, ZZ, "zz-later", 3)  # finished last: Zhengzhou's latest


def _overview(po_app, as_unit, unit: str, date_to: dt.date):
    from postalops_dashboards import ViewContext
    from postalops_dashboards.figures import figures_of, raw_titles
    from postalops_pickup_points.dashboards import pages

    overview = next(p for p in pages(None) if p.path == "pickup-points")
    with as_unit(unit) as s:
        ctx = ViewContext(
            unit, date_to.replace(day=1), date_to, s, True, po_app.extensions["postalops.plugins"]
        )
        charts = dict(figures_of(overview.layout(ctx)))
        rows = service.siting_comparison(s, unit, date_to)
    assert {n: raw_titles(f) for n, f in charts.items() if raw_titles(f)} == {}
    return charts, rows


def _series(fig) -> dict[str, dict[str, float]]:
    return {t.name: dict(zip(t.x, t.y, strict=True)) for t in fig.data}


@pytest.mark.usefixtures("scenarios")
def test_siting_chart_latest_scenario_per_unit(po_app, as_unit):
    charts, rows = _overview(po_app, as_unit, HENAN, clock.today())
    assert [(r["unit"], r["k"], r["lscp_sites"], r["greedy_full_sites"], r["mclp_coverage"],
             r["greedy_coverage"], r["mclp_households"], r["greedy_households"],
             r["total_households"]) for r in rows] == [
        (KF, 2, 3, 4, "0.4305", "0.4305", 440, 440, 1022),
        (ZZ, 3, 3, 4, "0.5108", "0.4716", 522, 482, 1022),
    ]  # fmt: skip
    assert rows[1]["scenario"] == "zz-later"
    sites = _series(charts["pickup_points_siting_sites"])
    assert sites == {
        "最少选址（LSCP，全覆盖）": {"开封": 3, "郑州": 3},
        "贪心（直到全覆盖）": {"开封": 4, "郑州": 4},
    }
    coverage = _series(charts["pickup_points_siting_coverage"])
    assert coverage == {
        "最大覆盖（MCLP，K 个点）": {"开封": 0.4305, "郑州": 0.5108},
        "贪心（K 个点）": {"开封": 0.4305, "郑州": 0.4716},
    }


@pytest.mark.usefixtures("scenarios")
def test_siting_chart_scope_and_period(po_app, as_unit):
    # Zhengzhou sees its own latest scenario only.
    charts, rows = _overview(po_app, as_unit, ZZ, clock.today())
    assert [(r["unit"], r["scenario"]) for r in rows] == [(ZZ, "zz-later")]
    assert _series(charts["pickup_points_siting_coverage"])["贪心（K 个点）"] == {"郑州": 0.4716}
    # A period that ended before any scenario finished: no rows, and the chart's empty state.
    charts, rows = _overview(po_app, as_unit, HENAN, dt.date(2022, 9, 30))
    assert rows == []
    assert charts["pickup_points_siting_sites"].data == ()
    assert charts["pickup_points_siting_coverage"].data == ()


@pytest.mark.usefixtures("scenarios")
def test_siting_chart_on_the_default_period_shows_a_scenario_finished_today(po_app, as_unit):
    # The dashboards open on the last complete day (yesterday). A scenario is a plan, not a
    # figure of the period: one finished today (the demo's, or a planner's just now) is shown
    # on that default view; a period that ended earlier still shows what was known by then.
    yesterday = clock.today() - dt.timedelta(days=1)
    charts, _ = _overview(po_app, as_unit, HENAN, yesterday)
    assert _series(charts["pickup_points_siting_sites"]) == {
        "最少选址（LSCP，全覆盖）": {"开封": 3, "郑州": 3},
        "贪心（直到全覆盖）": {"开封": 4, "郑州": 4},
    }
    charts, _ = _overview(po_app, as_unit, HENAN, clock.today() - dt.timedelta(days=2))
    assert charts["pickup_points_siting_sites"].data == ()
