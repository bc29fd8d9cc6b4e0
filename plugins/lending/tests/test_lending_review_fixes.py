"""Defects found by exercising the plugin (issue 15 §5, lending), each through the HTTP API."""

from __future__ import annotations

import datetime as dt
import io

from postalops.models import AuditRecord
from postalops.testing import count_rows
from postalops_lending.models import Borrower, Product, Relief, Repayment, TaxMonth
from sqlmodel import select

from .conftest import BASE, GOOD_CODE, GOOD_ID, borrower

OTHER_CODE = "91654002123456783N"


def _fields(resp) -> list[str]:
    return [d.get("field") for d in resp.get_json()["error"]["details"]]


def test_a_repayment_dated_in_the_future_is_refused(po_app, frozen_today, people, disbursed):
    cm = people["cm"]
    tomorrow = frozen_today.day + dt.timedelta(days=1)
    r = cm.post(
        f"{BASE}/loans/{disbursed['id']}/repayments",
        json={"amount": "10.00", "paid_on": tomorrow.isoformat(), "reference": "early"},
    )
    assert r.status_code == 422, r.get_json()
    assert _fields(r) == ["paid_on"]
    assert count_rows(po_app, Repayment) == 0
    # today's date passes the date check (nothing is due yet on the disbursement day, so the
    # same 10.00 is refused as a prepayment instead)
    r = cm.post(
        f"{BASE}/loans/{disbursed['id']}/repayments",
        json={"amount": "10.00", "paid_on": frozen_today.day.isoformat(), "reference": "today"},
    )
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "prepayment_not_allowed"


def test_relief_eligibility_counts_days_past_due_on_the_relief_date(
    po_app, frozen_today, people, disbursed, as_unit
):
    """Disbursed 12 Mar 2025, first interest due 12 Apr, unpaid. The close of business of
    10 Apr said 0 days past due; on 22 May the loan is 40 days past due."""
    from postalops_lending.services import close_of_business

    cm, loan_id = people["cm"], disbursed["id"]
    with as_unit(None) as s:
        close_of_business.run(s, "cn", dt.date(2025, 4, 10))
        s.commit()
    frozen_today.set("2025-05-22")
    op = {"kind": "extension", "relief_date": "2025-05-22", "extension_months": 3}
    r = cm.post(f"{BASE}/loans/{loan_id}/reliefs", json=op)
    assert r.status_code == 422, r.get_json()
    assert r.get_json()["error"]["code"] == "relief_ineligible"
    dpd = [d for d in r.get_json()["error"]["details"] if d["field"] == "days_past_due"]
    assert dpd and dpd[0]["message"].startswith("observed 40,"), r.get_json()

    # paid up on 22 May: a relief dated 20 May still sees the loan as it stood that day
    due = cm.get(f"{BASE}/loans/{loan_id}/quote?on=2025-05-22").get_json()["amount_due"]
    paid = cm.post(
        f"{BASE}/loans/{loan_id}/repayments",
        json={"amount": due, "paid_on": "2025-05-22", "reference": "catch-up"},
    )
    assert paid.status_code == 201, paid.get_json()
    r = cm.post(f"{BASE}/loans/{loan_id}/reliefs", json={**op, "relief_date": "2025-05-20"})
    assert r.status_code == 422, r.get_json()
    dpd = [d for d in r.get_json()["error"]["details"] if d["field"] == "days_past_due"]
    assert dpd and dpd[0]["message"].startswith("observed 38,"), r.get_json()
    assert count_rows(po_app, Relief) == 0
    # and on the day it was paid, it is current
    r = cm.post(f"{BASE}/loans/{loan_id}/reliefs", json=op)
    assert r.status_code == 201, r.get_json()


def _product(client, rate, code="P-FLOAT"):
    return client.post(
        f"{BASE}/products",
        json={
            "code": code,
            "name_zh": "小微E贷",
            "name_en": "Micro E-loan",
            "annual_rate": rate,
            "term_months": 12,
        },
    )


def test_a_float_annual_rate_is_refused(po_app, people):
    boss = people["boss"]
    for rate in (0.0435, 0):
        r = _product(boss, rate)
        assert r.status_code == 422, r.get_json()
        assert _fields(r) == ["annual_rate"]
    assert count_rows(po_app, Product) == 0
    r = _product(boss, "0.0435")
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["annual_rate"] == "0.0435"
