"""The dashboard page: KPI cards, the ranking and the daily curve against the plan line."""

from __future__ import annotations

import datetime as dt


def test_the_dashboard_draws_ranking_and_plan_curve(po_app, world, ecom, make_token, as_unit):
    from postalops_dashboards.figures import figures_of, raw_titles
    from postalops_dashboards.host import ViewContext
    from postalops_ecommerce.dashboards import layout

    make_token("cn.hebei", "ecommerce.ingest").post(
        "/api/v1/ecommerce/orders", json=[ecom.order("A1", "100.00"), ecom.order("A2", "50.00")]
    )
    ecom.refresh("cn.hebei")
    with as_unit("cn.hebei") as s:
        view = ViewContext(
            tenant="cn.hebei",
            date_from=dt.date(2022, 8, 1),
            date_to=dt.date(2022, 9, 6),
            session=s,
            zh=True,
            registry=po_app.extensions["postalops.plugins"],
        )
        component = layout(view)
        page = component.to_plotly_json()
    text = str(page)
    charts = dict(figures_of(component))
    assert {n: raw_titles(f) for n, f in charts.items() if raw_titles(f)} == {}
    # no plan at the city level: the ranking is by turnover, the unit by name
    ranking = charts["ecommerce-ranking"]
    assert ranking.layout.title.text == "零售额排名（未下达计划）"
    assert list(ranking.data[0].x) == ["石家庄"] and ranking.data[0].customdata == ("¥150.00",)
    curve = next(f for n, f in charts.items() if n.startswith("ecommerce-curve-"))
    assert curve.layout.yaxis.title.text == "累计零售额（元）"
    assert curve.data[0].customdata[-1] == "¥150.00"
    assert "'石家庄'" in text  # the ranking table names the unit (its code in the tooltip)
    assert "ecommerce-ranking-table" in text
    assert "cn.hebei.shijiazhuang" in text
    assert "计划线" in text  # the plan line of campaign 919
    assert "¥150.00" in text  # the turnover card (100.00 + 50.00)
