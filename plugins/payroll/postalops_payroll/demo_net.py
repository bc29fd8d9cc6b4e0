"""Demo data from gross to net (issue 19 §1): every Henan city's statutory rates, and each
approved month paid through the bank payment file, so the demo's journal is consistent.

* Rates: two versions per city, from 2022-01-01 (the article's year) and from the 1st of
  January of the present year. Shares are the usual ones (employee pension 8 %, medical 2 %,
  unemployment 0.3 %, housing fund 10 %; employer 16 %, 8 %, 0.7 %, 10 %; the present version
  raises the employer's medical share to 8.5 %); the **floor and ceiling are scaled 1:20** like
  the demo's pay (175–875 yuan in 2022, 190–950 now), so deductions are about a fifth of a
  month's gross as they are in life. Because the demo's gross is scaled down too (a few hundred
  yuan a month), no courier reaches the 5,000 yuan monthly basic deduction: the demo withholds
  no income tax (the rules are shown by the hand-computed tests instead).
* Payment: each approved month's bank file is produced (``bank_file.payees``) and dated the
  10th of the next month (when that day has passed), which dates its payment voucher.
* A database built before net pay existed: the slips of months it approved have no net
  figures; they are computed here (``compute_net``), never changed once there.

Rates are written with the demo's history rather than through ``publish_rates``, which
refuses a version in an approved month: on an existing demo database January 2022 is approved.
Idempotent: a version that exists is kept, a month already paid is not paid again.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from postalops import clock
from sqlmodel import Session, select

from .bank_file import payees, record_payment
from .demo import APPROVER, HENAN_CITIES
from .models import PayrollDeductionRate, PayrollPayslip, PayrollRun
from .net import compute_net

SHARES = {
    "pension": "0.08",
    "medical": "0.02",
    "unemployment": "0.003",
    "housing_fund": "0.10",
    "employer_pension": "0.16",
    "employer_medical": "0.08",
    "employer_unemployment": "0.007",
    "employer_housing_fund": "0.10",
}


def versions(today: dt.date) -> list[tuple[dt.date, dict[str, str], str, str]]:
    """(effective_from, shares, floor, ceiling) of the demo's two versions."""
    present = {**SHARES, "employer_medical": "0.085"}
    return [
        (dt.date(2022, 1, 1), SHARES, "175.00", "875.00"),
        (dt.date(today.year, 1, 1), present, "190.00", "950.00"),
    ]


def build_rates(session: Session, units: dict[str, Any], today: dt.date | None = None) -> int:
    """Each city's versions, where missing; returns how many were written."""
    today = today or clock.today()
    written = 0
    for name in HENAN_CITIES:
        city = f"cn.henan.{name}"
        if city not in units:
            continue
        have = set(
            session.exec(
                select(PayrollDeductionRate.effective_from).where(
                    PayrollDeductionRate.tenant_code == city
                )
            ).all()
        )
        for start, shares, floor, ceiling in versions(today):
            if start in have:
                continue
            session.add(
                PayrollDeductionRate(
                    tenant_code=city,
                    effective_from=start,
                    **{k: Decimal(v) for k, v in shares.items()},
                    base_floor=Decimal(floor),
                    base_ceiling=Decimal(ceiling),
                    created_by="demo",
                )
            )
            have.add(start)
            written += 1
    session.flush()
    return written


def settle(session: Session, today: dt.date | None = None) -> dict[str, int]:
    """Net figures for approved slips that lack them, and each approved month's bank file."""
    today = today or clock.today()
    out = {"net_backfilled": 0, "paid": 0}
    cities = [f"cn.henan.{name}" for name in HENAN_CITIES]
    runs = session.exec(
        select(PayrollRun)
        .where(PayrollRun.tenant_code.in_(cities), PayrollRun.status == "approved")  # type: ignore[union-attr]
        .order_by(PayrollRun.month, PayrollRun.tenant_code)
    ).all()
    for run in runs:
        missing = session.exec(
            select(PayrollPayslip.id).where(
                PayrollPayslip.run_id == run.id,
                PayrollPayslip.net_pay.is_(None),  # type: ignore[union-attr]
            )
        ).first()
        if missing is not None:
            compute_net(session, run)
            out["net_backfilled"] += 1
        if run.paid_on is None:
            year, month = divmod(run.month, 100)
            pay_day = dt.date(year + month // 12, month % 12 + 1, 10)
            if pay_day <= today:
                record_payment(session, run, payees(session, run), APPROVER, on=pay_day)
                out["paid"] += 1
    session.commit()
    return out
