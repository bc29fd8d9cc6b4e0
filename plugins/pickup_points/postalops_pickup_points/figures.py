"""Plotly figures shared by the portal pages and the dashboard pages.

The map draws on plain lon/lat axes (true proportions at the data's latitude), so it needs no
tile server and no downloaded base map: it works on a network with no internet.
"""

from __future__ import annotations

import datetime as dt
import math

import plotly.graph_objects as go
from sqlmodel import Session

from . import service
from .points import POINT_TYPE_LABELS, PointStatus, PointType

TYPE_COLOURS = {
    PointType.OWN: "#1b7a3e",
    PointType.PARTNER_SHOP: "#1f5fbf",
    PointType.SMART_LOCKER: "#7b3fb5",
    PointType.VILLAGE_STATION: "#c07a00",
    PointType.TOWNSHIP_COUNTER: "#5a5a5a",
}


def map_figure(
    session: Session, unit: str, day: dt.date, zh: bool = True, tiles: bool = False
) -> go.Figure:
    """Active points under ``unit`` on ``day`` coloured by type; uncovered areas as red crosses.

    ``tiles=True`` draws the same traces over OpenStreetMap tiles instead, for viewers who are
    online; the default needs nothing from the internet.
    """
    points = service.points_on(session, unit, day)
    uncovered = service.uncovered_list(session, unit, day, k=1)
    fig = go.Figure()
    trace = go.Scattermap if tiles else go.Scatter
    xy = ("lon", "lat") if tiles else ("x", "y")
    for ptype in PointType:
        sel = [p for p, st in points if st.point_type is ptype and st.status is PointStatus.ACTIVE]
        if not sel:
            continue
        zh_label, en_label = POINT_TYPE_LABELS[ptype]
        fig.add_trace(
            trace(
                **{xy[0]: [p.lon for p in sel], xy[1]: [p.lat for p in sel]},
                mode="markers",
                name=zh_label if zh else en_label,
                marker={"size": 7, "color": TYPE_COLOURS[ptype]},
                text=[f"{p.code} {p.name}" for p in sel],
                hoverinfo="text",
            )
        )
    if uncovered:
        fig.add_trace(
            trace(
                **{xy[0]: [u["lon"] for u in uncovered], xy[1]: [u["lat"] for u in uncovered]},
                mode="markers",
                name="未覆盖区域" if zh else "Uncovered area",
                marker={"size": 12, "color": "#d62728"}
                if tiles
                else {"size": 12, "color": "#d62728", "symbol": "x"},
                text=[f"{u['name']} ({u['households']})" for u in uncovered],
                hoverinfo="text",
            )
        )
    lats = [p.lat for p, _ in points] or [34.7]
    lons = [p.lon for p, _ in points] or [113.6]
    mid = sum(lats) / len(lats)
    if tiles:
        fig.update_layout(
            height=640,
            margin={"l": 0, "r": 0, "t": 30, "b": 0},
            legend={"orientation": "h"},
            map={"style": "open-street-map", "zoom": 6,
                 "center": {"lat": mid, "lon": sum(lons) / len(lons)}},
        )  # fmt: skip
        return fig
    fig.update_layout(
        height=640,
        margin={"l": 40, "r": 10, "t": 30, "b": 40},
        legend={"orientation": "h"},
        xaxis={"title": "经度" if zh else "Longitude"},
        yaxis={
            "title": "纬度" if zh else "Latitude",
            "scaleanchor": "x",
            "scaleratio": 1 / max(0.1, math.cos(math.radians(mid))),
        },
    )
    return fig


def siting_figure(session: Session, scenario: object, zh: bool = True) -> go.Figure:
    """A siting scenario on plain lon/lat axes: the unit's areas, today's active points (when
    the scenario keeps them), and the sites LSCP, MCLP and the greedy chose; areas no
    candidate reaches as red crosses."""
    from postalops.db import in_scope_clause
    from sqlmodel import select

    from .models import PickupArea

    tenant = scenario.tenant_code  # type: ignore[attr-defined]
    result = scenario.result or {}  # type: ignore[attr-defined]
    params = scenario.params or {}  # type: ignore[attr-defined]
    day = dt.date.fromisoformat(result.get("day") or dt.date.today().isoformat())
    areas = session.exec(
        select(PickupArea.id, PickupArea.name, PickupArea.lon, PickupArea.lat).where(
            in_scope_clause(PickupArea.tenant_code, tenant)
        )
    ).all()
    unreachable = set((result.get("lscp") or {}).get("unreachable", []))
    fig = go.Figure()

    def add(xs, ys, text, name, marker):
        if xs:
            fig.add_trace(
                go.Scatter(
                    x=xs, y=ys, mode="markers", name=name, marker=marker, text=text,
                    hoverinfo="text",
                )
            )  # fmt: skip

    reach = [a for a in areas if str(a.id) not in unreachable]
    add([a.lon for a in reach], [a.lat for a in reach], [a.name for a in reach],
        "服务区域" if zh else "Service area", {"size": 6, "color": "#9aa0a6"})  # fmt: skip
    far = [a for a in areas if str(a.id) in unreachable]
    add([a.lon for a in far], [a.lat for a in far], [a.name for a in far],
        "无候选点可达的区域" if zh else "Area no candidate reaches",
        {"size": 11, "color": "#d62728", "symbol": "x"})  # fmt: skip
    if params.get("existing", "keep") == "keep":
        pts = [p for p, st in service.points_on(session, tenant, day)
               if st.status is PointStatus.ACTIVE]  # fmt: skip
        add([p.lon for p in pts], [p.lat for p in pts], [f"{p.code} {p.name}" for p in pts],
            "现有自提点" if zh else "Existing point", {"size": 6, "color": "#1b7a3e"})  # fmt: skip
    sites = result.get("sites") or {}
    for key, zh_name, en_name, marker in (
        ("greedy", "贪心建议", "Greedy suggestion",
         {"size": 16, "color": "rgba(0,0,0,0)", "line": {"color": "#c07a00", "width": 2},
          "symbol": "circle-open"}),
        ("mclp", "最大覆盖（MCLP）", "Maximal covering (MCLP)",
         {"size": 12, "color": "#1f5fbf", "symbol": "diamond"}),
        ("lscp", "最少选址（LSCP）", "Set covering (LSCP)",
         {"size": 14, "color": "#7b3fb5", "symbol": "star"}),
    ):  # fmt: skip
        chosen = [(cid, v) for cid, v in sites.items() if v.get(key)]
        add([v["lon"] for _, v in chosen], [v["lat"] for _, v in chosen],
            [f"{cid} {v['name']}" for cid, v in chosen], zh_name if zh else en_name, marker)  # fmt: skip
    lats = [a.lat for a in areas] or [34.7]
    mid = sum(lats) / len(lats)
    fig.update_layout(
        height=560,
        margin={"l": 40, "r": 10, "t": 30, "b": 40},
        legend={"orientation": "h"},
        xaxis={"title": "经度" if zh else "Longitude"},
        yaxis={
            "title": "纬度" if zh else "Latitude",
            "scaleanchor": "x",
            "scaleratio": 1 / max(0.1, math.cos(math.radians(mid))),
        },
    )
    return fig
