"""Demo data: the Ili (伊犁) 2022 micro-business loan portfolio, built through the real flow.

Deterministic (seeded ``rng``) and idempotent (nothing is added when the demo product already
exists in the unit). Every loan goes through submit -> pre-check -> review -> approval ->
contract -> disbursement by two different demo users; repayments, relief and the monthly close
of business go through the same services the API uses, day by day through 2022, so the metrics
for ``cn.xinjiang.ili`` and 2022 reproduce DOMAIN.md §6:

* the tax-mode loan of 866,000 yuan to 伊犁丰源油料贸易有限公司, applied for on 9 May 2022 at
  10:12 and disbursed on 10 May at 09:40 (23.47 hours);
* relief of each kind (two refinancings, two temporary extensions, two renewals without
  principal repayment) for borrowers whose sales slowed during the autumn 2022 epidemic;
* median hours from application to disbursement at most 24.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from postalops.context import Principal
from postalops.models import User
from sqlmodel import Session, select

from postalops_lending import service
from postalops_lending.accounting import AccountingTerms
from postalops_lending.credit_line import TaxModePolicy
from postalops_lending.models import Instalment, Loan, Product, Repayment
from postalops_lending.product import DayCount, ProductTerms, RepaymentMethod
from postalops_lending.schedule import add_months
from postalops_lending.service import BorrowerData, TaxMonthData

UNIT = "cn.xinjiang.ili"
BRANCH = "cn.xinjiang.ili.yining"
YEAR = 2022
SHANGHAI = dt.timezone(dt.timedelta(hours=8))
PRODUCT_BULLET = "XWED-TAX-12"
PRODUCT_EQUAL = "XWED-TAX-EQ24"

TOWNS = [
    "伊宁市",
    "霍城县",
    "伊宁县",
    "察布查尔",
    "巩留县",
    "新源县",
    "昭苏县",
    "特克斯县",
    "尼勒克县",
    "霍尔果斯",
]
TRADES = [
    ("农资", "农资销售"),
    ("干果", "干果批发"),
    ("薰衣草", "薰衣草种植"),
    ("马产业", "畜牧养殖"),
    ("乳业", "乳制品加工"),
    ("物流", "道路货运"),
    ("餐饮", "餐饮服务"),
    ("建材", "建材销售"),
    ("服饰", "服装零售"),
    ("蜂业", "蜂产品加工"),
    ("粮油", "粮油加工"),
    ("果蔬", "果蔬批发"),
]
NAMES = [
    "阿依古丽",
    "买买提",
    "王建国",
    "李秀兰",
    "古丽娜尔",
    "张伟",
    "努尔兰",
    "刘芳",
    "赛力克",
    "陈磊",
    "热依拉",
    "杨军",
]
# region codes of ID numbers that python-stdnum's table knows for every birth year used
REGIONS = ["650100", "650121", "652100", "652201", "652300"]


@dataclass
class Plan:
    """One demo borrower's story."""

    key: str
    name: str
    industry: str
    monthly_tax: Decimal
    grade: str
    established: dt.date
    product: str
    requested: Decimal
    submit_at: dt.datetime
    hours: list[float]  # review, approve, contract, disburse offsets in hours from submit
    behaviour: str = "pays"  # pays | stops:<month> | relief:<kind>:<date>
    sales_drop_from: int | None = None  # month (2022) from which sales fall by half
    extra: dict[str, Any] = field(default_factory=dict)


def _code(rng: random.Random, n: int) -> str:
    from stdnum.cn import uscc

    # 9 (market regulator) 1 (enterprise), 654002 (Yining), 9-character organisation code
    body = "91654002" + f"{rng.randrange(10**6):06d}" + f"{n:03d}"
    return body + uscc.calc_check_digit(body)


def _id_number(rng: random.Random, n: int) -> str:
    from stdnum.cn import ric

    birth = dt.date(1965, 1, 1) + dt.timedelta(days=rng.randrange(0, 365 * 30))
    body = REGIONS[n % len(REGIONS)] + birth.strftime("%Y%m%d") + f"{rng.randrange(0, 999):03d}"
    return body + ric.calc_check_digit(body + "0")


def plans(rng: random.Random) -> list[Plan]:
    """The stories, in a fixed order (the oil-seed trader first)."""
    out = [
        Plan(
            "oilseed",
            "伊犁丰源油料贸易有限公司",
            "油料贸易",
            Decimal("14433.34"),
            "A",
            dt.date(2015, 6, 18),
            PRODUCT_BULLET,
            Decimal("866000.00"),
            dt.datetime(YEAR, 5, 9, 10, 12, tzinfo=SHANGHAI),
            [0.88, 4.3, 22.8, 23.47],
            sales_drop_from=4,
        ),
    ]
    relief_stories = [
        ("relief:renewal:2022-12-05", PRODUCT_BULLET, 1),
        ("relief:renewal:2022-12-12", PRODUCT_BULLET, 1),
        ("relief:extension:2022-08-22", PRODUCT_BULLET, 3),
        ("relief:extension:2022-09-15", PRODUCT_BULLET, 4),
        ("relief:refinancing:2022-09-08", PRODUCT_EQUAL, 2),
        ("relief:refinancing:2022-10-20", PRODUCT_EQUAL, 3),
    ]
    trouble_stories = [
        ("stops:6", PRODUCT_EQUAL, 2),
        ("stops:8", PRODUCT_BULLET, 2),
        ("stops:10", PRODUCT_EQUAL, 3),
    ]
    normal = [
        ("pays", PRODUCT_EQUAL if i % 2 else PRODUCT_BULLET, 1 + (i * 5) % 10) for i in range(24)
    ]
    stories = relief_stories + trouble_stories + normal
    for i, (behaviour, product, month) in enumerate(stories):
        town = TOWNS[i % len(TOWNS)]
        short, industry = TRADES[i % len(TRADES)]
        requested = Decimal(rng.randrange(15, 90)) * 10000
        # tax paid so that 5 x 12 months x grade factor covers the request with some room
        monthly = (requested / 60 * Decimal(rng.choice(["1.05", "1.2", "1.4"]))).quantize(
            Decimal("0.01")
        )
        grade = "A" if i % 3 else "B"
        if grade == "B":
            monthly = (monthly / Decimal("0.8")).quantize(Decimal("0.01"))
        day = 3 + (i * 7) % 24
        submit = dt.datetime(YEAR, month, day, 9 + i % 7, (i * 13) % 60, tzinfo=SHANGHAI)
        # review within 1-3 h, approval the same day, contract and money the next morning for
        # most; a few wait over a weekend (the median stays under a day)
        total = [3.5, 6.0, 18.5, 21.0, 22.5, 23.0, 26.0, 45.0][i % 8]
        hours = [round(total * f, 2) for f in (0.1, 0.3, 0.9, 1.0)]
        drop = int(behaviour.split(":")[2][5:7]) - 1 if behaviour.startswith("relief") else None
        out.append(
            Plan(
                f"b{i:02d}",
                f"{town}{NAMES[i % len(NAMES)][:2]}{short}有限公司",
                industry,
                monthly,
                grade,
                dt.date(2010 + i % 9, 1 + i % 12, 1 + i % 27),
                product,
                requested,
                submit,
                hours,
                behaviour,
                sales_drop_from=drop,
            )
        )
    # three applications the pre-check declines: grade C, too young, too little tax
    for j, (grade, established, monthly) in enumerate(
        [
            ("C", dt.date(2014, 3, 1), Decimal("12000")),
            ("A", dt.date(2021, 6, 1), Decimal("12000")),
            ("A", dt.date(2012, 3, 1), Decimal("500")),
        ]
    ):
        out.append(
            Plan(
                f"d{j}",
                f"{TOWNS[j]}{NAMES[(j + 5) % len(NAMES)][:2]}商贸有限公司",
                "商贸",
                monthly,
                grade,
                established,
                PRODUCT_BULLET,
                Decimal("300000.00"),
                dt.datetime(YEAR, 3 + j, 14, 11, 0, tzinfo=SHANGHAI),
                [],
                "declined",
            )
        )
    return out


def _actors(session: Session) -> tuple[Principal, Principal]:
    """The demo maker (customer manager) and checker (credit approver)."""

    def find(username: str, role: str, fallback_id: int, perms: set[str]) -> Principal:
        user = session.exec(select(User).where(User.username == username)).first()
        if user is None:
            user = next((u for u in session.exec(select(User)).all() if role in u.roles), None)
        if user is not None:
            return Principal(
                kind="user",
                name=f"user:{user.username}",
                home_unit=user.home_unit_code,
                permissions=frozenset(perms),
                user_id=user.id,
                roles=tuple(user.roles),
            )
        return Principal(
            kind="user",
            name=f"demo:{role}",
            home_unit="cn",
            permissions=frozenset(perms),
            user_id=-fallback_id,
        )

    from postalops_lending import permissions as p

    maker = find(
        "loan_officer_group",
        "loan_officer",
        1001,
        {p.VIEW, p.APPLY, p.REVIEW, p.SERVICE, p.RELIEF, p.TAX_DATA},
    )
    checker = find("credit_approver_group", "credit_approver", 1002, {p.VIEW, p.APPROVE})
    return maker, checker


def _months(start: dt.date, end: dt.date) -> list[dt.date]:
    out, d = [], start
    while d <= end:
        out.append(d)
        d = add_months(d, 1)
    return out


def build(
    session: Session, units: dict[str, Any], rng: random.Random, progress: Callable[..., None]
) -> dict[str, Any]:
    """Build the Ili portfolio once; a second call adds nothing."""
    unit = BRANCH if BRANCH in units else UNIT
    if UNIT not in units:
        return {"skipped": f"{UNIT} is not in the org tree"}
    if (
        session.exec(
            select(Product).where(Product.code == PRODUCT_BULLET, Product.tenant_code == unit)
        ).first()
        is not None
    ):
        return {"skipped": "already built"}
    maker, checker = _actors(session)
    bullet = service.create_product(
        session,
        maker,
        code=PRODUCT_BULLET,
        name_zh="小微E贷(税务模式·按月付息到期还本)",
        name_en="Micro E-loan, tax mode, interest monthly",
        terms=ProductTerms(
            PRODUCT_BULLET,
            Decimal("0.0435"),
            12,
            DayCount.ACT_360,
            RepaymentMethod.INTEREST_ONLY_BULLET,
        ),
        policy=TaxModePolicy(),
        tenant_code=unit,
    )
    equal = service.create_product(
        session,
        maker,
        code=PRODUCT_EQUAL,
        name_zh="小微E贷(税务模式·等额本息)",
        name_en="Micro E-loan, tax mode, equal instalments",
        terms=ProductTerms(
            PRODUCT_EQUAL,
            Decimal("0.0465"),
            24,
            DayCount.ACT_360,
            RepaymentMethod.EQUAL_INSTALMENTS,
            allow_prepayment=True,
        ),
        policy=TaxModePolicy(),
        tenant_code=unit,
        # a one-off arrangement fee of 0.5 % and compound interest on overdue interest
        accounting=AccountingTerms(
            arrangement_fee_rate=Decimal("0.005"), compound_overdue_interest=True
        ),
    )
    product_ids = {PRODUCT_BULLET: bullet.id, PRODUCT_EQUAL: equal.id}

    stories = plans(rng)
    progress(0, 4, "borrowers")
    people: dict[str, int] = {}
    for n, plan in enumerate(stories):
        b = service.register_borrower(
            session,
            maker,
            BorrowerData(
                name=plan.name,
                credit_code=_code(rng, n + 1),
                legal_rep_name=NAMES[n % len(NAMES)],
                legal_rep_id_number=_id_number(rng, n),
                industry=plan.industry,
                established_on=plan.established,
                customer_manager=maker.name.split(":")[-1],
                phone=f"1399{n:03d}{rng.randrange(1000, 9999)}",
                tenant_code=unit,
            ),
            today=dt.date(YEAR, 1, 1),
        )
        people[plan.key] = b.id
        months = []
        for m in _months(dt.date(2021, 1, 1), dt.date(YEAR, 12, 1)):
            sales = plan.monthly_tax * 25
            if plan.sales_drop_from and m.year == YEAR and m.month >= plan.sales_drop_from:
                sales = (sales * Decimal("0.45")).quantize(Decimal("0.01"))
            months.append(TaxMonthData(m, plan.monthly_tax, sales, plan.grade))
        service.store_tax_months(session, b, months, "demo")
    session.flush()

    progress(1, 4, "applications")
    loan_of: dict[str, int] = {}
    for plan in stories:
        app = service.submit_application(
            session,
            maker,
            borrower_id=people[plan.key],
            product_id=product_ids[plan.product],
            requested_amount=plan.requested,
            channel="online",
            at=plan.submit_at,
        )
        if app.status != "prechecked":
            continue
        step = [plan.submit_at + dt.timedelta(hours=h) for h in plan.hours]
        service.review_application(session, maker, app.id, accept=True, at=step[0])
        service.decide_application(session, checker, app.id, approve=True, at=step[1])
        service.sign_contract(session, maker, app.id, at=step[2])
        loan = service.disburse(session, maker, app.id, at=step[3])
        loan_of[plan.key] = loan.id
    session.flush()

    progress(2, 4, "servicing 2022")
    by_loan = {loan_of[p.key]: p for p in stories if p.key in loan_of}
    relief_days: dict[dt.date, list[tuple[int, str]]] = {}
    for p in stories:
        if p.behaviour.startswith("relief:") and p.key in loan_of:
            _, kind, day = p.behaviour.split(":")
            relief_days.setdefault(dt.date.fromisoformat(day), []).append((loan_of[p.key], kind))
    day = dt.date(YEAR, 1, 1)
    month_ends = {add_months(dt.date(YEAR, m, 1), 1) - dt.timedelta(days=1) for m in range(1, 13)}
    mistaken = next((loan_of[p.key] for p in stories if p.behaviour == "stops:6"), None)
    while day.year == YEAR:
        _pay_due(session, maker, by_loan, day)
        if mistaken is not None and day in (MISTAKE_DAY, MISTAKE_DAY + dt.timedelta(days=1)):
            _mistaken_repayment(session, maker, checker, mistaken, day)
        for loan_id, kind in relief_days.get(day, []):
            _relief(session, maker, checker, loan_id, kind, day, people, by_loan)
        if day in month_ends:
            service.close_of_business(session, UNIT, day)
        day += dt.timedelta(days=1)
    session.flush()

    progress(3, 4, "phone-back calls")
    listed = service.phone_back_list(session, dt.date(YEAR, 11, 15))
    for i, row in enumerate(listed):
        service.record_call(
            session,
            maker,
            borrower_id=row["borrower_id"],
            loan_id=row["loan_id"],
            reasons=row["reasons"],
            outcome=["needs_relief", "no_need", "call_back"][i % 3],
            note="电话回访",
            at=dt.datetime(YEAR, 11, 15, 10, i % 60, tzinfo=SHANGHAI),
        )
    session.flush()
    progress(4, 4, "done")
    return {"loans": len(loan_of), "borrowers": len(people)}


MISTAKE_DAY = dt.date(YEAR, 7, 20)


def _mistaken_repayment(
    session: Session, maker: Principal, checker: Principal, loan_id: int, day: dt.date
) -> None:
    """On 20 Jul the officer books another borrower's transfer on the June defaulter's loan;
    the next day the checker reverses it (a compensating row, the schedule restored)."""
    ref = f"demo:mistake:{loan_id}"
    if day == MISTAKE_DAY:
        loan = session.get(Loan, loan_id)
        due = service.quote(session, loan, day)["amount_due"]
        if due > 0:
            service.record_repayment(
                session, maker, loan_id, min(due, Decimal("1000.00")), day, ref
            )
        return
    wrong = session.exec(
        select(Repayment).where(Repayment.loan_id == loan_id, Repayment.reference == ref)
    ).first()
    if wrong is not None:
        service.reverse_repayment(
            session, checker, loan_id, wrong.id, "误将他人还款记入本笔贷款", on=day
        )


def _pay_due(session: Session, maker: Principal, by_loan: dict[int, Plan], day: dt.date) -> None:
    """Every borrower who still pays settles what falls due today, on the day."""
    due = session.exec(
        select(Instalment.loan_id)
        .where(
            Instalment.due_date == day,
            Instalment.active.is_(True),  # type: ignore[attr-defined]
            Instalment.paid_off.is_(False),
        )  # type: ignore[attr-defined]
        .distinct()
    ).all()
    for loan_id in sorted(due):
        loan = session.get(Loan, loan_id)
        if loan is None or loan.status != "active":
            continue
        plan = by_loan.get(loan.renewed_from_id or loan_id) or by_loan.get(loan_id)
        if plan is not None and plan.behaviour.startswith("stops:"):
            if day.month >= int(plan.behaviour.split(":")[1]):
                continue
        amount = service.quote(session, loan, day)["amount_due"]
        if amount > 0:
            service.record_repayment(
                session, maker, loan_id, amount, day, f"demo:{loan_id}:{day.isoformat()}"
            )


def _relief(
    session: Session,
    maker: Principal,
    checker: Principal,
    loan_id: int,
    kind: str,
    day: dt.date,
    people: dict[str, int],
    by_loan: dict[int, Plan],
) -> None:
    params: dict[str, Any] = {
        "kind": kind,
        "relief_date": day.isoformat(),
        "reason": "疫情影响，回款放缓",
    }
    if kind == "extension":
        params["extension_months"] = 6
    else:
        params["term_months"] = 12 if kind == "renewal" else 24
    at = dt.datetime.combine(day, dt.time(10, 0), SHANGHAI)
    row = service.request_relief(session, maker, loan_id, params, at=at)
    done = service.decide_relief(
        session, checker, row.id, approve=True, at=at + dt.timedelta(hours=3)
    )
    if done.new_loan_id:
        by_loan[done.new_loan_id] = by_loan[loan_id]
