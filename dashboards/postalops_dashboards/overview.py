"""The provincial overview: a card per KPI of every enabled plugin, a weekly trend and a
comparison of the unit's children for a chosen KPI, each downloadable as CSV."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import plotly.express as px
from dash import dcc, html
from postalops.models import OrgUnit
from sqlmodel import select

from .host import ViewContext, chart, metric_cards


def weeks(date_from: dt.date, date_to: dt.date, limit: int = 12) -> list[tuple[dt.date, dt.date]]:
    """Consecutive 7-day buckets ending at ``date_to`` (the last ``limit`` of them)."""
    out = []
    end = date_to
    while end >= date_from and len(out) < limit:
        start = max(date_from, end - dt.timedelta(days=6))
        out.append((start, end))
        end = start - dt.timedelta(days=1)
    return list(reversed(out))


def numeric(value: Any) -> float | None:
    try:
        return float(value)  # plotting only; exact values stay in the contract
    except (TypeError, ValueError):
        return None


def trend_frame(view: ViewContext, plugin: str, kpi: str) -> pd.DataFrame:
    rows = []
    for start, end in weeks(view.date_from, view.date_to):
        entry = view.metrics(plugin, date_from=start, date_to=end).get(plugin, {}).get(kpi)
        rows.append(
            {
                "from": start.isoformat(),
                "to": end.isoformat(),
                "value": numeric(entry["value"]) if entry else None,
            }
        )
    return pd.DataFrame(rows, columns=["from", "to", "value"])


def children_frame(view: ViewContext, plugin: str, kpi: str) -> pd.DataFrame:
    children = view.session.exec(
        select(OrgUnit).where(OrgUnit.parent_code == view.tenant).order_by(OrgUnit.code)
    ).all()
    rows = []
    for child in children:
        entry = view.metrics(plugin, tenant=child.code).get(plugin, {}).get(kpi)
        rows.append(
            {
                "unit": child.code,
                "name": child.name_zh if view.zh else child.name_en,
                "value": numeric(entry["value"]) if entry else None,
            }
        )
    return pd.DataFrame(rows, columns=["unit", "name", "value"])


def layout(view: ViewContext) -> html.Div:
    metrics = view.metrics()
    if not metrics:
        return html.Div(
            view.t(
                "本单位尚未启用任何业务插件，或所选期间没有数据。",
                "No business plugin is enabled here, or the period has no data.",
            ),
            id="po-overview-empty",
        )
    sections = []
    for plugin, kpis in metrics.items():
        info = view.registry.plugins[plugin].info
        sections.append(
            html.Section(
                [
                    html.H3(info.name_zh if view.zh else info.name_en),
                    metric_cards(kpis, view.zh, plugin),
                ],
                className="po-plugin",
                **{"data-plugin": plugin},
            )
        )
    # The headline chart: first KPI of the first plugin, weekly and by child unit.
    plugin = next(iter(metrics))
    kpi_name, entry = next(iter(metrics[plugin].items()))
    label = entry["label_zh"] if view.zh else entry["label_en"]
    trend = trend_frame(view, plugin, kpi_name)
    fig = px.line(
        trend,
        x="to",
        y="value",
        markers=True,
        title=view.t(f"{label}：按周趋势", f"{label}: weekly trend"),
    )
    children = children_frame(view, plugin, kpi_name)
    charts = [chart(fig, trend, f"trend-{plugin}-{kpi_name}", zh=view.zh)]
    if not children.empty:
        bar = px.bar(
            children,
            x="name",
            y="value",
            title=view.t(f"{label}：下级单位对比", f"{label}: by child unit"),
        )
        charts.append(chart(bar, children, f"children-{plugin}-{kpi_name}", zh=view.zh))
    return html.Div(
        [
            html.Div(sections),
            html.Div(charts, className="po-charts", id="po-overview-charts"),
            dcc.Store(id="po-overview-meta", data={"plugin": plugin, "kpi": kpi_name}),
        ],
        id="po-overview",
    )
