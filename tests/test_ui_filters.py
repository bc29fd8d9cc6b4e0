"""The formatting rules as Jinja filters: the request's language, Shanghai time, unit names read
once per request, and status badges that never show a raw value."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import sqlalchemy as sa
from flask import render_template_string, session

ZZ = "cn.henan.zhengzhou"


def render(app, source, lang="zh_CN", **ctx):
    with app.test_request_context("/"):
        session["lang"] = lang
        return render_template_string(source, **ctx)


def test_filters_follow_the_language(po_app, tenants):
    src = (
        "{{ m|money }} {{ m|money_card }} {{ r|percent }} {{ n|quantity('sessions') }} "
        "{{ 5100|duration }} {{ t|datetime }} {{ t|date }} {{ t|month }} "
        "{{ '0.0527'|kpi_value('ratio') }}"
    )
    ctx = {
        "m": Decimal("21959900.00"),
        "r": Decimal("0.54"),
        "n": 3206,
        "t": dt.datetime(2022, 9, 18, 16, 30, tzinfo=dt.UTC),
    }
    assert render(po_app, src, **ctx) == (
        "¥21,959,900.00 2,195.99万元 54.0% 3,206 场 1小时25分 2022-09-19 00:30 2022-09-19 "
        "2022年9月 5.3%"
    )
    assert render(po_app, src, "en", **ctx) == (
        "¥21,959,900.00 ¥21.96M 54.0% 3,206 sessions 1 h 25 min 2022-09-19 00:30 2022-09-19 "
        "Sep 2022 5.3%"
    )


def test_unit_names_are_read_once_per_request(po_app, tenants):
    engine = po_app.extensions["postalops.db"].engine
    statements = []

    def count(conn, cursor, statement, *a):
        if "core_org_unit" in statement:
            statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        src = "{% for c in codes %}{{ c|unit_name }}|{% endfor %}"
        codes = [ZZ, "cn.henan", ZZ, "cn.nowhere"] * 10
        zh = render(po_app, src, codes=codes)
        en = render(po_app, src, "en", codes=codes)
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    assert zh.startswith("郑州|河南|郑州|cn.nowhere|")
    assert en.startswith("Zhengzhou|Henan|Zhengzhou|cn.nowhere|")
    assert len(statements) == 2  # one per request, not one per name


def test_unit_macro_shows_the_name_with_the_code_as_tooltip(po_app, tenants):
    html = render(po_app, '{% import "postalops/ui.html" as ui %}{{ ui.unit(code) }}', code=ZZ)
    assert html.strip() == f'<span class="unit-name" title="{ZZ}">郑州</span>'


def test_status_badges_translate_and_never_show_snake_case(po_app, tenants, caplog):
    src = (
        '{% import "postalops/ui.html" as ui %}'
        "{{ ui.status_badge('succeeded', 'job') }}{{ ui.status_badge('interest_only_bullet', 'x') }}"
    )
    zh = render(po_app, src)
    assert "已完成" in zh and "status-success" in zh
    assert "bi-check-circle" in zh  # an icon too: colour is not the only signal
    text = re.sub(r"<[^>]+>", "", zh)  # what a reader sees
    assert "Interest only bullet" in text and "interest_only_bullet" not in text
    assert "no status label for 'interest_only_bullet'" in caplog.text
    assert "Succeeded" in render(po_app, src, "en")


def test_bootstrap_is_served_locally_without_login(po_app, tenants):
    c = po_app.test_client()
    for url in (
        "/static/ui/css/bootstrap.min.css",
        "/static/ui/js/bootstrap.min.js",
        "/static/ui/css/font/bootstrap-icons.min.css",
    ):
        resp = c.get(url)
        assert resp.status_code == 200, url
        assert resp.data.startswith((b"@charset", b"/*")), url
