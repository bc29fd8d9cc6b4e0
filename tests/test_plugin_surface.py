"""The plugin surface behaves as docs/plugins.md says (issue 18, "Docs that do not match the code"):
``paginate`` hands its serializer the model for a one-entity select, whichever ``select``."""

from __future__ import annotations

import json

import sqlalchemy as sa
import sqlmodel
from postalops.api import paginate
from postalops.builtin.probe import JobProbe


def _page(po_app, as_unit, stmt):
    with po_app.test_request_context("/?page=1&per_page=10"), as_unit("cn") as s:
        s.add_all([JobProbe(job_id="j", step=n, tenant_code="cn") for n in (1, 2)])
        s.flush()
        return paginate(s, stmt, lambda r: (type(r).__name__, r.step))


def test_paginate_serializer_gets_the_model_from_a_sqlalchemy_select(po_app, tenants, as_unit):
    got = _page(po_app, as_unit, sa.select(JobProbe).order_by(JobProbe.step))
    assert got["items"] == [("JobProbe", 1), ("JobProbe", 2)] and got["total"] == 2


def test_paginate_serializer_gets_the_model_from_a_sqlmodel_select(po_app, tenants, as_unit):
    got = _page(po_app, as_unit, sqlmodel.select(JobProbe).order_by(JobProbe.step))
    assert got["items"] == [("JobProbe", 1), ("JobProbe", 2)]


def test_paginate_serializer_gets_a_row_for_several_columns(po_app, tenants, as_unit):
    got = _page(po_app, as_unit, sa.select(JobProbe.step, JobProbe.job_id).order_by(JobProbe.step))
    assert got["items"] == [("Row", 1), ("Row", 2)]


# --- dashboards: metric_cards and chart with only what a page has at hand ------------------------


def _dash_app(po_app):
    import plotly.express as px
    from postalops import hookimpl
    from postalops.models import PluginEnablement
    from postalops.plugins import DashboardPage
    from postalops.testing import system_scope
    from postalops_dashboards import chart, metric_cards

    from tests.fixtures.toy_plugins import Toy, toy_app

    def short(ctx):
        from dash import html

        fig = px.bar(x=["a", "b"], y=[1, 2])
        return html.Div([metric_cards(ctx.metrics("gamma")["gamma"]), chart(fig)])

    def broken(ctx):
        raise RuntimeError("boom at /secret/path")

    class Gamma(Toy):
        @hookimpl
        def postalops_dashboard_pages(self, dash_app):
            return [
                DashboardPage("gamma", "伽马", "Gamma", short),
                DashboardPage("gamma-broken", "坏页", "Broken", broken),
            ]

    app = toy_app(po_app, Gamma("gamma"))
    with app.extensions["postalops.db"].transaction(system_scope()) as s:
        s.add(PluginEnablement(unit_code="cn", plugin_key="gamma", enabled=True))
    return app


def test_metric_cards_and_chart_need_only_the_data(po_app, tenants):
    from postalops.auth import create_user
    from postalops.testing import PortalClient, system_scope

    from tests.test_dashboards import dash_update

    app = _dash_app(po_app)
    with app.extensions["postalops.db"].transaction(system_scope()) as s:
        create_user(
            s,
            app.extensions["postalops.plugins"],
            username="g",
            password="test-pass-1",
            unit_code="cn.henan.zhengzhou",
            roles=["ops"],
        )
    c = PortalClient(app.test_client())
    c.login("g", "test-pass-1")
    resp = dash_update(c.client, "cn.henan.zhengzhou", path="/dashboards/gamma")
    body = resp.get_data(as_text=True)
    assert resp.status_code == 200, body[:500]
    page = json.dumps(json.loads(body), ensure_ascii=False)
    assert '"data-kpi": "days"' in page and "天数" in page  # the card, in the viewer's language
    assert "csv" in body.lower()  # the chart's download, from the figure's own data

    broken = dash_update(c.client, "cn.henan.zhengzhou", path="/dashboards/gamma-broken")
    text = broken.get_data(as_text=True)
    assert broken.status_code == 200 and "po-page-failed" in text
    assert "/secret/path" not in text
    assert app.extensions["postalops.plugins"].plugins["gamma"].degraded
