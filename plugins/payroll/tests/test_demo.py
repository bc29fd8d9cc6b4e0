"""The demo reproduces DOMAIN.md's figures through the plugin's own pricing, and re-runs add nothing."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal as D

import pytest
from postalops.models import OrgUnit, PluginEnablement
from postalops.testing import count_rows
from postalops_payroll.demo import HENAN_CITIES, build_demo, month_price, target_price
from postalops_payroll.metrics import payroll_metrics
from postalops_payroll.models import PayrollCollection, PayrollDelivery, PayrollPayslip, PayrollRun
from postalops_payroll.period import Month
from sqlmodel import select


@pytest.fixture
def henan(po_db, as_unit):
    with as_unit(None) as s:
        s.add(OrgUnit(code="cn", name_zh="集团", name_en="Group", level="group", depth=0))
        s.add(
            OrgUnit(
                code="cn.henan",
                parent_code="cn",
                name_zh="河南",
                name_en="Henan",
                level="province",
                depth=1,
            )
        )
        for city in HENAN_CITIES:
            code = f"cn.henan.{city}"
            s.add(
                OrgUnit(
                    code=code,
                    parent_code="cn.henan",
                    name_zh=city,
                    name_en=city,
                    level="city",
                    depth=2,
                )
            )
            for n in (1, 2):
                s.add(
                    OrgUnit(
                        code=f"{code}.station{n}",
                        parent_code=code,
                        name_zh=f"{city}{n}",
                        name_en=f"{city} {n}",
                        level="station",
                        depth=3,
                    )
                )
        s.add(PluginEnablement(unit_code="cn", plugin_key="payroll", enabled=True))
        s.commit()


def _build(as_unit):
    with as_unit(None) as s:
        units = {u.code: u for u in s.exec(select(OrgUnit))}
        build_demo(
            s, units, random.Random("20221017:payroll"), lambda done, total, message="": None
        )
        s.commit()


def _metrics(as_unit, start: str, end: str) -> dict:
    with as_unit("cn.henan") as s:
        kpis = payroll_metrics(
            s, "cn.henan", dt.date.fromisoformat(start), dt.date.fromisoformat(end)
        )
        return {name: entry["value"] for name, entry in kpis.items()}


def test_contract_prices_fall_from_1_30_to_1_00_1_15():
    assert {month_price(i, Month(2022, 1)) for i in range(18)} == {D("1.30")}
    september = {month_price(i, Month(2022, 9)) for i in range(18)}
    assert september == {target_price(i) for i in range(18)}
    assert min(september) == D("1.00") and max(september) == D("1.15")


def test_the_demo_reproduces_the_outsourced_unit_price_and_is_idempotent(henan, as_unit, po_app):
    _build(as_unit)
    january = _metrics(as_unit, "2022-01-01", "2022-01-31")
    september = _metrics(as_unit, "2022-09-01", "2022-09-30")
    assert january["outsourced_unit_price"] == "1.3000"  # every contractor starts the year at 1.30
    assert D("1.00") <= D(september["outsourced_unit_price"]) <= D("1.15")
    assert D(september["cost_per_item"]) < D(january["cost_per_item"])  # delivery cost came down
    with as_unit("cn.henan") as s:
        runs = s.exec(select(PayrollRun)).all()
    assert len(runs) == 18 * 9
    assert {r.status for r in runs if r.month < 202209} == {"approved"}
    assert {r.status for r in runs if r.month == 202209} == {"draft"}
    assert {tuple(r.rate_card_versions) for r in runs} == {(1,), (2,)}  # July's version took over
    counts = [count_rows(po_app, m) for m in (PayrollDelivery, PayrollCollection, PayrollPayslip)]
    _build(as_unit)
    assert [
        count_rows(po_app, m) for m in (PayrollDelivery, PayrollCollection, PayrollPayslip)
    ] == counts
    assert _metrics(as_unit, "2022-09-01", "2022-09-30") == september
