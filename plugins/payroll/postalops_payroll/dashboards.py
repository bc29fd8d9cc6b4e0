"""Dashboard pages: cost per item by city and month, own vs outsourced, our rates vs market.

The KPI cards read the metrics contract (``ctx.metrics``); the charts read the same payslip
aggregates as the API's /reports endpoints, so every figure matches the portal and exports.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.express as px
from dash import html
from postalops.plugins import DashboardPage

from .dimensions import LABELS_ZH
from .period import Month
from .reports import market_gap, unit_cost_report


def pages(dash_app: Any) -> list[DashboardPage]:
    return [
        DashboardPage("payroll", "计件工资成本", "Piece-rate pay: cost per item", layout, order=40)
    ]


def _dim(code: str, zh: bool) -> str:
    """A category or tier code (``gov_mail``, ``urban``) as its label."""
    from postalops.ui import humanize

    return LABELS_ZH.get(code, code) if zh else humanize(code)


def layout(ctx: Any) -> Any:
    from postalops_dashboards import figures
    from postalops_dashboards.host import chart, metric_cards

    metrics = ctx.metrics("payroll").get("payroll", {})
    rows = unit_cost_report(ctx.session, ctx.tenant, ctx.date_from, ctx.date_to)
    children: list[Any] = [metric_cards(metrics, ctx.zh, "payroll")]
    if not rows:
        children.append(
            html.P(
                ctx.t("所选期间尚无工资核算。", "No payroll runs in this period."),
                id="payroll-empty",
                className="po-empty",
            )
        )
        return html.Div(children, id="payroll-dashboard")
    frame = pd.DataFrame(
        [
            {
                "city": r["city"],
                "city_name": ctx.unit_name(r["city"]),
                "month": r["month"],
                "month_label": figures.month_label(r["month"], ctx.zh),
                "cost_per_item": float(
                    r["cost_per_item"] or 0
                ),  # chart only; exact values in the API
                "own_cost_per_item": float(r["own_cost_per_item"] or 0),
                "outsourced_unit_price": float(r["outsourced_unit_price"] or 0),
                "own_items": r["own_items"],
                "outsourced_items": r["outsourced_items"],
            }
            for r in rows
        ]
    )
    per_item = ctx.t("单件成本（元/件）", "Cost per item (CNY)")
    month = ctx.t("月份", "Month")
    by_city = px.line(
        frame,
        x="month_label",
        y="cost_per_item",
        color="city_name",
        markers=True,
        labels={
            "cost_per_item": per_item,
            "month_label": month,
            "city_name": ctx.t("地市", "City"),
        },
        title=ctx.t("各地市单件投递成本", "Cost per delivered item by city"),
    )
    figures.format_values(by_city, "CNY/item", ctx.zh)
    who = ctx.t("用工类型", "Staff")
    monthly = frame.groupby("month_label", as_index=False, sort=False).apply(
        lambda g: pd.Series(
            {
                ctx.t("自有", "Own staff"): (g.own_cost_per_item * g.own_items).sum()
                / max(g.own_items.sum(), 1),
                ctx.t("外包", "Outsourced"): (g.outsourced_unit_price * g.outsourced_items).sum()
                / max(g.outsourced_items.sum(), 1),
            }
        ),
        include_groups=False,
    )
    long = monthly.melt(id_vars="month_label", var_name="who", value_name="cost")
    own_vs_out = px.bar(
        long,
        x="month_label",
        y="cost",
        color="who",
        barmode="group",
        labels={"cost": per_item, "month_label": month, "who": who},
        title=ctx.t("自有与外包单件成本", "Own staff vs outsourced cost per item"),
    )
    figures.format_values(own_vs_out, "CNY/item", ctx.zh)
    children += [
        chart(by_city, frame, "payroll-cost-by-city", zh=ctx.zh),
        chart(own_vs_out, long, "payroll-own-vs-outsourced", zh=ctx.zh),
    ]
    gap = market_gap(
        ctx.session,
        ctx.tenant if ctx.tenant.count(".") >= 2 else rows[0]["city"],
        Month.parse(ctx.date_to),
    )
    if gap:
        gap_frame = pd.DataFrame(
            [
                {
                    "category": g["category"],
                    "category_label": _dim(g["category"], ctx.zh),
                    "tier": g["tier"],
                    "tier_label": _dim(g["tier"], ctx.zh),
                    "difference": float(g["difference"]),
                }
                for g in gap
            ]
        )
        gap_chart = px.bar(
            gap_frame,
            x="category_label",
            y="difference",
            color="tier_label",
            barmode="group",
            labels={
                "difference": ctx.t("我方减市场价（元/件）", "Ours minus market (CNY/item)"),
                "category_label": ctx.t("邮件类别", "Mail category"),
                "tier_label": ctx.t("区域", "Area tier"),
            },
            title=ctx.t(
                f"我方投递单价与通达系对比（{ctx.unit_name(gap[0]['unit'])} 第{gap[0]['version']}版）",
                f"Our door rates vs market ({ctx.unit_name(gap[0]['unit'])} v{gap[0]['version']})",
            ),
        )
        figures.format_values(gap_chart, "CNY/item", ctx.zh)
        children.append(chart(gap_chart, gap_frame, "payroll-market-gap", zh=ctx.zh))
    return html.Div(children, id="payroll-dashboard")
