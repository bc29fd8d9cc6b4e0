"""Fixtures for the lending service tests: a database, scoped sessions, users, a borrower."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
from postalops import clock
from postalops.context import Principal
from postalops.tenancy import Scope
from postalops.testing import build_tree
from postalops_lending import service
from postalops_lending.credit_line import TaxModePolicy
from postalops_lending.product import DayCount, ProductTerms, RepaymentMethod

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
        out.append(service.TaxMonthData(dt.date(y, m, 1), D(monthly), D(sales), grade))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


@pytest.fixture
def oil_seed(scoped, staff):
    """The article's oil-seed trader in Yining with a 12-month interest-only product."""
    s = scoped(YINING)
    product = service.create_product(
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
    b = service.register_borrower(
        s,
        staff["cm"],
        service.BorrowerData(
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
    service.store_tax_months(s, b, tax_months("14433.34"), "import")
    s.commit()
    return {"session": s, "product": product, "borrower": b}


# --- API clients and a disbursed loan -----------------------------------------------------

BASE = "/api/v1/lending"
GOOD_CODE = "91110000600037341L"
GOOD_ID = "11010519491231002X"


def months(monthly="14433.34", grade="A"):
    """The 14 months before this one: the pre-check runs on today's date through the API."""
    today = clock.today()
    out = []
    for i in range(14):
        y, m = divmod(today.year * 12 + today.month - 15 + i, 12)
        out.append(
            {
                "period": f"{y}-{m + 1:02d}",
                "tax_paid": monthly,
                "sales": "300000.00",
                "grade": grade,
            }
        )
    return out


@pytest.fixture
def people(ili, make_user, login):
    cm = make_user("cm", YINING, "loan_officer")
    approver = make_user("approver", YINING, "credit_approver")
    boss = make_user("boss", "cn", "admin")
    return {"cm": login(cm), "approver": login(approver), "boss": login(boss)}


@pytest.fixture
def product_id(people):
    r = people["boss"].post(
        f"{BASE}/products",
        json={
            "code": "XWED-TAX",
            "name_zh": "小微E贷",
            "name_en": "Micro E-loan",
            "annual_rate": "0.0435",
            "term_months": 12,
            "day_count": "ACT/360",
            "method": "interest_only_bullet",
            "tenant_code": YINING,
        },
    )
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


def borrower(client, code=GOOD_CODE, rep_id=GOOD_ID, name="伊犁某油料贸易有限公司"):
    return client.post(
        f"{BASE}/borrowers",
        json={
            "name": name,
            "credit_code": code,
            "legal_rep_name": "阿力木",
            "legal_rep_id_number": rep_id,
            "industry": "油料贸易",
            "established_on": "2015-06-18",
            "customer_manager": "cm",
            "phone": "13999000000",
        },
    )


def at(y, m, d, h=10):
    return dt.datetime(y, m, d, h, tzinfo=SHANGHAI)


@pytest.fixture
def loan(oil_seed, staff):
    """866,000 at 4.35 % ACT/360, interest monthly, principal at maturity, from 10 May 2022."""
    s, product, b = oil_seed["session"], oil_seed["product"], oil_seed["borrower"]
    app = service.submit_application(
        s,
        staff["cm"],
        borrower_id=b.id,
        product_id=product.id,
        requested_amount=D("866000.00"),
        at=at(2022, 5, 9),
    )
    service.review_application(s, staff["cm"], app.id, accept=True, at=at(2022, 5, 9, 11))
    service.decide_application(s, staff["approver"], app.id, approve=True, at=at(2022, 5, 9, 14))
    service.sign_contract(s, staff["cm"], app.id, at=at(2022, 5, 10, 9))
    row = service.disburse(s, staff["cm"], app.id, at=at(2022, 5, 10, 9))
    s.commit()
    return row


@pytest.fixture
def disbursed(people, product_id):
    cm, approver = people["cm"], people["approver"]
    bid = borrower(cm).get_json()["id"]
    cm.put(f"{BASE}/borrowers/{bid}/tax-months", json=months())
    app = cm.post(
        f"{BASE}/applications",
        json={"borrower_id": bid, "product_id": product_id, "requested_amount": "100000.00"},
    ).get_json()
    cm.post(f"{BASE}/applications/{app['id']}/review", json={"accept": True})
    approver.post(f"{BASE}/applications/{app['id']}/decision", json={"approve": True})
    cm.post(f"{BASE}/applications/{app['id']}/contract")
    return cm.post(f"{BASE}/applications/{app['id']}/disbursement").get_json()
