"""Fixtures for the lending service tests: a database, scoped sessions, users, a borrower."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
from postalops.context import Principal
from postalops.tenancy import Scope
from postalops.testing import build_tree
from postalops_lending.credit_line import TaxModePolicy
from postalops_lending.product import DayCount, ProductTerms, RepaymentMethod
from postalops_lending.services import borrowers, products

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
YINING = "cn.xinjiang.ili.yining"
HUOCHENG = "cn.xinjiang.ili.huocheng"


ILI_TREE = [
    ("cn.xinjiang", "cn", "新疆", "Xinjiang", "province"),
    ("cn.xinjiang.ili", "cn.xinjiang", "伊犁", "Ili", "city"),
    (YINING, "cn.xinjiang.ili", "伊宁市支行", "Yining branch", "station"),
    (HUOCHENG, "cn.xinjiang.ili", "霍城县支行", "Huocheng branch", "station"),
]


@pytest.fixture
def ili(po_app, tenants):
    """The kernel's test tree plus Xinjiang > Ili > Yining and Huocheng branches."""
    build_tree(po_app, ILI_TREE, enable_all=False)
    return [code for code, *_ in ILI_TREE]


@pytest.fixture
def scoped(po_app, po_db):
    """``scoped(unit)`` -> a session that sees only ``unit``'s subtree (closed at teardown)."""
    db = po_app.extensions["postalops.db"]
    sessions = []

    def make(unit: str = YINING):
        s = db.session(Scope.unit(unit))
        sessions.append(s)
        return s

    yield make
    for s in sessions:
        s.close()


def person(user_id: int, *perms: str, unit: str = YINING) -> Principal:
    return Principal(
        kind="user",
        name=f"user:u{user_id}",
        home_unit=unit,
        permissions=frozenset(perms),
        user_id=user_id,
    )


@pytest.fixture
def staff():
    """A customer manager (maker) and an approver (checker) of Yining."""
    return {
        "cm": person(
            2,
            "lending.view",
            "lending.apply",
            "lending.review",
            "lending.service",
            "lending.relief",
        ),
        "approver": person(3, "lending.view", "lending.approve"),
        "cm2": person(4, "lending.view", "lending.review", "lending.approve"),
    }


def tax_months(monthly: str, start=dt.date(2021, 4, 1), n=13, grade="A", sales="150000"):
    out = []
    y, m = start.year, start.month
    for _ in range(n):
        out.append(borrowers.TaxMonthData(dt.date(y, m, 1), D(monthly), D(sales), grade))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


@pytest.fixture
def oil_seed(scoped, staff):
    """The article's oil-seed trader in Yining with a 12-month interest-only product."""
    s = scoped(YINING)
    product = products.create_product(
        s,
        staff["cm"],
        code="XWED-TAX",
        name_zh="小微E贷(税务模式)",
        name_en="Micro E-loan tax",
        terms=ProductTerms(
            "XWED-TAX", D("0.0435"), 12, DayCount.ACT_360, RepaymentMethod.INTEREST_ONLY_BULLET
        ),
        policy=TaxModePolicy(),
    )
    b = borrowers.register_borrower(
        s,
        staff["cm"],
        borrowers.BorrowerData(
            name="伊犁某油料贸易有限公司",
            credit_code="91110000600037341L",
            legal_rep_name="阿力木",
            legal_rep_id_number="11010519491231002X",
            industry="油料贸易",
            established_on=dt.date(2016, 3, 1),
            customer_manager="u2",
        ),
        today=dt.date(2022, 5, 9),
    )
    # 12 x 14,433.34 = 173,200.08 -> x5 = 866,000.40 -> line 866,000
    borrowers.store_tax_months(s, b, tax_months("14433.34"), "import")
    s.commit()
    return {"session": s, "product": product, "borrower": b}
