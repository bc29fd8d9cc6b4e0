"""Dashboard page: the rollout overview (provincial ops) and the unit comparison (city ops)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.express as px
import sqlalchemy as sa
from dash import html
from postalops.db import in_scope_clause
from postalops_dashboards import chart, figures, metric_cards
from sqlmodel import select

from .live import unit_table
from .models import Rollup
from .oee import Totals, kpis


def register_callbacks(dash_app: Any) -> None:
    """The page is drawn from the shell's unit and period inputs; it needs no callbacks."""


def daily(ctx: Any) -> pd.DataFrame:
    """One row per local day: summed day rollups of the subtree and their KPIs."""
    cols = [sa.func.sum(getattr(Rollup, f)) for f in Totals.__dataclass_fields__]
    rows = ctx.session.exec(
        select(Rollup.day, *cols)
        .where(
            Rollup.grain == "day",
            Rollup.day >= ctx.date_from,
            Rollup.day <= ctx.date_to,
            in_scope_clause(Rollup.tenant_code, ctx.tenant),
        )
        .group_by(Rollup.day)
        .order_by(Rollup.day)
    ).all()
    out = []
    for day, *values in rows:
        k = kpis(Totals(*(int(v or 0) for v in values)))
        out.append(
            {
                "day": day.isoformat(),
                "items_sorted": k["items_sorted"],
                "items_per_running_hour": float(k["items_per_running_hour"] or 0),
                "oee": float(k["oee"] or 0),
            }
        )
    return pd.DataFrame(out, columns=["day", "items_sorted", "items_per_running_hour", "oee"])


def overview(ctx: Any) -> html.Div:
    """Headline KPIs, units below the viewer compared, and the daily trend."""
    t = ctx.t
    metrics = ctx.metrics(plugin="sorter").get("sorter", {})
    table = unit_table(ctx.session, ctx.tenant, ctx.date_from, ctx.date_to)
    units = pd.DataFrame(
        [
            {
                "unit": r["unit"],
                "stations": r["stations"],
                "items_sorted": r["items_sorted"],
                "items_per_running_hour": float(r["items_per_running_hour"] or 0),
                "oee": float(r["oee"] or 0),
                "jams": r["jams"],
                "open_alerts": r["open_alerts"],
            }
            for r in table
        ],
        columns=[
            "unit",
            "stations",
            "items_sorted",
            "items_per_running_hour",
            "oee",
            "jams",
            "open_alerts",
        ],
    )
    units["unit_name"] = [ctx.unit_name(c) for c in units["unit"]]
    days = daily(ctx)
    rate_fig = px.bar(
        units,
        x="unit_name",
        y="items_per_running_hour",
        labels={
            "unit_name": t("单位", "Unit"),
            "items_per_running_hour": t("运行小时处理量（件/小时）", "Items per running hour"),
        },
        title=t("各单位运行小时处理量（件/小时）", "Items per running hour by unit"),
    )
    figures.format_values(rate_fig, "items/h", ctx.zh)
    if figures.has_data(rate_fig):  # a disc sorter's expected band: 3,000-3,500 items/h
        rate_fig.add_hrect(
            y0=3000,
            y1=3500,
            fillcolor="#0b6e3a",
            opacity=0.08,
            line_width=0,
            annotation_text=t("预期区间 3,000–3,500 件/小时", "Expected 3,000–3,500 items/h"),
            annotation_position="top left",
        )
    trend_fig = px.line(
        days,
        x="day",
        y="items_sorted",
        labels={"day": t("日期", "Day"), "items_sorted": t("分拣件数（件）", "Items sorted")},
        title=t("每日分拣件数", "Items sorted per day"),
    )
    figures.format_values(trend_fig, "items", ctx.zh)
    losses = pareto_frame(ctx)
    pareto_fig = px.bar(
        losses,
        x="reason",
        y="minutes",
        color="loss",
        labels={
            "reason": t("原因", "Reason"),
            "minutes": t("损失分钟数（分）", "Minutes lost"),
            "loss": t("损失类别", "Loss"),
        },
        title=t("停机损失帕累托（从大到小）", "Loss Pareto (largest first)"),
    )
    figures.format_values(pareto_fig, "minutes", ctx.zh)
    return html.Div(
        [
            metric_cards(metrics, ctx.zh, "sorter"),
            chart(rate_fig, units, "sorter-units", zh=ctx.zh),
            chart(trend_fig, days, "sorter-daily", zh=ctx.zh),
            chart(pareto_fig, losses, "sorter-pareto", zh=ctx.zh),
        ],
        id="sorter-dashboard",
    )


def pareto_frame(ctx: Any) -> pd.DataFrame:
    """The loss Pareto of the subtree and period (as on the losses page), reasons and losses in
    the reader's language."""
    from postalops.ui import status_label

    from .losses import DEFAULT_REASONS
    from .reasons import pareto_for

    rows = pareto_for(ctx.session, ctx.tenant, ctx.date_from, ctx.date_to)
    lang = "zh" if ctx.zh else "en"
    own = {}  # reasons of the units on the path and in the subtree (nearest first)
    if any(r.key not in DEFAULT_REASONS and r.key != r.loss for r in rows):
        from .reasons import names_in

        own = names_in(ctx.session, ctx.tenant)
    out = []
    for r in rows:
        if r.key in DEFAULT_REASONS:
            zh, en, _ = DEFAULT_REASONS[r.key]
            name = ctx.t(zh, en)
        elif r.key in own:
            name = ctx.t(*own[r.key])
        else:
            name = status_label(r.key, "sorter.loss", lang)[0] if r.key == r.loss else r.key
        out.append(
            {
                "reason": name,
                "loss": status_label(r.loss, "sorter.loss", lang)[0],
                "minutes": float(r.minutes),
                "share": float(r.share or 0),
                "cumulative": float(r.cumulative or 0),
            }
        )
    return pd.DataFrame(out, columns=["reason", "loss", "minutes", "share", "cumulative"])
