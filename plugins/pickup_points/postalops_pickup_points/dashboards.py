"""Dashboard pages (through the dashboard hook): the network map and a coverage / direct-delivery
overview, drawn for the viewer's unit and period."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import plotly.express as px
from dash import html
from postalops import clock
from postalops.plugins import DashboardPage

from . import service
from .figures import map_figure
from .points import AREA_CATEGORY_LABELS


def _overview(ctx: Any) -> Any:
    from postalops_dashboards import chart, figures, metric_cards

    metrics = ctx.metrics("pickup_points").get("pickup_points", {})
    rows = service.coverage_table(ctx.session, ctx.tenant, ctx.date_to)
    depth = ctx.tenant.count(".") + 1
    df = pd.DataFrame(
        [r for r in rows if r["unit"].count(".") == depth and r["rate"] is not None]
        or [{"unit": ctx.tenant, "category": "", "rate": None, "covered_households": 0,
             "total_households": 0, "covered_areas": 0, "total_areas": 0}]
    )  # fmt: skip
    df["rate"] = pd.to_numeric(df["rate"])
    df["category_label"] = [
        AREA_CATEGORY_LABELS.get(c, (c, c))[0 if ctx.zh else 1] for c in df["category"]
    ]
    df["unit_name"] = [ctx.unit_name(u) for u in df["unit"]]
    fig = px.bar(
        df, x="unit_name", y="rate", color="category_label", barmode="group",
        labels={"rate": ctx.t("覆盖率", "Coverage"), "unit_name": ctx.t("单位", "Unit"),
                "category_label": ctx.t("类别", "Category")},
    )  # fmt: skip
    figures.format_values(fig, "ratio", ctx.zh)
    fig.update_yaxes(tickformat=".0%", range=[0, 1.05])
    by_city = service.direct_points_by_city(ctx.session, ctx.tenant, ctx.date_to)
    df_city = pd.DataFrame(
        sorted(by_city.items(), key=lambda kv: -kv[1]), columns=["city", "points"]
    )
    df_city["city_name"] = [ctx.unit_name(c) for c in df_city["city"]]
    fig_city = px.bar(
        df_city, x="city_name", y="points",
        labels={"city_name": ctx.t("地市", "City"), "points": ctx.t("直投自提点（个）", "Direct points")},
    )  # fmt: skip
    figures.format_values(fig_city, "points", ctx.zh)
    fig_sites, df_sites, fig_cov, df_cov = _siting_figures(ctx)
    return html.Div(
        [
            html.P(
                ctx.t("三覆盖、两确保", "Coverage and service quality"), className="text-secondary"
            ),
            metric_cards(metrics, ctx.zh, "pickup_points"),
            html.H3(ctx.t("下级单位覆盖率", "Coverage by unit below")),
            chart(fig, df, "pickup_points_coverage", zh=ctx.zh),
            html.H3(ctx.t("各市串点直投自提点", "Direct-delivery points by city")),
            chart(fig_city, df_city, "pickup_points_direct_by_city", zh=ctx.zh),
            html.H3(ctx.t("选址：最优解与贪心建议（各单位最新方案）",
                          "Siting: optimal against the greedy suggestion (latest scenario per unit)")),
            chart(fig_sites, df_sites, "pickup_points_siting_sites", zh=ctx.zh),
            chart(fig_cov, df_cov, "pickup_points_siting_coverage", zh=ctx.zh),
        ]
    )  # fmt: skip


def _siting_figures(ctx: Any) -> tuple[Any, pd.DataFrame, Any, pd.DataFrame]:
    """Per unit's latest finished scenario: sites for full coverage (LSCP against the greedy
    until full) and coverage with K sites (MCLP against the greedy with the same K)."""
    from postalops_dashboards import figures

    # A scenario is a plan, not a figure of the period: on a view reaching the last complete
    # day (the default), one finished today counts too; an earlier period shows what was known
    # by its end.
    as_of = ctx.date_to
    if as_of >= clock.today() - dt.timedelta(days=1):
        as_of = max(as_of, clock.today())
    rows = service.siting_comparison(ctx.session, ctx.tenant, as_of)
    lscp, full = (
        ctx.t("最少选址（LSCP，全覆盖）", "Fewest sites (LSCP, full coverage)"),
        ctx.t("贪心（直到全覆盖）", "Greedy (until full coverage)"),
    )
    mclp, greedy = (
        ctx.t("最大覆盖（MCLP，K 个点）", "Most covered (MCLP, K sites)"),
        ctx.t("贪心（K 个点）", "Greedy (K sites)"),
    )
    unit, scenario = ctx.t("单位", "Unit"), ctx.t("方案", "Scenario")
    sites_rows, cov_rows = [], []
    for r in rows:
        name = ctx.unit_name(r["unit"])
        for model, value in ((lscp, r["lscp_sites"]), (full, r["greedy_full_sites"])):
            sites_rows.append({unit: name, scenario: r["scenario"], "model": model, "v": value})
        for model, value, hh in (
            (mclp, r["mclp_coverage"], r["mclp_households"]),
            (greedy, r["greedy_coverage"], r["greedy_households"]),
        ):
            cov_rows.append(
                {unit: name, scenario: r["scenario"], "model": model, "k": r["k"],
                 "v": None if value is None else float(value), "households": hh,
                 "total": r["total_households"]}
            )  # fmt: skip
    df_sites = pd.DataFrame(sites_rows, columns=[unit, scenario, "model", "v"])
    df_cov = pd.DataFrame(
        cov_rows, columns=[unit, scenario, "model", "k", "v", "households", "total"]
    )
    model_label = ctx.t("模型", "Model")
    fig_sites = px.bar(
        df_sites, x=unit, y="v", color="model", barmode="group", hover_data=[scenario],
        labels={"v": ctx.t("选址数（个）", "Sites"), "model": model_label},
    )  # fmt: skip
    figures.format_values(fig_sites, "points", ctx.zh)
    fig_cov = px.bar(
        df_cov, x=unit, y="v", color="model", barmode="group", hover_data=[scenario, "k"],
        labels={"v": ctx.t("K 个点覆盖的户数占比", "Households covered with K sites"),
                "model": model_label, "k": "K"},
    )  # fmt: skip
    figures.format_values(fig_cov, "ratio", ctx.zh)
    fig_cov.update_yaxes(tickformat=".0%", range=[0, 1.05])
    # The downloads name their columns in the viewer's language.
    df_sites = df_sites.rename(columns={"model": model_label, "v": ctx.t("选址数", "Sites")})
    df_cov = df_cov.rename(
        columns={"model": model_label, "v": ctx.t("覆盖率", "Coverage"),
                 "households": ctx.t("覆盖户数", "Households covered"),
                 "total": ctx.t("应覆盖户数", "Households to cover")}
    )  # fmt: skip
    return fig_sites, df_sites, fig_cov, df_cov


def _map(ctx: Any) -> Any:
    from postalops_dashboards import chart

    fig = map_figure(ctx.session, ctx.tenant, ctx.date_to, ctx.zh)
    uncovered = service.uncovered_list(ctx.session, ctx.tenant, ctx.date_to, k=3)
    df = pd.DataFrame(
        [
            {
                "area": u["name"],
                "category": u["category"],
                "unit": u["unit"],
                "households": u["households"],
                "nearest": ", ".join(
                    f"{n['code']} ({n['distance_m']:.0f} m)" for n in u["nearest"]
                ),
            }
            for u in uncovered
        ],
        columns=["area", "category", "unit", "households", "nearest"],
    )
    return html.Div(
        [
            html.P(ctx.t("按类型着色；红叉为未覆盖区域。无需地图瓦片。",
                         "Coloured by type; red crosses are uncovered areas. No tiles needed.")),
            chart(fig, df, "pickup_points_uncovered", zh=ctx.zh),
        ]
    )  # fmt: skip


def pages(dash_app: Any) -> list[DashboardPage]:
    """The two pages; they need no callbacks of their own (the host redraws on unit/period)."""
    return [
        DashboardPage("pickup-points", "自提点", "Pickup points", _overview, order=300),
        DashboardPage("pickup-points-map", "自提点地图", "Pickup-point map", _map, order=301),
    ]
