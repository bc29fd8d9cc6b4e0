"""Dashboard pages (through the dashboard hook): the network map and a coverage / direct-delivery
overview, drawn for the viewer's unit and period."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.express as px
from dash import html
from postalops.plugins import DashboardPage

from . import coverage_store, direct_delivery_store
from .figures import map_figure
from .points import AREA_CATEGORY_LABELS


def _overview(ctx: Any) -> Any:
    from postalops_dashboards import chart, figures, metric_cards

    metrics = ctx.metrics("pickup_points").get("pickup_points", {})
    rows = coverage_store.coverage_table(ctx.session, ctx.tenant, ctx.date_to)
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
    by_city = direct_delivery_store.direct_points_by_city(ctx.session, ctx.tenant, ctx.date_to)
    df_city = pd.DataFrame(
        sorted(by_city.items(), key=lambda kv: -kv[1]), columns=["city", "points"]
    )
    df_city["city_name"] = [ctx.unit_name(c) for c in df_city["city"]]
    fig_city = px.bar(
        df_city, x="city_name", y="points",
        labels={"city_name": ctx.t("地市", "City"), "points": ctx.t("直投自提点（个）", "Direct points")},
    )  # fmt: skip
    figures.format_values(fig_city, "points", ctx.zh)
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
        ]
    )


def _map(ctx: Any) -> Any:
    from postalops_dashboards import chart

    fig = map_figure(ctx.session, ctx.tenant, ctx.date_to, ctx.zh)
    uncovered = coverage_store.uncovered_list(ctx.session, ctx.tenant, ctx.date_to, k=3)
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
