"""KPIs for the metrics contract; every definition is in the plugin README.

Cost KPIs read the payslips of payroll runs (draft or approved) whose month starts inside the
period; event KPIs count delivery scans whose Shanghai-clock day lies inside the period. All
sums are SQL aggregates over the caller's scope, never Python loops over events.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from postalops.db import in_scope_clause
from postalops.metrics import kpi
from postalops.money import money_value, sum_money
from sqlmodel import Session, func, select

from .kpi import median, ratio
from .models import PayrollDelivery, PayrollPayslip
from .payslip import OUTSOURCED, OWN
from .period import SHANGHAI, months_between

# An exact zero starts the sums: an empty one reads 0, as the API and KPIs have always shown
# it (the core's ZERO is 0.00).
NIL = Decimal(0)


def period_bounds(date_from: dt.date, date_to: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """UTC [start, end) of the inclusive Shanghai-clock days ``date_from`` .. ``date_to``."""
    start = dt.datetime.combine(date_from, dt.time(), SHANGHAI).astimezone(dt.UTC)
    end = dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time(), SHANGHAI).astimezone(
        dt.UTC
    )
    return start, end


def slip_totals(session: Session, tenant: str, months: list[int]) -> dict[str, dict[str, Any]]:
    """Per kind (own/outsourced): items, pay total, agent fees over payslips in scope."""
    statement = (
        select(
            PayrollPayslip.kind,
            func.coalesce(func.sum(PayrollPayslip.delivered_items), 0),
            sum_money(session, PayrollPayslip.total),
            sum_money(session, PayrollPayslip.agent_fees),
            func.count(),
            *(sum_money(session, getattr(PayrollPayslip, name)) for name in NET_SUMS),
        )
        .where(
            in_scope_clause(PayrollPayslip.tenant_code, tenant), PayrollPayslip.month.in_(months)
        )  # type: ignore[attr-defined]
        .group_by(PayrollPayslip.kind)
    )
    out = {kind: _empty() for kind in (OWN, OUTSOURCED)}
    for kind, items, total, fees, slips, *net in session.exec(statement):
        out[kind] = {
            "items": int(items),
            "total": money_value(session, total),
            "agent_fees": money_value(session, fees),
            "slips": int(slips),
            **{name: money_value(session, v) for name, v in zip(NET_SUMS, net, strict=True)},
        }
    return out


# Net-pay columns summed per kind (null on slips stored before net pay: counted as zero).
NET_SUMS = ("pension", "medical", "unemployment", "housing_fund", "income_tax", "net_pay")


def _empty() -> dict[str, Any]:
    return {"items": 0, "total": NIL, "agent_fees": NIL, "slips": 0} | dict.fromkeys(NET_SUMS, NIL)


def payroll_metrics(
    session: Session, tenant: str, date_from: dt.date, date_to: dt.date
) -> dict[str, Any]:
    months = [m.year * 100 + m.month for m in months_between(date_from, date_to)]
    start, end = period_bounds(date_from, date_to)
    delivered, pickup = session.exec(
        select(
            func.count(),
            func.coalesce(
                func.sum(sa.case((PayrollDelivery.mode == "pickup_point", 1), else_=0)), 0
            ),
        ).where(
            in_scope_clause(PayrollDelivery.tenant_code, tenant),
            PayrollDelivery.scanned_at >= start,
            PayrollDelivery.scanned_at < end,
        )
    ).one()
    slips = (
        slip_totals(session, tenant, months) if months else {OWN: _empty(), OUTSOURCED: _empty()}
    )
    own, out = slips[OWN], slips[OUTSOURCED]
    own_cost = own["total"] + own["agent_fees"]
    completions = (
        [
            Decimal(str(value))
            for value in session.exec(
                select(PayrollPayslip.quota_completion).where(
                    in_scope_clause(PayrollPayslip.tenant_code, tenant),
                    PayrollPayslip.month.in_(months),  # type: ignore[attr-defined]
                    PayrollPayslip.kind == OWN,
                    PayrollPayslip.quota_completion.is_not(None),  # type: ignore[union-attr]
                )
            )
        ]
        if months
        else []
    )

    def value(number: Decimal | None) -> str | None:
        return None if number is None else str(number)

    return {
        "delivered_items": kpi(int(delivered), "items", "投递量", "Items delivered"),
        "cost_per_item": kpi(
            value(ratio(own_cost + out["total"], own["items"] + out["items"])),
            "CNY/item",
            "单件投递成本",
            "Cost per delivered item",
        ),
        "own_cost_per_item": kpi(
            value(ratio(own_cost, own["items"])),
            "CNY/item",
            "自有人员单件成本",
            "Cost per item, own staff",
        ),
        "outsourced_unit_price": kpi(
            value(ratio(out["total"], out["items"])),
            "CNY/item",
            "外包综合单价",
            "Outsourced all-in unit price",
        ),
        "pickup_point_share": kpi(
            value(ratio(int(pickup), int(delivered))),
            "ratio",
            "自提点投递占比",
            "Share delivered to pickup points",
        ),
        "quota_completion_median": kpi(
            value(median(completions)),
            "ratio",
            "揽收定额完成率中位数",
            "Median collection-quota completion",
        ),
        "payroll_total": kpi(own["total"] + out["total"], "CNY", "工资总额", "Payroll total"),
        "net_pay": kpi(own["net_pay"], "CNY", "实发工资", "Net pay"),
        "deductions": kpi(
            own["pension"] + own["medical"] + own["unemployment"] + own["housing_fund"],
            "CNY",
            "个人社保公积金扣款",
            "Employee social insurance and housing fund",
        ),
        "income_tax_withheld": kpi(
            own["income_tax"], "CNY", "代扣个人所得税", "Income tax withheld"
        ),
    }
