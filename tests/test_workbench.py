"""The workbench (工作台) at ``/`` (issue 14 §3): the unit's headline KPIs and the inbox fed by
``postalops_tasks``, only for plugins enabled at the unit whose view permission the user holds;
each task links to where it is done; an empty inbox says why; a plugin answering badly is
degraded and left out. Driven through the portal client, on toy plugins (no business tables)."""

from __future__ import annotations

import datetime as dt
import re

from postalops import hookimpl
from postalops.models import PluginEnablement
from postalops.plugins import Task
from postalops.tenancy import Scope

from tests.fixtures.toy_plugins import Toy, toy_app
from tests.test_plugin_faults import client_for

ZZ = "cn.henan.zhengzhou"
NOW = dt.datetime.now(dt.UTC)


class Tasks(Toy):
    """A toy plugin whose tasks are given by the test (``answer``), seeing who asks."""

    def __init__(self, key: str, answer) -> None:
        super().__init__(key)
        self.answer = answer
        self.seen: list[tuple[str, str]] = []

    @hookimpl
    def postalops_tasks(self, session, user, unit):
        self.seen.append((user.name, unit))
        return self.answer(user) if callable(self.answer) else self.answer


def app_with(po_app, *toys, enabled=("cn",)):
    app = toy_app(po_app, *toys)
    with app.extensions["postalops.db"].transaction(Scope.system_scope()) as s:
        for toy in toys:
            for unit in enabled:
                s.add(PluginEnablement(unit_code=unit, plugin_key=toy.key, enabled=True))
    return app


def tasks_in(html: str) -> list[str]:
    return re.findall(r'data-task="([^"]+)"', html)


def test_the_inbox_lists_each_plugins_tasks_with_their_links_overdue_first(po_app, tenants):
    alpha = Tasks(
        "alpha",
        [
            Task(
                "later",
                "稍后处理",
                "Later",
                "/p/alpha/later",
                count=3,
                unit="cases",
                since=NOW - dt.timedelta(days=2),
            ),
            Task(
                "late",
                "已逾期的事",
                "Late",
                "/p/alpha/late",
                detail_zh="郑州 3 件",
                detail_en="3 in Zhengzhou",
                due=NOW - dt.timedelta(hours=2),
            ),
        ],
    )
    beta = Tasks(
        "gamma",
        [
            Task(
                "warn",
                "计划落后",
                "Behind plan",
                "/p/gamma/plan",
                count=1,
                unit="targets",
                tone="warning",
            )
        ],
    )
    app = app_with(po_app, alpha, beta)
    ops = client_for(app, "zz", ZZ, "ops")
    resp = ops.get("/")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert "工作台" in html and "等待您处理" in html
    assert tasks_in(html) == ["alpha:late", "gamma:warn", "alpha:later"]
    assert 'href="/p/alpha/late"' in html and 'href="/p/alpha/later"' in html
    assert "3 件" in html and "1 项" in html and "郑州 3 件" in html
    assert "已逾期" in html and "已等待 2 天" in html
    assert set(alpha.seen) == {("user:zz", ZZ)}
    # the headline KPIs of the unit, of the same plugins, on cards
    assert 'id="kpis"' in html and html.count('class="po-kpi"') == 2 and "天数" in html


def test_only_enabled_plugins_whose_view_permission_the_user_holds_answer(po_app, tenants):
    alpha = Tasks("alpha", [Task("a", "甲", "A", "/p/alpha/", count=1)])
    beta = Tasks("gamma", [Task("g", "丙", "G", "/p/gamma/", count=1)])
    app = app_with(po_app, alpha, beta)
    with app.extensions["postalops.db"].transaction(Scope.system_scope()) as s:
        s.add(PluginEnablement(unit_code=ZZ, plugin_key="gamma", enabled=False))
    ops = client_for(app, "zz", ZZ, "ops")
    html = ops.get("/").get_data(as_text=True)
    assert tasks_in(html) == ["alpha:a"] and beta.seen == []
    # a viewer lacks alpha.view (granted to ops only): neither tasks nor KPIs of alpha
    viewer = client_for(app, "vw", "cn.henan", "viewer")
    html = viewer.get("/").get_data(as_text=True)
    assert tasks_in(html) == [] and "天数" not in html
    assert "没有您可使用的业务功能" in html  # the empty state says why


def test_an_empty_inbox_shows_the_empty_state(po_app, tenants):
    app = app_with(po_app, Tasks("alpha", []))
    html = client_for(app, "zz", ZZ, "ops").get("/").get_data(as_text=True)
    assert tasks_in(html) == [] and 'class="po-empty"' in html
    assert "目前没有等待您处理的事项" in html


def test_a_plugin_answering_badly_is_degraded_and_left_out(po_app, tenants):
    good = Tasks("alpha", [Task("a", "甲", "A", "/p/alpha/", count=1)])
    bad = Tasks("gamma", lambda user: [{"key": "x", "title_zh": "无链接", "title_en": "No link"}])
    app = app_with(po_app, good, bad)
    ops = client_for(app, "zz", ZZ, "ops")
    resp = ops.get("/")
    assert resp.status_code == 200 and tasks_in(resp.get_data(as_text=True)) == ["alpha:a"]
    reg = app.extensions["postalops.plugins"]
    assert reg.plugins["gamma"].state == "degraded"
    assert "postalops_tasks" in reg.plugins["gamma"].failures
    bad.answer = "not a list"
    assert tasks_in(ops.get("/").get_data(as_text=True)) == ["alpha:a"]
    assert "list" in reg.plugins["gamma"].failures["postalops_tasks"].error


def test_the_workbench_reads_in_english_too(po_app, tenants):
    app = app_with(po_app, Tasks("alpha", [Task("a", "甲", "Alpha task", "/p/alpha/", 3, "cases")]))
    ops = client_for(app, "zz", ZZ, "ops")
    ops.post("/lang", data={"lang": "en", "csrf_token": ops.csrf, "next": "/"})
    html = ops.get("/").get_data(as_text=True)
    assert "Workbench" in html and "Alpha task" in html and "3 cases" in html
    assert "Waiting for you" in html and "工作台" not in html


def test_a_plugin_whose_query_fails_leaves_the_others_working(po_app, tenants):
    """On PostgreSQL a failed statement aborts the transaction: each plugin's tasks run in a
    SAVEPOINT, so the next plugin's tasks and the KPIs are still read."""
    import sqlalchemy as sa

    def broken(session, user, unit):
        session.execute(sa.text("SELECT * FROM no_such_table"))

    bad = Tasks("alpha", [])
    bad.postalops_tasks = hookimpl(broken)  # pluggy reads the instance's attribute
    good = Tasks("gamma", [Task("g", "丙", "G", "/p/gamma/", count=1)])
    app = app_with(po_app, bad, good)
    resp = client_for(app, "zz", ZZ, "ops").get("/")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and tasks_in(html) == ["gamma:g"]
    assert html.count('class="po-kpi"') == 2  # both plugins' KPIs, read after the failure
    reg = app.extensions["postalops.plugins"]
    assert "no_such_table" in reg.plugins["alpha"].failures["postalops_tasks"].error


def test_a_user_with_only_a_secondary_page_is_told_nothing_waits(po_app, tenants):
    """A plugin's second nav entry (a courier's own payslips) is something the user can use:
    no KPIs of the unit (they lack the main view permission), and not "nothing enabled"."""
    from postalops.plugins import NavItem, Permission

    class Payslips(Tasks):
        @hookimpl
        def postalops_permissions(self):
            return [
                Permission("alpha.view", "查看", "View", roles=("ops",)),
                Permission("alpha.own", "本人", "Own", roles=("viewer",)),
            ]

        @hookimpl
        def postalops_nav_items(self):
            return [
                NavItem("甲", "Alpha", "/p/alpha/", permission="alpha.view", order=10),
                NavItem("我的", "Mine", "/p/alpha/my", permission="alpha.own", order=11),
            ]

    app = app_with(po_app, Payslips("alpha", [Task("a", "甲", "A", "/p/alpha/", count=1)]))
    html = client_for(app, "c1", ZZ, "viewer").get("/").get_data(as_text=True)
    assert tasks_in(html) == [] and 'id="kpis"' not in html
    assert "目前没有等待您处理的事项" in html and "没有您可使用的业务功能" not in html
