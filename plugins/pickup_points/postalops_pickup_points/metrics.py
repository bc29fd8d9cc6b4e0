"""The metrics hook's KPIs (definitions in the plugin README, "KPIs").

Every figure is computed for the tenant's subtree and the inclusive period ``[from, to]``;
coverage, active points and switched points are taken on ``to``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from postalops.metrics import kpi
from sqlmodel import Session

from .counter_handover import handover_share
from .coverage_store import category_rates, coverage_on
from .direct_delivery_store import direct_point_count, share
from .item_flow import counter_handover_totals, quality_total
from .network import active_points
from .points import AreaCategory

RATIO = "ratio"


def _value(v: Any) -> Any:
    return str(v) if v is not None else None


def kpis(session: Session, tenant: str, date_from: dt.date, date_to: dt.date) -> dict[str, Any]:
    """``{kpi: {"value", "unit", "label_zh", "label_en"}}`` for ``tenant`` and the period."""
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
    }
