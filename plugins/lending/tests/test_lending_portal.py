"""Portal pages: reachable from the nav, Chinese first, English on request, forms work."""

from __future__ import annotations

from .conftest import BASE, YINING, borrower


def test_pages_render_in_chinese_and_english(people, product_id):
    cm = people["cm"]
    bid = borrower(cm).get_json()["id"]
    home = cm.get("/p/lending/")
    assert home.status_code == 200
    page = home.get_data(as_text=True)
    assert 'href="/p/lending/"' in page  # the nav entry
    assert "不良贷款率" in page and "借款人" in page
    for url in (
        "/p/lending/borrowers",
        "/p/lending/applications",
        "/p/lending/loans",
        "/p/lending/reliefs",
        "/p/lending/outreach",
    ):
        assert cm.get(url).status_code == 200, url
    assert "110105********002X" in cm.get("/p/lending/borrowers").get_data(as_text=True)
    cm.post("/lang", data={"lang": "en", "csrf_token": cm.csrf, "next": "/p/lending/"})
    assert "Borrowers" in cm.get("/p/lending/").get_data(as_text=True)
    assert bid


def test_the_application_form_runs_the_precheck(people, product_id):
    cm = people["cm"]
    bid = borrower(cm).get_json()["id"]
    r = cm.post(
        "/p/lending/applications",
        data={
            "csrf_token": cm.csrf,
            "borrower_id": bid,
            "product_id": product_id,
            "requested_amount": "100000.00",
        },
    )
    assert r.status_code == 302
    apps = cm.get(f"{BASE}/applications").get_json()["items"]
    assert apps[0]["status"] == "declined"  # no tax data yet: the pre-check declines
    page = cm.get(f"/p/lending/applications/{apps[0]['id']}").get_data(as_text=True)
    assert "tax_data_12_months" in page


def test_a_refused_form_shows_the_reason_and_writes_nothing(people):
    cm = people["cm"]
    r = cm.post(
        "/p/lending/borrowers",
        data={
            "csrf_token": cm.csrf,
            "name": "x",
            "credit_code": "91110000600037341M",
            "legal_rep_name": "y",
            "legal_rep_id_number": "11010519491231002X",
            "industry": "z",
            "established_on": "2015-01-01",
            "customer_manager": "cm",
        },
        follow_redirects=True,
    )
    assert "credit_code" in r.get_data(as_text=True)
    assert cm.get(f"{BASE}/borrowers").get_json()["items"] == []


def test_the_lending_pages_are_hidden_where_the_plugin_is_off(po_app, people, as_unit):
    from postalops.models import PluginEnablement

    with as_unit(None) as s:
        s.add(PluginEnablement(unit_code=YINING, plugin_key="lending", enabled=False))
        s.commit()
    assert people["cm"].get("/p/lending/").status_code == 404
    assert people["cm"].get(f"{BASE}/loans").status_code == 404


def test_review_and_approval_through_the_portal_forms(people, product_id, login, make_user):
    from .conftest import months

    cm, approver = people["cm"], people["approver"]
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
    assert 'value="review"' in cm.get(page).get_data(as_text=True)
    cm.post(page, data={"csrf_token": cm.csrf, "step": "review"})
    # the reviewer sees no approve button, and posting the step anyway is refused
    assert 'value="approve"' not in cm.get(page).get_data(as_text=True)
    assert cm.post(page, data={"csrf_token": cm.csrf, "step": "approve"}).status_code == 403
    assert 'value="approve"' in approver.get(page).get_data(as_text=True)
    approver.post(page, data={"csrf_token": approver.csrf, "step": "approve"})
    assert cm.get(f"{BASE}/applications/{app_id}").get_json()["status"] == "approved"
    assert "XWED-TAX" in cm.get("/p/lending/").get_data(as_text=True)  # the products table
