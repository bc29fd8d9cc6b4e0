"""Creates the Dash app, its shell (unit, period, page list) and the login guard."""

from __future__ import annotations

import datetime as dt
import io
import urllib.parse
from dataclasses import dataclass
from typing import Any

import dash
import pandas as pd
from dash import Input, Output, State, dcc, html
from flask import Flask, session
from postalops import context
from postalops.models import OrgUnit
from postalops.plugins import DashboardPage
from postalops.tenancy import in_subtree
from sqlmodel import Session, select

BASE = "/dashboards/"


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

        return collect(
            self.registry,
            self.session,
            tenant or self.tenant,
            date_from or self.date_from,
            date_to or self.date_to,
            plugin,
        )["metrics"]


def csv_link(df: pd.DataFrame, name: str, label: str = "CSV") -> html.A:
    """A link that downloads ``df`` as UTF-8 CSV (with BOM, so Excel shows Chinese)."""
    buf = io.StringIO()
    df.to_csv(buf, index=False)
    href = "data:text/csv;charset=utf-8," + urllib.parse.quote("\ufeff" + buf.getvalue())
    return html.A(
        label, href=href, download=f"{name}.csv", className="csv-link", **{"data-csv": name}
    )


def chart(figure: Any, df: pd.DataFrame, name: str, *, zh: bool = True) -> html.Div:
    """A plotly figure with a CSV download of the data it draws."""
    return html.Div(
        [
            dcc.Graph(
                figure=figure, id={"type": "chart", "name": name}, config={"displaylogo": False}
            ),
            csv_link(df, name, "下载 CSV" if zh else "Download CSV"),
        ],
        className="chart",
    )


def format_value(entry: dict[str, Any]) -> str:
    value, unit = entry.get("value"), entry.get("unit", "")
    if value is None:
        return "—"  # no data in the period (e.g. a rate with a zero denominator)
    try:
        number = float(value)  # display only; the contract keeps exact strings
    except (TypeError, ValueError):
        return str(value)
    if unit == "ratio":
        return f"{number * 100:.1f}%"
    if unit in ("CNY", "yuan"):
        return f"¥{number:,.2f}"
    if number.is_integer():
        return f"{int(number):,} {unit}".strip()
    return f"{number:,.2f} {unit}".strip()


def metric_cards(metrics: dict[str, dict[str, Any]], zh: bool, plugin: str = "") -> html.Div:
    cards = []
    for name, entry in metrics.items():
        cards.append(
            html.Div(
                [
                    html.Div(entry["label_zh"] if zh else entry["label_en"], className="label"),
                    html.Div(format_value(entry), className="value"),
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


def create_dash(app: Flask) -> dash.Dash:
    """Mount the one Dash app of this process on ``app`` and collect plugin pages."""
    dash_app = dash.Dash(
        __name__,
        server=app,
        url_base_pathname=BASE,
        serve_locally=True,
        suppress_callback_exceptions=True,
        title="PostalOps",
        assets_folder=str(__import__("pathlib").Path(__file__).parent / "assets"),
        update_title=None,
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
        Input("po-period", "start_date"),
        Input("po-period", "end_date"),
    )
    def render(pathname: str, unit: str, start: str, end: str) -> Any:
        return _render(app, pathname or BASE, unit, start, end)

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


def _visible_pages(app: Flask, s: Session, unit: str) -> list[tuple[str, DashboardPage]]:
    registry = app.extensions["postalops.plugins"]
    enabled = registry.effective(s, unit)
    return [
        (k, p)
        for k, p in app.extensions["postalops.dash_pages"]
        if registry.is_builtin(k) or k in enabled
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
    links = [
        html.A(
            p.title_zh if zh else p.title_en,
            href=BASE + p.path,
            className="po-dash-link",
            **{"data-page": k + ":" + p.path},
        )
        for k, p in _visible_pages(app, s, ctx.unit)
    ]
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
                    html.Nav(links, className="po-dash-nav"),
                    dcc.Dropdown(
                        id="po-unit",
                        clearable=False,
                        value=ctx.unit,
                        style={"minWidth": "16rem"},
                        options=[
                            {
                                "label": ("\u2003" * (u.depth - units[0].depth))
                                + (u.name_zh if zh else u.name_en),
                                "value": u.code,
                            }
                            for u in units
                        ],
                    ),
                    dcc.DatePickerRange(
                        id="po-period",
                        start_date=default_from,
                        end_date=default_to,
                        display_format="YYYY-MM-DD",
                    ),
                ],
                className="po-dash-header",
            ),
            dcc.Loading(html.Div(id="po-page")),
        ],
        className="po-dash",
    )


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
        date_from = dt.date.fromisoformat(start[:10]) if start else dt.date.today()
        date_to = dt.date.fromisoformat(end[:10]) if end else date_from
    except ValueError:
        return html.Div("bad date", className="flash error")
    if date_from > date_to:
        date_from, date_to = date_to, date_from
    path = pathname[len(BASE) :] if pathname.startswith(BASE) else ""
    path = path.strip("/")
    page = next((p for k, p in _visible_pages(app, s, unit) if p.path.strip("/") == path), None)
    if page is None:
        return html.Div(
            "该页面不可用" if zh else "This page is not available here", id="po-page-missing"
        )
    view = ViewContext(
        tenant=unit,
        date_from=date_from,
        date_to=date_to,
        session=s,
        zh=zh,
        registry=app.extensions["postalops.plugins"],
    )
    return html.Div(
        [html.H2(page.title_zh if zh else page.title_en), page.layout(view)],
        id="po-page-body",
        **{"data-unit": unit},
    )
