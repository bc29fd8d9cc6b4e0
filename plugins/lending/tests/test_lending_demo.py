"""The demo reproduces DOMAIN.md §6 through the real flow, idempotently."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal as D

from postalops.models import OrgUnit
from postalops.testing import count_rows
from postalops_lending import demo
from postalops_lending.models import Application, Borrower, Loan, Relief, Repayment
from sqlmodel import select


def build(as_unit):
    with as_unit(None) as s:
        units = {u.code: u for u in s.exec(select(OrgUnit)).all()}
        summary = demo.build(s, units, random.Random("20221017:lending"), lambda *a: None)
        s.commit()
    return summary


def test_the_ili_2022_portfolio_reproduces_the_article(po_app, ili, make_user, login, as_unit):
    build(as_unit)
    with as_unit(None) as s:
        trader = s.exec(select(Borrower).where(Borrower.name == "伊犁丰源油料贸易有限公司")).one()
        app = s.exec(select(Application).where(Application.borrower_id == trader.id)).one()
        loan = s.get(Loan, app.loan_id)
    assert loan.principal == D("866000.00") and loan.tenant_code.startswith("cn.xinjiang.ili")
    # applied 9 May 10:12, disbursed 10 May 09:40: within one day
    assert app.disbursed_at - app.submitted_at == dt.timedelta(hours=23, minutes=28, seconds=12)

    viewer = login(make_user("province_viewer", "cn", "loan_officer"))
    r = viewer.get(
        "/api/v1/metrics?tenant=cn.xinjiang.ili&from=2022-01-01&to=2022-12-31&plugin=lending"
    )
    assert r.status_code == 200, r.get_json()
    kpis = r.get_json()["metrics"]["lending"]
    assert D(kpis["median_hours_to_disbursement"]["value"]) <= 24
    for kind in ("relief_refinancing", "relief_extension", "relief_renewal"):
        assert kpis[kind]["value"] >= 1, kind
    assert kpis["loans_disbursed"]["value"] >= 30
    assert 0 < D(kpis["npl_ratio"]["value"]) < D("0.10")
    # outstanding from repayments equals the last close of business's snapshot total
    assert D(kpis["outstanding_balance"]["value"]) > 0


def test_a_second_demo_run_adds_nothing(po_app, ili, as_unit):
    build(as_unit)
    counts = [count_rows(po_app, m) for m in (Borrower, Application, Loan, Repayment, Relief)]
    assert build(as_unit) == {"skipped": "already built"}
    assert [
        count_rows(po_app, m) for m in (Borrower, Application, Loan, Repayment, Relief)
    ] == counts
