"""Every decision is audited; the phone-back list, the report and the dashboard page work."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal as D

from postalops import clock
from postalops.models import AuditRecord, OrgUnit
from postalops_dashboards import ViewContext
from postalops_dashboards.figures import figures_of, has_data, raw_titles
from postalops_lending import dashboards, demo, service
from sqlmodel import select

from .conftest import BASE, SHANGHAI, YINING


def actions(s, target_type):
    return s.exec(
        select(AuditRecord.action)
        .where(AuditRecord.target_type == target_type)
        .order_by(AuditRecord.id)
    ).all()


def test_rejections_are_decisions_and_are_audited(oil_seed, staff, loan):
    s, product, b = oil_seed["session"], oil_seed["product"], oil_seed["borrower"]
    at = dt.datetime(2022, 5, 20, 10, tzinfo=SHANGHAI)
    first = service.submit_application(
        s,
        staff["cm"],
        borrower_id=b.id,
        product_id=product.id,
        requested_amount=D("50000.00"),
        at=at,
    )
    service.review_application(s, staff["cm"], first.id, accept=False, note="资料不全", at=at)
    second = service.submit_application(
        s,
        staff["cm"],
        borrower_id=b.id,
        product_id=product.id,
        requested_amount=D("60000.00"),
        at=at,
    )
    service.review_application(s, staff["cm"], second.id, accept=True, at=at)
    service.decide_application(
        s, staff["approver"], second.id, approve=False, note="负债偏高", at=at
    )
    req = service.request_relief(
        s,
        staff["cm"],
        loan.id,
        {"kind": "extension", "relief_date": "2022-05-25", "extension_months": 2},
    )
    service.decide_relief(s, staff["approver"], req.id, approve=False, note="不符合")
    s.commit()
    assert "lending.application.reject" in actions(s, "lending_application")
    rows = s.exec(
        select(AuditRecord).where(AuditRecord.action == "lending.application.reject")
    ).all()
    assert {r.actor for r in rows} == {"user:u2", "user:u3"}  # the reviewer's and the checker's
    assert all(r.before["status"] in ("prechecked", "reviewed") for r in rows)
    assert actions(s, "lending_relief") == [
        "lending.relief.request.extension",
        "lending.relief.reject",
    ]
    assert actions(s, "lending_product") == ["lending.product.create"]
    assert actions(s, "lending_borrower") == ["lending.borrower.create"]


def test_phone_back_list_and_call_outcomes_via_the_api(people, product_id, as_unit):
    cm = people["cm"]
    today = clock.today()
    r = cm.get(f"{BASE}/outreach?on={today.isoformat()}")
    assert r.status_code == 200 and r.get_json()["items"] == []
    bad = cm.post(f"{BASE}/outreach/calls", json={"borrower_id": 999, "outcome": "no_need"})
    assert bad.status_code == 404


def test_time_to_disbursement_report(people, disbursed):
    r = people["cm"].get(f"{BASE}/reports/time-to-disbursement")
    assert r.status_code == 200
    body = r.get_json()
    assert len(body["items"]) == 1 and D(body["median_hours"]) < 1


def test_the_portfolio_dashboard_draws_the_demo(po_app, ili, as_unit):
    with as_unit(None) as s:
        units = {u.code: u for u in s.exec(select(OrgUnit)).all()}
        demo.build(s, units, random.Random(7), lambda *a: None)
        s.commit()
    with po_app.test_request_context("/"), as_unit("cn.xinjiang.ili") as s:
        ctx = ViewContext(
            tenant="cn.xinjiang.ili",
            date_from=dt.date(2022, 1, 1),
            date_to=dt.date(2022, 12, 31),
            session=s,
            zh=True,
            registry=po_app.extensions["postalops.plugins"],
        )
        page = dashboards.layout(ctx)
    charts = dict(figures_of(page))
    assert all(has_data(f) for f in charts.values()), [
        n for n, f in charts.items() if not has_data(f)
    ]
    assert {n: raw_titles(f) for n, f in charts.items() if raw_titles(f)} == {}
    text = str(page)
    for name in (
        "lending-disbursements",
        "lending-npl-trend",
        "lending-five-category",
        "lending-relief",
    ):
        assert name in text
    assert "lending.npl_ratio" in text  # the KPI cards
    assert YINING.startswith("cn.xinjiang.ili")
