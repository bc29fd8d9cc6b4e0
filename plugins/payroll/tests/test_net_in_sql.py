"""A run's net figures written with its slips (PostgreSQL: in the pricing statement,
``pricing_sql._insert_slips_with_net``) equal what ``net.compute_net`` computes from the same
slips by the rules of ``net_pay.py``, month after month of one tax year.

Twelve own couriers at Jinshui with gross pay from below the contribution floor to above the
ceiling and cumulative taxable income through the 3 %, 10 %, 20 % and 25 % brackets, some with
a special additional deduction; an outsourced courier in September; rates changing at the
station in September; a month run twice; a month reopened with a bonus and approved again (its
later months recomputed); an earlier slip without net figures (stored before net pay existed),
which sends the run to ``compute_net`` (whose writes go through ``COPY`` and one
``UPDATE … FROM`` on PostgreSQL, its threshold lowered to one slip here). After every run, ``compute_net`` on the same run must
find nothing to change. The hand-computed figures are in ``test_net_pay*.py``; this test holds
the two paths to each other on both backends.
"""

from __future__ import annotations

import random
from decimal import Decimal as D

import postalops_payroll.payroll_run as payroll_run
from postalops_payroll import net
from postalops_payroll.models import PayrollPayslip
from postalops_payroll.net import NET_COLUMNS, compute_net, publish_rates, rates_from_payload
from postalops_payroll.payroll_run import add_adjustment, approve, reopen, run_payroll
from postalops_payroll.period import Month
from postalops_payroll.roster import import_couriers
from sqlmodel import select, update

ZZ, JINSHUI = "cn.henan.zhengzhou", "cn.henan.zhengzhou.jinshui"
RATES = {
    "effective_from": "2022-01-01",
    "pension": "0.08",
    "medical": "0.02",
    "unemployment": "0.005",
    "housing_fund": "0.10",
    "employer_pension": "0.16",
    "employer_medical": "0.08",
    "employer_unemployment": "0.007",
    "employer_housing_fund": "0.10",
    "base_floor": "3500.00",
    "base_ceiling": "20000.00",
}
# From September the station has its own version: other shares, floor and ceiling.
STATION_RATES = RATES | {
    "effective_from": "2022-09-01",
    "housing_fund": "0.12",
    "medical": "0.025",
    "base_floor": "4000.00",
    "base_ceiling": "22000.00",
}
MONTHS = [Month(2022, m) for m in range(6, 12)]
AMOUNTS = ["-1800.00", "0", "1234.56", "6000.00", "15000.55", "30000.00", "61000.01"]


def _figures(session, run_id):
    rows = session.exec(
        select(PayrollPayslip.courier_code, *(getattr(PayrollPayslip, n) for n in NET_COLUMNS))
        .where(PayrollPayslip.run_id == run_id)
        .order_by(PayrollPayslip.courier_code)
    ).all()
    return [tuple(row) for row in rows]


def _run_and_compare(s, month, calls):
    before = calls[0]
    run = run_payroll(s, ZZ, month, "hr.zhang")
    s.flush()
    written = _figures(s, run.id)
    assert written and all(row[-1] is not None for row in written)
    compute_net(s, run)  # the rules applied in Python to the same slips
    s.flush()
    assert _figures(s, run.id) == written, month
    return run, calls[0] - before


def test_net_figures_written_with_the_slips_equal_compute_net(
    payroll_world, as_unit, pay, monkeypatch
):
    monkeypatch.setattr(net, "COPY_ABOVE", 1)  # compute_net writes what it changes by COPY
    calls = [0]
    original = payroll_run.compute_net

    def counting(*args, **kwargs):
        calls[0] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(payroll_run, "compute_net", counting)
    rng = random.Random(19)
    with as_unit(ZZ) as s:
        publish_rates(s, ZZ, rates_from_payload(RATES), "hr.zhang")
        publish_rates(s, JINSHUI, rates_from_payload(STATION_RATES), "hr.zhang")
        import_couriers(
            s,
            [
                (
                    n,
                    {
                        "code": f"NS-{n:02d}",
                        "name": f"净{n}",
                        "kind": "own",
                        "station": JINSHUI,
                        "grade": "A",
                        "base_pay": f"{2000 + 700 * n}.00",
                        **({"special_deduction": "1500.00"} if n % 3 == 0 else {}),
                    },
                )
                for n in range(12)
            ],
        )
        s.commit()
    with as_unit(ZZ) as s:
        from postalops_payroll.ingest import ingest

        ingest(s, "delivery", pay.delivery_rows("ZZ-W01", [("parcel", "door", "urban", 7)]))
        for month in MONTHS:
            for n in range(12):
                amount = D(rng.choice(AMOUNTS))
                if amount:
                    add_adjustment(s, f"NS-{n:02d}", month, amount, "测试", "hr.zhang")
        s.commit()
    in_sql = None
    with as_unit(ZZ) as s:
        in_sql = s.get_bind().dialect.name == "postgresql"
        for month in MONTHS[:4]:  # June to September
            run, fallbacks = _run_and_compare(s, month, calls)
            if month == MONTHS[2]:  # August run twice: the re-run replaces the draft
                run, more = _run_and_compare(s, month, calls)
                fallbacks += more
            assert fallbacks == (0 if in_sql else 1 + (month == MONTHS[2]))
            approve(s, ZZ, month, "hr.li")
        september = _figures(s, run.id)
        assert any(row[0] == "ZZ-W01" for row in september)
        assert {row[10] > 0 for row in september if row[0].startswith("NS")} == {True, False}
        # July reopened with a bonus and approved again: August and September are recomputed
        reopen(s, ZZ, MONTHS[1], "ops.wang", "季度奖漏发")
        add_adjustment(s, "NS-01", MONTHS[1], D("48000.00"), "季度奖", "hr.zhang")
        _run_and_compare(s, MONTHS[1], calls)
        assert approve(s, ZZ, MONTHS[1], "hr.li").net_notice["months"] == ["2022-08", "2022-09"]
        # October follows from the recomputed months
        run, fallbacks = _run_and_compare(s, MONTHS[4], calls)
        assert fallbacks == (0 if in_sql else 1)
        approve(s, ZZ, MONTHS[4], "hr.li")
        # A June slip stored before net pay existed: November's run leaves it to compute_net
        s.exec(
            update(PayrollPayslip)
            .where(PayrollPayslip.courier_code == "NS-04", PayrollPayslip.month == 202206)
            .values(net_pay=None)
        )
        run, fallbacks = _run_and_compare(s, MONTHS[5], calls)
        assert fallbacks == 1
        s.commit()
