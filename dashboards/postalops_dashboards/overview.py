"""The provincial overview: a card per KPI of every enabled plugin, a weekly trend and a
comparison of the unit's children (by name) for a chosen KPI, each downloadable as CSV. Only
the plugins the viewer holds the view permission of are shown (``ViewContext.metrics``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import plotly.express as px
from dash import dcc, html
from postalops import metrics_cache
from postalops.metrics import tracking_as_of
from postalops.models import OrgUnit
from sqlmodel import select

from . import figures
from .host import ViewContext, can_view, chart, metric_cards


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
                "name": view.unit_name(child.code),
                "value": numeric(entry["value"]) if entry else None,
            }
        )
    return pd.DataFrame(rows, columns=["unit", "name", "value"])


def headline(metrics: dict[str, dict[str, Any]]) -> tuple[str, str, dict[str, Any]]:
    """``(plugin, kpi, entry)``: the first KPI whose value is a number other than zero."""
    for plugin, kpis in metrics.items():
        for name, entry in kpis.items():
            if numeric(entry.get("value")):
                return plugin, name, entry
    plugin = next(iter(metrics))
    name, entry = next(iter(metrics[plugin].items()))
    return plugin, name, entry


def layout(view: ViewContext) -> html.Div:
    """The page, from the per-process cache while no plugin's figures nor the org tree changed
    (``postalops.metrics_cache``: the same versions as the metrics it draws, and no older than
    its ``MAX_AGE``); building the two figures is most of a page's time."""
    cache = metrics_cache.for_bind(view.session.get_bind())
    scope = view.session.info.get("scope")
    if cache is None or scope is None or not scope.allows(view.tenant):
        return _layout(view)
    versions = cache.versions(view.session)
    if versions is None or cache.written(view.session):
        return _layout(view)
    visible = tuple(k for k in view.registry.business_keys() if can_view(view.registry, k))
    key = ("dashboards.overview", view.tenant, view.date_from, view.date_to, view.zh, visible)
    version = tuple(sorted(versions.items()))
    hit = cache.lookup(key, version)
    if hit is not None:
        if not cache.stale_soon(hit[1]) or not cache.claim(key):
            return hit[0]
        try:  # past half its life: this request rebuilds it, the others keep the valid page
            return _build(view, cache, key, version)
        finally:
            cache.release(key)
    with cache.single_flight(key):  # 20 viewers of a cold page wait for one build of it
        hit = cache.lookup(key, version)
        if hit is not None:
            return hit[0]
        return _build(view, cache, key, version)


def _build(view: ViewContext, cache: Any, key: tuple, version: tuple) -> html.Div:
    """Build the page and keep it as old as the oldest answer it drew (so it is never served
    more than ``MAX_AGE`` after its figures were computed)."""
    started = dt.datetime.now(dt.UTC)
    with tracking_as_of() as seen:
        page = _layout(view)
    oldest = min(
        [started, *(dt.datetime.fromisoformat(a) if isinstance(a, str) else a for a in seen)]
    )
    cache.store(key, version, page, oldest)
    return page


def _layout(view: ViewContext) -> html.Div:
    metrics = view.metrics()
    if not metrics:
        return html.Div(
            [
                html.P(
                    html.Strong(
                        view.t(
                            "本单位没有你可查看的业务数据",
                            "No business figures you may view for this unit",
                        )
                    )
                ),
                html.P(
                    view.t(
                        "本单位尚未启用业务插件，或你没有查看权限；可切换单位或联系管理员。",
                        "No business plugin is enabled here, or you lack the permission to "
                        "view it; choose another unit or ask an administrator.",
                    )
                ),
            ],
            id="po-overview-empty",
            className="po-empty",
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
    # The headline chart: the first KPI with a figure in the period (first plugin, first KPI
    # when none has), weekly and by child unit.
    plugin, kpi_name, entry = headline(metrics)
    label = entry["label_zh"] if view.zh else entry["label_en"]
    unit = entry.get("unit")
    value_title = figures.axis_title(label, unit, view.zh)
    trend = trend_frame(view, plugin, kpi_name)
    fig = px.line(
        trend,
        x="to",
        y="value",
        markers=True,
        labels={"to": view.t("周（截至）", "Week ending"), "value": value_title},
        title=view.t(f"{label}：按周趋势", f"{label}: weekly trend"),
    )
    figures.format_values(fig, unit, view.zh)
    children = children_frame(view, plugin, kpi_name)
    charts = [chart(fig, trend, f"trend-{plugin}-{kpi_name}", zh=view.zh)]
    if not children.empty:
        bar = px.bar(  # horizontal: every name readable, on a phone too
            children,
            x="value",
            y="name",
            orientation="h",
            labels={"name": view.t("下级单位", "Unit below"), "value": value_title},
            title=view.t(f"{label}：下级单位对比", f"{label}: by child unit"),
        )
        bar.update_layout(height=max(300, 26 * len(children) + 140))
        bar.update_yaxes(autorange="reversed")
        figures.format_values(bar, unit, view.zh, axis="x")
        charts.append(chart(bar, children, f"children-{plugin}-{kpi_name}", zh=view.zh))
    return html.Div(
        [
            html.Div(sections),
            html.Div(charts, className="po-charts", id="po-overview-charts"),
            dcc.Store(id="po-overview-meta", data={"plugin": plugin, "kpi": kpi_name}),
        ],
        id="po-overview",
    )
