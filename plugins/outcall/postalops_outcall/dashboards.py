"""Outcall's dashboard page: KPI cards, the call funnel, the daily trend, conversion by hour of
day and breakdowns by department, service item and agent. KPIs come from the metrics contract; the breakdowns are
this plugin's own queries, run with the viewer's scoped session."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go
from dash import html
from postalops.plugins import DashboardPage

from .metrics import breakdown, daily


def agent_names(session: Any, agents: list[str]) -> list[str]:
    """Agents as people read them: an attempt records the caller's principal name
    (``user:alice``); show the user's display name, else the login name without the prefix."""
    from postalops.models import User
    from sqlmodel import select

    logins = [a.split(":", 1)[1] if a.startswith("user:") else a for a in agents]
    rows = session.exec(
        select(User.username, User.display_name).where(User.username.in_(set(logins)))
    ).all()
    names = {u: d for u, d in rows if d}
    return [names.get(login, login) for login in logins]


def by_hour_chart(ctx: Any) -> tuple[pd.DataFrame, go.Figure]:
    """Conversion by local hour of day (handle_time.by_hour): attempts per hour as bars, their
    conversion rate (accepted attempts ÷ attempts) as a line on a percent axis at the right."""
    from postalops_dashboards import figures

    from .handle_time import period_stats

    t = ctx.t
    rows = period_stats(ctx.session, ctx.tenant, ctx.date_from, ctx.date_to)["by_hour"]
    df = pd.DataFrame(rows, columns=["hour", "calls", "accepted", "rate"])
    fig = go.Figure()
    if not df.empty:
        df["rate"] = df["rate"].astype(float)  # display only; the CSV keeps the same 4 places
        hours = [f"{h:02d}:00" for h in df["hour"]]
        fig.add_bar(x=hours, y=list(df["calls"]), name=t("外呼次数", "Calls"))
        fig.add_scatter(
            x=hours, y=list(df["rate"]), name=t("成功率", "Conversion rate"), yaxis="y2"
        )
        figures.format_values(fig, "calls", ctx.zh)
        line = fig.data[1]
        line.customdata = [figures.format_value(v, "ratio", ctx.zh) for v in line.y]
    fig.update_layout(
        title=t("按时段成功率", "Conversion by hour of day"),
        xaxis_title=t("通话开始时段", "Hour the call started"),
        yaxis_title=t("次数", "Calls"),
        yaxis2={
            "title": t("成功率", "Conversion rate"),
            "overlaying": "y",
            "side": "right",
            "tickformat": ".0%",
            "rangemode": "tozero",
        },
        legend={"orientation": "h"},
    )
    return df, fig


def pages(dash_app: Any) -> list[DashboardPage]:
    return [DashboardPage("outcall", "出件外呼", "Outcall", layout, order=10)]


def layout(ctx: Any) -> Any:
    from postalops_dashboards import chart, figures, metric_cards

    t = ctx.t
    kpis = ctx.metrics("outcall").get("outcall", {})
    if not kpis:
        return html.Div(t("本单位未启用出件外呼。", "Outcall is not enabled for this unit."))
    value = {k: float(v["value"]) for k, v in kpis.items()}  # display only
    funnel_df = pd.DataFrame(
        {
            "stage": [
                t("外呼次数", "Calls"),
                t("接通次数", "Reached"),
                t("同意邮寄次数", "Accepted"),
            ],
            "count": [
                value["calls"],
                value["reached"],
                round(value["success_rate"] * value["calls"]),
            ],
        }
    )
    funnel = go.Figure(
        go.Funnel(
            y=funnel_df["stage"],
            x=funnel_df["count"],
            textinfo="value+percent initial",
            texttemplate="%{value:,} (%{percentInitial:.1%})",
            hovertemplate="%{y}: %{x:,}" + t(" 次", " calls") + "<extra></extra>",
        )
    )
    funnel.update_layout(title=t("外呼漏斗", "Call funnel"))

    trend_df = pd.DataFrame(daily(ctx.session, ctx.tenant, ctx.date_from, ctx.date_to))
    trend = go.Figure()
    if not trend_df.empty:
        trend.add_bar(x=trend_df["date"], y=trend_df["calls"], name=t("外呼次数", "Calls"))
        trend.add_bar(x=trend_df["date"], y=trend_df["accepted"], name=t("同意邮寄", "Accepted"))
    trend.update_layout(
        title=t("每日趋势", "Daily trend"),
        barmode="overlay",
        xaxis_title=t("日期", "Day"),
        yaxis_title=t("次数", "Calls"),
    )
    figures.format_values(trend, "calls", ctx.zh)

    hours_df, hours = by_hour_chart(ctx)
    parts = [
        metric_cards(kpis, ctx.zh, "outcall"),
        chart(funnel, funnel_df, "outcall_funnel", zh=ctx.zh),
        chart(trend, trend_df, "outcall_daily", zh=ctx.zh),
        chart(hours, hours_df, "outcall_by_hour", zh=ctx.zh),
    ]
    for by, zh, en, axis_zh, axis_en in (
        ("department", "按部门", "By department", "部门", "Department"),
        ("service_item", "按事项", "By service item", "事项", "Service item"),
        ("agent", "按坐席", "By agent", "坐席", "Agent"),
    ):
        df = pd.DataFrame(breakdown(ctx.session, ctx.tenant, ctx.date_from, ctx.date_to, by))
        if by == "agent" and not df.empty:
            df["agent"] = agent_names(ctx.session, list(df["agent"]))
        fig = go.Figure()
        if not df.empty:
            fig.add_bar(y=df[by], x=df["calls"], orientation="h", name=t("外呼次数", "Calls"))
            fig.add_bar(y=df[by], x=df["accepted"], orientation="h", name=t("同意邮寄", "Accepted"))
        fig.update_layout(
            title=t(zh, en),
            barmode="overlay",
            height=max(300, 28 * len(df) + 140),
            xaxis_title=t("次数", "Calls"),
            yaxis_title=t(axis_zh, axis_en),
            yaxis_autorange="reversed",  # the busiest first, as the query orders them
        )
        figures.format_values(fig, "calls", ctx.zh, axis="x")
        parts.append(chart(fig, df, f"outcall_by_{by}", zh=ctx.zh))
    return html.Div(parts, className="outcall-dashboard")
