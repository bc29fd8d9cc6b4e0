"""The portal's formatting rules (shared/UX.md), each checked against hand-written values."""

from __future__ import annotations

import ast
import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from postalops import formatting as f

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("1234.56"), "¥1,234.56"),
        ("21959994.90", "¥21,959,994.90"),
        (Decimal("1.461422222222222222222222222"), "¥1.46"),
        (Decimal("0.005"), "¥0.01"),  # half up, as the ledger rounds
        (Decimal("-12"), "-¥12.00"),
        (0, "¥0.00"),
        (Decimal("-0.001"), "¥0.00"),
        (0.1, "¥0.10"),  # a float goes through repr, never binary arithmetic
        (None, "—"),
    ],
)
def test_money_in_tables(value, expected):
    assert f.money(value) == expected
    assert f.money(value, "en") == expected


@pytest.mark.parametrize(
    ("value", "zh", "en"),
    [
        (Decimal("21959900"), "2,195.99万元", "¥21.96M"),
        ("21959994.90", "2,196.00万元", "¥21.96M"),  # 2,195.99949 rounds half up
        (Decimal("100000"), "10.00万元", "¥100,000.00"),
        (Decimal("99999.99"), "¥99,999.99", "¥99,999.99"),
        (Decimal("320000000"), "3.2亿元", "¥320M"),
        (Decimal("325500000"), "3.26亿元", "¥325.5M"),
        (Decimal("1200000000"), "12亿元", "¥1.2B"),
        (Decimal("-250000"), "-25.00万元", "-¥250,000.00"),
        (None, "—", "—"),
    ],
)
def test_money_on_cards(value, zh, en):
    assert f.money_card(value, "zh") == zh
    assert f.money_card(value, "en") == en


def test_percentages_take_fractions_and_keep_one_decimal():
    assert f.percent(Decimal("0.54")) == "54.0%"
    assert f.percent("0.0527") == "5.3%"
    assert f.percent(Decimal("1.22")) == "122.0%"  # attainment above plan
    assert f.percent(0) == "0.0%"
    assert f.percent(Decimal("0.99995")) == "100.0%"
    assert f.percent(None) == "—"


def test_counts_have_separators_and_a_unit_word():
    assert f.count(3206, "sessions", "zh") == "3,206 场"
    assert f.count(3206, "sessions", "en") == "3,206 sessions"
    assert f.count(1, "cases", "en") == "1 case"
    assert f.count(1, "cases", "zh") == "1 件"
    assert f.count(1234567) == "1,234,567"
    assert f.count(12, "count", "en") == "12"
    assert f.count(7, "widgets", "zh") == "7 widgets"  # unknown: shown as given, and logged


def test_durations():
    assert f.duration(5100) == "1小时25分"
    assert f.duration(5100, "en") == "1 h 25 min"
    assert f.duration(dt.timedelta(hours=1, minutes=25, seconds=29)) == "1小时25分"
    assert f.duration(dt.timedelta(hours=1, minutes=25, seconds=30)) == "1小时26分"
    assert f.duration(750) == "12分30秒"
    assert f.duration(750, "en") == "12 min 30 s"
    assert f.duration(7200) == "2小时"
    assert f.duration(45) == "45秒"
    assert f.duration(0, "en") == "0 min"
    assert f.duration(Decimal("30.5"), unit="hours") == "30小时30分"
    assert f.duration(Decimal("12.5"), "en", unit="minutes") == "12 min 30 s"
    assert f.duration(None) == "—"


def test_dates_and_times_are_shown_in_shanghai():
    utc = dt.datetime(2022, 9, 19, 6, 5, tzinfo=dt.UTC)
    assert f.datetime(utc) == "2022-09-19 14:05"
    assert f.datetime(utc.replace(tzinfo=None)) == "2022-09-19 14:05"  # naive means UTC
    late = dt.datetime(2022, 9, 18, 16, 30, tzinfo=dt.UTC)  # 00:30 the next day in Shanghai
    assert f.date(late) == "2022-09-19"
    assert f.datetime(late, tz="UTC") == "2022-09-18 16:30"
    assert f.date(dt.date(2022, 9, 19)) == "2022-09-19"
    assert f.date(None) == "—"


def test_months():
    assert f.month(dt.date(2022, 9, 19)) == "2022年9月"
    assert f.month(dt.date(2022, 9, 19), "en") == "Sep 2022"
    assert f.month("2022-12") == "2022年12月"
    assert f.month((2023, 1), "en") == "Jan 2023"


@pytest.mark.parametrize(
    ("value", "unit", "card", "zh", "en"),
    [
        ("21959900.00", "CNY", True, "2,195.99万元", "¥21.96M"),
        ("21959994.90", "CNY", False, "¥21,959,994.90", "¥21,959,994.90"),
        ("0.0527", "ratio", False, "5.3%", "5.3%"),
        ("1.2200", "ratio", False, "122.0%", "122.0%"),
        (3206, "sessions", False, "3,206 场", "3,206 sessions"),
        (1, "cases", False, "1 件", "1 case"),
        (85, "minutes", False, "1小时25分", "1 h 25 min"),
        ("30.50", "hours", False, "30小时30分", "30 h 30 min"),
        ("1.461422222222222222222222222", "CNY/item", False, "¥1.46/件", "¥1.46/item"),
        ("1234.56", "items/h", False, "1,234.6 件/小时", "1,234.6 items/h"),
        (None, "CNY", True, "—", "—"),
    ],
)
def test_kpi_values(value, unit, card, zh, en):
    assert f.kpi_value(value, unit, "zh", card=card) == zh
    assert f.kpi_value(value, unit, "en", card=card) == en


def _kpi_units_in_plugins() -> set[str]:
    """Every literal unit string passed to kpi(...) / KpiDef(...) or listed in a LABELS table
    by the plugins' metrics modules."""
    units: set[str] = set()
    files = [
        *ROOT.glob("plugins/*/postalops_*/metrics.py"),
        *ROOT.glob("plugins/*/postalops_*/kpis.py"),
        *ROOT.glob("plugins/*/postalops_*/kpi.py"),
    ]
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        consts = {
            t.id: n.value.value
            for n in ast.walk(tree)
            if isinstance(n, ast.Assign) and isinstance(n.value, ast.Constant)
            for t in n.targets
            if isinstance(t, ast.Name) and isinstance(n.value.value, str)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", getattr(node.func, "attr", ""))
                pos = {"kpi": 1, "k": 1, "KpiDef": 1}.get(name)
                if pos is not None and len(node.args) > pos:
                    arg = node.args[pos]
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                        units.add(arg.value)
                    elif isinstance(arg, ast.Name) and arg.id in consts:
                        units.add(consts[arg.id])
            if isinstance(node, ast.Tuple) and len(node.elts) == 3:
                first = node.elts[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    if all(isinstance(e, ast.Constant) for e in node.elts):
                        units.add(first.value)  # LABELS = {key: (unit, zh, en)}
    return units


def test_every_kpi_unit_of_the_plugins_has_zh_and_en_words():
    found = _kpi_units_in_plugins()
    assert {"CNY", "ratio", "sessions", "minutes"} <= found, found  # the scan sees the plugins
    missing = sorted(u for u in found if u not in f.UNITS)
    assert not missing, f"add these KPI units to postalops.formatting.UNITS: {missing}"
    for name, unit in f.UNITS.items():
        if unit.kind == "count" and name != "count":
            assert unit.zh and all(unit.en), name
