"""The payroll run over stored events: hand-computed slips, re-runs, locks, isolation."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from postalops.errors import Conflict, ScopeError, ValidationError
from postalops.models import AuditRecord
from postalops.testing import count_rows
from postalops_payroll.ingest import ingest
from postalops_payroll.models import PayrollDelivery, PayrollPayslip, PayrollRun
from postalops_payroll.payroll_run import (
    add_adjustment,
    approve,
    payslip_lines,
    reopen,
    run_payroll,
)
from postalops_payroll.period import Month
from postalops_payroll.rate_card_store import publish_rate_card
from sqlmodel import select

SEP = Month(2022, 9)
ZZ, JINSHUI, KF = "cn.henan.zhengzhou", "cn.henan.zhengzhou.jinshui", "cn.henan.kaifeng"


def _slips(session, run):
    return {
        s.courier_code: s
        for s in session.exec(select(PayrollPayslip).where(PayrollPayslip.run_id == run.id))
    }


def test_the_run_reproduces_the_hand_computed_payslips(september_events, as_unit):
    with as_unit(ZZ) as s:
        run = run_payroll(s, ZZ, SEP, "hr.zhang")
        slips = _slips(s, run)
        # ZZ-0001: see test_payslip.py::test_payslip_below_the_80_percent_edge -> 3127.78
        # ZZ-0002: grade B, no postage -> x0.9 ; 2500.00 + 10 x 0.90 = 2509.00
        # ZZ-W01: 20 items x 1.10 (term WB1-2022-09) = 22.00
        assert {code: slip.total for code, slip in slips.items()} == {
            "ZZ-0001": D("3127.78"),
            "ZZ-0002": D("2509.00"),
            "ZZ-W01": D("22.00"),
        }
        lines = payslip_lines(slips["ZZ-0001"])
        assert [line.amount for line in lines] == [
            D(x)
            for x in (
                "3000.00",
                "29.70",
                "18.00",
                "11.70",
                "36.00",
                "10.89",
                "0.50",
                "79.99",
                "-9.00",
                "-50.00",
            )
        ]
        assert {line.rate_card_version for line in lines if line.kind != "adjustment"} == {1}
        assert lines[-1].author == "hr.zhang"
        assert slips["ZZ-0001"].quota_completion == D("0.7999")
        # totals: own 3127.78 + 2509.00 = 5636.78 ; outsourced 22.00 ; agent fees 9.00
        assert (run.own_total, run.outsourced_total, run.agent_fees, run.payroll_total) == (
            D("5636.78"),
            D("22.00"),
            D("9.00"),
            D("5658.78"),
        )
        assert (run.own_items, run.outsourced_items, run.pickup_point_items) == (121, 20, 30)


def test_a_station_on_the_provincial_card_is_priced_by_it(september_events, as_unit):
    with as_unit(KF) as s:
        run = run_payroll(s, KF, SEP, "hr.kaifeng")
        # express door rural: 1.20 + 0.30 = 1.50 x0.9 = 1.35 x 5 = 6.75 ; + base 2800.00
        assert _slips(s, run)["KF-0001"].total == D("2806.75")
        assert run.rate_card_versions == [1]


def test_rerunning_a_draft_replaces_it_with_identical_totals(september_events, as_unit, po_app):
    with as_unit(ZZ) as s:
        first = run_payroll(s, ZZ, SEP, "hr")
        before = sorted((sl.courier_code, sl.total) for sl in _slips(s, first).values())
        s.commit()
        lines_before = {code: payslip_lines(sl) for code, sl in _slips(s, first).items()}
    slips_before = count_rows(po_app, PayrollPayslip)
    with as_unit(ZZ) as s:
        again = run_payroll(s, ZZ, SEP, "hr")
        s.commit()
        assert again.id == first.id
        slips = _slips(s, again)
        assert sorted((sl.courier_code, sl.total) for sl in slips.values()) == before
        assert {code: payslip_lines(sl) for code, sl in slips.items()} == lines_before
    # ZZ-0001 10 lines, ZZ-0002 base + delivery, ZZ-W01 one outsourced line: 13, not doubled
    assert count_rows(po_app, PayrollPayslip) == slips_before == 3
    assert sum(len(lines) for lines in lines_before.values()) == 13


def test_the_run_reports_progress_that_only_moves_forward(september_events, as_unit):
    calls: list[tuple[int, int, str]] = []
    with as_unit(ZZ) as s:
        run_payroll(s, ZZ, SEP, "hr", progress=lambda *call: calls.append(call))
        s.commit()
    assert calls[0][0] == 0 and calls[-1][:2] == (3, 3)  # three slips, all written
    fractions = [done / total for done, total, _ in calls]
    assert fractions == sorted(fractions)
    assert all(message for _, _, message in calls)


def test_an_approved_month_refuses_changes_until_reopened(september_events, as_unit, pay):
    with as_unit(ZZ) as s:
        run_payroll(s, ZZ, SEP, "hr")
        approve(s, ZZ, SEP, "hr.boss")
        s.commit()
    with as_unit(ZZ) as s:
        with pytest.raises(ValidationError) as caught:
            ingest(
                s,
                "delivery",
                pay.delivery_rows("ZZ-0002", [("parcel", "door", "urban", 1)], prefix="LATE"),
            )
        assert caught.value.details[0]["errors"][0]["code"] == "month_locked"
        with pytest.raises(Conflict):
            add_adjustment(s, "ZZ-0002", SEP, D("10.00"), "bonus", "hr")
        with pytest.raises(Conflict):
            run_payroll(s, ZZ, SEP, "hr")
        with pytest.raises(Conflict) as caught:
            publish_rate_card(s, ZZ, {**pay.card_dict(), "effective_from": "2022-09-01"}, "hr")
        assert caught.value.code == "month_locked"
        # the station below the city is locked too, and October is not
        publish_rate_card(s, ZZ, {**pay.card_dict(), "effective_from": "2022-10-01"}, "hr")
        with pytest.raises(ValidationError):
            reopen(s, ZZ, SEP, "ops.li", "  ")
        reopen(s, ZZ, SEP, "ops.li", "late scans from the sorter")
        ingest(
            s,
            "delivery",
            pay.delivery_rows("ZZ-0002", [("parcel", "door", "urban", 1)], prefix="LATE"),
        )
        run = run_payroll(s, ZZ, SEP, "hr")
        assert _slips(s, run)["ZZ-0002"].total == D("2509.90")  # one more parcel at 0.90
        s.commit()
        actions = [a.action for a in s.exec(select(AuditRecord).order_by(AuditRecord.id))]
        assert actions.count("payroll.approve") == 1 and actions.count("payroll.reopen") == 1
        reason = (
            s.exec(select(AuditRecord).where(AuditRecord.action == "payroll.reopen"))
            .one()
            .after["reason"]
        )
        assert reason == "late scans from the sorter"


def test_ingest_is_idempotent(payroll_world, as_unit, po_app, pay):
    rows = pay.delivery_rows("ZZ-0002", [("parcel", "door", "urban", 5)])
    with as_unit(ZZ) as s:
        first = ingest(s, "delivery", rows)
        s.commit()
        second = ingest(s, "delivery", rows)
        s.commit()
    assert first["counts"] == {"accepted": 5, "duplicate": 0, "rejected": 0}
    assert second["counts"] == {"accepted": 0, "duplicate": 5, "rejected": 0}
    assert count_rows(po_app, PayrollDelivery) == 5


def test_one_bad_row_stores_nothing(payroll_world, as_unit, po_app, pay):
    rows = pay.delivery_rows("ZZ-0002", [("parcel", "door", "urban", 3)])
    rows.append((3, {**rows[0][1], "waybill": "X1", "courier": "NOBODY"}))
    with as_unit(ZZ) as s, pytest.raises(ValidationError) as caught:
        ingest(s, "delivery", rows)
    assert caught.value.details == [
        {
            "row": 3,
            "status": "rejected",
            "waybill": "X1",
            "errors": [
                {
                    "field": "courier",
                    "code": "unknown_courier",
                    "message": "unknown courier",
                    "value": "NOBODY",
                }
            ],
        }
    ]
    assert count_rows(po_app, PayrollDelivery) == 0


def test_two_cities_are_isolated(september_events, as_unit, pay):
    with as_unit(KF) as s:
        # Kaifeng cannot see Zhengzhou's couriers: its scans are "unknown courier" there
        with pytest.raises(ValidationError) as caught:
            ingest(
                s,
                "delivery",
                pay.delivery_rows("ZZ-0001", [("parcel", "door", "urban", 1)], prefix="KF"),
            )
        assert caught.value.details[0]["errors"][0]["code"] == "unknown_courier"
        with pytest.raises(ScopeError):
            run_payroll(s, ZZ, SEP, "hr.kaifeng")
        run = run_payroll(s, KF, SEP, "hr.kaifeng")
        assert set(_slips(s, run)) == {"KF-0001"}
        s.commit()
    with as_unit(ZZ) as s:
        run = run_payroll(s, ZZ, SEP, "hr.zhang")
        s.commit()
        assert "KF-0001" not in _slips(s, run)
        assert [r.tenant_code for r in s.exec(select(PayrollRun))] == [
            ZZ
        ]  # Kaifeng's run is invisible
    with as_unit(JINSHUI) as s:
        # the station sees its own couriers' slips, not the city's run row
        assert {sl.courier_code for sl in s.exec(select(PayrollPayslip))} == {
            "ZZ-0001",
            "ZZ-0002",
            "ZZ-W01",
        }
        assert s.exec(select(PayrollRun)).all() == []


def test_a_month_is_run_at_one_level_only(september_events, as_unit):
    with as_unit(ZZ) as s:
        run_payroll(s, ZZ, SEP, "hr")
        s.commit()
        with pytest.raises(Conflict) as caught:
            run_payroll(s, JINSHUI, SEP, "hr")
        assert caught.value.code == "overlapping_run"


def test_an_outsourced_courier_without_a_contract_term_stops_the_run(payroll_world, as_unit, pay):
    with as_unit(ZZ) as s:
        ingest(
            s,
            "delivery",
            pay.delivery_rows("ZZ-W01", [("parcel", "door", "urban", 2)], month="2022-10"),
        )
        with pytest.raises(ValidationError) as caught:
            run_payroll(s, ZZ, Month(2022, 10), "hr")
        assert caught.value.details == [
            {
                "courier": "ZZ-W01",
                "field": "contractor",
                "message": "no contract term covers 2022-10",
            }
        ]
