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
    # every article month is approved, September too, so finance's journal for September
    # 2022 carries its payroll accrual (issue 19)
    assert {r.status for r in runs} == {"approved"}
    assert {tuple(r.rate_card_versions) for r in runs} == {(1,), (2,)}  # July's version took over
    counts = [count_rows(po_app, m) for m in (PayrollDelivery, PayrollCollection, PayrollPayslip)]
    _build(as_unit)
    assert [
        count_rows(po_app, m) for m in (PayrollDelivery, PayrollCollection, PayrollPayslip)
    ] == counts
    assert _metrics(as_unit, "2022-09-01", "2022-09-30") == september


def test_the_present_up_to_today_runs_closed_months_and_drafts_this_one(
    henan, as_unit, po_app, frozen_today
):
    """The rolling present (issue 16 §2): scans up to a frozen today (12 March 2025) through
    ingest; December to February run by the demo's maker and approved by its checker, March a
    draft; the default period has figures; a same-day re-run adds nothing; the next day adds
    only what happened since and reruns the draft; the article's months stay as they were."""
    from postalops.testing import default_metrics
    from postalops_payroll.demo_present import build_present

    _build(as_unit)
    september = _metrics(as_unit, "2022-09-01", "2022-09-30")
    with as_unit(None) as s:
        units = {u.code: u for u in s.exec(select(OrgUnit))}
        first = build_present(s, units)
        s.commit()
    assert first["present_scans"] > 18 * 4 * 90 * 4, first
    with as_unit("cn.henan") as s:
        runs = s.exec(select(PayrollRun).where(PayrollRun.month > 202209)).all()
    by_month = {}
    for r in runs:
        if (r.tenant_code, r.month) != ("cn.henan.zhengzhou", 202502):
            by_month.setdefault(r.month, set()).add((r.status, r.started_by))
    assert by_month == {
        202412: {("approved", "demo")},
        202501: {("approved", "demo")},
        202502: {("approved", "demo")},
        202503: {("draft", "demo")},
    }, by_month
    # ... but Zhengzhou's last month waits for people (the user guide's first task)
    waiting = [r for r in runs if r.tenant_code == "cn.henan.zhengzhou" and r.month == 202502]
    assert [(r.status, r.started_by) for r in waiting] == [("draft", "demo")]
    assert len(runs) == 18 * 4 and all(r.payroll_total > 0 for r in runs)

    now = default_metrics(po_app, "cn.henan", "payroll")
    assert now and all(v not in (None, "0", 0) for v in now.values()), now
    assert D("1.00") <= D(now["outsourced_unit_price"]) <= D("1.15"), now

    tables = (PayrollDelivery, PayrollCollection, PayrollPayslip, PayrollRun)
    before = {m: count_rows(po_app, m) for m in tables}
    with as_unit(None) as s:
        again = build_present(s, units)
        s.commit()
    assert again == {"present_scans": 0, "present_runs": 0, "present_approved": 0}
    assert {m: count_rows(po_app, m) for m in tables} == before

    first_now = dt.datetime.combine(frozen_today.day, dt.time(10, 30), dt.UTC) - dt.timedelta(
        hours=8
    )

    def scans_before():
        with as_unit(None) as s:
            return len(
                s.exec(
                    select(PayrollDelivery.id).where(PayrollDelivery.scanned_at < first_now)
                ).all()
            )

    earlier = scans_before()
    frozen_today.set(frozen_today.day + dt.timedelta(days=1))
    with as_unit(None) as s:
        later = build_present(s, units)
        s.commit()
    assert later["present_scans"] > 0 and later["present_runs"] == 18  # March's drafts again
    assert later["present_approved"] == 0
    assert scans_before() == earlier  # nothing before the last run was added
    assert count_rows(po_app, PayrollRun) == before[PayrollRun]
    assert _metrics(as_unit, "2022-09-01", "2022-09-30") == september

    # in April, February is no longer last month: the demo approves it; March waits instead
    frozen_today.set(dt.date(2025, 4, 1))
    with as_unit(None) as s:
        build_present(s, units)
        s.commit()
    with as_unit("cn.henan.zhengzhou") as s:
        states = {
            r.month: r.status
            for r in s.exec(select(PayrollRun).where(PayrollRun.month > 202501)).all()
        }
    assert states == {202502: "approved", 202503: "draft", 202504: "draft"}, states


def test_the_demo_pays_net_and_its_journal_balances(henan, as_unit, po_app):
    """Issue 19: the demo's cities have statutory rates, its couriers bank accounts; every
    approved month has net pay and a bank file dated the 10th of the next month, and the
    journal balances with payroll payable credited exactly the approved runs' net plus what
    was withheld and contributed, summed here from the slips themselves."""
    from postalops.journal import balanced
    from postalops.money import ZERO
    from postalops_payroll.demo_net import build_rates, settle
    from postalops_payroll.journal import journal_lines

    with as_unit(None) as s:
        units = {u.code: u for u in s.exec(select(OrgUnit))}
        assert build_rates(s, units, dt.date(2025, 3, 12)) == 18 * 2
        s.commit()
    _build(as_unit)
    with as_unit(None) as s:
        paid = settle(s, dt.date(2025, 3, 12))
    # January .. September, each paid on the 10th of the next month (by 10 October 2022)
    assert paid == {"net_backfilled": 0, "paid": 18 * 9}
    with as_unit(None) as s:
        assert settle(s, dt.date(2025, 3, 12)) == {"net_backfilled": 0, "paid": 0}
        assert build_rates(s, units, dt.date(2025, 3, 12)) == 0
    with as_unit("cn.henan") as s:
        august = journal_lines(s, "cn.henan", dt.date(2022, 8, 1), dt.date(2022, 8, 31))
        september = journal_lines(s, "cn.henan", dt.date(2022, 9, 1), dt.date(2022, 9, 30))
        slips = s.exec(
            select(PayrollPayslip).where(
                PayrollPayslip.month == 202208, PayrollPayslip.kind == "own"
            )
        ).all()
    assert balanced(august) and balanced(september)
    assert all(slip.net_pay is not None and slip.net_pay > 0 for slip in slips)
    net = sum((slip.net_pay for slip in slips), ZERO)
    withheld = sum(
        (
            slip.pension + slip.medical + slip.unemployment + slip.housing_fund + slip.income_tax
            for slip in slips
        ),
        ZERO,
    )
    employer = sum((slip.employer_costs for slip in slips), ZERO)
    assert withheld > 0 and employer > 0
    credited = sum(ln.credit for ln in august if ln.account == "payroll_payable")
    assert credited == net + withheld + employer
    assert credited == sum((slip.total for slip in slips), ZERO) + employer  # gross + employer
    # September is approved too: its accrual credits payroll payable its own net + withheld +
    # employer, and August's payment (10 September) is the only debit for the bank.
    with as_unit("cn.henan") as s:
        sept_slips = s.exec(
            select(PayrollPayslip).where(
                PayrollPayslip.month == 202209, PayrollPayslip.kind == "own"
            )
        ).all()
    sept_owed = sum(
        (
            slip.net_pay
            + slip.pension
            + slip.medical
            + slip.unemployment
            + slip.housing_fund
            + slip.income_tax
            + slip.employer_costs
            for slip in sept_slips
        ),
        ZERO,
    )
    assert len(sept_slips) == 18 * 3 and sept_owed > 0
    assert sum(ln.credit for ln in september if ln.account == "payroll_payable") == sept_owed
    # August is paid on 10 September: the bank is credited its net in September's journal.
    bank = [ln for ln in september if ln.account == "bank"]
    assert {ln.date for ln in bank} == {dt.date(2022, 9, 10)}
    assert sum(ln.credit for ln in bank) == net
