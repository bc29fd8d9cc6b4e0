"""The metrics hook's KPIs (definitions in the plugin README, "KPIs").

Every figure is computed for the tenant's subtree and the inclusive period ``[from, to]``;
coverage, active points and switched points are taken on ``to``.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from postalops.metrics import kpi
from sqlmodel import Session

from .counter_handover import handover_share
from .points import AreaCategory
from .service import (
    active_points,
    capacity_figures,
    category_rates,
    counter_handover_totals,
    coverage_on,
    direct_point_count,
    latest_done,
    planned_count,
    quality_total,
    share,
)

RATIO = "ratio"


def _value(v: Any) -> Any:
    return str(v) if v is not None else None


def _ratio(num: int, den: int) -> str | None:
    if not den:
        return None
    return str((Decimal(num) / Decimal(den)).quantize(Decimal("0.0001"), ROUND_HALF_UP))


def kpis(session: Session, tenant: str, date_from: dt.date, date_to: dt.date) -> dict[str, Any]:
    """``{kpi: {"value", "unit", "label_zh", "label_en"}}`` for ``tenant`` and the period."""
    items, offered, over = capacity_figures(session, tenant, date_from, date_to)
    scenario = latest_done(session, tenant, date_to)
    result = (scenario.result or {}) if scenario is not None else {}
    _, _, figures = coverage_on(session, tenant, date_to)
    rates = category_rates(figures, tenant)
    quality = quality_total(session, tenant, date_from, date_to)
    counter, inbound = counter_handover_totals(session, tenant, date_from, date_to)
    return {
        "coverage_urban_communities": kpi(
            _value(rates[AreaCategory.URBAN_COMMUNITY]),
            RATIO,
            "城市小区覆盖率",
            "Urban community coverage",
        ),
        "coverage_villages": kpi(
            _value(rates[AreaCategory.VILLAGE]), RATIO, "行政村覆盖率", "Village coverage"
        ),
        "coverage_mailrooms": kpi(
            _value(rates[AreaCategory.MAILROOM]), RATIO, "单位收发室覆盖率", "Mailroom coverage"
        ),
        "active_points": kpi(
            len(active_points(session, tenant, date_to)), "points", "在营自提点", "Active points"
        ),
        "direct_delivery_points": kpi(
            direct_point_count(session, tenant, date_to),
            "points",
            "直投自提点",
            "Direct-delivery points",
        ),
        "direct_delivery_share": kpi(
            _value(share(session, tenant, date_from, date_to)),
            RATIO,
            "直投分流占比",
            "Share of city delivery diverted",
        ),
        "feedback_compliance": kpi(
            _value(quality.feedback_compliance), RATIO, "信息反馈规范率", "Feedback compliance"
        ),
        "uncollected_rate": kpi(
            _value(quality.uncollected_rate), RATIO, "超期未取率", "Uncollected rate"
        ),
        "counter_handover_share": kpi(
            _value(handover_share(counter, inbound)), RATIO, "转窗投占比", "Counter handover share"
        ),
        "capacity_utilisation": kpi(
            _ratio(items, offered), RATIO, "自提点能力利用率", "Point capacity utilisation"
        ),
        "over_capacity_points": kpi(over, "points", "超能力自提点", "Points over capacity"),
        "planned_sites": kpi(
            planned_count(session, tenant, date_to), "points", "规划自提点", "Planned sites"
        ),
        "siting_lscp_sites": kpi(
            result["lscp"]["site_count"] if result else None,
            "points",
            "全覆盖最少选址数",
            "Fewest sites for full coverage (LSCP)",
        ),
        "siting_mclp_coverage": kpi(
            result["mclp"]["coverage"] if result else None,
            RATIO,
            "K个选址最大覆盖率",
            "Coverage with K sites (MCLP)",
        ),
        "siting_greedy_coverage": kpi(
            result["greedy"]["coverage"] if result else None,
            RATIO,
            "K个选址贪心覆盖率",
            "Coverage with K sites (greedy)",
        ),
    }
