"""Loan staff's workbench inbox (issue 14 §3), through the portal: the customer manager is
asked to review a pre-checked application, the credit approver to decide it (linking to the
application), never the one who prepared it; then the contract waits for the customer manager."""

from __future__ import annotations

import re

from .conftest import BASE, borrower, months


def tasks(html: str) -> dict[str, str]:
    out = {}
    for key, body in re.findall(r'data-task="lending:([a-z_]+)">(.*?)</li>', html, re.S):
        out[key] = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)).strip()
    return out


def test_the_application_moves_through_the_inboxes(people, product_id):
    cm, approver = people["cm"], people["approver"]
    assert tasks(cm.get("/").get_data(as_text=True)) == {}
    bid = borrower(cm).get_json()["id"]
    cm.put(f"{BASE}/borrowers/{bid}/tax-months", json=months())
    cm.post(
        "/p/lending/applications",
        data={
            "csrf_token": cm.csrf,
            "borrower_id": bid,
            "product_id": product_id,
            "requested_amount": "200000.00",
        },
    )
    app_id = cm.get(f"{BASE}/applications").get_json()["items"][0]["id"]
    page = f"/p/lending/applications/{app_id}"

    html = cm.get("/").get_data(as_text=True)
    got = tasks(html)
    assert list(got) == ["review_applications"]
    assert "待审查的贷款申请 1 笔" in got["review_applications"]
    assert "¥200,000.00" in got["review_applications"] and f'href="{page}"' in html
    assert tasks(approver.get("/").get_data(as_text=True)) == {}  # not reviewed yet

    cm.post(page, data={"csrf_token": cm.csrf, "step": "review"})
    assert tasks(cm.get("/").get_data(as_text=True)) == {}
    html = approver.get("/").get_data(as_text=True)
    assert list(tasks(html)) == ["decide_applications"] and f'href="{page}"' in html
    assert "待审批的贷款申请 1 笔" in tasks(html)["decide_applications"]

    approver.post(page, data={"csrf_token": approver.csrf, "step": "approve"})
    assert tasks(approver.get("/").get_data(as_text=True)) == {}
    got = tasks(cm.get("/").get_data(as_text=True))
    assert list(got) == ["sign_contracts"] and "1 笔" in got["sign_contracts"]


def test_an_approver_who_prepared_the_application_is_not_asked_to_decide_it(
    people, product_id, make_user, login
):
    from .conftest import YINING

    both = login(make_user("both", YINING, "loan_officer", "credit_approver"))
    bid = borrower(both).get_json()["id"]
    both.put(f"{BASE}/borrowers/{bid}/tax-months", json=months())
    both.post(
        "/p/lending/applications",
        data={
            "csrf_token": both.csrf,
            "borrower_id": bid,
            "product_id": product_id,
            "requested_amount": "100000.00",
        },
    )
    app_id = both.get(f"{BASE}/applications").get_json()["items"][0]["id"]
    both.post(f"/p/lending/applications/{app_id}", data={"csrf_token": both.csrf, "step": "review"})
    assert "decide_applications" not in tasks(both.get("/").get_data(as_text=True))
    assert "decide_applications" in tasks(people["approver"].get("/").get_data(as_text=True))


def test_a_relief_request_waits_for_the_approver(people, disbursed):
    cm, approver = people["cm"], people["approver"]
    op = {"kind": "extension", "relief_date": disbursed["disbursed_on"], "extension_months": 3}
    r = cm.post(f"{BASE}/loans/{disbursed['id']}/reliefs", json={"operations": [op]})
    assert r.status_code == 201, r.get_json()
    html = approver.get("/").get_data(as_text=True)
    got = tasks(html)
    assert list(got) == ["decide_reliefs"] and "待审批的纾困申请 1 笔" in got["decide_reliefs"]
    assert 'href="/p/lending/reliefs?status=requested"' in html  # those awaiting approval
    assert "decide_reliefs" not in tasks(cm.get("/").get_data(as_text=True))  # no approve right
    decided = approver.post(f"{BASE}/reliefs/{r.get_json()['id']}/decision", json={"approve": True})
    assert decided.status_code == 200, decided.get_json()
    assert tasks(approver.get("/").get_data(as_text=True)) == {}
