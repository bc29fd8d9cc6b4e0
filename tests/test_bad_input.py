"""Bad input at the API: 4xx in the JSON error format naming the field, nothing written."""

from __future__ import annotations

import pytest
from postalops.models import ApiToken, User
from postalops.testing import count_rows


@pytest.fixture
def admin(make_user, login):
    return login(make_user("root", "cn", "admin"))


def assert_error(resp, status, field=None):
    assert resp.status_code == status, resp.get_data(as_text=True)
    body = resp.json
    assert set(body["error"]) == {"code", "message", "details"}
    if field:
        fields = [d.get("field") for d in body["error"]["details"]]
        assert field in fields, fields


def test_malformed_json_is_400_and_writes_nothing(po_app, admin):
    before = count_rows(po_app, User)
    resp = admin.post("/api/v1/users", data="{not json", content_type="application/json")
    assert_error(resp, 400, "body")
    assert count_rows(po_app, User) == before


def test_wrong_types_are_422_naming_the_field(po_app, admin):
    before = count_rows(po_app, User)
    resp = admin.post(
        "/api/v1/users",
        json={"username": "x", "password": "long-enough-1", "unit": "cn", "roles": "ops"},
    )
    assert_error(resp, 422, "roles")
    assert count_rows(po_app, User) == before


def test_unknown_tenant_code_is_4xx(po_app, admin):
    before = count_rows(po_app, User)
    resp = admin.post(
        "/api/v1/users",
        json={"username": "x", "password": "long-enough-1", "unit": "cn.nowhere", "roles": ["ops"]},
    )
    assert_error(resp, 422, "unit")
    assert count_rows(po_app, User) == before
    assert_error(admin.get("/api/v1/metrics?tenant=cn.nowhere"), 404, "query.tenant")
    assert_error(admin.get("/api/v1/metrics?tenant=NOT A CODE"), 422, "query.tenant")
    assert_error(admin.put("/api/v1/tenants/cn.nowhere/plugins/core", json={"enabled": True}), 409)


def test_bad_dates_and_pagination_are_422(admin):
    assert_error(admin.get("/api/v1/metrics?from=2022-13-01"), 422, "query.from")
    assert_error(admin.get("/api/v1/metrics?from=2022-09-02&to=2022-09-01"), 422, "query.from")
    assert_error(admin.get("/api/v1/jobs?page=0"), 422, "query.page")
    assert_error(admin.get("/api/v1/jobs?per_page=abc"), 422, "query.per_page")


def test_oversized_body_is_413_in_error_format(po_app, admin):
    before = count_rows(po_app, ApiToken)
    big = "x" * (po_app.config["MAX_CONTENT_LENGTH"] + 1)
    resp = admin.post("/api/v1/tokens", data=big, content_type="application/json")
    assert_error(resp, 413)
    assert resp.json["error"]["code"] == "too_large"
    assert count_rows(po_app, ApiToken) == before


def test_unknown_permission_in_token_is_422_and_nothing_written(po_app, admin):
    before = count_rows(po_app, ApiToken)
    resp = admin.post(
        "/api/v1/tokens",
        json={"name": "t", "unit": "cn", "permissions": ["core.jobs.view", "no.such"]},
    )
    assert_error(resp, 422, "permissions")
    assert count_rows(po_app, ApiToken) == before


def test_unknown_route_and_method_are_json_errors(admin):
    assert_error(admin.get("/api/v1/nope"), 404)
    assert_error(admin.delete("/api/v1/tree"), 405)


def test_empty_body_is_400(admin):
    assert_error(
        admin.post("/api/v1/jobs/probe", data="", content_type="application/json"), 400, "body"
    )


def test_job_probe_bounds_are_validated(admin):
    assert_error(admin.post("/api/v1/jobs/probe", json={"steps": 0}), 422, "steps")
