"""The sorter's KPIs for a unit's subtree and a range of local days (the metrics contract).

Sums first (day rollups, departures), ratios after, through :mod:`postalops_sorter.oee`; each
KPI's definition is in the README.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from postalops.db import in_scope_clause
from postalops.metrics import kpi
from sqlmodel import Session, select

from .models import Departure, Device, Rollup
from .oee import Totals, kpis

LABELS: dict[str, tuple[str, str, str]] = {
    # key: (unit, label_zh, label_en)
    "stations_with_sorters": ("stations", "配备分拣机的揽投部", "Stations with sorters"),
    "items_sorted": ("items", "分拣件数", "Items sorted"),
    "items_per_running_hour": ("items/h", "运行小时处理量", "Items per running hour"),
    "availability": ("ratio", "时间开动率", "Availability"),
    "performance": ("ratio", "性能开动率", "Performance"),
    "quality": ("ratio", "合格品率", "Quality"),
    "oee": ("ratio", "设备综合效率", "OEE"),
    "jams": ("count", "卡件次数", "Jams"),
    "mtbf_minutes": ("minutes", "平均故障间隔", "Mean time between failures"),
    "mttr_minutes": ("minutes", "平均修复时间", "Mean time to repair"),
    "departure_advance_minutes": ("minutes", "投递员出班提前", "Courier departure advance"),
}

_TOTAL_COLUMNS = list(Totals.__dataclass_fields__)


def period_totals(session: Session, tenant: str, date_from: dt.date, date_to: dt.date) -> Totals:
    """Σ of the day rollups of every device in ``tenant``'s subtree over the period."""
    cols = [sa.func.coalesce(sa.func.sum(getattr(Rollup, f)), 0) for f in _TOTAL_COLUMNS]
    row = session.exec(
        select(*cols).where(
            Rollup.grain == "day",
            Rollup.day >= date_from,
            Rollup.day <= date_to,
            in_scope_clause(Rollup.tenant_code, tenant),
        )
    ).one()
    return Totals(*(int(v) for v in row))


def stations_with_sorters(session: Session, tenant: str, on: dt.date) -> int:
    """Stations in the subtree with an active sorter commissioned on or before ``on``."""
    return session.exec(
        select(sa.func.count(sa.distinct(Device.tenant_code))).where(
            Device.active, Device.commissioned_on <= on, in_scope_clause(Device.tenant_code, tenant)
        )
    ).one()


def departure_advance(
    session: Session, tenant: str, date_from: dt.date, date_to: dt.date
) -> Decimal | None:
    """Mean advance of post-commissioning departures in the period (sum of rounded lines / n)."""
    total, n = session.exec(
        select(
            sa.func.sum(Departure.advance_minutes), sa.func.count(Departure.advance_minutes)
        ).where(
            Departure.source == "telemetry",
            Departure.advance_minutes.is_not(None),
            Departure.day >= date_from,
            Departure.day <= date_to,
            in_scope_clause(Departure.tenant_code, tenant),
        )
    ).one()
    if not n:
        return None
    return (Decimal(str(total)) / n).quantize(Decimal("0.1"))


def sorter_metrics(
    session: Session, tenant: str, date_from: dt.date, date_to: dt.date
) -> dict[str, Any]:
    """``{kpi: {"value", "unit", "label_zh", "label_en"}}`` per the metrics contract."""
    k = kpis(period_totals(session, tenant, date_from, date_to))
    values: dict[str, Any] = {
        "stations_with_sorters": stations_with_sorters(session, tenant, date_to),
        **{key: k[key] for key in LABELS if key in k},
        "departure_advance_minutes": departure_advance(session, tenant, date_from, date_to),
    }
    return {key: kpi(values[key], unit, zh, en) for key, (unit, zh, en) in LABELS.items()}
