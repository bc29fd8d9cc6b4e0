"""The portal's look for plotly: one template, registered as the default of every dashboard.

Fonts, palette and lines come from the portal theme (``core/postalops/static/postalops.css``):
the Chinese font stack with a CJK fallback, postal green first, the status tones next, the
portal's line and ink colours for gridlines and text, and margins that leave room for Chinese
axis titles without wasting a phone's width.
"""

from __future__ import annotations

import plotly.graph_objects as go
import plotly.io as pio

NAME = "postalops"
#: ``pio.templates.default`` while the dashboards run: plotly's white base, then ours on top,
#: merged once at :func:`register` (a "a+b" default is merged again for every figure plotly
#: express builds: most of an overview page's time at 20 users).
DEFAULT = "postalops_white"

#: --po-font of postalops.css (CJK first, then a CJK fallback available on Linux servers).
FONT = (
    '"PingFang SC", "Hiragino Sans GB", "Microsoft YaHei", "Noto Sans CJK SC", '
    '"Source Han Sans SC", "WenQuanYi Micro Hei", system-ui, -apple-system, "Segoe UI", '
    "Roboto, Arial, sans-serif"
)
INK = "#1d2430"  # --po-ink
MUTED = "#5b6474"  # --po-muted
LINE = "#dfe3ea"  # --po-line
GREEN = "#0b6e3a"  # --po-green (primary)
GOLD = "#f2b705"  # --po-gold
#: Series colours: the primary and the accent of the theme, then the status tones of the badges
#: (info blue, danger red, success green, warning amber) and two neutrals, so a chart's colours
#: are the portal's colours.
PALETTE = [
    GREEN,
    GOLD,
    "#175cd3",  # status-info
    "#b42318",  # status-danger
    "#5fa57f",  # focus green
    "#93370d",  # status-warning
    "#067647",  # status-success
    MUTED,
    "#84caff",  # status-progress border
    "#344054",  # status-neutral
]


def _axis() -> dict:
    return {
        "gridcolor": LINE,
        "linecolor": LINE,
        "zerolinecolor": LINE,
        "tickcolor": LINE,
        "tickfont": {"color": MUTED, "size": 12},
        "title": {"font": {"color": MUTED, "size": 12}, "standoff": 8},
        "automargin": True,
        "showline": True,
    }


def template() -> go.layout.Template:
    return go.layout.Template(
        layout={
            "font": {"family": FONT, "size": 13, "color": INK},
            "colorway": PALETTE,
            "paper_bgcolor": "#ffffff",
            "plot_bgcolor": "#ffffff",
            "title": {"font": {"size": 15, "color": INK}, "x": 0, "xanchor": "left", "y": 0.97},
            "margin": {"l": 16, "r": 16, "t": 56, "b": 16, "pad": 4},
            "xaxis": _axis(),
            "yaxis": _axis(),
            # below everything (the figure's own bottom edge), so long or rotated category
            # labels on a phone never run under it
            "legend": {
                "orientation": "h",
                "yref": "container",
                "yanchor": "bottom",
                "y": 0,
                "x": 0,
                "title": {"text": ""},
                "font": {"size": 12},
            },
            "hoverlabel": {"font": {"family": FONT, "size": 13}, "bgcolor": "#ffffff"},
            "separators": ".,",
            "bargap": 0.25,
        },
        data={
            "bar": [go.Bar(marker={"line": {"width": 0}})],
            "scatter": [go.Scatter(line={"width": 2.5}, marker={"size": 7})],
        },
    )


def register() -> str:
    """Register the template and make it the default for every figure drawn afterwards (plotly
    express reads the default when it builds a figure). Idempotent; returns the default's name."""
    pio.templates[NAME] = template()
    pio.templates[DEFAULT] = pio.templates["plotly_white+" + NAME]
    pio.templates.default = DEFAULT
    return DEFAULT


def apply(fig: go.Figure) -> go.Figure:
    """Give ``fig`` the portal template (for a figure built before :func:`register`, or with
    another template); the figure's own layout settings stay on top of it."""
    if DEFAULT not in pio.templates:
        register()
    if fig.layout.template.layout.font.family == FONT:  # built under the default already:
        return fig  # setting it again validates a copy of the whole template (~0.1 s a figure)
    fig.update_layout(template=pio.templates[DEFAULT])
    return fig
