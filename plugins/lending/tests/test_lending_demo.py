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


def test_the_present_up_to_a_frozen_today(po_app, ili, make_user, login, as_unit, frozen_today):
    """After the article, the present: Zhengzhou (where a loan officer works) gets products,
    borrowers and loans in every state, Ili's borrowers have tax data up to last month so a new
    application passes the pre-check, the default period has disbursements, and a same-day
    re-run adds nothing."""
    from postalops.context import Principal
    from postalops.testing import default_metrics
    from postalops_lending import demo_present, service
    from postalops_lending import permissions as p
    from postalops_lending.models import Product, TaxMonth

    zz = "cn.henan.zhengzhou"
    officer = make_user("loan_officer_city", zz, "loan_officer")
    make_user("credit_approver_city", zz, "credit_approver")

    def present():
        with as_unit(None) as s:
            units = {u.code: u for u in s.exec(select(OrgUnit)).all()}
            got = demo_present.build_present(s, units, lambda *a: None)
            s.commit()
        return got

    build(as_unit)
    present()
    models = (Borrower, Application, Loan, Repayment, TaxMonth, Product)
    counts = [count_rows(po_app, m) for m in models]
    with as_unit(None) as s:
        statuses = set(s.exec(select(Application.status).where(Application.tenant_code == zz)))
        loan_states = set(s.exec(select(Loan.status).where(Loan.tenant_code == zz)))
        product = s.exec(select(Product).where(Product.tenant_code == zz)).first()
        trader = s.exec(select(Borrower).where(Borrower.name == "伊犁丰源油料贸易有限公司")).one()
        last = max(s.exec(select(TaxMonth.period).where(TaxMonth.borrower_id == trader.id)))
    assert product is not None
    assert {"declined", "rejected", "disbursed"} <= statuses, statuses
    assert statuses & {"prechecked", "reviewed", "approved", "contracted"}, statuses  # waiting
    assert {"active", "closed"} <= loan_states, loan_states
    assert last == dt.date(2025, 2, 1)  # frozen today is 12 Mar 2025: up to last month

    # loans in every state today: active and closed in Zhengzhou, renewed in Ili's 2022,
    # written off in Ili's present, and a disbursement reversed in Zhengzhou's present
    with as_unit(None) as s:
        everywhere = set(s.exec(select(Loan.status)))
    assert everywhere == {"active", "closed", "renewed", "written_off", "reversed"}, everywhere
    assert "reversed" in loan_states
    _the_reversed_disbursement(po_app, login, officer, as_unit, zz)

    for tenant in (zz, "cn.xinjiang.ili"):
        kpis = default_metrics(po_app, tenant, "lending")
        assert kpis["loans_disbursed"] > 0 and D(kpis["amount_disbursed"]) > 0, (tenant, kpis)

    present()
    assert [count_rows(po_app, m) for m in models] == counts

    # a new application for the Zhengzhou borrower with the most tax passes the pre-check today
    with as_unit(None) as s:
        borrower = s.exec(
            select(Borrower).where(Borrower.tenant_code == zz).order_by(Borrower.id)
        ).first()
        maker = Principal(
            kind="user",
            name="user:loan_officer_city",
            home_unit=zz,
            permissions=frozenset({p.VIEW, p.APPLY}),
            user_id=officer.id,
        )
        app = service.submit_application(
            s, maker, borrower_id=borrower.id, product_id=product.id, requested_amount=D("50000")
        )
        assert app.status == "prechecked", app.precheck
        s.rollback()


def _the_reversed_disbursement(po_app, login, officer, as_unit, zz):
    """Frozen today is Wed 12 Mar 2025: the story's loan is disbursed 14 days before, Wed
    26 Feb, 300,000.00 (no fee), and reversed by the credit approver on Thu 27 Feb; no close
    of business ran in between, so no interest is taken back."""
    from postalops.journal import balanced
    from postalops.models import AuditRecord
    from postalops_lending import service
    from postalops_lending.models import LoanEvent

    with as_unit(None) as s:
        loan = s.exec(select(Loan).where(Loan.tenant_code == zz, Loan.status == "reversed")).one()
        assert (loan.disbursed_on, loan.principal, loan.closed_on) == (
            dt.date(2025, 2, 26),
            D("300000.00"),
            dt.date(2025, 2, 27),
        )
        event = s.exec(select(LoanEvent).where(LoanEvent.loan_id == loan.id)).one()
        assert (event.kind, event.event_date, event.principal, event.interest) == (
            "disbursement_reversal",
            dt.date(2025, 2, 27),
            D("300000.00"),
            D("0.00"),
        )
        audit = s.exec(
            select(AuditRecord).where(
                AuditRecord.action == "lending.loan.reverse_disbursement",
                AuditRecord.target_id == str(loan.id),
            )
        ).one()
        assert audit.before["status"] == "active" and audit.after["status"] == "reversed"
        assert audit.actor == "user:credit_approver_city"
        lines = service.journal_lines(s, zz, dt.date(2025, 2, 26), dt.date(2025, 2, 27))
    mine = sorted(
        (x.reference.split(":")[1], x.account, x.debit, x.credit)
        for x in lines
        if x.reference.endswith(f":{loan.id}") or x.reference.endswith(f":{event.id}")
    )
    # disbursed: Dr loans / Cr bank 300,000.00; reversed: Dr bank / Cr loans 300,000.00
    assert mine == sorted([
        ("disbursement", "loans", D("300000.00"), D("0")),
        ("disbursement", "bank", D("0"), D("300000.00")),
        ("disbursement_reversal", "bank", D("300000.00"), D("0")),
        ("disbursement_reversal", "loans", D("0"), D("300000.00")),
    ])  # fmt: skip
    assert balanced(lines)
    # the loan's page shows it: 已冲销 and the compensating event in its history
    page = login(officer).get(f"/p/lending/loans/{loan.id}").get_data(as_text=True)
    assert "冲销放款" in page and 'id="loan-events"' in page
