"""The lending API end to end: one-day flow, maker-checker, bad input writing nothing."""

from __future__ import annotations

import io

import pytest
from postalops.models import AuditRecord
from postalops.testing import count_rows
from postalops_lending.models import Application, Borrower, Loan, Relief, Repayment

from .conftest import BASE, GOOD_CODE, GOOD_ID, HUOCHENG, YINING, borrower, months


def test_the_one_day_flow_through_the_api(po_app, people, product_id):
    cm, approver = people["cm"], people["approver"]
    b = borrower(cm)
    assert b.status_code == 201, b.get_json()
    assert b.get_json()["legal_rep_id_number"] == "110105********002X"  # masked
    bid = b.get_json()["id"]
    assert cm.put(f"{BASE}/borrowers/{bid}/tax-months", json=months()).get_json()["created"] == 14
    a = cm.post(
        f"{BASE}/applications",
        json={"borrower_id": bid, "product_id": product_id, "requested_amount": "866000.00"},
    )
    assert a.status_code == 201, a.get_json()
    app = a.get_json()
    assert app["status"] == "prechecked" and app["credit_line"] == "866000.00"
    assert (
        cm.post(f"{BASE}/applications/{app['id']}/review", json={"accept": True}).status_code == 200
    )

    # maker-checker: the reviewer holds no lending.approve -> 403 before anything else
    refused = cm.post(f"{BASE}/applications/{app['id']}/decision", json={"approve": True})
    assert refused.status_code == 403
    ok = approver.post(f"{BASE}/applications/{app['id']}/decision", json={"approve": True})
    assert ok.status_code == 200 and ok.get_json()["status"] == "approved"
    assert cm.post(f"{BASE}/applications/{app['id']}/contract").status_code == 200
    loan = cm.post(f"{BASE}/applications/{app['id']}/disbursement")
    assert loan.status_code == 201, loan.get_json()
    body = cm.get(f"{BASE}/applications/{app['id']}").get_json()
    assert body["status"] == "disbursed" and float(body["hours_to_disbursement"]) < 1
    detail = cm.get(f"{BASE}/loans/{loan.get_json()['id']}").get_json()
    assert len(detail["schedule"]) == 12 and detail["principal"] == "866000.00"


def test_a_maker_holding_approve_still_cannot_approve_their_case(
    po_app, ili, make_user, login, people, product_id
):
    both = login(make_user("both", YINING, "loan_officer", "credit_approver"))
    bid = borrower(both).get_json()["id"]
    both.put(f"{BASE}/borrowers/{bid}/tax-months", json=months())
    app = both.post(
        f"{BASE}/applications",
        json={"borrower_id": bid, "product_id": product_id, "requested_amount": "100000.00"},
    ).get_json()
    both.post(f"{BASE}/applications/{app['id']}/review", json={"accept": True})
    audits = count_rows(po_app, AuditRecord)
    r = both.post(f"{BASE}/applications/{app['id']}/decision", json={"approve": True})
    assert r.status_code == 403
    assert r.get_json()["error"]["code"] == "maker_cannot_check"
    assert count_rows(po_app, AuditRecord) == audits
    assert both.get(f"{BASE}/applications/{app['id']}").get_json()["status"] == "reviewed"


@pytest.mark.parametrize(
    ("code", "rep_id", "field"),
    [
        ("91110000600037341M", GOOD_ID, "credit_code"),
        (GOOD_CODE, "110105194912310021", "legal_rep_id_number"),
    ],
)
def test_a_wrong_checksum_is_a_422_and_writes_nothing(po_app, people, code, rep_id, field):
    r = borrower(people["cm"], code, rep_id)
    assert r.status_code == 422
    assert [d["field"] for d in r.get_json()["error"]["details"]] == [field]
    assert count_rows(po_app, Borrower) == 0


def test_float_amounts_are_refused(people, product_id):
    bid = borrower(people["cm"]).get_json()["id"]
    r = people["cm"].post(
        f"{BASE}/applications",
        json={"borrower_id": bid, "product_id": product_id, "requested_amount": 866000.5},
    )
    assert r.status_code == 422
    assert "requested_amount" in r.get_json()["error"]["details"][0]["field"]


def test_bulk_borrower_import_names_the_bad_row_and_writes_nothing(po_app, people):
    csv = (
        "name,credit_code,legal_rep_name,legal_rep_id_number,industry,established_on,"
        "customer_manager\n"
        f"甲公司,{GOOD_CODE},张三,{GOOD_ID},干果,2015-01-01,cm\n"
        f"乙公司,91110000600037341M,李四,{GOOD_ID},农资,2016-01-01,cm\n"
    )
    r = people["cm"].post(
        f"{BASE}/borrowers/import",
        data={"file": (io.BytesIO(csv.encode()), "borrowers.csv")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 422, r.get_json()
    assert r.get_json()["error"]["details"][0]["row"] == 3  # header is row 1
    assert count_rows(po_app, Borrower) == 0
    good = csv.splitlines()[:2]
    r = people["cm"].post(
        f"{BASE}/borrowers/import",
        data={"file": (io.BytesIO("\n".join(good).encode()), "b.csv")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["summary"] == {"created": 1}


def test_overpayment_beyond_payoff_is_refused(po_app, people, disbursed):
    cm = people["cm"]
    quote = cm.get(f"{BASE}/loans/{disbursed['id']}/quote?on={disbursed['disbursed_on']}")
    assert quote.status_code == 200
    r = cm.post(
        f"{BASE}/loans/{disbursed['id']}/repayments",
        json={"amount": "200000.00", "paid_on": disbursed["disbursed_on"], "reference": "x1"},
    )
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "overpayment"
    assert count_rows(po_app, Repayment) == 0


def test_a_closed_loan_takes_no_repayment(po_app, people, disbursed, as_unit):
    with as_unit(None) as s:
        loan = s.get(Loan, disbursed["id"])
        loan.status = "closed"
        s.add(loan)
        s.commit()
    r = people["cm"].post(
        f"{BASE}/loans/{disbursed['id']}/repayments",
        json={"amount": "10.00", "paid_on": disbursed["disbursed_on"], "reference": "x2"},
    )
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "loan_not_active"


def test_relief_one_operation_per_request_and_eligibility(po_app, people, disbursed):
    cm = people["cm"]
    op = {"kind": "extension", "relief_date": disbursed["disbursed_on"], "extension_months": 3}
    r = cm.post(f"{BASE}/loans/{disbursed['id']}/reliefs", json={"operations": [op, op]})
    assert r.status_code == 400
    assert r.get_json()["error"]["code"] == "one_operation_per_request"
    r = cm.post(
        f"{BASE}/loans/{disbursed['id']}/reliefs",
        json={"kind": "renewal", "relief_date": disbursed["disbursed_on"], "term_months": 12},
    )
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "relief_ineligible"
    assert [d["field"] for d in r.get_json()["error"]["details"]] == ["renewal_window"]
    assert count_rows(po_app, Relief) == 0
    r = cm.post(f"{BASE}/loans/{disbursed['id']}/reliefs", json={"operations": [op]})
    assert r.status_code == 201
    # the requester cannot approve it; the approver can
    assert (
        people["boss"]
        .post(f"{BASE}/reliefs/{r.get_json()['id']}/decision", json={"approve": True})
        .status_code
        == 200
    )


def test_a_branch_sees_only_its_own_borrowers(po_app, ili, make_user, login, people):
    other = login(make_user("cm_huocheng", HUOCHENG, "loan_officer"))
    mine = borrower(people["cm"]).get_json()["id"]
    theirs = borrower(other, "91654002123456783N", name="霍城某公司").get_json()["id"]
    # (the list's "total" counts across units: a kernel paginate bug, reported to the core)
    assert [b["id"] for b in other.get(f"{BASE}/borrowers").get_json()["items"]] == [theirs]
    assert people["cm"].get(f"{BASE}/borrowers").get_json()["items"][0]["id"] == mine
    assert other.put(f"{BASE}/borrowers/{mine}/tax-months", json=months()).status_code == 404
    assert people["cm"].get(f"{BASE}/loans/999").status_code == 404
    assert theirs != mine


def test_the_api_is_in_the_openapi_document(people):
    doc = people["cm"].get("/api/v1/openapi.json").get_json()
    for path in (
        "applications",
        "loans/{loan_id}/repayments",
        "loans/{loan_id}/reliefs",
        "borrowers/import",
        "close-of-business",
    ):
        assert f"{BASE}/{path}" in doc["paths"], path


def test_application_to_disbursement_counts_only_applications(as_unit, po_app, disbursed):
    assert count_rows(po_app, Application) == 1


def test_tax_months_import_from_xlsx_reports_per_row(po_app, people):
    from openpyxl import Workbook
    from postalops_lending.models import TaxMonth

    cm = people["cm"]
    borrower(cm)
    wb = Workbook()
    ws = wb.active
    ws.append(["credit_code", "period", "tax_paid", "sales", "grade"])
    ws.append([GOOD_CODE, "2022-01", "1000.00", "20000.00", "A"])
    ws.append([GOOD_CODE, "2022-02", "1100.00", "21000.00", "A"])
    ws.append(["91654002123456783N", "2022-02", "1100.00", "21000.00", "A"])  # not ours
    buf = io.BytesIO()
    wb.save(buf)

    def upload():
        return cm.post(
            f"{BASE}/tax-months/import",
            data={"file": (io.BytesIO(buf.getvalue()), "tax.xlsx")},
            content_type="multipart/form-data",
        )

    r = upload()
    assert r.status_code == 422
    assert r.get_json()["error"]["details"] == [
        {
            "row": 4,
            "errors": [{"field": "credit_code", "message": "no such borrower in your units"}],
        }
    ]
    assert count_rows(po_app, TaxMonth) == 0
    ws.delete_rows(4)
    buf = io.BytesIO()
    wb.save(buf)
    r = upload()
    assert r.status_code == 200, r.get_json()
    assert [x["row"] for x in r.get_json()["rows"]] == [2, 3]
    assert count_rows(po_app, TaxMonth) == 2
    again = upload().get_json()  # the same file twice: nothing new
    assert again["summary"] == {"unchanged": 2} and count_rows(po_app, TaxMonth) == 2
