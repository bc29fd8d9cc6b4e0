"""ecommerce degrades explicitly where pickup_points is off (issue 18 §7): group-buy leaders are
refused (409 ``pickup_points_disabled``) and the portal says why; the rest of ecommerce works.
Where pickup_points is on, leaders are registered at its active points."""

from __future__ import annotations

from postalops.testing import count_rows
from postalops_ecommerce.models import Leader

HEBEI_BRANCH = "cn.hebei.shijiazhuang"


def leader(code: str, point: str = "PP-3") -> dict:
    return {"branch": HEBEI_BRANCH, "code": code, "name": "新团长", "pickup_point": point}


def test_pickup_points_off_refuses_leaders_and_the_rest_works(po_app, world, make_token, ecom):
    # The world fixture switched pickup_points off in Hebei.
    groupbuy = make_token("cn.hebei", "ecommerce.groupbuy")
    before = count_rows(po_app, Leader)
    resp = groupbuy.post("/api/v1/ecommerce/leaders", json=[leader("HB-L7")])
    assert resp.status_code == 409, resp.get_json()
    body = resp.get_json()
    assert body["error"]["code"] == "pickup_points_disabled"
    assert "pickup_points" in body["error"]["message"]
    assert body["error"]["details"][0]["unit"] == HEBEI_BRANCH
    assert count_rows(po_app, Leader) == before
    # The rest of ecommerce works: the e-shop's orders, the leaders already there, the figures.
    shop = make_token("cn.hebei", "ecommerce.ingest")
    pushed = shop.post("/api/v1/ecommerce/orders", json=[ecom.order("A1")])
    assert pushed.status_code == 200, pushed.get_json()
    viewer = make_token("cn.hebei", "ecommerce.view")
    listed = viewer.get("/api/v1/ecommerce/leaders").get_json()["items"]
    assert {ld["code"] for ld in listed} == {"HB-L1", "HB-L2"}


def test_pickup_points_off_the_portal_says_why(po_app, world, make_user, login):
    client = login(make_user("hb_marketing", "cn.hebei", "marketing"))
    page = client.get("/p/ecommerce/groupbuy")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'id="groupbuy-off"' in html and 'id="add-leader"' not in html
    fields = {"csrf_token": client.csrf, **leader("L-NEW-1")}
    refused = client.post("/p/ecommerce/groupbuy", data=fields)
    assert refused.status_code == 409
    assert 'id="groupbuy-off"' in refused.get_data(as_text=True)  # the message, not a form


def test_pickup_points_on_leaders_work(po_app, world, hebei_points, make_token):
    groupbuy = make_token("cn.hebei", "ecommerce.groupbuy")
    ok = groupbuy.post("/api/v1/ecommerce/leaders", json=[leader("HB-L7")])
    assert ok.status_code == 200, ok.get_json()
    assert ok.get_json()["created"] == 1
    unknown = groupbuy.post("/api/v1/ecommerce/leaders", json=[leader("HB-L8", "PP-404")])
    assert unknown.status_code == 422
    assert unknown.get_json()["error"]["details"][0]["errors"][0]["field"] == "pickup_point"
