"""The classes of server error a schemathesis run found (issue 15 §4), each through HTTP:
a 4xx in the JSON error format naming the field, never a 500, and nothing written."""

from __future__ import annotations

import pytest
from postalops.testing import count_rows

HUGE = 99999999999999999999999  # above 2**63 - 1
STATION = "cn.henan.zhengzhou.jinshui"
CITY = "cn.henan.zhengzhou"


@pytest.fixture
def api(po_app, make_token):
    registry = po_app.extensions["postalops.plugins"]
    return make_token("cn", *sorted({p.name for p in registry.permissions()}))


def needs(po_app, *keys):
    missing = [k for k in keys if k not in po_app.extensions["postalops.plugins"].plugins]
    if missing:
        pytest.skip(f"plugin(s) not installed: {missing}")


def assert_error(resp, status, field=None, code=None):
    assert resp.status_code == status, resp.get_data(as_text=True)[:800]
    error = resp.json["error"]
    assert set(error) == {"code", "message", "details"}
    if field is not None:
        assert field in [d.get("field") for d in error["details"]], error
    if code is not None:
        assert error["code"] == code, error


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/lending/loans/{}",
        "/api/v1/lending/applications/{}",
        "/api/v1/sorter/devices/{}",
        "/api/v1/payroll/payslips/{}",
        "/api/v1/payroll/rate-cards/{}",
        "/api/v1/outcall/cases/{}",
        "/api/v1/ecommerce/campaigns/{}/curve",
    ],
)
def test_an_id_above_int64_in_the_path_is_404(po_app, api, path):
    needs(po_app, path.split("/")[3])
    assert_error(api.get(path.format(HUGE)), 404)
    assert_error(api.get(path.format(2**63 - 1)), 404)
    assert_error(api.get(path.format(2**31 - 1)), 404)  # the largest id routes, finds nothing


def test_an_id_above_int64_in_a_body_is_422_naming_it(po_app, api):
    needs(po_app, "lending")
    resp = api.post(
        "/api/v1/lending/applications",
        json={"borrower_id": HUGE, "product_id": 1, "requested_amount": "1000.00"},
    )
    assert_error(resp, 422, "borrower_id")


def test_a_huge_integer_in_a_budget_is_422(po_app, api):
    needs(po_app, "payroll")
    resp = api.put(
        "/api/v1/payroll/budgets",
        json={"unit": CITY, "month": "2022-09", "volume_budget": 10**30, "unit_price_cap": "1.00"},
    )
    assert_error(resp, 422, "volume_budget")


def test_an_amount_of_1e30_is_422_naming_it(po_app, api):
    needs(po_app, "lending")
    resp = api.post(
        "/api/v1/lending/loans/1/repayments",
        json={"amount": "1e30", "paid_on": "2022-09-01", "reference": "r1"},
    )
    assert_error(resp, 422, "amount")


def test_a_body_nested_100000_deep_is_400(api):
    deep = "[" * 100_000 + "]" * 100_000
    resp = api.post("/api/v1/tokens", data=deep, content_type="application/json")
    assert_error(resp, 400, "body", code="malformed_json")


def test_nan_and_infinity_are_not_json(api):
    resp = api.post("/api/v1/jobs/probe", data='{"steps": NaN}', content_type="application/json")
    assert_error(resp, 400, "body", code="malformed_json")
    resp = api.post("/api/v1/jobs/probe", data='{"steps": 1e999}', content_type="application/json")
    assert_error(resp, 422)


def test_the_number_0_is_not_a_date(po_app, api):
    needs(po_app, "lending")
    resp = api.post("/api/v1/lending/close-of-business", json={"as_of": 0})
    assert_error(resp, 422, "as_of")
    resp = api.post("/api/v1/lending/close-of-business", json={"as_of": 1662000000})
    assert_error(resp, 422, "as_of")


def test_the_number_0_is_not_a_webhook_url(po_app, api):
    needs(po_app, "outcall", "sorter")
    assert_error(api.patch("/api/v1/outcall/settings", json={"webhook_url": 0}), 422, "webhook_url")
    for url in ("0", "http://", "ftp://ops.example/hook"):
        resp = api.patch("/api/v1/outcall/settings", json={"webhook_url": url})
        assert_error(resp, 422, "webhook_url")
    assert_error(api.put("/api/v1/sorter/settings", json={"webhook_url": 0}), 422, "webhook_url")


def test_a_duplicate_pavilion_code_is_409_naming_code_and_writes_nothing(po_app, api):
    needs(po_app, "ecommerce")
    from postalops_ecommerce.models import Pavilion

    body = {"code": "PAV1", "name": "乡村振兴馆", "unit": CITY, "level": "city"}
    assert api.post("/api/v1/ecommerce/pavilions", json=body).status_code == 201
    before = count_rows(po_app, Pavilion)
    assert_error(api.post("/api/v1/ecommerce/pavilions", json=body), 409, "code")
    assert count_rows(po_app, Pavilion) == before


def test_a_duplicate_merchant_code_is_409_naming_code_and_writes_nothing(po_app, api):
    needs(po_app, "ecommerce")
    from postalops_ecommerce.models import Merchant

    body = [{"code": "M1", "name": "农场", "unit": CITY}]
    assert api.post("/api/v1/ecommerce/merchants", json=body).status_code == 201
    before = count_rows(po_app, Merchant)
    resp = api.post(
        "/api/v1/ecommerce/merchants", json=[{"code": "M2", "name": "新", "unit": CITY}, *body]
    )
    assert_error(resp, 409, "code")
    assert count_rows(po_app, Merchant) == before  # M2 was rolled back with the clash


def test_reposting_a_sorter_without_its_name_is_not_a_server_error(po_app, api):
    needs(po_app, "sorter")
    row = {
        "unit": STATION,
        "code": "S1",
        "name": "一号机",
        "model": "X-1",
        "chutes": 48,
        "commissioned_on": "2022-01-01",
        "rated_per_hour": 9000,
    }
    assert api.post("/api/v1/sorter/devices", json=[row]).status_code == 200
    del row["name"]
    resp = api.post("/api/v1/sorter/devices", json=[row])
    assert resp.status_code in (200, 422), resp.get_data(as_text=True)[:800]
    if resp.status_code == 422:
        assert_error(resp, 422, "name")


def test_an_id_above_the_row_range_is_404_whatever_the_method(po_app, api):
    """Werkzeug answered 405 (naming GET) for POST/PATCH on a path whose id failed the
    converter's bound after a GET rule on the same path had matched it."""
    needs(po_app, "sorter", "lending")
    for id_ in (2**31, 2**63 - 1, HUGE):
        assert_error(api.patch(f"/api/v1/sorter/devices/{id_}", json={"name": "x"}), 404)
        assert_error(api.post(f"/api/v1/lending/applications/{id_}/review", json={}), 404)
    resp = api.patch(f"/api/v1/sorter/devices/{2**31 - 1}", json={"name": "x"})
    assert_error(resp, 404, "device_id")  # the largest id routes, and finds nothing
    resp = api.patch("/api/v1/sorter/devices/0012", json={"name": "x"})
    assert_error(resp, 404, "device_id")  # leading zeros still route (as werkzeug's int does)


def test_an_audit_record_of_a_list_is_served_as_the_object_its_schema_says(po_app, api):
    """A plugin audited a list (sorter's alarm rules); GET /api/v1/audit answered ``after`` as a
    JSON array where its schema says object (a schemathesis ST108 finding)."""
    from postalops import audit, context
    from postalops.testing import system_context

    with context.activate(system_context(po_app)) as ctx:
        audit.record(
            "test.list", target_type="t", target_id=1, tenant=CITY, before=[1], after=[{"a": 1}]
        )
        ctx.session.commit()
    rows = api.get("/api/v1/audit?action=test.list").json["items"]
    assert rows and rows[0]["after"] == {"items": [{"a": 1}]} and rows[0]["before"] == {"items": [1]}
