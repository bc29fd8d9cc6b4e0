"""Reports: cost per item by city and month, outsourced budget consumption, rates vs market."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import Any

from postalops.db import in_scope_clause
from postalops.money import money_value, sum_money
from sqlmodel import Session, func, select

from .kpi import ratio
from .models import PayrollBudget, PayrollCourier, PayrollDelivery, PayrollPayslip
from .outsourcing import budget_status
from .payslip import OUTSOURCED
from .period import Month, months_between
from .rate_card import market_gap_report
from .rate_card_store import CardResolver

# An exact zero starts the sums: an empty one reads 0, as the API and KPIs have always shown
# it (the core's ZERO is 0.00).
NIL = Decimal(0)

CITY_DEPTH = 3  # cn.henan.zhengzhou


def city_of(code: str, tenant: str) -> str:
    """The city a unit belongs to; below a city-level view, the unit itself."""
    parts = code.split(".")
    depth = max(CITY_DEPTH, len(tenant.split(".")))
    return ".".join(parts[:depth])


def _month_label(key: int) -> str:
    return str(Month(key // 100, key % 100))


def unit_cost_report(
    session: Session, tenant: str, date_from: dt.date, date_to: dt.date
) -> list[dict[str, Any]]:
    """Per city and month: items and cost for own staff and outsourced, and the unit costs.

    Own cost = payslip totals + agent fees (paid to pickup points on the couriers' behalf);
    outsourced cost = contractor charges. Cost per item = (own + outsourced cost) / items.
    """
    months = [m.year * 100 + m.month for m in months_between(date_from, date_to)]
    if not months:
        return []
    statement = (
        select(
            PayrollPayslip.tenant_code,
            PayrollPayslip.month,
            PayrollPayslip.kind,
            func.coalesce(func.sum(PayrollPayslip.delivered_items), 0),
            sum_money(session, PayrollPayslip.total),
            sum_money(session, PayrollPayslip.agent_fees),
        )
        .where(
            in_scope_clause(PayrollPayslip.tenant_code, tenant), PayrollPayslip.month.in_(months)
        )  # type: ignore[attr-defined]
        .group_by(PayrollPayslip.tenant_code, PayrollPayslip.month, PayrollPayslip.kind)
    )
    cells: dict[tuple[str, int], dict[str, Any]] = defaultdict(
        lambda: {"own_items": 0, "own_cost": NIL, "outsourced_items": 0, "outsourced_cost": NIL}
    )
    for code, month, kind, items, total, fees in session.exec(statement):
        cell = cells[(city_of(code, tenant), month)]
        if kind == OUTSOURCED:
            cell["outsourced_items"] += int(items)
            cell["outsourced_cost"] += money_value(session, total)
        else:
            cell["own_items"] += int(items)
            cell["own_cost"] += money_value(session, total) + money_value(session, fees)
    rows = []
    for (city, month), cell in sorted(cells.items()):
        items = cell["own_items"] + cell["outsourced_items"]
        cost = cell["own_cost"] + cell["outsourced_cost"]
        rows.append(
            {
                "city": city,
                "month": _month_label(month),
                **cell,
                "items": items,
                "cost": cost,
                "cost_per_item": ratio(cost, items),
                "own_cost_per_item": ratio(cell["own_cost"], cell["own_items"]),
                "outsourced_unit_price": ratio(cell["outsourced_cost"], cell["outsourced_items"]),
            }
        )
    return rows


def budget_report(
    session: Session, tenant: str, date_from: dt.date, date_to: dt.date
) -> list[dict[str, Any]]:
    """Each budget in scope: outsourced items delivered so far against it, and its alert."""
    months = [m.year * 100 + m.month for m in months_between(date_from, date_to)]
    budgets = session.exec(
        select(PayrollBudget)
        .where(in_scope_clause(PayrollBudget.tenant_code, tenant), PayrollBudget.month.in_(months))  # type: ignore[attr-defined]
        .order_by(PayrollBudget.tenant_code, PayrollBudget.month)
    ).all()
    rows = []
    for budget in budgets:
        used = session.exec(
            select(func.count())
            .select_from(PayrollDelivery)
            .join(PayrollCourier, PayrollCourier.id == PayrollDelivery.courier_id)
            .where(
                PayrollDelivery.month == budget.month,
                in_scope_clause(PayrollDelivery.tenant_code, budget.tenant_code or ""),
                PayrollCourier.kind == OUTSOURCED,
            )
        ).one()
        status = budget_status(int(used), budget.volume_budget)
        rows.append(
            {
                "unit": budget.tenant_code,
                "month": _month_label(budget.month),
                "volume_budget": budget.volume_budget,
                "unit_price_cap": budget.unit_price_cap,
                "used_items": status.used_items,
                "share": status.share,
                "alert": status.alert,
            }
        )
    return rows


def market_gap(session: Session, tenant: str, month: Month) -> list[dict[str, Any]]:
    """Our door rates minus market rates for the card in force at ``tenant`` in ``month``."""
    card = CardResolver(session, tenant, month).card_for(tenant)
    if card is None:
        return []
    return [
        {"unit": card.unit_code, "version": card.version, **row} for row in market_gap_report(card)
    ]
