"""Figure helpers every dashboard uses: the empty state, value formatting in hover texts and
ticks (through :mod:`postalops.formatting`, the same rules as the pages), and unit names.

- :func:`has_data` / :func:`empty_figure`: a chart with nothing to draw shows "所选期间没有数据"
  and what to do, never empty axes (:func:`postalops_dashboards.chart` does this by itself).
- :func:`format_values`: hover texts and ticks of a value axis as the portal writes them:
  ``¥1,234.56`` and ``2,195万`` for money, ``54.0%`` for rates, ``3,206 件`` for counts.
- :func:`unit_label`: a unit code as its name (郑州市分公司), as everywhere in the portal.
- :func:`raw_titles`: axis titles and legend names that read like a column name (``npl_ratio``),
  for the tests.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import plotly.graph_objects as go
from postalops import formatting

EMPTY_META = "po-empty"
_DATA_KEYS = ("x", "y", "z", "values", "lat", "lon", "r")


def _native(v: Any) -> Any:
    """A numpy scalar as the Python value (``repr(np.float64(7.0))`` is not a number)."""
    return v.item() if hasattr(v, "item") and not isinstance(v, Decimal) else v


def _present(v: Any) -> bool:
    v = _native(v)
    if v is None:
        return False
    if isinstance(v, float) and math.isnan(v):
        return False
    return not (isinstance(v, str) and v == "")


def _is_number(v: Any) -> bool:
    v = _native(v)
    return isinstance(v, int | float | Decimal) and not isinstance(v, bool)


def _values(trace: Any, key: str) -> list[Any] | None:
    arr = getattr(trace, key, None) if hasattr(trace, key) else None
    if arr is None:
        return None
    try:
        return list(arr)
    except TypeError:
        return None


def trace_has_data(trace: Any) -> bool:
    """A trace draws something: it has points, and each of its data arrays holds a value (a
    numeric array something other than blanks and zeros, so a bar per unit all at 0 because the
    period has no records counts as empty)."""
    arrays = [a for a in (_values(trace, k) for k in _DATA_KEYS) if a is not None]
    if not arrays or not any(arrays):
        return False
    for arr in arrays:
        present = [v for v in arr if _present(v)]
        if not present:
            return False
        numbers = [v for v in present if _is_number(v)]
        if numbers and len(numbers) == len(present) and not any(float(_native(v)) for v in numbers):
            return False
    return True


def has_data(fig: Any) -> bool:
    """Any trace of ``fig`` draws something (plan lines count: they are data)."""
    if is_empty_state(fig):
        return False
    return any(trace_has_data(t) for t in fig.data)


def is_empty_state(fig: Any) -> bool:
    meta = getattr(fig.layout, "meta", None)
    return isinstance(meta, dict) and meta.get(EMPTY_META) is True


def empty_message(zh: bool) -> tuple[str, str]:
    """Why the chart is empty, and what to do."""
    if zh:
        return "所选期间没有数据", "请选择其他期间或单位"
    return "No data in this period", "Choose another period or unit"


def empty_figure(title: Any = None, zh: bool = True, height: int = 260) -> go.Figure:
    """A figure that says there is nothing to draw (hidden axes, the title kept)."""
    headline, hint = empty_message(zh)
    fig = go.Figure()
    fig.update_layout(
        title=title,
        height=height,
        meta={EMPTY_META: True},
        xaxis={"visible": False},
        yaxis={"visible": False},
        showlegend=False,
        annotations=[
            {
                "text": f"<b>{headline}</b><br><span style='font-size:12px'>{hint}</span>",
                "xref": "paper",
                "yref": "paper",
                "x": 0.5,
                "y": 0.5,
                "showarrow": False,
                "font": {"size": 15, "color": "#5b6474"},
                "name": EMPTY_META,
            }
        ],
    )
    return fig


def or_empty(fig: go.Figure, zh: bool) -> go.Figure:
    """``fig`` itself when it draws something, otherwise its empty state (same title)."""
    if has_data(fig):
        return fig
    title = fig.layout.title.text if fig.layout.title else None
    return empty_figure(title, zh)


# --- dates ------------------------------------------------------------------------------------

_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}")


def _is_day(v: Any) -> bool:
    import datetime as dt

    v = _native(v)
    return isinstance(v, dt.date) or (isinstance(v, str) and bool(_ISO_DAY.match(v)))


def date_axes(fig: go.Figure) -> go.Figure:
    """Axes that carry days read as the portal writes dates (``2022-09-19``), in both languages:
    plotly's own date ticks are English (``Aug 7 2022``)."""
    for axis in ("x", "y"):
        values = [v for v in _axis_values(fig, axis) if _present(v)]
        if values and all(_is_day(v) for v in values[:50]):
            getattr(fig, f"update_{axis}axes")(tickformat="%Y-%m-%d", hoverformat="%Y-%m-%d")
    return fig


# --- value formatting -------------------------------------------------------------------------


def locale_of(zh: bool) -> str:
    return "zh" if zh else "en"


def format_value(value: Any, unit: str | None, zh: bool) -> str:
    """One value as the portal writes it (``postalops.formatting.kpi_value``)."""
    if not _present(value):
        return formatting.MISSING
    value = _native(value)
    if isinstance(value, float) and value.is_integer() and formatting.unit_info(unit) is None:
        value = int(value)  # a count drawn from a float column: 3206, not 3206.0
    return formatting.kpi_value(value, unit, locale_of(zh))


def _nice_step(span: float, target: int = 5) -> float:
    raw = span / max(target, 1)
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


def nice_ticks(values: Iterable[Any], target: int = 5, zero: bool = True) -> list[float]:
    """Round tick values covering the values (and 0 when ``zero``: bars start at 0), for axes
    whose labels we write ourselves."""
    nums = [float(_native(v)) for v in values if _present(v) and _is_number(v)]
    if not nums:
        return []
    lo, hi = min(nums), max(nums)
    if zero:
        lo, hi = min(0.0, lo), max(0.0, hi)
    if hi == lo:
        return [lo]
    step = _nice_step(hi - lo, target)
    start = math.floor(lo / step) * step
    ticks, t = [], start
    while t <= hi + step * 0.999:
        ticks.append(round(t, 10))
        t += step
    return ticks


def money_ticks(ticks: list[float], zh: bool) -> list[str]:
    """Axis ticks of money, all with the same decimals: ``¥1.20``, ``¥1,200``, and on a wide axis
    ``120万`` (zh) / ``¥1.2M`` (en)."""
    big = bool(ticks) and max(abs(t) for t in ticks) >= (
        float(formatting.CARD_WAN_FROM) if zh else float(formatting.MILLION)
    )
    if big:
        div, suffix, prefix = (formatting.WAN, "万", "") if zh else (formatting.MILLION, "M", "¥")
        scaled = [Decimal(repr(t)) / div for t in ticks]
        places = 0 if all(v == v.to_integral_value() for v in scaled) else 2
        return [f"{prefix}{formatting.number(v, places)}{suffix}" if v else "0" for v in scaled]
    places = 0 if all(float(t).is_integer() for t in ticks) else 2
    return [formatting.money(t, locale_of(zh), places) for t in ticks]


def _axis_values(fig: go.Figure, axis: str) -> list[Any]:
    out: list[Any] = []
    for trace in fig.data:
        out += _values(trace, axis) or []
    return out


def format_values(
    fig: go.Figure,
    unit: str | None,
    zh: bool,
    axis: str = "y",
    *,
    category: str | None = None,
) -> go.Figure:
    """Hover texts and ticks of ``fig``'s value axis (``axis``) in the portal's formats.

    ``unit`` is a metrics-contract unit (``CNY``, ``CNY/item``, ``ratio``, ``items``, ...).
    Each trace's hover shows its category (the other axis), its legend name and the formatted
    value; money ticks read ``¥``, and from 100,000 ``万`` (zh) / ``M`` (en); ratios read
    ``54%``; counts get thousands separators.
    """
    other = "x" if axis == "y" else "y"
    for trace in fig.data:
        vals = _values(trace, axis)
        if vals is None:
            continue
        trace.customdata = [format_value(v, unit, zh) for v in vals]
        who = "%{fullData.name}: " if getattr(trace, "name", None) else ""
        head = "%{" + other + "}" if category is None else category
        trace.hovertemplate = f"{head}<br>{who}%{{customdata}}<extra></extra>"
    info = formatting.unit_info(unit)
    kind = info.kind if info else None
    update = getattr(fig, f"update_{axis}axes")
    if kind in ("money", "money_per"):
        bars = any(getattr(t, "type", "") in ("bar", "funnel", "histogram") for t in fig.data)
        ticks = nice_ticks(_axis_values(fig, axis), zero=bars)
        if ticks:
            update(tickvals=ticks, ticktext=money_ticks(ticks, zh))
    elif kind == "ratio":
        update(tickformat=".0%")
    elif kind in ("minutes", "hours", "seconds"):
        update(tickformat=",.0f")
    else:
        update(tickformat=",~r" if kind == "rate" else ",~f")
    return fig


def axis_title(label: str, unit: str | None, zh: bool) -> str:
    """A value axis title with its unit: ``投递量（件）``, ``放款金额（元）``, ``Items (items)``; rates
    and durations read their unit on the ticks and keep the bare label."""
    info = formatting.unit_info(unit)
    if info is None or info.kind in ("ratio", "minutes", "hours", "seconds"):
        return label
    if info.kind == "money":
        word = "元" if zh else "CNY"
    elif info.kind == "money_per":
        word = f"元/{info.zh}" if zh else f"CNY/{info.en[0]}"
    else:
        word = info.zh if zh else info.en[1]
    if not word:
        return label
    return f"{label}（{word}）" if zh else f"{label} ({word})"


def unit_label(code: Any, zh: bool) -> str:
    """A unit code as its name in the viewer's language (``postalops.ui.unit_name``)."""
    from postalops.ui import unit_name

    return unit_name(code, locale_of(zh))


def unit_labels(codes: Iterable[Any], zh: bool) -> list[str]:
    return [unit_label(c, zh) for c in codes]


def month_label(value: Any, zh: bool) -> str:
    """``2022-09`` as ``2022年9月`` / ``Sep 2022`` (``postalops.formatting.month``)."""
    return formatting.month(value, locale_of(zh))


# --- audit ------------------------------------------------------------------------------------

_RAW = re.compile(r"^[a-z0-9]+(?:[_.][a-z0-9]+)+$|^[a-z]+$")


def _text(t: Any) -> str:
    if isinstance(t, dict):
        t = t.get("text")
    return str(t or "")


def raw_titles(fig: Any, columns: Iterable[str] = ()) -> list[str]:
    """Axis titles, legend title and legend names of ``fig`` (a figure or its JSON) that read
    like a column name or a code: snake_case or dotted (``npl_ratio``, ``cn.henan``), a
    lower-case English word (``value``, ``to``, ``name``) or one of ``columns``."""
    cols = set(columns)
    d = fig.to_plotly_json() if hasattr(fig, "to_plotly_json") else fig
    layout = d.get("layout") or {}
    texts = [
        _text((axis or {}).get("title"))
        for key, axis in layout.items()
        if re.fullmatch(r"[xy]axis\d*", key) and (axis or {}).get("visible") is not False
    ]
    texts.append(_text((layout.get("legend") or {}).get("title")))
    texts += [_text(t.get("name")) for t in d.get("data") or [] if t.get("showlegend") is not False]
    return [t for t in texts if t and (t in cols or _RAW.match(t.strip()))]


def figures_of(component: Any) -> list[tuple[str, Any]]:
    """``(chart name, figure)`` of every chart in a page layout (a Dash component tree), for
    plugin tests: ``assert not [n for n, f in figures_of(page) if raw_titles(f)]``."""
    found: list[tuple[str, Any]] = []

    def walk(node: Any) -> None:
        cid = getattr(node, "id", None)
        fig = getattr(node, "figure", None)
        if isinstance(cid, dict) and cid.get("type") == "chart" and fig is not None:
            found.append((cid.get("name"), fig))
        children = getattr(node, "children", None)
        for child in children if isinstance(children, list | tuple) else [children]:
            if child is not None and hasattr(child, "to_plotly_json"):
                walk(child)

    walk(component)
    return found
