"""The dashboard page draws cost per item by city/month, own vs outsourced, and rates vs market."""

from __future__ import annotations

import datetime as dt

from postalops_dashboards.figures import figures_of, has_data, raw_titles
from postalops_payroll.dashboards import layout
from postalops_payroll.payroll_run import run_payroll
from postalops_payroll.period import Month

ZZ = "cn.henan.zhengzhou"


def _ids(component) -> list[str]:
    found = []
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list) else [children] if children else []:
        props = getattr(child, "id", None)
        if isinstance(props, dict) and props.get("type") == "chart":
            found.append(props["name"])
        found += _ids(child)
    return found


def _september_page(po_app, as_unit, *, zh: bool):
    """Zhengzhou's payroll dashboard page for September 2022."""
    from postalops_dashboards.host import ViewContext

    with po_app.test_request_context("/"), as_unit(ZZ) as s:
        view = ViewContext(
            tenant=ZZ,
            date_from=dt.date(2022, 9, 1),
            date_to=dt.date(2022, 9, 30),
            session=s,
            zh=zh,
            registry=po_app.extensions["postalops.plugins"],
        )
        return layout(view)


def test_the_payroll_dashboard_has_its_three_charts(september_events, as_unit, po_app):
    with as_unit(ZZ) as s:
        run_payroll(s, ZZ, Month(2022, 9), "hr")
        s.commit()
    page = _september_page(po_app, as_unit, zh=True)
    assert page.id == "payroll-dashboard"
    assert _ids(page) == ["payroll-cost-by-city", "payroll-own-vs-outsourced", "payroll-market-gap"]
    # issue 14 §4: translated axis titles and legends, cities by name, values formatted
    charts = dict(figures_of(page))
    assert all(has_data(f) for f in charts.values())
    assert {n: raw_titles(f) for n, f in charts.items() if raw_titles(f)} == {}
    by_city = charts["payroll-cost-by-city"]
    assert [t.name for t in by_city.data] == ["郑州"]
    assert by_city.layout.xaxis.title.text == "月份" and list(by_city.data[0].x) == ["2022年9月"]
    assert by_city.data[0].customdata[0].startswith("¥") and "/件" in by_city.data[0].customdata[0]
    gap = charts["payroll-market-gap"]
    assert not any("_" in str(x) for t in gap.data for x in t.x)  # gov_mail reads 政务邮件


def test_an_empty_period_says_so(tenants, as_unit, po_app):
    page = _september_page(po_app, as_unit, zh=False)
    assert "No payroll runs in this period." in str(page)
