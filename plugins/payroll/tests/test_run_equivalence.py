"""The run's slips equal the reference pricing of ``payslip.py``, line by line.

On PostgreSQL the run prices in SQL (``pricing_sql.py``); on SQLite it calls ``payslip.py``.
This test builds a random month for 40 couriers whose collected postage sits on both sides of
every quota-band edge (79.99 %, 80 %, 99.99 %, 100 %) and whose item counts straddle the
volume-tier thresholds (100 and 150), runs the payroll, and prices every courier again with
``price_own_courier`` / ``price_outsourced_courier`` from the same inputs. It also checks the
tallies ingest kept against a rebuild from the stored events.
"""

from __future__ import annotations

import random
from decimal import Decimal as D

from postalops_payroll.dimensions import Category
from postalops_payroll.ingest import ingest, rebuild_tallies
from postalops_payroll.models import (
    PayrollCollectionTally,
    PayrollDeliveryTally,
    PayrollPayslip,
)
from postalops_payroll.payroll_run import add_adjustment, payslip_lines, run_payroll
from postalops_payroll.payslip import (
    Adjustment,
    CourierMonth,
    TermCount,
    cell_of,
    price_outsourced_courier,
    price_own_courier,
)
from postalops_payroll.period import Month
from postalops_payroll.rate_card import rate_card_from_dict
from postalops_payroll.roster import import_couriers
from sqlmodel import select

SEP = Month(2022, 9)
ZZ, JINSHUI = "cn.henan.zhengzhou", "cn.henan.zhengzhou.jinshui"
CATEGORIES = ["letter", "registered", "parcel", "express", "gov_mail"]
MODES = ["door", "pickup_point", "locker", "counter"]
TIERS = ["urban", "suburban", "rural", "mountain"]
# Grade A quota is 1000 yuan: completions 0.7999, 0.8, 0.9999, 1.0, and some others.
POSTAGE_TOTALS = ["799.90", "800.00", "999.90", "1000.00", "0", "1234.56", "450.05"]
ITEM_TOTALS = [0, 1, 99, 100, 101, 149, 150, 151, 173]


def _tally_rows(session, model, columns):
    return sorted(
        tuple(getattr(row, c) for c in columns) for row in session.exec(select(model)).all()
    )


def test_the_run_prices_exactly_as_the_reference_pricing(payroll_world, as_unit, pay):
    rng = random.Random(20220901)
    plan: dict[str, dict] = {}
    couriers = []
    for n in range(40):
        code = f"EQ-{n:03d}"
        outsourced = n % 8 == 7
        row = {"code": code, "name": code, "station": JINSHUI}
        if outsourced:
            row |= {"kind": "outsourced", "contractor": "WB1"}
        else:
            row |= {"kind": "own", "grade": "A" if n % 3 else "B", "base_pay": f"{2000 + n}.50"}
        couriers.append((n, row))
        total = ITEM_TOTALS[n % len(ITEM_TOTALS)]
        cells: dict[tuple[str, str, str], int] = {}
        for _ in range(total):
            cell = (rng.choice(CATEGORIES), rng.choice(MODES), rng.choice(TIERS[: 1 + n % 4]))
            cells[cell] = cells.get(cell, 0) + 1
        postage = D(POSTAGE_TOTALS[n % len(POSTAGE_TOTALS)])
        plan[code] = {"cells": cells, "postage": postage, "outsourced": outsourced}

    with as_unit(ZZ) as s:
        import_couriers(s, couriers)
        s.commit()
    with as_unit(ZZ) as s:
        for code, p in plan.items():
            rows = pay.delivery_rows(code, [(*cell, k) for cell, k in p["cells"].items()])
            if rows:
                ingest(s, "delivery", rows)
                ingest(s, "delivery", rows[: len(rows) // 2])  # a replay adds nothing
            if p["postage"]:
                half = (p["postage"] / 2).quantize(D("0.01"))
                ingest(s, "collection", pay.collection_rows(code, [half, p["postage"] - half]))
            if code.endswith("3"):
                add_adjustment(s, code, SEP, D("-12.34"), "damaged parcel", "hr.zhang")
                add_adjustment(s, code, SEP, D("5.00"), "bonus", "hr.zhang")
        s.commit()

    with as_unit(ZZ) as s:
        kept = (
            _tally_rows(
                s, PayrollDeliveryTally, ("courier_id", "category", "mode", "tier", "items")
            ),
            _tally_rows(s, PayrollCollectionTally, ("courier_id", "category", "postage_fen")),
        )
        rebuild_tallies(s, ZZ, 202209)
        rebuilt = (
            _tally_rows(
                s, PayrollDeliveryTally, ("courier_id", "category", "mode", "tier", "items")
            ),
            _tally_rows(s, PayrollCollectionTally, ("courier_id", "category", "postage_fen")),
        )
        assert kept == rebuilt and kept[0]

        run = run_payroll(s, ZZ, SEP, "hr.zhang")
        card = rate_card_from_dict(pay.card_dict(), version=1, unit_code=ZZ)
        slips = {
            slip.courier_code: slip
            for slip in s.exec(select(PayrollPayslip).where(PayrollPayslip.run_id == run.id))
        }
        checked = 0
        for code, p in plan.items():
            adjustments = (
                [
                    Adjustment(D("-12.34"), "damaged parcel", "hr.zhang"),
                    Adjustment(D("5.00"), "bonus", "hr.zhang"),
                ]
                if code.endswith("3")
                else []
            )
            if p["outsourced"]:
                items = sum(p["cells"].values())
                pickup = sum(k for (_, mode, _), k in p["cells"].items() if mode == "pickup_point")
                expected = price_outsourced_courier(
                    code, [TermCount("WB1-2022-09", D("1.10"), items, pickup)], adjustments
                )
            else:
                n = int(code[3:])
                postage: dict = {}
                if p["postage"]:
                    postage = {Category.PARCEL: p["postage"]}
                expected = price_own_courier(
                    CourierMonth(
                        courier_code=code,
                        grade="A" if n % 3 else "B",
                        base_pay=D(f"{2000 + n}.50"),
                        deliveries={cell_of(*c): k for c, k in p["cells"].items()},
                        postage=postage,
                        adjustments=adjustments,
                    ),
                    card,
                )
            slip = slips[code]
            got = [
                (
                    line.kind,
                    line.category,
                    line.mode,
                    line.tier,
                    line.volume_tier,
                    line.quantity,
                    line.unit_rate,
                    line.amount,
                    line.rate_card_version,
                    line.contract_term,
                    line.reason,
                )
                for line in payslip_lines(slip)
            ]
            want = [
                (
                    line.kind,
                    line.category,
                    line.mode,
                    line.tier,
                    line.volume_tier,
                    line.quantity,
                    line.unit_rate.quantize(D("0.000001")),
                    line.amount,
                    line.rate_card_version,
                    line.contract_term,
                    line.reason,
                )
                for line in expected.lines
            ]
            assert got == want, code
            assert slip.total == expected.total == sum(line[7] for line in got)
            assert slip.agent_fees == expected.agent_fees
            assert (slip.delivered_items, slip.pickup_point_items) == (
                expected.delivered_items,
                expected.pickup_point_items,
            )
            assert slip.quota_band == expected.quota_band
            assert slip.quota_multiplier == expected.quota_multiplier
            assert slip.collected_postage == expected.collected_postage
            checked += 1
        assert checked == 40
        # Grade A (quota 1000): 799.90 / 800.00 / 999.90 / 1000.00 land in three bands.
        completions = {n: slips[f"EQ-{n:03d}"].quota_completion for n in (14, 1, 2, 10)}
        assert completions == {14: D("0.7999"), 1: D("0.8"), 2: D("0.9999"), 10: D("1")}
        bands = [slips[f"EQ-{n:03d}"].quota_band for n in (14, 1, 2, 10)]
        assert bands[0] != bands[1] == bands[2] != bands[3]
        assert run.payroll_total == sum((slip.total for slip in slips.values()), D(0))
