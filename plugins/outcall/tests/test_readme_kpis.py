"""The README's KPI table and the metrics hook agree: every KPI the hook returns is a row of
the table, with the same unit, and the table names no KPI the hook lacks."""

import re
from pathlib import Path

from postalops_outcall.kpis import KPI_DEFS
from postalops_outcall.testing import GZ

README = Path(__file__).parents[1] / "README.md"


def _table() -> dict[str, str]:
    text = README.read_text(encoding="utf-8")
    section = text.split("## KPIs (metrics contract)", 1)[1].split("\n## ", 1)[0]
    return dict(re.findall(r"^\| `(\w+)` \| (\S+) \|", section, flags=re.M))


def test_the_readme_kpi_table_matches_the_metrics_hook(hall, make_token):
    served = (
        make_token(GZ, "core.metrics.read")
        .get(f"/api/v1/metrics?tenant={GZ}&from=2022-08-01&to=2022-08-31&plugin=outcall")
        .get_json()["metrics"]["outcall"]
    )
    table = _table()
    assert set(served) == set(table)
    assert {k: v["unit"] for k, v in served.items()} == table
    assert {d.key for d in KPI_DEFS} == set(served)  # one source for the keys
    for new in ("average_handle_seconds", "attempts_per_conversion", "service_level"):
        assert new in table
