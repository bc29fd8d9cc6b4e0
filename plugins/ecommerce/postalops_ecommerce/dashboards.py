"""Dashboard page: headline KPIs, the ranking by city (or branch), and the daily cumulative
turnover curve against the plan line — all read through ``metrics.py``."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from dash import html
from postalops import formatting
from postalops.plugins import DashboardPage
from postalops_dashboards import chart, metric_cards
from postalops_dashboards import figures as charts

from . import metrics as figures


def pages(dash_app) -> list[DashboardPage]:
    return [DashboardPage("ecommerce", "电商节", "E-commerce festival", layout, order=50)]


def layout(ctx) -> html.Div:
    """Built per view for the viewer's unit and period; no callbacks needed."""
    session, tenant = ctx.session, ctx.tenant
    kpis = figures.metrics(session, tenant, ctx.date_from, ctx.date_to)
    level = "city" if tenant.count(".") <= 1 else "branch"
    if tenant == "cn":
        level = "province"
    board = figures.leaderboard(session, tenant, level, ctx.date_from, ctx.date_to)
    t = ctx.t
    parts = [metric_cards(kpis, ctx.zh, "ecommerce")]  # the host shows the page title

    df = pd.DataFrame(
        [
            {
                "rank": r["rank"],
                "unit": r["unit"],
                "turnover": float(r["turnover"]),
                "turnover_attainment": r["turnover_attainment"],
                "groupbuy_turnover": float(r["groupbuy_turnover"]),
                "groupbuy_attainment": r["groupbuy_attainment"],
                "valid_sessions": r["valid_sessions"],
                "active_leaders": r["active_leaders"],
                "active_pickup_points": r["active_pickup_points"],
                "orders": r["orders"],
                "ten_thousand_order_groups": r["ten_thousand_order_groups"],
            }
            for r in board
        ]
    )
    if not df.empty:
        names = [ctx.unit_name(u) for u in df["unit"]]
        planned = any(
            v is not None for v in [*df["turnover_attainment"], *df["groupbuy_attainment"]]
        )
        if planned:
            fig = go.Figure(
                go.Bar(
                    x=names,
                    y=[v or 0 for v in df["turnover_attainment"]],
                    name=t("零售额完成率", "Turnover vs plan"),
                )
            )
            fig.add_bar(
                x=names,
                y=[v or 0 for v in df["groupbuy_attainment"]],
                name=t("团购完成率", "Group-buy vs plan"),
            )
            fig.update_layout(
                title=t("完成率排名", "Attainment ranking"),
                barmode="group",
                xaxis_title=t("单位", "Unit"),
                yaxis_title=t("完成率", "vs plan"),
                height=400,
            )
            charts.format_values(fig, "ratio", ctx.zh)
            fig.add_hline(y=1, line_dash="dash", line_color="#5b6474")  # the plan: 100%
        else:  # no plan set for these units: rank by turnover instead of drawing nothing
            fig = go.Figure(go.Bar(x=names, y=list(df["turnover"])))
            fig.update_layout(
                title=t("零售额排名（未下达计划）", "Turnover ranking (no plan set)"),
                xaxis_title=t("单位", "Unit"),
                yaxis_title=t("零售额（元）", "Turnover (CNY)"),
                height=400,
            )
            charts.format_values(fig, "CNY", ctx.zh)
        parts.append(chart(fig, df, "ecommerce-ranking", zh=ctx.zh))
        loc = ctx.locale
        parts.append(
            html.Div(
                html.Table(
                    [
                        html.Thead(
                            html.Tr(
                                [
                                    html.Th(c, scope="col")
                                    for c in (
                                        "#",
                                        t("单位", "Unit"),
                                        t("零售额", "Turnover"),
                                        t("完成率", "vs plan"),
                                        t("订单", "Orders"),
                                        t("万单团", "10k groups"),
                                    )
                                ]
                            )
                        ),
                        html.Tbody(
                            [
                                html.Tr(
                                    [
                                        html.Td(r["rank"], className="num"),
                                        html.Td(ctx.unit_name(r["unit"]), title=r["unit"]),
                                        html.Td(
                                            formatting.money(r["turnover"], loc), className="num"
                                        ),
                                        html.Td(
                                            formatting.percent(r["turnover_attainment"], loc),
                                            className="num",
                                        ),
                                        html.Td(
                                            formatting.count(r["orders"], "orders", loc),
                                            className="num",
                                        ),
                                        html.Td(
                                            formatting.count(
                                                r["ten_thousand_order_groups"], "groups", loc
                                            ),
                                            className="num",
                                        ),
                                    ]
                                )
                                for r in board
                            ]
                        ),
                    ],
                    className="grid table table-sm po-table",
                    id="ecommerce-ranking-table",
                ),
                className="table-responsive",
            )
        )

    for campaign in figures.campaigns_for(session, tenant, ctx.date_from, ctx.date_to):
        curve = figures.daily_curve(session, tenant, campaign, ctx.date_to)
        actual = pd.DataFrame(curve["actual"], columns=["day", "cumulative_turnover"])
        fig = go.Figure(
            go.Scatter(
                x=actual["day"],
                y=actual["cumulative_turnover"].astype(float),
                mode="lines",
                name=t("累计零售额", "Cumulative turnover"),
            )
        )
        if curve["plan"]:
            plan = pd.DataFrame(curve["plan"], columns=["day", "plan"])
            fig.add_scatter(
                x=plan["day"],
                y=plan["plan"].astype(float),
                mode="lines",
                line={"dash": "dash"},
                name=t("计划线", "Plan line"),
            )
            actual = actual.merge(plan, on="day", how="outer")
        fig.update_layout(
            title=f"{campaign.name} · " + t("每日累计零售额与计划", "daily cumulative vs plan"),
            xaxis_title=t("日期", "Day"),
            yaxis_title=t("累计零售额（元）", "Cumulative turnover (CNY)"),
            height=400,
        )
        charts.format_values(fig, "CNY", ctx.zh)
        parts.append(chart(fig, actual, f"ecommerce-curve-{campaign.id}", zh=ctx.zh))
    if len(parts) == 1:
        parts.append(
            html.P(t("本期间暂无订单。", "No orders in this period."), className="po-empty")
        )
    return html.Div(parts, className="ecommerce-dashboard")
