"""The README's KPI table documents exactly the KPIs the metrics hook returns."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

README = Path(__file__).parents[1] / "README.md"


def test_the_readme_kpi_table_lists_every_kpi_of_the_metrics_hook(tenants, as_unit):
    from postalops_payroll.metrics import payroll_metrics

    text = README.read_text(encoding="utf-8")
    section = text.split("## KPIs", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.M))
    with as_unit("cn.henan") as s:
        kpis = payroll_metrics(s, "cn.henan", dt.date(2022, 9, 1), dt.date(2022, 9, 30))
    assert documented == set(kpis)
    assert {"net_pay", "deductions", "income_tax_withheld"} <= documented
