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
