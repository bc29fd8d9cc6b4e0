"""The demo's rolling present for lending: after the Ili 2022 portfolio, micro-business loans
keep being applied for, decided, disbursed and repaid up to today.

Window: the last 90 days up to ``postalops.clock.today()`` (the article's data end on
31 Dec 2022, long before). Where: every city (or station) where the demo has a loan officer
(``loan_officer_city`` in Zhengzhou, ``loan_officer_city2`` in Kaifeng, ...) gets the two
tax-mode products if it has none (codes suffixed with the unit: ``XWED-TAX-12-ZHENGZHOU``), and its own borrowers; Ili's branch carries its portfolio on.
Every demo borrower's tax record is extended up to last month, so a new application's pre-check
(12 months counted back from today) can pass.

Each working day draws, from an rng seeded by the city and the day, one to three applications
(Zhengzhou busiest, Monday heaviest). Each one's fate is drawn with it: most are reviewed,
approved (by a credit approver, never the officer who prepared them), contracted and disbursed
over one or two days; some are declined by the pre-check (too little tax), some rejected by the
approver; borrowers mostly pay on the due date, some pay late (5-25 days), a few stop paying,
and some equal-instalment loans are repaid early (closed). A step happens only on a day before
today, so the last days' applications are still waiting at review, approval, contract or
disbursement on the officers' workbench, and the next day's run moves them on. A day's first
application always passes the pre-check and is decided on the next working day, so on any day
(weekends too) at least one application per city waits for its credit approver. Month ends in the
window are closed (close of business), so the NPL ratio has a snapshot.

Everything goes through the services the API uses. Idempotent: borrowers are keyed by their
credit code, an application's steps are taken from its current status, repayments carry a
reference, a month end is closed once.
"""

from __future__ import annotations

import datetime as dt
import random
import zlib
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from postalops import clock
from postalops.context import Principal
from postalops.db import in_scope_clause
from postalops.demo import day_rng, present_days, scale
from postalops.models import User
from sqlmodel import Session, select

from . import demo as article
from . import permissions as p
from . import service
from .credit_line import TaxModePolicy
from .models import (
    Application,
    Borrower,
    Instalment,
    Loan,
    PortfolioSnapshot,
    Product,
    WriteOff,
)
from .product import DayCount, ProductTerms, RepaymentMethod
from .schedule import add_months
from .service import BorrowerData, TaxMonthData

SHANGHAI = article.SHANGHAI
ARTICLE_END = dt.date(2022, 12, 31)
# how busy each city is (applications per working day, on average)
SIZE = {"cn.henan.zhengzhou": 1.6, "cn.xinjiang.ili": 0.8}
DEFAULT_SIZE = 0.9
WEEKDAY_LOAD = (1.4, 1.1, 1.0, 1.0, 0.7)
# where a disbursement entered by mistake is reversed (the city the demo's loan officer works in)
REVERSAL_CITY = "cn.henan.zhengzhou"
MAKER_PERMS = {p.VIEW, p.APPLY, p.REVIEW, p.SERVICE, p.RELIEF, p.TAX_DATA}
CHECKER_PERMS = {p.VIEW, p.APPROVE}


def build_present(
    session: Session,
    units: dict[str, Any],
    progress: Callable[..., None],
    today: dt.date | None = None,
) -> dict[str, int]:
    today = today or clock.today()
    done = {"present_applications": 0, "present_repayments": 0}
    cities = _cities(session, units)
    for n, (city, (maker, checker)) in enumerate(sorted(cities.items()), 1):
        prods = _products(session, maker, city)
        for day in present_days(ARTICLE_END, today):
            if day.weekday() < 5:
                done["present_applications"] += _applications(
                    session, maker, checker, city, prods, day, today
                )
        done["present_repayments"] += _repay(session, maker, city, today)
        _close_months(session, city, today)
        if city.startswith(article.UNIT):
            _write_off_story(session, maker, checker, city, today)
        elif city == REVERSAL_CITY:
            _reversal_story(session, maker, checker, city, prods, today)
        session.commit()
        progress(n, len(cities), f"present {city}")
    _extend_tax(session, today)
    session.commit()
    return done


def _principal(user: User, perms: set[str]) -> Principal:
    return Principal(
        kind="user",
        name=f"user:{user.username}",
        home_unit=user.home_unit_code,
        permissions=frozenset(perms),
        user_id=user.id,
        roles=tuple(user.roles),
    )


def _cities(session: Session, units: dict[str, Any]) -> dict[str, tuple[Principal, Principal]]:
    """Units below province level where a demo loan officer works, with that officer and a
    credit approver of the same unit (else the group's), plus Ili's branch."""
    users = session.exec(select(User)).all()
    officers = {u.home_unit_code: u for u in users if "loan_officer" in u.roles}
    approvers = {u.home_unit_code: u for u in users if "credit_approver" in u.roles}
    out: dict[str, tuple[Principal, Principal]] = {}
    for unit, officer in officers.items():
        row = units.get(unit)
        approver = approvers.get(unit) or approvers.get("cn")
        if row is None or approver is None or getattr(row, "level", "") not in ("city", "station"):
            continue
        out[unit] = (_principal(officer, MAKER_PERMS), _principal(approver, CHECKER_PERMS))
    if article.UNIT in units:
        maker, checker = article._actors(session)
        out[article.BRANCH if article.BRANCH in units else article.UNIT] = (maker, checker)
    return out


def _products(session: Session, maker: Principal, unit: str) -> list[Product]:
    """The unit's products (visible to its subtree); the two tax-mode ones when it has none."""
    have = [
        x
        for x in session.exec(select(Product).where(Product.active)).all()
        if unit == x.tenant_code or unit.startswith(x.tenant_code + ".")
    ]
    if have:
        return sorted(have, key=lambda x: x.code)
    made = []
    for code, zh, en, rate, months, method in (
        (
            article.PRODUCT_BULLET,
            "小微E贷(税务模式·按月付息到期还本)",
            "Micro E-loan, tax mode, interest monthly",
            "0.0435",
            12,
            RepaymentMethod.INTEREST_ONLY_BULLET,
        ),
        (
            article.PRODUCT_EQUAL,
            "小微E贷(税务模式·等额本息)",
            "Micro E-loan, tax mode, equal instalments",
            "0.0465",
            24,
            RepaymentMethod.EQUAL_INSTALMENTS,
        ),
    ):
        made.append(
            service.create_product(
                session,
                maker,
                code=f"{code}-{unit.split('.')[-1].upper()}"[:40],
                name_zh=zh,
                name_en=en,
                terms=ProductTerms(
                    f"{code}-{unit.split('.')[-1].upper()}"[:40],
                    Decimal(rate),
                    months,
                    DayCount.ACT_360,
                    method,
                    allow_prepayment=method == RepaymentMethod.EQUAL_INSTALMENTS,
                ),
                policy=TaxModePolicy(),
                tenant_code=unit,
            )
        )
    session.flush()
    return made


def _at(day: dt.date, hours: float) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0, 0), SHANGHAI) + dt.timedelta(hours=hours)


def _next_working(day: dt.date) -> dt.date:
    day += dt.timedelta(days=1)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day


def _applications(
    session: Session,
    maker: Principal,
    checker: Principal,
    unit: str,
    prods: list[Product],
    day: dt.date,
    today: dt.date,
) -> int:
    rng = day_rng(f"lending.{unit}", day)
    mean = SIZE.get(unit.rsplit(".", 1)[0] if unit.count(".") > 2 else unit, DEFAULT_SIZE)
    # at least one a working day, so the last working day's first one is waiting today
    count = max(1, sum(rng.random() < mean * WEEKDAY_LOAD[day.weekday()] / 3 for _ in range(3)))
    count *= scale()  # postalops demo --scale N
    made = 0
    for n in range(count):
        # each application its own rng: a re-run that skips the registration draws the same
        made += _one(
            session, maker, checker, unit, prods, day, today, n, day_rng(f"lending.{unit}.{n}", day)
        )
    return made


def _one(
    session: Session,
    maker: Principal,
    checker: Principal,
    unit: str,
    prods: list[Product],
    day: dt.date,
    today: dt.date,
    n: int,
    rng: random.Random,
) -> int:
    from stdnum.cn import ric, uscc

    fate = rng.choices(("ok", "declined", "rejected"), (86, 8, 6))[0]
    if n == 0 and fate == "declined":
        fate = "ok"  # a day's first application passes the pre-check and waits overnight
    product = prods[rng.randrange(len(prods))]
    requested = Decimal(rng.randrange(10, 80)) * 10000
    monthly = (requested / 60 * Decimal(rng.choice(("1.05", "1.2", "1.5")))).quantize(
        Decimal("0.01")
    )
    if fate == "declined":
        monthly = Decimal(rng.randrange(300, 900))
    town, industry = article.TRADES[rng.randrange(len(article.TRADES))]
    # 91 (enterprise) + a region number of the unit + the day and serial as organisation code
    body = f"91{zlib.crc32(unit.encode()) % 900000 + 100000}{day:%y%m%d}{n:03d}"
    credit_code = body + uscc.calc_check_digit(body)
    borrower = session.exec(
        select(Borrower).where(Borrower.tenant_code == unit, Borrower.credit_code == credit_code)
    ).first()
    hours = rng.uniform(9.0, 15.0)
    review_at = hours + rng.uniform(0.3, 1.2)
    decide_day = day if rng.random() < 0.6 and n > 0 else _next_working(day)
    money_day = _next_working(decide_day) if rng.random() < 0.5 else decide_day
    if borrower is None:
        if day >= today:
            return 0
        birth = dt.date(1970, 1, 1) + dt.timedelta(days=rng.randrange(0, 365 * 28))
        rid = (
            article.REGIONS[n % len(article.REGIONS)]
            + birth.strftime("%Y%m%d")
            + f"{rng.randrange(0, 999):03d}"
        )
        borrower = service.register_borrower(
            session,
            maker,
            BorrowerData(
                name=f"{article.NAMES[rng.randrange(len(article.NAMES))][:2]}{town}"
                f"{day:%m%d}{n}有限公司",
                credit_code=credit_code,
                legal_rep_name=article.NAMES[rng.randrange(len(article.NAMES))],
                legal_rep_id_number=rid + ric.calc_check_digit(rid + "0"),
                industry=industry,
                established_on=day - dt.timedelta(days=rng.randrange(3 * 365, 15 * 365)),
                customer_manager=maker.name.split(":")[-1],
                phone=f"13{rng.randrange(10**9):09d}",
                tenant_code=unit,
            ),
            today=day,
        )
        grade = "A" if rng.random() < 0.7 else "B"
        first = add_months(day.replace(day=1), -24)
        service.store_tax_months(
            session,
            borrower,
            [
                TaxMonthData(m, monthly, monthly * 25, grade)
                for m in article._months(first, add_months(day.replace(day=1), -1))
            ],
            "demo",
        )
        app = service.submit_application(
            session,
            maker,
            borrower_id=borrower.id,
            product_id=product.id,
            requested_amount=requested,
            channel=rng.choice(("online", "online", "portal")),
            at=_at(day, hours),
        )
        session.flush()
        made = 1
    else:
        app = session.exec(select(Application).where(Application.borrower_id == borrower.id)).one()
        made = 0
    # the steps, each on its day; only days before today are played
    steps = (
        ("prechecked", day, review_at, "review"),
        ("reviewed", decide_day, 16.5, "reject" if fate == "rejected" else "approve"),
        ("approved", money_day, 17.0, "contract"),
        ("contracted", money_day, 17.5, "disburse"),
    )
    for status, when, at_hours, action in steps:
        if app.status != status or when >= today:
            continue
        at = _at(when, at_hours)
        if action == "review":
            service.review_application(session, maker, app.id, accept=True, at=at)
        elif action in ("approve", "reject"):
            service.decide_application(
                session, checker, app.id, approve=action == "approve", at=at, note="demo"
            )
        elif action == "contract":
            service.sign_contract(session, maker, app.id, at=at)
        else:
            service.disburse(session, maker, app.id, at=at)
        session.flush()
    return made


def _behaviour(loan: Loan) -> tuple[str, int]:
    """(fate, lag days) of a present-day loan, drawn from its number (same on every run)."""
    rng = random.Random(f"lending.repay:{loan.loan_no}")
    fate = rng.choices(("pays", "late", "stops", "prepays"), (80, 11, 4, 5))[0]
    if fate == "prepays" and not loan.allow_prepayment:
        fate = "pays"
    return fate, rng.randrange(5, 26)


def _repay(session: Session, maker: Principal, unit: str, today: dt.date) -> int:
    """Instalments of the unit's present-day loans that fell due before today, paid as each
    borrower's behaviour says (on the day, late, never, or the whole loan early)."""
    paid = 0
    due = session.exec(
        select(Instalment.loan_id, Instalment.due_date)
        .join(Loan, Loan.id == Instalment.loan_id)
        .where(
            Loan.tenant_code == unit,
            Loan.disbursed_on > ARTICLE_END,
            Instalment.active.is_(True),  # type: ignore[attr-defined]
            Instalment.paid_off.is_(False),  # type: ignore[attr-defined]
            Instalment.due_date < today,
        )
        .order_by(Instalment.due_date, Instalment.loan_id)
    ).all()
    for loan_id, due_date in due:
        loan = session.get(Loan, loan_id)
        if loan is None or loan.status != "active":
            continue
        fate, lag = _behaviour(loan)
        day = due_date + dt.timedelta(days=lag if fate == "late" else 0)
        if fate == "stops" or day >= today:
            continue
        quote = service.quote(session, loan, day)
        amount = quote["payoff"] if fate == "prepays" else quote["amount_due"]
        if amount > 0:
            service.record_repayment(
                session, maker, loan_id, amount, day, f"demo:{loan_id}:{day.isoformat()}"
            )
            paid += 1
    return paid


def _close_months(session: Session, unit: str, today: dt.date) -> None:
    for day in present_days(ARTICLE_END, today):
        end = add_months(day.replace(day=1), 1) - dt.timedelta(days=1)
        if day != end or day >= today:
            continue
        closed = session.exec(
            select(PortfolioSnapshot.id).where(
                in_scope_clause(PortfolioSnapshot.tenant_code, unit), PortfolioSnapshot.as_of == day
            )
        ).first()
        if closed is None:
            service.close_of_business(session, unit, day)


def _write_off_story(
    session: Session, maker: Principal, checker: Principal, unit: str, today: dt.date
) -> None:
    """Ili's oldest defaulter, classified 损失 at the last month end closed, is written off that
    day (the officer asks, the approver decides) and 10 % of it recovered two weeks later (or
    yesterday). Idempotent: one write-off per unit, the recovery keyed by its reference."""
    done = session.exec(select(WriteOff).where(in_scope_clause(WriteOff.tenant_code, unit))).first()
    if done is None:
        closed = session.exec(
            select(sa.func.max(PortfolioSnapshot.as_of)).where(
                in_scope_clause(PortfolioSnapshot.tenant_code, unit),
                PortfolioSnapshot.as_of < today,
            )
        ).one()
        closed = closed[0] if isinstance(closed, tuple | sa.Row) else closed
        loan = session.exec(
            select(Loan)
            .where(
                in_scope_clause(Loan.tenant_code, unit),
                Loan.status == "active",
                Loan.category == "loss",
            )
            .order_by(Loan.disbursed_on, Loan.id)
        ).first()
        if loan is None or closed is None:
            return
        row = service.request_write_off(
            session, maker, loan.id, "逾期超过一年，企业已停业，经诉讼无财产可供执行"
        )
        done = service.decide_write_off(
            session, checker, row.id, approve=True, note="同意核销", on=closed
        )
    loan = session.get(Loan, done.loan_id)
    if loan is None or loan.status != "written_off" or loan.closed_on is None:
        return
    on = min(loan.closed_on + dt.timedelta(days=14), today - dt.timedelta(days=1))
    amount = (loan.written_off / 10 / 100).quantize(Decimal("1")) * 100
    if on >= loan.closed_on and amount > 0:
        service.record_recovery(session, maker, loan.id, amount, on, f"demo:recovery:{loan.id}")


def _reversal_story(
    session: Session,
    maker: Principal,
    checker: Principal,
    unit: str,
    prods: list[Product],
    today: dt.date,
) -> None:
    """A disbursement entered by mistake: 14 days before the first build (moved back to a
    working day) a 300,000.00 interest-only loan is disbursed to a borrower whose loan had not
    been meant to go out, and the credit approver reverses it the next working day with a
    compensating event (the loan becomes ``reversed``; loan history, audit log and journal show
    both). Its borrower is the demo's own (credit code with the day part 000000, which no daily
    application uses), so the daily draws and every other figure are unchanged. Idempotent: once
    the borrower exists, nothing more is done."""
    from stdnum.cn import uscc

    body = f"91{zlib.crc32(unit.encode()) % 900000 + 100000}000000999"
    credit_code = body + uscc.calc_check_digit(body)
    if session.exec(
        select(Borrower.id).where(Borrower.tenant_code == unit, Borrower.credit_code == credit_code)
    ).first():
        return
    day = today - dt.timedelta(days=14)
    while day.weekday() >= 5:
        day -= dt.timedelta(days=1)
    undo = _next_working(day)
    product = next((x for x in prods if x.code.startswith(article.PRODUCT_BULLET)), None)
    if day <= ARTICLE_END or undo >= today or product is None:
        return
    borrower = service.register_borrower(
        session,
        maker,
        BorrowerData(
            name="郑州诚信商贸有限公司",
            credit_code=credit_code,
            legal_rep_name="王建国",
            legal_rep_id_number="11010519491231002X",
            industry="批发零售",
            established_on=day - dt.timedelta(days=6 * 365),
            customer_manager=maker.name.split(":")[-1],
            phone="13700000999",
            tenant_code=unit,
        ),
        today=day,
    )
    # 6,000.00 of tax a month: 12 x 6,000 x 5 = 360,000 line, above the 300,000 asked
    first = add_months(day.replace(day=1), -24)
    service.store_tax_months(
        session,
        borrower,
        [
            TaxMonthData(m, Decimal("6000.00"), Decimal("150000.00"), "A")
            for m in article._months(first, add_months(day.replace(day=1), -1))
        ],
        "demo",
    )
    app = service.submit_application(
        session,
        maker,
        borrower_id=borrower.id,
        product_id=product.id,
        requested_amount=Decimal("300000.00"),
        at=_at(day, 9.5),
    )
    service.review_application(session, maker, app.id, accept=True, at=_at(day, 10))
    service.decide_application(session, checker, app.id, approve=True, at=_at(day, 11), note="demo")
    service.sign_contract(session, maker, app.id, at=_at(day, 14))
    loan = service.disburse(session, maker, app.id, at=_at(day, 15))
    service.reverse_disbursement(
        session, checker, loan.id, "放款录入错误：该笔贷款不应发放，按冲销交易冲回", on=undo
    )
    session.flush()


def _extend_tax(session: Session, today: dt.date) -> None:
    """Every demo borrower's tax record up to last month, continuing its last month's figures."""
    last = add_months(today.replace(day=1), -1)
    from .models import TaxMonth

    latest: dict[int, TaxMonth] = {}
    for row in session.exec(select(TaxMonth).order_by(TaxMonth.period)).all():
        latest[row.borrower_id] = row
    for borrower_id, row in latest.items():
        if row.period >= last:
            continue
        borrower = session.get(Borrower, borrower_id)
        first = max(add_months(row.period, 1), add_months(last, -23))
        service.store_tax_months(
            session,
            borrower,
            [
                TaxMonthData(m, row.tax_paid, row.sales, row.grade)
                for m in article._months(first, last)
            ],
            "demo",
        )
    session.flush()
