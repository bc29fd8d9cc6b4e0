"""The lending KPIs of the metrics contract (definitions: README, "Metrics").

Every figure is aggregated in SQL over the unit subtree of ``tenant``; only the median is taken
in Python, over the (few) disbursement durations of the period.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from postalops.db import in_scope_clause
from postalops.metrics import kpi
from sqlmodel import Session, select

from postalops_lending.classification import NON_PERFORMING
from postalops_lending.models import (
    Application,
    Loan,
    LoanEvent,
    PortfolioSnapshot,
    Relief,
    Repayment,
)
from postalops_lending.portfolio import median, ratio
from postalops_lending.relief import ReliefKind

SHANGHAI = dt.timezone(dt.timedelta(hours=8))


def money_sum(session: Session, column: Any) -> Any:
    """An exact SUM of a money column: NUMERIC on PostgreSQL, whole fen on SQLite (text)."""
    if session.get_bind().dialect.name == "postgresql":
        return sa.func.coalesce(sa.func.sum(column), 0)
    return sa.func.coalesce(sa.func.sum(sa.cast(sa.func.round(column * 100), sa.Integer)), 0)


def to_decimal(session: Session, value: Any) -> Decimal:
    if session.get_bind().dialect.name == "postgresql":
        return Decimal(value).quantize(Decimal("0.01"))
    return (Decimal(int(value)) / 100).quantize(Decimal("0.01"))


def day_bounds(date_from: dt.date, date_to: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[from 00:00, to+1 00:00) in Asia/Shanghai, as aware datetimes."""
    start = dt.datetime.combine(date_from, dt.time(), SHANGHAI)
    end = dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time(), SHANGHAI)
    return start, end


def compute(session: Session, tenant: str, date_from: dt.date, date_to: dt.date) -> dict:
    """The lending KPIs for ``tenant``'s subtree and the inclusive period."""
    disbursed = session.exec(
        select(sa.func.count(), money_sum(session, Loan.principal)).where(
            in_scope_clause(Loan.tenant_code, tenant),
            Loan.origin == "application",
            Loan.status != "reversed",
            Loan.disbursed_on >= date_from,
            Loan.disbursed_on <= date_to,
        )
    ).one()
    count, amount = int(disbursed[0]), to_decimal(session, disbursed[1])

    lent = session.exec(
        select(money_sum(session, Loan.principal)).where(
            in_scope_clause(Loan.tenant_code, tenant), Loan.disbursed_on <= date_to
        )
    ).one()
    repaid = session.exec(
        select(money_sum(session, Repayment.principal)).where(
            in_scope_clause(Repayment.tenant_code, tenant), Repayment.paid_on <= date_to
        )
    ).one()
    taken_off = _event_sums(session, tenant, None, date_to)
    outstanding = (
        to_decimal(session, _scalar(lent))
        - to_decimal(session, _scalar(repaid))
        - taken_off["write_off"]["principal"]
        - taken_off["disbursement_reversal"]["principal"]
    )
    period = _event_sums(session, tenant, date_from, date_to)
    provisions = taken_off["provision"]["amount"] - taken_off["write_off"]["principal"]

    start, end = day_bounds(date_from, date_to)
    durations = session.exec(
        select(Application.submitted_at, Application.disbursed_at).where(
            in_scope_clause(Application.tenant_code, tenant),
            Application.disbursed_at >= start,
            Application.disbursed_at < end,  # type: ignore[operator]
        )
    ).all()
    hours = median(Decimal(int((d - s).total_seconds())) / 3600 for s, d in durations)

    last_cob = session.exec(
        select(sa.func.max(PortfolioSnapshot.as_of)).where(
            in_scope_clause(PortfolioSnapshot.tenant_code, tenant),
            PortfolioSnapshot.as_of <= date_to,
        )
    ).one()
    last_cob = _scalar(last_cob)
    npl = total = Decimal("0")
    if last_cob is not None:
        rows = session.exec(
            select(PortfolioSnapshot.category, money_sum(session, PortfolioSnapshot.outstanding))
            .where(
                in_scope_clause(PortfolioSnapshot.tenant_code, tenant),
                PortfolioSnapshot.as_of == last_cob,
            )
            .group_by(PortfolioSnapshot.category)
        ).all()
        for category, value in rows:
            value = to_decimal(session, value)
            total += value
            if category in {c.value for c in NON_PERFORMING}:
                npl += value

    reliefs = dict(
        session.exec(
            select(Relief.kind, sa.func.count())
            .where(
                in_scope_clause(Relief.tenant_code, tenant),
                Relief.status == "approved",
                Relief.relief_date >= date_from,
                Relief.relief_date <= date_to,
            )
            .group_by(Relief.kind)
        ).all()
    )
    return {
        "loans_disbursed": kpi(count, "loans", "放款笔数", "Loans disbursed"),
        "amount_disbursed": kpi(amount, "CNY", "放款金额", "Amount disbursed"),
        "outstanding_balance": kpi(
            outstanding, "CNY", "贷款余额", "Outstanding balance", as_of=date_to.isoformat()
        ),
        "median_hours_to_disbursement": kpi(
            None if hours is None else hours.quantize(Decimal("0.01")),
            "hours",
            "申请至放款时长中位数",
            "Median hours from application to disbursement",
        ),
        "npl_ratio": kpi(
            ratio(npl, total),
            "ratio",
            "不良贷款率",
            "Non-performing loan ratio",
            as_of=last_cob.isoformat() if last_cob else None,
        ),
        "provisions": kpi(
            provisions, "CNY", "贷款损失准备余额", "Loan-loss provisions", as_of=date_to.isoformat()
        ),
        "accrued_interest": kpi(
            period["accrual"]["interest"], "CNY", "计提利息", "Interest accrued"
        ),
        "penalty_interest": kpi(
            period["accrual"]["penalty"], "CNY", "计提罚息", "Penalty interest accrued"
        ),
        "written_off": kpi(period["write_off"]["amount"], "CNY", "核销金额", "Written off"),
        "relief_refinancing": kpi(
            int(reliefs.get(ReliefKind.REFINANCING.value, 0)),
            "cases",
            "再融资",
            "Refinancing reliefs",
        ),
        "relief_extension": kpi(
            int(reliefs.get(ReliefKind.EXTENSION.value, 0)),
            "cases",
            "临时性延期",
            "Temporary extensions",
        ),
        "relief_renewal": kpi(
            int(reliefs.get(ReliefKind.RENEWAL.value, 0)),
            "cases",
            "无还本续贷",
            "Renewals without principal repayment",
        ),
    }


EVENT_KINDS = ("accrual", "provision", "write_off", "disbursement_reversal", "recovery")


def _event_sums(
    session: Session, tenant: str, date_from: dt.date | None, date_to: dt.date
) -> dict[str, dict[str, Decimal]]:
    """Per event kind, the sums of amount, principal, interest and penalty of the loan events
    dated in [date_from, date_to] (from the beginning when ``date_from`` is None)."""
    where = [in_scope_clause(LoanEvent.tenant_code, tenant), LoanEvent.event_date <= date_to]
    if date_from is not None:
        where.append(LoanEvent.event_date >= date_from)
    cols = ("amount", "principal", "interest", "penalty")
    rows = session.exec(
        select(LoanEvent.kind, *(money_sum(session, getattr(LoanEvent, c)) for c in cols))
        .where(*where)
        .group_by(LoanEvent.kind)
    ).all()
    zero = Decimal("0.00")
    out = {k: dict.fromkeys(cols, zero) for k in EVENT_KINDS}
    for kind, *values in rows:
        out[kind] = {c: to_decimal(session, v) for c, v in zip(cols, values, strict=True)}
    return out


def _scalar(value: Any) -> Any:
    if isinstance(value, tuple | sa.Row):
        return value[0]
    return value
