"""Plotly figures shared by the portal pages and the dashboard pages.

The map draws on plain lon/lat axes (true proportions at the data's latitude), so it needs no
tile server and no downloaded base map: it works on a network with no internet.
"""

from __future__ import annotations

import datetime as dt
import math

import plotly.graph_objects as go
from sqlmodel import Session

from . import coverage_store, network
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
    points = network.points_on(session, unit, day)
    uncovered = coverage_store.uncovered_list(session, unit, day, k=1)
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
