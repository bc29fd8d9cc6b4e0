"""The UI kit through HTTP: friendly error pages, the app shell, the audit log as a data table
(paging, sorting, filtering, CSV/XLSX export of the filtered rows), the confirm page."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest
from openpyxl import load_workbook
from postalops.models import AuditRecord
from postalops.tenancy import Scope

ZZ, KF = "cn.henan.zhengzhou", "cn.henan.kaifeng"


def text_of(html: str) -> str:
    """What a reader sees: tags, scripts and styles removed."""
    html = re.sub(r"<(script|style)\b.*?</\1>", "", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


# --- error pages ----------------------------------------------------------------------------


def test_forbidden_page_is_friendly_in_the_portal_layout(po_app, make_user, login):
    ops = login(make_user("ops1", ZZ, "ops"))
    resp = ops.get("/admin/audit")
    assert resp.status_code == 403
    html = resp.get_data(as_text=True)
    seen = text_of(html)
    assert "{'" not in seen and "permission" not in seen  # no Python dict, no internals
    assert "没有权限" in seen and "查看审计日志" in seen  # names what is missing, in Chinese
    assert 'id="mainnav"' in html  # the portal's own layout
    assert 'href="/"' in html  # a way back


def test_error_pages_follow_the_language(po_app, make_user, login):
    ops = login(make_user("ops1", ZZ, "ops"))
    ops.post("/lang", data={"lang": "en", "csrf_token": ops.csrf, "next": "/"})
    seen = text_of(ops.get("/admin/audit").get_data(as_text=True))
    assert "You do not have permission" in seen and "Read the audit log" in seen
    resp = ops.get("/no/such/page")
    assert resp.status_code == 404
    assert "Page not found" in text_of(resp.get_data(as_text=True))


def test_not_found_page_in_chinese_with_a_way_back(po_app, make_user, login):
    c = login(make_user("ops1", ZZ, "ops"))
    resp = c.get("/no/such/page")
    assert resp.status_code == 404
    seen = text_of(resp.get_data(as_text=True))
    assert "页面不存在" in seen and "返回首页" in seen
    assert "The requested URL" not in seen  # werkzeug's English text stays out


def test_api_errors_stay_json(po_app, make_user, login):
    ops = login(make_user("ops1", ZZ, "ops"))
    resp = ops.get("/api/v1/no-such-thing")
    assert resp.status_code == 404 and resp.json["error"]["code"] == "not_found"


def test_server_error_page_is_friendly(po_app, make_user, login, monkeypatch):
    def boom():
        raise RuntimeError("secret internals")

    monkeypatch.setitem(po_app.view_functions, "portal.home", boom)
    monkeypatch.setitem(po_app.config, "TESTING", False)  # as in production: answered, logged
    monkeypatch.setitem(po_app.config, "PROPAGATE_EXCEPTIONS", False)
    c = login(make_user("ops1", ZZ, "ops"))
    resp = c.get("/")
    assert resp.status_code == 500
    html = resp.get_data(as_text=True)
    seen = text_of(html)
    assert "出错了" in seen and "secret internals" not in seen and "Traceback" not in seen
    assert 'href="/"' in html


# --- the shell ------------------------------------------------------------------------------


def test_shell_keeps_its_hooks_and_shows_unit_names(po_app, make_user, login):
    c = login(make_user("hn", "cn.henan", "admin"))
    html = c.get("/").get_data(as_text=True)
    for marker in (
        'id="mainnav"',
        'id="unit-switch"',
        'id="lang-en"',
        'data-nav="dashboards"',
        'name="csrf-token"',
        'id="po-drawer"',
        "offcanvas",
    ):
        assert marker in html, marker
    assert re.search(r'<option value="cn.henan.zhengzhou"\s*>\s*\u2003*郑州</option>', html)
    assert "/static/ui/css/bootstrap.min.css" in html


# --- the audit log as a data table ------------------------------------------------------------


@pytest.fixture
def audit_rows(po_app, tenants):
    """120 records: 80 in Zhengzhou (actor alice), 40 in Kaifeng (bob), one per hour from
    2022-09-19 00:00 UTC (08:00 in Shanghai)."""
    db = po_app.extensions["postalops.db"]
    start = dt.datetime(2022, 9, 19, 0, 0, tzinfo=dt.UTC)
    with db.transaction(Scope.system_scope()) as s:
        for i in range(120):
            zz = i < 80
            s.add(
                AuditRecord(
                    tenant_code=ZZ if zz else KF,
                    at=start + dt.timedelta(hours=i),
                    actor="user:alice" if zz else "user:bob",
                    action="core.user.create" if i % 2 else "core.token.revoke",
                    target_type="user",
                    target_id=f"u{i:03d}",
                    before=None,
                    after={"n": i, "名字": "张三"},
                )
            )
    return start


def rows_of(html: str) -> list[str]:
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return re.findall(r"<tr>(.*?)</tr>", body, re.S)


def test_audit_pages_fifty_rows_newest_first(po_app, make_user, login, audit_rows):
    admin = login(make_user("root", "cn", "admin"))
    html = admin.get("/admin/audit").get_data(as_text=True)
    rows = rows_of(html)
    assert len(rows) == 50
    assert "u119" in rows[0] and "u070" in rows[49]
    assert "第 1–50 条，共 120 条" in text_of(html)
    assert 'aria-sort="descending"' in html
    page3 = rows_of(admin.get("/admin/audit?page=3").get_data(as_text=True))
    assert len(page3) == 20 and "u019" in page3[0] and "u000" in page3[-1]
    assert "郑州" in rows[-1] and f'title="{KF}"' in rows[0]  # units by name, code as tooltip
    assert "2022-09-24 07:00" in rows[0]  # u119: 2022-09-23 23:00 UTC, in Shanghai
    assert "<dt>名字</dt><dd>张三</dd>" in rows[0]  # changes read as field: value, not JSON


def test_audit_sorts_on_whitelisted_columns_only(po_app, make_user, login, audit_rows):
    admin = login(make_user("root", "cn", "admin"))
    html = admin.get("/admin/audit?sort=at").get_data(as_text=True)
    assert "u000" in rows_of(html)[0] and 'aria-sort="ascending"' in html
    html = admin.get("/admin/audit?sort=actor").get_data(as_text=True)
    assert "alice" in rows_of(html)[0]
    for bad in ("before", "nonsense", "-id;drop", ""):
        resp = admin.get(f"/admin/audit?sort={bad}")
        assert resp.status_code == 200, bad
        assert "u119" in rows_of(resp.get_data(as_text=True))[0], bad


def test_audit_filters(po_app, make_user, login, audit_rows):
    admin = login(make_user("root", "cn", "admin"))
    html = admin.get(f"/admin/audit?tenant_code={KF}").get_data(as_text=True)
    assert "共 40 条" in text_of(html)
    html = admin.get("/admin/audit?actor=ALI").get_data(as_text=True)
    assert "共 80 条" in text_of(html)
    # Shanghai days: records 0..15 fall on 2022-09-19 (08:00-23:00 local)
    html = admin.get("/admin/audit?at_from=2022-09-19&at_to=2022-09-19").get_data(as_text=True)
    assert "共 16 条" in text_of(html)
    html = admin.get("/admin/audit?action=core.user.create").get_data(as_text=True)
    assert "共 60 条" in text_of(html)
    assert "创建用户" in text_of(html) and "core.user.create" not in text_of(html)


def test_audit_scope_applies_to_the_listing(po_app, make_user, login, audit_rows):
    kf_admin = login(make_user("kfadmin", KF, "admin"))
    html = kf_admin.get("/admin/audit").get_data(as_text=True)
    assert "共 40 条" in text_of(html) and "alice" not in html
    csv_text = kf_admin.get("/admin/audit?export=csv").data.decode("utf-8-sig")
    assert "alice" not in csv_text and len(list(csv.reader(io.StringIO(csv_text)))) == 41


@pytest.mark.parametrize(
    "query",
    [
        "page=-1",
        "page=abc",
        "page=99999",
        "per_page=100000",
        "per_page=0",
        "at_from=2022-13-45",
        "at_to=yesterday",
        "action=%25",
        "export=pdf",
    ],
)
def test_bad_listing_arguments_never_fail(po_app, make_user, login, audit_rows, query):
    admin = login(make_user("root", "cn", "admin"))
    resp = admin.get(f"/admin/audit?{query}")
    assert resp.status_code == 200, query
    assert resp.mimetype == "text/html"


def test_bad_date_is_reported_not_silently_dropped(po_app, make_user, login, audit_rows):
    admin = login(make_user("root", "cn", "admin"))
    html = admin.get("/admin/audit?at_from=2022-13-45").get_data(as_text=True)
    assert "2022-13-45" in text_of(html) and "YYYY-MM-DD" in html
    assert "共 120 条" in text_of(html)


def test_csv_export_holds_the_filtered_rows(po_app, make_user, login, audit_rows):
    admin = login(make_user("root", "cn", "admin"))
    resp = admin.get(f"/admin/audit?tenant_code={KF}&sort=at&export=csv")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert "attachment" in resp.headers["Content-Disposition"]
    assert resp.data.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads the Chinese right
    table = list(csv.reader(io.StringIO(resp.data.decode("utf-8-sig"))))
    assert table[0][:4] == ["时间", "操作人", "单位", "单位代码"]
    assert len(table) == 41  # every filtered row, not only the first page
    first = dict(zip(table[0], table[1], strict=True))
    assert first["时间"] == "2022-09-22 16:00"  # record 80: 2022-09-22 08:00 UTC
    assert first["单位"] == "开封" and first["单位代码"] == KF
    assert first["操作"] == "撤销令牌"
    assert '"名字": "张三"' in first["变更后"]


def test_xlsx_export_stores_typed_cells(po_app, make_user, login, audit_rows):
    admin = login(make_user("root", "cn", "admin"))
    resp = admin.get("/admin/audit?actor=bob&export=xlsx")
    assert resp.status_code == 200
    ws = load_workbook(io.BytesIO(resp.data)).active
    rows = list(ws.iter_rows(values_only=True))
    assert len(rows) == 41
    assert isinstance(rows[1][0], dt.datetime) and rows[1][0] == dt.datetime(2022, 9, 24, 7, 0)
    assert ws.cell(row=2, column=1).number_format == "yyyy-mm-dd hh:mm"


def test_listing_exports_money_and_counts_as_numbers(po_app, tenants):
    """Money as numbers with ¥#,##0.00, counts as integers, rates as 0.0% (XLSX), and plain
    numbers in the CSV, through a listing over an ad-hoc select."""
    from decimal import Decimal

    import sqlalchemy as sa
    from postalops.listing import Column, Listing

    def line(name, amount, n, rate):
        return sa.select(
            sa.literal(name, sa.String).label("name"),
            sa.literal(amount, sa.Numeric(12, 2)).label("amount"),
            sa.literal(n, sa.Integer).label("n"),
            sa.literal(rate, sa.Numeric(6, 4)).label("rate"),
        )

    v = sa.union_all(
        line("a", Decimal("1234.50"), 3206, Decimal("0.5400")), line("b", Decimal("-2.00"), 1, None)
    ).subquery("v")
    stmt = sa.select(v.c.name, v.c.amount, v.c.n, v.c.rate)
    listing = Listing(
        stmt,
        [
            Column("name", "名称", "Name", sortable=True),
            Column("amount", "金额", "Amount", kind="money", sortable=True),
            Column("n", "件数", "Items", kind="count", unit="items"),
            Column("rate", "比率", "Rate", kind="percent"),
        ],
        default_sort="name",
    )
    db = po_app.extensions["postalops.db"]
    with po_app.test_request_context("/"), db.session(None) as s:
        page = listing.run(s, {"sort": "-amount"})
        assert [r.name for r in page.rows] == ["a", "b"] and page.total == 2
        header, kinds, rows = listing.export_rows(s, page._stmt, "zh")
    from postalops.listing import to_csv, to_xlsx

    ws = load_workbook(io.BytesIO(to_xlsx(header, kinds, rows))).active
    assert ws["B2"].value == 1234.5 and ws["B2"].data_type == "n"
    assert ws["B2"].number_format == "¥#,##0.00"
    assert ws["C2"].value == 3206 and ws["C2"].number_format == "#,##0"
    assert ws["D2"].value == 0.54 and ws["D2"].number_format == "0.0%"
    assert ws["D3"].value is None
    assert (
        to_csv(header, kinds, rows).decode("utf-8-sig").splitlines()[1] == "a,1234.50,3206,0.5400"
    )


# --- confirmation without JavaScript ----------------------------------------------------------


def test_confirm_page_reposts_the_fields(po_app, make_user, login, monkeypatch):
    """Without JavaScript a confirm_form posts straight away: the view's ui.confirm_first
    answers with a confirmation page that re-posts the same fields with confirmed=1."""
    from flask import request
    from postalops import ui

    def danger():
        page = ui.confirm_first("将停用郑州的计件工资。", "停用插件")
        if page is not None:
            return page
        return f"done {request.form['plugin']}"

    monkeypatch.setitem(po_app.view_functions, "portal.switch_unit", danger)
    c = login(make_user("root", "cn", "admin"))
    html = c.post("/unit", data={"plugin": "payroll", "csrf_token": c.csrf}).get_data(as_text=True)
    assert "将停用郑州的计件工资。" in html and "停用插件" in html
    assert re.search(r'name="plugin" value="payroll"', html)
    assert re.search(r'name="confirmed" value="1"', html)
    resp = c.post("/unit", data={"plugin": "payroll", "confirmed": "1", "csrf_token": c.csrf})
    assert resp.get_data(as_text=True) == "done payroll"


@pytest.mark.parametrize(
    ("page", "current"),
    [
        ("/p/outcall/cases", "/p/outcall/cases"),
        ("/p/payroll/rate-cards", "/p/payroll/rate-cards"),
        ("/p/sorter/alerts", "/p/sorter/alerts"),
        ("/p/pickup_points/points", "/p/pickup_points/points"),
        ("/p/ecommerce/", "/p/ecommerce/"),
        ("/p/lending/loans", "/p/lending/loans"),
    ],
)
def test_every_plugin_has_the_same_section_tabs(po_app, make_user, login, page, current):
    """One tab style across plugins (there were three): the kit's tabs, the current section
    marked for sight and for screen readers, its label in Chinese."""
    c = login(make_user("root", "cn", "admin"))
    html = c.get(page).get_data(as_text=True)
    nav = re.search(r'<nav class="po-tabs"[^>]*>(.*?)</nav>', html, re.S)
    assert nav is not None, page
    assert (
        'class="tabs"' not in html
        and 'class="subnav"' not in html
        and 'outcall-tabs" style' not in html
    )
    marked = re.findall(r'<a class="nav-link active" href="([^"]+)" aria-current="page"', nav[1])
    assert marked == [current], (page, marked)
    label = re.search(r'<nav class="po-tabs"[^>]*aria-label="([^"]+)"', html)[1]
    assert re.search(r"[\u4e00-\u9fff]", label), label


def test_switching_a_plugin_off_for_a_city_is_asked_first(po_app, make_user, login):
    """Issue 14: turning a plugin off for a city had no confirmation. Without JavaScript the
    post answers a confirmation page saying what will happen, and changes nothing; confirmed,
    it is done. Switching on is not asked."""
    reg = po_app.extensions["postalops.plugins"]
    key = sorted(reg.business_keys())[0]
    admin = login(make_user("root", "cn", "admin"))
    page = admin.get(f"/admin/plugins?unit={ZZ}").get_data(as_text=True)
    assert f'id="toggle-{key}"' in page and "data-confirm=" in page
    fields = {"csrf_token": admin.csrf, "unit": ZZ, "plugin": key, "enabled": "0"}
    asked = admin.post("/admin/plugins", data=fields)
    assert asked.status_code == 200
    seen = text_of(asked.get_data(as_text=True))
    assert "郑州" in seen and "数据保留" in seen  # names the city, says the data is kept
    with po_app.extensions["postalops.db"].session(Scope.system_scope()) as s:
        assert key in reg.effective(s, ZZ)
    done = admin.post("/admin/plugins", data={**fields, "confirmed": "1"})
    assert done.status_code == 302
    with po_app.extensions["postalops.db"].session(Scope.system_scope()) as s:
        assert key not in reg.effective(s, ZZ) and key in reg.effective(s, KF)
    back = admin.post("/admin/plugins", data={**fields, "enabled": "1"})
    assert back.status_code == 302  # switching on is not asked
    with po_app.extensions["postalops.db"].session(Scope.system_scope()) as s:
        assert key in reg.effective(s, ZZ)
