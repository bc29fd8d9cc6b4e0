"""Creates the Dash app, its shell (unit, period, page list) and the login guard."""

from __future__ import annotations

import datetime as dt
import io
import urllib.parse
import weakref
from dataclasses import dataclass
from typing import Any

import dash
import dash_bootstrap_components as dbc
import pandas as pd
from dash import Input, Output, State, dcc, html
from flask import Flask, session
from postalops import clock, context, formatting
from postalops.models import OrgUnit
from postalops.plugins import DashboardPage
from postalops.tenancy import in_subtree
from postalops.ui import css_urls
from sqlmodel import Session, select

from . import figures, theme

BASE = "/dashboards/"
_DECLARED: weakref.WeakKeyDictionary[Any, frozenset[str]] = weakref.WeakKeyDictionary()


@dataclass
class ViewContext:
    """What a dashboard page is drawn for: the viewer's chosen unit and inclusive period."""

    tenant: str
    date_from: dt.date
    date_to: dt.date
    session: Session
    zh: bool
    registry: Any

    def t(self, zh: str, en: str) -> str:
        return zh if self.zh else en

    def metrics(
        self,
        plugin: str | None = None,
        tenant: str | None = None,
        date_from: dt.date | None = None,
        date_to: dt.date | None = None,
    ) -> dict:
        from postalops.metrics import collect

        if plugin is not None and not can_view(self.registry, plugin):
            return {}
        data = collect(
            self.registry,
            self.session,
            tenant or self.tenant,
            date_from or self.date_from,
            date_to or self.date_to,
            plugin,
        )["metrics"]
        # a plugin's figures show only to holders of its view permission (the payroll cost of a
        # city is not for its loan officers), whichever page asks for them
        return {k: v for k, v in data.items() if can_view(self.registry, k)}

    @property
    def locale(self) -> str:
        return "zh" if self.zh else "en"

    def unit_name(self, code: Any) -> str:
        """A unit code as its name in the viewer's language (郑州市分公司), through the core's
        ``postalops.ui.unit_name``; outside a Flask app (a page built in a unit test) from this
        view's session."""
        from flask import has_app_context

        if has_app_context():
            return figures.unit_label(code, self.zh)
        names = self.__dict__.get("_unit_names")
        if names is None:
            rows = self.session.exec(select(OrgUnit.code, OrgUnit.name_zh, OrgUnit.name_en)).all()
            names = self.__dict__["_unit_names"] = {c: (zh, en) for c, zh, en in rows}
        found = names.get(str(code))
        return str(code) if found is None else found[0 if self.zh else 1]


def view_permission(registry: Any, key: str, page: DashboardPage | None = None) -> str | None:
    """The permission a viewer needs for plugin ``key``'s dashboards and cards: the page's own
    ``permission``, else the plugin's ``<key>.view`` when it declares one, else none (built-ins
    such as the overview)."""
    if page is not None and page.permission:
        return page.permission
    declared = _DECLARED.get(registry)
    if declared is None:
        declared = _DECLARED[registry] = frozenset(p.name for p in registry.permissions())
    name = f"{key}.view"
    return name if name in declared else None


def can_view(registry: Any, key: str, page: DashboardPage | None = None) -> bool:
    """The current caller may see plugin ``key``'s dashboard figures (fails closed without a
    caller)."""
    ctx = context.current_or_none()
    if ctx is None:
        return False
    needed = view_permission(registry, key, page)
    return needed is None or ctx.principal.can(needed)


def csv_link(df: pd.DataFrame, name: str, label: str = "CSV") -> html.A:
    """A link that downloads ``df`` as UTF-8 CSV (with BOM, so Excel shows Chinese)."""
    buf = io.StringIO()
    df.to_csv(buf, index=False)
    href = "data:text/csv;charset=utf-8," + urllib.parse.quote("\ufeff" + buf.getvalue())
    return html.A(
        label, href=href, download=f"{name}.csv", className="csv-link", **{"data-csv": name}
    )


def chart(
    figure: Any, df: pd.DataFrame | None = None, name: str | None = None, *, zh: bool | None = None
) -> html.Div:
    """A plotly figure in the portal's template with a CSV download of the data it draws; a
    figure with nothing to draw shows the empty state ("所选期间没有数据") instead of empty axes,
    and offers no download.

    ``df`` is what the download holds (default: the figure's own trace data, a ``series``,
    ``x``, ``y`` frame); ``name`` names the file and the chart's id, unique on the page
    (default: from the figure's title and data); ``zh`` the language (default: the viewer's).
    """
    zh = _zh() if zh is None else zh
    if df is None:
        df = figure_frame(figure)
    if name is None:
        name = _chart_name(figure)
    theme.apply(figure)
    figures.date_axes(figure)
    empty = not figures.has_data(figure)
    if empty:
        figure = theme.apply(figures.or_empty(figure, zh))
    graph = dcc.Graph(
        figure=figure,
        id={"type": "chart", "name": name},
        # plotly's own texts (modebar tooltips, date names) in the viewer's language: the zh-CN
        # locale script is served from assets/ (plotly-locale-zh-cn.js), never a CDN; no
        # "Share chart..." button (it would send the data to plotly's cloud)
        config={
            "displaylogo": False,
            "responsive": True,
            "locale": "zh-CN" if zh else "en",
            "modeBarButtonsToRemove": ["sendChartToCloud"],
        },
        className="po-graph",
    )
    if empty:
        return html.Div([graph], className="chart po-chart-empty", **{"data-empty": "1"})
    return html.Div(
        [graph, csv_link(df, name, "下载 CSV" if zh else "Download CSV")], className="chart"
    )


def figure_frame(figure: Any) -> pd.DataFrame:
    """The points a figure draws, one row each: ``series`` (the trace name), ``x``, ``y``."""
    rows = []
    for trace in getattr(figure, "data", ()) or ():
        xs = list(getattr(trace, "x", None) if getattr(trace, "x", None) is not None else [])
        ys = list(getattr(trace, "y", None) if getattr(trace, "y", None) is not None else [])
        for i in range(max(len(xs), len(ys))):
            rows.append(
                {
                    "series": getattr(trace, "name", None) or "",
                    "x": xs[i] if i < len(xs) else None,
                    "y": ys[i] if i < len(ys) else None,
                }
            )
    return pd.DataFrame(rows, columns=["series", "x", "y"])


def _chart_name(figure: Any) -> str:
    import hashlib

    title = getattr(getattr(getattr(figure, "layout", None), "title", None), "text", None) or ""
    slug = "-".join("".join(c if c.isalnum() else " " for c in title.lower()).split())[:40]
    digest = hashlib.sha1(figure.to_json().encode()).hexdigest()[:8]
    return f"{slug or 'chart'}-{digest}"


def format_value(entry: dict[str, Any], zh: bool = True) -> str:
    """A KPI of the metrics contract as on the portal's cards (``postalops.formatting``)."""
    value = entry.get("value")
    if value is None or value == "":
        return formatting.MISSING  # no data in the period (e.g. a rate with a zero denominator)
    try:
        return formatting.kpi_value(value, entry.get("unit"), "zh" if zh else "en", card=True)
    except ValueError:
        return str(value)


def metric_cards(
    metrics: dict[str, dict[str, Any]], zh: bool | None = None, plugin: str = ""
) -> html.Div:
    """One card per KPI of a metrics-contract dict (``{kpi: {"value", "unit", "label_zh",
    "label_en"}}``, e.g. ``ctx.metrics("payroll")["payroll"]``), values formatted by unit; ``zh``
    the language (default: the viewer's); ``plugin`` prefixes each card's ``data-kpi``."""
    zh = _zh() if zh is None else zh
    cards = []
    for name, entry in metrics.items():
        cards.append(
            html.Div(
                [
                    html.Div(entry["label_zh"] if zh else entry["label_en"], className="label"),
                    html.Div(format_value(entry, zh), className="value"),
                ],
                className="kpi",
                **{"data-kpi": f"{plugin}.{name}" if plugin else name},
            )
        )
    return html.Div(cards, className="kpis")


def _viewer_units(s: Session) -> list[OrgUnit]:
    ctx = context.current()
    root = ctx.principal.home_unit or "cn"
    return [
        u for u in s.exec(select(OrgUnit).order_by(OrgUnit.code)).all() if in_subtree(u.code, root)
    ]


class _PortalDash(dash.Dash):
    """The Dash app of the portal: its page says which language it is in (screen readers and
    the browser's font choice for Chinese depend on ``<html lang>``)."""

    def interpolate_index(self, **kwargs: Any) -> str:
        page = super().interpolate_index(**kwargs)
        lang = "zh-CN" if _zh() else "en"
        return page.replace("<html>", f'<html lang="{lang}">', 1)


def create_dash(app: Flask) -> dash.Dash:
    """Mount the one Dash app of this process on ``app`` and collect plugin pages."""
    theme.register()  # every figure drawn from here on uses the portal's template
    dash_app = _PortalDash(
        __name__,
        server=app,
        url_base_pathname=BASE,
        serve_locally=True,
        suppress_callback_exceptions=True,
        title="PostalOps",
        assets_folder=str(__import__("pathlib").Path(__file__).parent / "assets"),
        update_title=None,
        external_stylesheets=css_urls(),  # the portal's Bootstrap and theme, served locally
    )
    registry = app.extensions["postalops.plugins"]
    pages: list[tuple[str, DashboardPage]] = []
    for key, items in registry.call_each("postalops_dashboard_pages", boot=True, dash_app=dash_app):
        pages.extend((key, p) for p in items)
    pages.sort(key=lambda kp: (kp[1].order, kp[0]))
    app.extensions["postalops.dash"] = dash_app
    app.extensions["postalops.dash_pages"] = pages
    # Dash posts its callbacks without a CSRF token; they only read (no state changes besides
    # the viewer's own unit choice) and the session cookie is SameSite=Lax, so they are exempt
    # from the CSRF check, never from the login.
    app.extensions["postalops.csrf_exempt_paths"] = (BASE + "_dash-update-component",)

    dash_app.layout = lambda: _shell(app)

    @dash_app.callback(
        Output("po-page", "children"),
        Input("po-url", "pathname"),
        Input("po-unit", "value"),
        Input("po-from", "value"),
        Input("po-to", "value"),
    )
    def render(pathname: str, unit: str, start: str, end: str) -> Any:
        return _render(app, pathname or BASE, unit, start, end)

    @dash_app.callback(
        Output("po-dash-nav", "children"), Input("po-url", "pathname"), Input("po-unit", "value")
    )
    def nav(pathname: str, unit: str) -> Any:
        ctx = context.current_or_none()
        if ctx is None:
            return []
        root = ctx.principal.home_unit or "cn"
        unit = unit if unit and in_subtree(unit, root) else ctx.unit
        return _nav_links(app, ctx.session, unit, _zh(), pathname or BASE)

    @dash_app.callback(
        Output("po-unit", "value"), Input("po-unit", "value"), State("po-unit", "options")
    )
    def keep_unit(unit: str, options: list) -> Any:
        if unit and any(o["value"] == unit for o in options or []):
            session["unit"] = unit
        return dash.no_update

    return dash_app


def _zh() -> bool:
    from flask_babel import get_locale

    return str(get_locale() or "zh_CN").startswith("zh")


def _enabled_pages(app: Flask, s: Session, unit: str) -> list[tuple[str, DashboardPage]]:
    registry = app.extensions["postalops.plugins"]
    enabled = registry.effective(s, unit)
    return [
        (k, p)
        for k, p in app.extensions["postalops.dash_pages"]
        if registry.is_builtin(k) or k in enabled
    ]


def _visible_pages(app: Flask, s: Session, unit: str) -> list[tuple[str, DashboardPage]]:
    """Pages of plugins enabled at ``unit`` that the caller holds the view permission of."""
    registry = app.extensions["postalops.plugins"]
    return [(k, p) for k, p in _enabled_pages(app, s, unit) if can_view(registry, k, p)]


def _nav_links(app: Flask, s: Session, unit: str, zh: bool, pathname: str | None) -> list[html.A]:
    """The pages the viewer may open at ``unit`` (enabled there, view permission held), the
    current one marked."""
    current = (pathname or "")[len(BASE) :].strip("/") if pathname else None
    return [
        html.A(
            p.title_zh if zh else p.title_en,
            href=BASE + p.path,
            className="po-dash-link" + (" active" if current == p.path.strip("/") else ""),
            **{"data-page": k + ":" + p.path},
            **({"aria-current": "page"} if current == p.path.strip("/") else {}),
        )
        for k, p in _visible_pages(app, s, unit)
    ]


def _shell(app: Flask) -> html.Div:
    ctx = context.current_or_none()
    if ctx is None:  # the login guard normally redirects first; never leak data
        return html.Div("login required", id="po-login-required")
    s = ctx.session
    zh = _zh()
    units = _viewer_units(s)
    today = dt.date.today()
    default_from, default_to = _default_period(app, today)
    links = _nav_links(app, s, ctx.unit, zh, None)
    return html.Div(
        [
            dcc.Location(id="po-url"),
            html.Header(
                [
                    html.A(
                        "← " + ("返回门户" if zh else "Back to portal"),
                        href="/",
                        className="po-back",
                    ),
                    html.Nav(
                        links,
                        id="po-dash-nav",
                        className="po-dash-nav",
                        **{"aria-label": "看板" if zh else "Dashboards"},
                    ),
                    html.Div(
                        [
                            html.Label(
                                "单位" if zh else "Unit",
                                htmlFor="po-unit",
                                className="visually-hidden",
                            ),
                            # native controls (Bootstrap-styled): keyboard and screen-reader
                            # friendly, and the phone's own pickers
                            dbc.Select(
                                id="po-unit",
                                value=ctx.unit,
                                className="po-unit-select",
                                options=[
                                    {
                                        "label": ("\u2003" * (u.depth - units[0].depth))
                                        + (u.name_zh if zh else u.name_en),
                                        "value": u.code,
                                    }
                                    for u in units
                                ],
                            ),
                            *_date_field("po-from", "开始日期" if zh else "From", default_from),
                            html.Span("→", className="po-date-sep", **{"aria-hidden": "true"}),
                            *_date_field("po-to", "结束日期" if zh else "To", default_to),
                        ],
                        className="po-dash-controls",
                    ),
                ],
                className="po-dash-header",
            ),
            dcc.Loading(html.Div(id="po-page")),
        ],
        className="po-dash",
    )


def _date_field(id_: str, label: str, value: dt.date) -> list[Any]:
    """A labelled native date input of the dashboard header (the phone's own picker)."""
    return [
        html.Label(label, htmlFor=id_, className="visually-hidden"),
        dbc.Input(id=id_, type="date", value=str(value), className="po-date", debounce=True),
    ]


def _default_period(app: Flask, today: dt.date) -> tuple[dt.date, dt.date]:
    """``POSTALOPS_DASHBOARD_PERIOD`` (``2022-08-01/2022-09-30``; ``make run`` sets it to the
    demo's season) or else the last 30 days."""
    configured = app.extensions["postalops.settings"].dashboard_period
    if configured:
        return configured
    return today - dt.timedelta(days=29), today


def _render(app: Flask, pathname: str, unit: str | None, start: str | None, end: str | None) -> Any:
    ctx = context.current_or_none()
    if ctx is None:
        return html.Div("login required")
    s = ctx.session
    zh = _zh()
    root = ctx.principal.home_unit or "cn"
    unit = unit if unit and in_subtree(unit, root) else ctx.unit
    try:
        date_from = dt.date.fromisoformat(start[:10]) if start else clock.today()
        date_to = dt.date.fromisoformat(end[:10]) if end else date_from
    except ValueError:
        return _notice(
            "日期无效" if zh else "Not a date",
            "请按 YYYY-MM-DD 选择开始和结束日期。" if zh else "Pick the start and end dates.",
            "po-bad-date",
        )
    if date_from > date_to:
        date_from, date_to = date_to, date_from
    path = pathname[len(BASE) :] if pathname.startswith(BASE) else ""
    path = path.strip("/")
    enabled = [(k, p) for k, p in _enabled_pages(app, s, unit) if p.path.strip("/") == path]
    if not enabled:
        return _notice(
            "该页面在此单位不可用" if zh else "This page is not available for this unit",
            "请从上方菜单选择看板，或切换单位。"
            if zh
            else "Choose a dashboard from the menu above, or another unit.",
            "po-page-missing",
        )
    key, page = enabled[0]
    if not can_view(app.extensions["postalops.plugins"], key, page):
        # checked here, server-side, whatever the browser asks for: the nav hides the page too
        return _notice(
            "你没有查看此看板的权限" if zh else "You do not have permission to view this dashboard",
            "如需查看，请联系管理员授予相应权限。"
            if zh
            else "Ask an administrator for the permission if you need it.",
            "po-page-forbidden",
        )
    view = ViewContext(
        tenant=unit,
        date_from=date_from,
        date_to=date_to,
        session=s,
        zh=zh,
        registry=app.extensions["postalops.plugins"],
    )
    try:
        # the plugin's page reads its rows cut where the plugin is off below the unit
        with view.registry.running_as(s, key):
            body = page.layout(view)
    except Exception as exc:  # noqa: BLE001 - one page's bug must not answer 500 for the shell
        # the plugin is marked degraded with its error (``postalops plugins``, /healthz); the
        # viewer reads plain words, never the exception
        app.extensions["postalops.plugins"].record_failure(key, "dashboard_layout", exc)
        return _notice(
            "此看板暂时无法显示" if zh else "This dashboard cannot be shown right now",
            "页面出错，已记录。请稍后再试或联系管理员。"
            if zh
            else "The page failed and the error was logged. Try again later or ask an administrator.",
            "po-page-failed",
        )
    return html.Div(
        [html.H2(page.title_zh if zh else page.title_en), body],
        id="po-page-body",
        **{"data-unit": unit},
    )


def _notice(headline: str, hint: str, id_: str) -> html.Div:
    return html.Div(
        [html.P(html.Strong(headline)), html.P(hint, className="po-hint")],
        id=id_,
        className="po-empty",
        role="status",
    )
