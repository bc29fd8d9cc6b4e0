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


def _import(client, csv: str, path: str = "borrowers/import"):
    return client.post(
        f"{BASE}/{path}",
        data={"file": (io.BytesIO(csv.encode()), "rows.csv")},
        content_type="multipart/form-data",
    )


HEADER = (
    "name,credit_code,legal_rep_name,legal_rep_id_number,industry,established_on,customer_manager,"
    "phone\n"
)


def test_reimporting_a_borrower_with_changed_data_updates_it_audited(po_app, people, as_unit):
    cm = people["cm"]
    first = HEADER + f"甲公司,{GOOD_CODE},张三,{GOOD_ID},干果,2015-01-01,cm,13900000000\n"
    assert _import(cm, first).get_json()["summary"] == {"created": 1}
    assert _import(cm, first).get_json()["summary"] == {"unchanged": 1}
    audits = count_rows(po_app, AuditRecord)

    changed = HEADER + f"甲公司(新),{GOOD_CODE},李四,{GOOD_ID},农资,2015-01-01,cm,13900000001\n"
    r = _import(cm, changed)
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["summary"] == {"updated": 1}
    assert r.get_json()["rows"][0]["status"] == "updated"
    with as_unit(None) as s:
        b = s.exec(select(Borrower).where(Borrower.credit_code == GOOD_CODE)).one()
        assert (b.name, b.legal_rep_name, b.industry, b.phone) == (
            "甲公司(新)",
            "李四",
            "农资",
            "13900000001",
        )
        rec = s.exec(
            select(AuditRecord).where(AuditRecord.action == "lending.borrower.update")
        ).one()
    assert count_rows(po_app, AuditRecord) == audits + 1
    assert rec.before["name"] == "甲公司" and rec.after["name"] == "甲公司(新)"
    assert set(rec.after) == {"name", "legal_rep_name", "industry", "phone"}
    assert count_rows(po_app, Borrower) == 1


def test_relief_eligibility_counts_days_past_due_on_the_relief_date(
    po_app, frozen_today, people, disbursed, as_unit
):
    """Disbursed 12 Mar 2025, first interest due 12 Apr, unpaid. The close of business of
    10 Apr said 0 days past due; on 22 May the loan is 40 days past due."""
    from postalops_lending import service

    cm, loan_id = people["cm"], disbursed["id"]
    with as_unit(None) as s:
        service.close_of_business(s, "cn", dt.date(2025, 4, 10))
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


def test_borrower_import_reports_every_rows_every_error_in_one_pass(po_app, people):
    cm = people["cm"]
    csv = HEADER + (
        # row 2: good
        f"甲公司,{GOOD_CODE},张三,{GOOD_ID},干果,2015-01-01,cm,\n"
        # row 3: a shape error (date) and a checksum error (credit code) in the same row
        f"乙公司,91110000600037341M,李四,{GOOD_ID},农资,not-a-date,cm,\n"
        # row 4: the same credit code as row 2, and a bad ID number
        f"丙公司,{GOOD_CODE},王五,110105194912310021,农资,2016-01-01,cm,\n"
        # row 5: established in the future
        f"丁公司,{OTHER_CODE},赵六,{GOOD_ID},农资,2999-01-01,cm,\n"
    )
    r = _import(cm, csv)
    assert r.status_code == 422, r.get_json()
    got = {
        d["row"]: sorted(e["field"] for e in d["errors"]) for d in r.get_json()["error"]["details"]
    }
    assert got == {
        3: ["credit_code", "established_on"],
        4: ["credit_code", "legal_rep_id_number"],
        5: ["established_on"],
    }, r.get_json()
    assert count_rows(po_app, Borrower) == 0


def test_tax_import_reports_every_rows_every_error_in_one_pass(po_app, people):
    cm = people["cm"]
    assert borrower(cm).status_code == 201
    csv = "credit_code,period,tax_paid,sales,grade\n" + (
        f"{GOOD_CODE},2022-01,1000.00,20000.00,A\n"  # 2: good
        f"{OTHER_CODE},2022-13,1000.00,20000.00,A\n"  # 3: unknown borrower and a bad month
        f"{OTHER_CODE},2022-02,1000.00,20000.00,Z\n"  # 4: unknown borrower and a bad grade
        f"{GOOD_CODE},2022-01,1000.00,20000.00,A\n"  # 5: the same month as row 2
    )
    r = _import(cm, csv, "tax-months/import")
    assert r.status_code == 422, r.get_json()
    got = {
        d["row"]: sorted(e["field"] for e in d["errors"]) for d in r.get_json()["error"]["details"]
    }
    assert got == {
        3: ["credit_code", "period"],
        4: ["credit_code", "grade"],
        5: ["period"],
    }, r.get_json()
    assert count_rows(po_app, TaxMonth) == 0
