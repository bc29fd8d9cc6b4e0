"""The README's KPI table is the metrics contract: the same keys, the same units."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from postalops import context
from postalops.testing import system_context
from postalops_ecommerce.metrics import metrics

README = Path(__file__).resolve().parents[1] / "README.md"
UNITS = {"CNY": "CNY", "fraction": "ratio"}


def test_every_kpi_of_the_metrics_hook_is_defined_in_the_readme(po_app, world):
    table = (
        README.read_text(encoding="utf-8").split("## KPIs (metrics contract)")[1].split("\n## ")[0]
    )
    rows = {m[1]: m[2].strip() for m in re.finditer(r"^\| `(\w+)` \|.*\| ([^|]+) \|$", table, re.M)}
    with context.activate(system_context(po_app, "cn.hebei")) as ctx:
        got = metrics(ctx.session, "cn.hebei", dt.date(2022, 9, 1), dt.date(2022, 9, 30))
    assert set(rows) == set(got)
    for key, unit in rows.items():
        word = unit.split()[0]
        assert UNITS.get(word, word) == got[key]["unit"], key
    for key in ("picked_up_orders", "picked_up_rate", "commissions_payable"):
        assert key in rows
