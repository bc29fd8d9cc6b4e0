"""The sorter's KPIs for a unit's subtree and a range of local days (the metrics contract).

Sums first (day rollups, departures), ratios after, through :mod:`postalops_sorter.oee`; each
KPI's definition is in the README.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

import sqlalchemy as sa
from postalops.db import in_scope_clause
from postalops.metrics import kpi
from sqlmodel import Session, select

from .models import Departure, Device, Rollup
from .oee import Totals, kpis
from .timeline import HOUR_MS, MINUTE_MS

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
    # issue 20 §1: calendars, losses, alarms, maintenance
    "planned_production_hours": ("hours", "计划生产时间", "Planned production time"),
    "calendar_availability": ("ratio", "计划时间开动率", "Availability under the calendar"),
    "shift_oee": ("ratio", "班次设备综合效率", "OEE over planned shifts"),
    "stops": ("count", "停机次数", "Stops"),
    "downtime_minutes": ("minutes", "停机时长", "Downtime"),
    "loss_breakdown_minutes": ("minutes", "设备故障损失", "Breakdown loss"),
    "loss_setup_minutes": ("minutes", "换型调整损失", "Setup and changeover loss"),
    "loss_small_stops_minutes": ("minutes", "短暂停机损失", "Small stops loss"),
    "loss_reduced_speed_minutes": ("minutes", "速度降低损失", "Reduced speed loss"),
    "loss_startup_rejects_minutes": ("minutes", "开机废品损失", "Startup rejects loss"),
    "loss_production_rejects_minutes": ("minutes", "生产废品损失", "Production rejects loss"),
    "alerts_raised": ("count", "告警次数", "Alerts raised"),
    "alerts_escalated": ("count", "升级告警次数", "Alerts escalated"),
    "alert_ack_minutes": ("minutes", "告警平均确认时间", "Mean time to acknowledge"),
    "maintenance_minutes": ("minutes", "维护时长", "Maintenance time"),
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
        **loss_metrics(session, tenant, date_from, date_to),
    }
    return {key: kpi(values[key], unit, zh, en) for key, (unit, zh, en) in LABELS.items()}


def _minutes(ms: int | Fraction) -> Decimal:
    f = Fraction(ms) / MINUTE_MS
    return (Decimal(f.numerator) / Decimal(f.denominator)).quantize(Decimal("0.1"), ROUND_HALF_UP)


def loss_metrics(
    session: Session, tenant: str, date_from: dt.date, date_to: dt.date
) -> dict[str, Any]:
    """The issue 20 figures: planned time and availability under the calendars, OEE over planned
    shifts, stops and the six big losses, alerts, maintenance time."""
    from postalops import clock

    from .losses import Loss
    from .models import Alert, Maintenance, Stop
    from .reasons import pareto_for
    from .shifts import calendar_totals, shift_kpis, shift_results
    from .timeline import LOCAL_TZ

    results = shift_results(session, tenant, date_from, date_to, clock.now().astimezone(dt.UTC))
    planned, shift_totals = calendar_totals(results)
    sk = shift_kpis(planned, shift_totals)
    rows = pareto_for(session, tenant, date_from, date_to)
    by_loss = {loss.value: Decimal("0.0") for loss in Loss}
    for r in rows:
        if r.loss in by_loss:
            by_loss[r.loss] += r.minutes
    n_stops, stop_ms = session.exec(
        select(sa.func.count(), sa.func.coalesce(sa.func.sum(Stop.duration_ms), 0)).where(
            Stop.day >= date_from,
            Stop.day <= date_to,
            in_scope_clause(Stop.tenant_code, tenant),
        )
    ).one()
    start = dt.datetime.combine(date_from, dt.time(), tzinfo=LOCAL_TZ)
    end = dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time(), tzinfo=LOCAL_TZ)
    alerts = session.exec(
        select(Alert.raised_at, Alert.acknowledged_at, Alert.escalated_at).where(
            Alert.raised_at >= start,
            Alert.raised_at < end,
            in_scope_clause(Alert.tenant_code, tenant),
        )
    ).all()
    acked = [(ack - raised) for raised, ack, _ in alerts if ack is not None]
    ack_ms = sum(d // dt.timedelta(milliseconds=1) for d in acked)
    maint = session.exec(
        select(sa.func.coalesce(sa.func.sum(Maintenance.duration_minutes), 0)).where(
            Maintenance.started_at >= start,
            Maintenance.started_at < end,
            in_scope_clause(Maintenance.tenant_code, tenant),
        )
    ).one()
    return {
        "planned_production_hours": (Decimal(planned) / HOUR_MS).quantize(Decimal("0.01"))
        if planned
        else None,
        "calendar_availability": sk["availability"],
        "shift_oee": sk["oee"],
        "stops": int(n_stops),
        "downtime_minutes": _minutes(int(stop_ms)),
        **{f"loss_{loss}_minutes": v for loss, v in by_loss.items()},
        "alerts_raised": len(alerts),
        "alerts_escalated": sum(1 for _, _, esc in alerts if esc is not None),
        "alert_ack_minutes": _minutes(Fraction(ack_ms, len(acked))) if acked else None,
        "maintenance_minutes": int(maint),
    }
