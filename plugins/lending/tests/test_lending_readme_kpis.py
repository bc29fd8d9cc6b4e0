"""The README's KPI table is the metrics hook's contract: the same keys, the same units."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from postalops.formatting import UNITS

README = Path(__file__).resolve().parents[1] / "README.md"


def _kpi_table() -> dict[str, str]:
    text = README.read_text(encoding="utf-8").split("## Metrics (the metrics contract)")[1]
    text = text.split("\n## ")[0]
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| `") and len(cells) >= 3:
            rows[cells[0].strip("`")] = cells[1]
    return rows


def test_the_readme_kpi_table_matches_the_metrics_hook(po_app, ili, as_unit):
    from postalops_lending import metrics

    with as_unit(None) as s:
        kpis = metrics.compute(s, "cn", dt.date(2022, 1, 1), dt.date(2022, 12, 31))
    assert {k: v["unit"] for k, v in kpis.items()} == _kpi_table()
    assert {"provisions", "accrued_interest", "penalty_interest", "written_off"} <= set(kpis)
    assert all(v["unit"] in UNITS for v in kpis.values())
    assert all(v["label_zh"] and v["label_en"] for v in kpis.values())
