"""Finance's one journal (issue 19 §4): the core collects every enabled plugin's journal lines
(``postalops_journal_entries``), numbers the vouchers per month and unit, maps the account keys
to each unit's chart (core settings), and serves them by ``GET /api/v1/journal`` (JSON, CSV,
XLSX), ``postalops journal export`` and the finance page.

The plugin here is a toy (``books``) that books a fixed set of lines, and returns all of them
whatever the tenant asked, as a careless plugin would: the core must still show a city only
its subtree. The figures below are computed by hand.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from decimal import Decimal

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from postalops import hookimpl
from postalops.journal import DEFAULT_CHART, JournalLine
from postalops.money import ZERO
from postalops.tenancy import Scope
from postalops.testing import PASSWORD, ApiClient, PortalClient, build_tree
from postalops.vouchers import number_vouchers

from tests.fixtures.toy_plugins import Toy, toy_app

D = Decimal
HENAN = "cn.henan"
ZZ = "cn.henan.zhengzhou"
JINSHUI = "cn.henan.zhengzhou.jinshui"
KAIFENG = "cn.henan.kaifeng"
SEP = "from=2022-09-01&to=2022-09-30"


def line(day, account, debit, credit, unit, ref, memo):
    return JournalLine(dt.date.fromisoformat(day), account, D(debit), D(credit), unit, ref, memo)


# September 2022 (hand-written; every voucher balances):
#   books:pay:1   Jinshui  09-30  selling_expenses D 12,345.67 / payroll_payable C 12,345.67
#   books:pay:2   Kaifeng  09-30  selling_expenses D 8,000.00 / payroll_payable C 7,000.00
#                                 + tax_payable C 1,000.00
#   books:loan:9  Zhengzhou 09-05 loans D 866,000.00 / bank C 866,000.00
#   books:loan:12 Zhengzhou 09-05 interest_receivable D 120.50 / interest_income C 120.50
# plus August (books:loan:1, 08-31) and October (books:pay:3, 10-31), outside September.
BALANCED = [
    line("2022-09-30", "payroll_payable", "0", "12345.67", JINSHUI, "books:pay:1", "9月工资"),
    line("2022-09-30", "selling_expenses", "12345.67", "0", JINSHUI, "books:pay:1", "9月工资"),
    line("2022-09-30", "tax_payable", "0", "1000.00", KAIFENG, "books:pay:2", "9月工资"),
    line("2022-09-30", "payroll_payable", "0", "7000.00", KAIFENG, "books:pay:2", "9月工资"),
    line("2022-09-30", "selling_expenses", "8000.00", "0", KAIFENG, "books:pay:2", "9月工资"),
    line("2022-09-05", "bank", "0", "866000.00", ZZ, "books:loan:12", "贷款发放"),
    line("2022-09-05", "loans", "866000.00", "0", ZZ, "books:loan:9", "贷款发放"),
    line("2022-09-05", "bank", "0", "866000.00", ZZ, "books:loan:9", "贷款发放"),
    line("2022-09-05", "loans", "866000.00", "0", ZZ, "books:loan:12", "贷款发放"),
    line("2022-08-31", "loans", "1000.00", "0", ZZ, "books:loan:1", "贷款发放"),
    line("2022-08-31", "bank", "0", "1000.00", ZZ, "books:loan:1", "贷款发放"),
    line("2022-10-31", "selling_expenses", "100.00", "0", JINSHUI, "books:pay:3", "10月工资"),
    line("2022-10-31", "payroll_payable", "0", "100.00", JINSHUI, "books:pay:3", "10月工资"),
]
# books:loan:12 above is a second disbursement of 866,000.00 on the same day (so two vouchers
# share a date and the numbering must order 9 before 12, as numbers).
#
# September, Henan: debits 12,345.67 + 8,000.00 + 866,000.00 + 866,000.00 = 1,752,345.67,
# credits 12,345.67 + 1,000.00 + 7,000.00 + 866,000.00 + 866,000.00 = 1,752,345.67.
# Zhengzhou's subtree (no Kaifeng): 1,752,345.67 - 8,000.00 = 1,744,345.67 each side.

# An unbalanced voucher: debit 49.99, credit 50.00 -> difference -0.01.
UNBALANCED = [
    line("2022-09-10", "selling_expenses", "49.99", "0", ZZ, "books:commission:1", "团长佣金"),
    line("2022-09-10", "commission_payable", "0", "50.00", ZZ, "books:commission:1", "团长佣金"),
]


class Books(Toy):
    """A plugin booking ``lines`` (all of them, whatever the tenant and dates asked)."""

    def __init__(self, key="books", lines=()):
        super().__init__(key)
        self.lines = list(lines)

    @hookimpl
    def postalops_journal_entries(self, session, tenant, date_from, date_to):
        return list(self.lines)


class Broken(Toy):
    @hookimpl
    def postalops_journal_entries(self, session, tenant, date_from, date_to):
        raise RuntimeError("ledger table missing")


class Sloppy(Toy):
    """Answers dicts instead of JournalLine entries."""

    @hookimpl
    def postalops_journal_entries(self, session, tenant, date_from, date_to):
        return [{"account": "bank", "debit": "1.00"}]


@pytest.fixture
def books(po_app, po_db):
    return Books(lines=BALANCED)


def make_app(po_app, *toys):
    app = toy_app(po_app, *toys)
    build_tree(app)
    return app


def token(app, unit, *permissions):
    from postalops.auth import create_token

    with app.extensions["postalops.db"].transaction(Scope.system_scope()) as s:
        row, secret = create_token(
            s,
            app.extensions["postalops.plugins"],
            name="t",
            unit_code=unit,
            permissions=permissions or ("core.journal.read",),
            created_by="test",
        )
        token_id = row.id
    return ApiClient(app.test_client(), secret, token_id)


def portal(app, username, unit, *roles):
    from postalops.auth import create_user

    with app.extensions["postalops.db"].transaction(Scope.system_scope()) as s:
        create_user(
            s,
            app.extensions["postalops.plugins"],
            username=username,
            password=PASSWORD,
            unit_code=unit,
            roles=roles,
        )
    c = PortalClient(app.test_client())
    assert c.login(username, PASSWORD).status_code == 302
    return c


def sums(items):
    debit = sum((D(v["debit"]) for v in items), ZERO)
    credit = sum((D(v["credit"]) for v in items), ZERO)
    return debit, credit


# --- balance, numbering, scoping ------------------------------------------------------------


def test_every_voucher_and_the_period_balance(po_app, books):
    app = make_app(po_app, books)
    body = token(app, HENAN).get(f"/api/v1/journal?tenant={HENAN}&{SEP}").json
    assert [v["reference"] for v in body["items"]] == [
        "books:loan:9",
        "books:loan:12",
        "books:pay:2",
        "books:pay:1",
    ]
    for v in body["items"]:  # per voucher, from the lines themselves
        debit, credit = sums(v["lines"])
        assert debit == credit == D(v["debit"]) == D(v["credit"]), v["reference"]
        assert v["balanced"] is True and v["difference"] == "0.00"
    debit, credit = sums(body["items"])
    assert debit == credit == D("1752345.67")  # by hand, see above
    assert body["totals"] == {
        "vouchers": 4,
        "unbalanced": 0,
        "debit": "1752345.67",
        "credit": "1752345.67",
        "balanced": True,
    }
    assert body["periods"] == [{"period": "2022-09", **body["totals"]}]
    assert body["degraded"] == []


def test_vouchers_are_numbered_per_month_and_unit_and_keep_their_number(po_app, books):
    app = make_app(po_app, books)
    api = token(app, HENAN)
    sep = {
        v["reference"]: v for v in api.get(f"/api/v1/journal?tenant={HENAN}&{SEP}").json["items"]
    }
    # Zhengzhou's September: loan:9 then loan:12 (same day; 9 < 12 as numbers); Jinshui and
    # Kaifeng each start again at 1.
    assert {r: (v["word"], v["number"], v["unit"]) for r, v in sep.items()} == {
        "books:loan:9": ("记", 1, ZZ),
        "books:loan:12": ("记", 2, ZZ),
        "books:pay:1": ("记", 1, JINSHUI),
        "books:pay:2": ("记", 1, KAIFENG),
    }
    # a narrower range and a tenant lower down give the same numbers
    part = api.get(f"/api/v1/journal?tenant={HENAN}&from=2022-09-06&to=2022-09-30").json
    assert {v["reference"]: v["number"] for v in part["items"]} == {
        "books:pay:1": 1,
        "books:pay:2": 1,
    }
    zz = api.get(f"/api/v1/journal?tenant={ZZ}&{SEP}").json
    assert {v["reference"]: v["number"] for v in zz["items"]} == {
        "books:loan:9": 1,
        "books:loan:12": 2,
        "books:pay:1": 1,
    }
    # August and October: their own months, their own numbers
    two = api.get(f"/api/v1/journal?tenant={HENAN}&from=2022-08-01&to=2022-10-31").json
    assert [(p["period"], p["vouchers"]) for p in two["periods"]] == [
        ("2022-08", 1),
        ("2022-09", 4),
        ("2022-10", 1),
    ]
    assert {v["reference"]: v["number"] for v in two["items"]}["books:pay:3"] == 1
    # lines within a voucher: debits first, numbered from 1
    pay2 = sep["books:pay:2"]["lines"]
    assert [(ln["line_no"], ln["code"], ln["debit"], ln["credit"]) for ln in pay2] == [
        (1, "6601", "8000.00", "0.00"),
        (2, "2211", "0.00", "7000.00"),
        (3, "2221", "0.00", "1000.00"),
    ]


def test_a_city_sees_only_its_subtree(po_app, books):
    app = make_app(po_app, books)
    api = token(app, ZZ)
    body = api.get(f"/api/v1/journal?{SEP}").json  # the token's unit by default
    assert body["tenant"] == ZZ
    assert sorted(v["reference"] for v in body["items"]) == [
        "books:loan:12",
        "books:loan:9",
        "books:pay:1",
    ]
    assert all(ln["unit"] in (ZZ, JINSHUI) for v in body["items"] for ln in v["lines"])
    assert body["totals"]["debit"] == body["totals"]["credit"] == "1744345.67"
    above = api.get(f"/api/v1/journal?tenant={HENAN}&{SEP}")
    assert above.status_code == 403
    assert above.json["error"]["details"][0]["field"] == "query.tenant"
    beside = api.get(f"/api/v1/journal?tenant={KAIFENG}&{SEP}")
    assert beside.status_code == 403


def test_an_unbalanced_voucher_is_flagged_not_hidden(po_app, po_db):
    app = make_app(po_app, Books(lines=BALANCED + UNBALANCED))
    body = token(app, HENAN).get(f"/api/v1/journal?tenant={HENAN}&{SEP}").json
    bad = [v for v in body["items"] if v["reference"] == "books:commission:1"]
    assert len(bad) == 1
    assert bad[0]["balanced"] is False
    assert bad[0]["difference"] == "-0.01"  # 49.99 - 50.00
    assert bad[0]["number"] == 3  # Zhengzhou: loan:9 (09-05), loan:12 (09-05), this (09-10)
    # the period: debits 1,752,345.67 + 49.99 = 1,752,395.66; credits + 50.00 = 1,752,395.67
    assert body["totals"] == {
        "vouchers": 5,
        "unbalanced": 1,
        "debit": "1752395.66",
        "credit": "1752395.67",
        "balanced": False,
    }


def test_a_plugin_that_raises_is_degraded_and_the_others_still_answer(po_app, po_db):
    app = make_app(po_app, Books(lines=BALANCED), Broken("broken"), Sloppy("sloppy"))
    resp = token(app, HENAN).get(f"/api/v1/journal?tenant={HENAN}&{SEP}")
    assert resp.status_code == 200
    body = resp.json
    assert [d["plugin"] for d in body["degraded"]] == ["broken", "sloppy"]
    assert "ledger table missing" in body["degraded"][0]["error"]
    assert body["totals"]["vouchers"] == 4
    registry = app.extensions["postalops.plugins"]
    assert registry.plugins["broken"].degraded
    assert "postalops_journal_entries" in registry.plugins["sloppy"].failures


def test_a_plugin_off_at_the_tenant_books_nothing_there(po_app, po_db):
    from postalops.models import PluginEnablement

    app = make_app(po_app, Books(lines=BALANCED))
    with app.extensions["postalops.db"].transaction(Scope.system_scope()) as s:
        s.add(PluginEnablement(unit_code=KAIFENG, plugin_key="books", enabled=False))
    body = token(app, HENAN).get(f"/api/v1/journal?tenant={KAIFENG}&{SEP}").json
    assert body["items"] == [] and body["totals"]["vouchers"] == 0


# --- the chart of accounts per unit ---------------------------------------------------------


def test_account_codes_come_from_the_unit_mapping_inherited_down_the_tree(po_app, books):
    app = make_app(po_app, books)
    finance = token(app, HENAN, "core.journal.read", "core.journal.manage")
    # Henan books selling expenses on a sub-account; Zhengzhou keeps payroll on Yonyou's 221101
    r = finance.put(
        f"/api/v1/settings/core?unit={HENAN}",
        json={
            "values": {"selling_expenses_code": "6601.01", "selling_expenses_name": "销售费用-工资"}
        },
    )
    assert r.status_code == 200, r.json
    r = finance.put(
        f"/api/v1/settings/core?unit={ZZ}",
        json={
            "values": {
                "payroll_payable_code": "221101",
                "payroll_payable_name": "应付职工薪酬-工资",
            }
        },
    )
    assert r.status_code == 200, r.json
    body = finance.get(f"/api/v1/journal?tenant={HENAN}&{SEP}").json
    by_ref = {v["reference"]: v["lines"] for v in body["items"]}
    jinshui = {(ln["code"], ln["name"]) for ln in by_ref["books:pay:1"]}
    kaifeng = {(ln["code"], ln["name"]) for ln in by_ref["books:pay:2"]}
    assert jinshui == {("6601.01", "销售费用-工资"), ("221101", "应付职工薪酬-工资")}
    assert kaifeng == {("6601.01", "销售费用-工资"), ("2211", "应付职工薪酬"), ("2221", "应交税费")}


@pytest.mark.parametrize(
    "values, field",
    [
        ({"bank_code": "10O2"}, "bank_code"),
        ({"loans_code": "13"}, "loans_code"),
        ({"loans_name": "  "}, "loans_name"),
        ({"loans_name": "贷款\n"}, "loans_name"),
        ({"no_such_account_code": "1002"}, "no_such_account_code"),
    ],
)
def test_a_bad_account_mapping_is_refused_naming_the_field(po_app, books, values, field):
    app = make_app(po_app, books)
    finance = token(app, HENAN, "core.journal.read", "core.journal.manage")
    r = finance.put(f"/api/v1/settings/core?unit={HENAN}", json={"values": values})
    assert r.status_code == 422
    assert [d["field"] for d in r.json["error"]["details"]] == [field]
    r = finance.get(f"/api/v1/settings/core?unit={HENAN}")
    assert r.json["own"] == {}


def test_reading_the_journal_does_not_let_you_change_the_chart(po_app, books):
    app = make_app(po_app, books)
    reader = token(app, HENAN, "core.journal.read")
    r = reader.put(f"/api/v1/settings/core?unit={HENAN}", json={"values": {"bank_code": "1001"}})
    assert r.status_code == 403


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query, status, field",
    [
        ("from=2022-13-01&to=2022-09-30", 422, "query.from"),
        ("from=2022-09-01&to=yesterday", 422, "query.to"),
        ("from=2022-09-30&to=2022-09-01", 422, "query.from"),
        ("from=2021-01-01&to=2022-09-30", 422, "query.to"),
        (f"{SEP}&format=pdf", 422, "query.format"),
        (f"{SEP}&per_page=0", 422, "query.per_page"),
        (f"{SEP}&tenant=cn..henan", 422, "query.tenant"),
        (f"{SEP}&tenant=cn.henan.nowhere", 404, "query.tenant"),
        (f"{SEP}&tenant=cn.hebei", 403, "query.tenant"),
    ],
)
def test_bad_input_is_a_4xx_naming_the_field(po_app, books, query, status, field):
    app = make_app(po_app, books)
    r = token(app, HENAN).get(f"/api/v1/journal?{query}")
    assert r.status_code == status, r.get_data(as_text=True)
    assert r.json["error"]["details"][0]["field"] == field


def test_the_journal_needs_its_permission(po_app, books):
    app = make_app(po_app, books)
    r = token(app, HENAN, "core.metrics.read").get(f"/api/v1/journal?{SEP}")
    assert r.status_code == 403
    assert app.test_client().get(f"/api/v1/journal?{SEP}").status_code == 401


def test_the_openapi_document_lists_the_journal_and_its_downloads(po_app, books):
    app = make_app(po_app, books)
    doc = app.test_client().get("/api/v1/openapi.json").json
    op = doc["paths"]["/api/v1/journal"]["get"]
    assert {p["name"] for p in op["parameters"]} >= {"tenant", "from", "to", "format"}
    assert set(op["responses"]["200"]["content"]) == {
        "application/json",
        "text/csv",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    }
    assert op["x-permission"] == "core.journal.read"


# --- exports ----------------------------------------------------------------------------------

HEADER = [
    "凭证日期",
    "会计年度",
    "会计期间",
    "凭证字",
    "凭证号",
    "分录号",
    "摘要",
    "科目代码",
    "科目名称",
    "借方金额",
    "贷方金额",
    "核算单位代码",
    "核算单位",
    "部门代码",
    "部门",
    "参考号",
    "来源",
]


def test_the_csv_export_has_one_row_per_line_with_plain_numbers(po_app, books):
    app = make_app(po_app, books)
    r = token(app, HENAN).get(f"/api/v1/journal?tenant={HENAN}&{SEP}&format=csv")
    assert r.status_code == 200
    assert r.mimetype == "text/csv"
    assert "attachment" in r.headers["Content-Disposition"]
    raw = r.get_data()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0] == HEADER
    assert len(rows) == 1 + 9  # 2 + 3 + 2 + 2 lines
    first = dict(zip(HEADER, rows[1], strict=True))
    assert first == {
        "凭证日期": "2022-09-05",
        "会计年度": "2022",
        "会计期间": "9",
        "凭证字": "记",
        "凭证号": "1",
        "分录号": "1",
        "摘要": "贷款发放",
        "科目代码": "1303",
        "科目名称": "贷款",
        "借方金额": "866000.00",
        "贷方金额": "0.00",
        "核算单位代码": ZZ,
        "核算单位": "郑州",
        "部门代码": ZZ,
        "部门": "郑州",
        "参考号": "books:loan:9",
        "来源": "books",
    }
    debit = sum(D(r[9]) for r in rows[1:])
    credit = sum(D(r[10]) for r in rows[1:])
    assert debit == credit == D("1752345.67")


def test_the_xlsx_export_stores_amounts_as_numbers(po_app, books):
    from openpyxl import load_workbook

    app = make_app(po_app, books)
    r = token(app, HENAN).get(f"/api/v1/journal?tenant={HENAN}&{SEP}&format=xlsx")
    assert r.status_code == 200
    ws = load_workbook(io.BytesIO(r.get_data())).active
    rows = list(ws.iter_rows(values_only=True))
    assert list(rows[0]) == HEADER
    amounts = [(row[9], row[10]) for row in rows[1:]]
    assert all(isinstance(a, int | float) and isinstance(b, int | float) for a, b in amounts)
    assert rows[1][9] == 866000 and rows[1][4] == 1
    assert isinstance(rows[1][0], dt.datetime) and rows[1][0].date() == dt.date(2022, 9, 5)
    assert (
        round(sum(a for a, _ in amounts), 2) == round(sum(b for _, b in amounts), 2) == 1752345.67
    )


# --- the CLI --------------------------------------------------------------------------------


@pytest.fixture
def cli(po_app, monkeypatch):
    """``postalops`` on the test database, with the toy plugins installed (the app the command
    builds is the toy app: the installed plugins are what differs, not the command)."""
    from postalops import cli as cli_module

    def run(app, *args):
        monkeypatch.setattr(cli_module, "_app", lambda: app)
        return CliRunner().invoke(cli_module.main, list(args), catch_exceptions=False)

    return run


def test_the_cli_exports_the_period(po_app, books, cli, tmp_path):
    app = make_app(po_app, books)
    target = tmp_path / "sep.csv"
    res = cli(
        app,
        "journal",
        "export",
        "--tenant",
        HENAN,
        "--from",
        "2022-09-01",
        "--to",
        "2022-09-30",
        "--format",
        "csv",
        "--output",
        str(target),
    )
    assert res.exit_code == 0, res.output
    assert "4 vouchers, debit 1752345.67, credit 1752345.67, balanced" in res.stderr
    rows = list(csv.reader(io.StringIO(target.read_bytes().decode("utf-8-sig"))))
    assert rows[0] == HEADER and len(rows) == 10
    target = tmp_path / "sep.xlsx"
    res = cli(
        app,
        "journal",
        "export",
        "--tenant",
        ZZ,
        "--from",
        "2022-09-01",
        "--to",
        "2022-09-30",
        "--output",
        str(target),
    )
    assert res.exit_code == 0, res.output
    assert target.read_bytes()[:2] == b"PK"
    res = cli(
        app,
        "journal",
        "export",
        "--tenant",
        HENAN,
        "--from",
        "2022-09-01",
        "--to",
        "2022-09-30",
        "--format",
        "json",
        "--output",
        "-",
    )
    assert json.loads(res.stdout)["totals"]["vouchers"] == 4


@pytest.mark.parametrize(
    "args, field",
    [
        (["--tenant", "cn.nowhere", "--from", "2022-09-01", "--to", "2022-09-30"], "tenant"),
        (["--tenant", HENAN, "--from", "01/09/2022", "--to", "2022-09-30"], "from"),
        (["--tenant", HENAN, "--from", "2022-09-30", "--to", "2022-09-01"], "from"),
        (
            ["--tenant", HENAN, "--from", "2022-09-01", "--to", "2022-09-30", "--format", "pdf"],
            "format",
        ),
    ],
)
def test_the_cli_refuses_bad_input_with_exit_2_and_json(po_app, books, cli, args, field):
    app = make_app(po_app, books)
    res = cli(app, "journal", "export", *args, "--output", "-")
    assert res.exit_code == 2
    assert json.loads(res.stderr)["error"]["details"][0]["field"] == field


# --- the finance page -----------------------------------------------------------------------


def test_the_finance_page_shows_vouchers_totals_and_balance(po_app, po_db):
    from postalops.testing import assert_readable

    # a reference and a plugin key as plugins write them (snake_case): shown as code / by name
    write_off = [
        line("2022-09-20", "loan_loss_provision", "100.00", "0", ZZ, "books:write_off:7", "核销"),
        line("2022-09-20", "loans", "0", "100.00", ZZ, "books:write_off:7", "核销"),
    ]
    app = make_app(po_app, Books(lines=BALANCED + UNBALANCED + write_off), Broken("broken_books"))
    c = portal(app, "fin", HENAN, "finance")
    home = c.get("/").get_data(as_text=True)
    assert 'href="/finance/journal"' in home  # the nav entry
    r = c.get("/finance/journal?month=2022-09")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert html.count('class="po-voucher"') == 6
    assert html.count('data-balanced="false"') == 2  # the unbalanced voucher and the period
    assert "记-3" in html and "记-4" in html and "不平衡" in html and "已平衡" in html
    # the period's two sides: 1,752,395.66 + 100.00 and 1,752,395.67 + 100.00
    assert "¥1,752,495.66" in html and "¥1,752,495.67" in html
    assert 'data-degraded="broken_books"' in html and "broken_books插件" in html
    assert (
        "/api/v1/journal?tenant=cn.henan&amp;from=2022-09-01&amp;to=2022-09-30&amp;format=xlsx"
        in html
    )
    assert_readable(html)
    # and the export buttons answer for the same user
    assert c.get(f"/api/v1/journal?tenant={HENAN}&{SEP}&format=csv").status_code == 200


def test_the_finance_page_opens_on_the_last_month_with_vouchers(po_app, po_db, frozen_today):
    frozen_today.set("2022-11-15")
    app = make_app(po_app, Books(lines=BALANCED))
    c = portal(app, "fin", HENAN, "finance")
    html = c.get("/finance/journal").get_data(as_text=True)
    assert 'value="2022-10"' in html  # November has none; October has books:pay:3
    assert html.count('class="po-voucher"') == 1


def test_the_finance_page_names_a_bad_date_beside_the_field(po_app, books):
    app = make_app(po_app, books)
    c = portal(app, "fin", HENAN, "finance")
    r = c.get("/finance/journal?from=2022-09-30&to=2022-09-01")
    assert r.status_code == 422
    assert 'id="err-from"' in r.get_data(as_text=True)
    r = c.get("/finance/journal?month=2022-13")
    assert r.status_code == 422
    assert 'id="err-month"' in r.get_data(as_text=True)


def test_the_finance_page_needs_the_finance_permission(po_app, books):
    app = make_app(po_app, books)
    c = portal(app, "courier1", HENAN, "viewer")
    assert c.get("/finance/journal").status_code == 403
    assert 'href="/finance/journal"' not in c.get("/").get_data(as_text=True)


def test_finance_staff_keep_the_chart_on_the_settings_form(po_app, books):
    app = make_app(po_app, books)
    c = portal(app, "fin", HENAN, "finance")
    page = c.get(f"/admin/settings/core?unit={HENAN}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "应付职工薪酬：科目代码" in html and 'name="payroll_payable_code"' in html
    bad = c.post(
        f"/admin/settings/core?unit={HENAN}",
        data={"csrf_token": c.csrf, "unit": HENAN, "payroll_payable_code": "22-11"},
    )
    assert bad.status_code == 422
    assert "is-invalid" in bad.get_data(as_text=True)
    ok = c.post(
        f"/admin/settings/core?unit={HENAN}",
        data={"csrf_token": c.csrf, "unit": HENAN, "payroll_payable_code": "221101"},
    )
    assert ok.status_code == 302
    body = c.get(f"/api/v1/journal?tenant={HENAN}&{SEP}").json
    codes = {
        ln["code"] for v in body["items"] for ln in v["lines"] if ln["account"] == "payroll_payable"
    }
    assert codes == {"221101"}


def test_the_journal_sends_what_the_openapi_document_says(po_app, po_db):
    from tests.test_openapi_responses import check

    app = make_app(po_app, Books(lines=BALANCED + UNBALANCED), Broken("broken"))
    document = app.test_client().get("/api/v1/openapi.json").json
    api = token(app, HENAN)
    for path in (
        f"/api/v1/journal?tenant={HENAN}&{SEP}",
        f"/api/v1/journal?tenant={HENAN}&{SEP}&per_page=1&page=2",
        f"/api/v1/journal?tenant={HENAN}&from=2030-01-01&to=2030-01-31",
        "/api/v1/journal?from=2022-13-01",
    ):
        check(document, "get", path, api.get(path))


# --- properties of the numbering (pure: no app) ----------------------------------------------


UNITS = [ZZ, JINSHUI, KAIFENG]
KEYS = sorted(DEFAULT_CHART)


@st.composite
def balanced_vouchers(draw):
    """{(plugin, ref): lines}: each voucher one unit and day, its debits split over 1-3 lines
    and the same total credited over 1-3 lines (so it balances by construction)."""
    out = {}
    for n in range(draw(st.integers(1, 12))):
        plugin = draw(st.sampled_from(["books", "ledger"]))
        ref = f"{plugin}:{draw(st.sampled_from(['pay', 'loan']))}:{n}"
        day = dt.date(2022, draw(st.integers(8, 10)), draw(st.integers(1, 28)))
        unit = draw(st.sampled_from(UNITS))
        fen = draw(st.lists(st.integers(1, 10**9), min_size=1, max_size=3))
        total = sum(fen)
        cut = sorted(draw(st.lists(st.integers(1, max(1, total - 1)), max_size=2, unique=True)))
        credits = [b - a for a, b in zip([0, *cut], [*cut, total], strict=True) if b > a]
        lines = [
            JournalLine(day, draw(st.sampled_from(KEYS)), D(f) / 100, ZERO, unit, ref, "借")
            for f in fen
        ] + [
            JournalLine(day, draw(st.sampled_from(KEYS)), ZERO, D(c) / 100, unit, ref, "贷")
            for c in credits
        ]
        out[(plugin, ref)] = lines
    return out


CHARTS = {u: dict(DEFAULT_CHART) for u in UNITS}


@settings(max_examples=60, deadline=None)
@given(balanced_vouchers(), st.randoms())
def test_numbering_balances_and_does_not_depend_on_input_order(grouped, rnd):
    vouchers = number_vouchers(grouped, CHARTS)
    # every voucher and every month balance; no line is lost
    assert all(v.balanced for v in vouchers)
    assert sum(len(v.lines) for v in vouchers) == sum(len(ls) for ls in grouped.values())
    for period in {v.period for v in vouchers}:
        month = [v for v in vouchers if v.period == period]
        assert sum((v.debit for v in month), ZERO) == sum((v.credit for v in month), ZERO)
    # numbers run 1..n within each month and unit
    for key in {(v.period, v.unit) for v in vouchers}:
        numbers = [v.number for v in vouchers if (v.period, v.unit) == key]
        assert sorted(numbers) == list(range(1, len(numbers) + 1))
    # shuffled plugins' answers and lines give the same vouchers, numbers and line order
    items = list(grouped.items())
    rnd.shuffle(items)
    shuffled = {k: rnd.sample(ls, len(ls)) for k, ls in items}
    again = number_vouchers(shuffled, CHARTS)
    assert [v.as_json() for v in again] == [v.as_json() for v in vouchers]


def test_the_finance_page_windows_its_pages_so_a_phone_does_not_scroll_sideways(po_app, po_db):
    # 17 pages of vouchers (50 a page): 820 one-line-pair vouchers of 1.00 on 2022-09-10. The
    # pager shows 1 … around the current page … 17 (what ui.pagination does for every listing),
    # not 17 links in a row, which pushed a 390 px page to 496 px; each link keeps the period.
    many = []
    for n in range(820):
        ref = f"books:fee:{n}"
        many.append(line("2022-09-10", "selling_expenses", "1.00", "0", ZZ, ref, "代办费"))
        many.append(line("2022-09-10", "other_payable", "0", "1.00", ZZ, ref, "代办费"))
    app = make_app(po_app, Books(lines=many))
    c = portal(app, "fin", HENAN, "finance")
    html = c.get("/finance/journal?month=2022-09&page=9").get_data(as_text=True)
    pager = html[html.index('class="pagination') :]
    pager = pager[: pager.index("</ul>")]
    shown = re.findall(r'class="page-link"[^>]*>(\d+)</a>', pager)
    assert shown == ["1", "7", "8", "9", "10", "11", "17"]
    assert pager.count("…") == 2
    assert 'aria-current="page">9<' in pager
    assert "tenant=cn.henan&amp;from=2022-09-01&amp;to=2022-09-30&amp;page=10" in pager
    assert html.count('class="po-voucher"') == 50
