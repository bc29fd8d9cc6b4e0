"""The dashboard page draws the funnel, the daily trend, conversion by hour of day and the three
breakdowns."""

import datetime as dt

from postalops_dashboards import ViewContext
from postalops_dashboards.figures import figures_of, has_data, raw_titles
from postalops_outcall import service
from postalops_outcall.dashboards import layout
from postalops_outcall.testing import ADDRESS, GZ, case_row, sh


def _ids(component, out=None):
    out = [] if out is None else out
    cid = getattr(component, "id", None)
    if isinstance(cid, dict):
        out.append(cid.get("name"))
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list) else [children]:
        if child is not None and hasattr(child, "to_plotly_json"):
            _ids(child, out)
    return out


def test_the_page_has_funnel_trend_and_breakdowns(po_app, intake, hall, as_unit):
    from postalops.auth import create_user
    from postalops.testing import system_scope

    with po_app.extensions["postalops.db"].transaction(system_scope()) as s:
        create_user(
            s,
            po_app.extensions["postalops.plugins"],
            username="a1",
            password="test-password-1",
            unit_code=GZ,
            roles=["outcall_agent"],
            display_name="王小明",
        )
    intake([case_row(1), case_row(2)])
    for agent, what in (("a1", "accepted"), ("a2", "declined")):
        with hall() as s:
            case = service.claim_next(s, GZ, agent, now=sh(17, 10))
            kw = {"address": ADDRESS} if what == "accepted" else {}
            service.record_outcome(s, GZ, case.id, agent, what, now=sh(17, 10, 1), **kw)
    with as_unit(GZ) as s:
        ctx = ViewContext(
            GZ,
            dt.date(2022, 8, 17),
            dt.date(2022, 8, 31),
            s,
            True,
            po_app.extensions["postalops.plugins"],
        )
        page = layout(ctx)
    names = _ids(page)
    assert names == [
        "outcall_funnel",
        "outcall_daily",
        "outcall_by_hour",
        "outcall_by_department",
        "outcall_by_service_item",
        "outcall_by_agent",
    ]
    charts = dict(figures_of(page))
    assert all(has_data(f) for f in charts.values())
    assert {n: raw_titles(f) for n, f in charts.items() if raw_titles(f)} == {}
    assert charts["outcall_daily"].layout.xaxis.title.text == "日期"
    # agents by their display name, else their login name (a2 has no user row here)
    assert sorted(charts["outcall_by_agent"].data[0].y) == ["a2", "王小明"]
    text = str(page.to_plotly_json())
    assert "外呼成功率" in text and "50.0%" in text  # 1 accepted ÷ 2 calls


def test_conversion_by_hour_of_day(po_app, intake, hall, as_unit):
    """Attempts per local hour (bars) and their conversion rate (a line on a % axis), from the
    handle-time statistics (issue 20 §2)."""
    intake([case_row(1), case_row(2), case_row(3)])
    # agent, outcome, claimed at, recorded at (Guangzhou time, 17 August 2022)
    calls = (
        ("a1", "accepted", sh(17, 10), sh(17, 10, 1)),
        ("a2", "declined", sh(17, 10, 5), sh(17, 10, 6)),
        ("a1", "accepted", sh(17, 15), sh(17, 15, 1)),
    )
    for agent, what, claimed, recorded in calls:
        with hall() as s:
            case = service.claim_next(s, GZ, agent, now=claimed)
            kw = {"address": ADDRESS} if what == "accepted" else {}
            service.record_outcome(s, GZ, case.id, agent, what, now=recorded, **kw)
    with as_unit(GZ) as s:
        ctx = ViewContext(
            GZ,
            dt.date(2022, 8, 17),
            dt.date(2022, 8, 31),
            s,
            True,
            po_app.extensions["postalops.plugins"],
        )
        page = layout(ctx)
    fig = dict(figures_of(page))["outcall_by_hour"]
    bars, line = fig.data
    # 10h: 2 calls, 1 accepted → 1 ÷ 2 = 0.5; 15h: 1 call, 1 accepted → 1 ÷ 1 = 1.0
    assert list(bars.x) == ["10:00", "15:00"]
    assert list(bars.y) == [2, 1]
    assert list(line.x) == ["10:00", "15:00"]
    assert list(line.y) == [0.5, 1.0]
    assert line.yaxis == "y2" and fig.layout.yaxis2.tickformat == ".0%"
    assert list(line.customdata) == ["50.0%", "100.0%"]
    assert bars.name == "外呼次数" and line.name == "成功率"
    assert fig.layout.title.text == "按时段成功率"
    assert raw_titles(fig) == []
