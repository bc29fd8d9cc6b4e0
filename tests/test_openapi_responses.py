"""The core's operations document what they send (issue 15 §4): each answer below is checked
against the response schema /api/v1/openapi.json gives for its status, as schemathesis's
``response_schema_conformance`` does in ``make fuzz``; an operation without one fails here."""

from __future__ import annotations

import re

import pytest
from jsonschema import Draft202012Validator

CITY = "cn.henan.zhengzhou"


@pytest.fixture
def document(po_app, po_db):
    return po_app.test_client().get("/api/v1/openapi.json").json


def check(document, method, path, resp):
    """The body of ``resp`` matches the schema documented for ``method path`` and its status."""
    bare = path.split("?")[0]
    for doc_path, ops in document["paths"].items():
        pattern = re.sub(r"\{\w+\}", "[^/]+", doc_path)
        if re.fullmatch(pattern, bare) and method in ops:
            break
    else:
        raise AssertionError(f"{method.upper()} {path} is not documented")
    response = ops[method]["responses"].get(str(resp.status_code))
    assert response is not None, f"{method.upper()} {doc_path}: status {resp.status_code}"
    assert "content" in response, f"{method.upper()} {doc_path} documents no response body"
    schema = response["content"]["application/json"]["schema"]
    validator = Draft202012Validator(
        {**schema, "components": document["components"]},
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(resp.json)]
    assert not errors, (method.upper(), doc_path, errors[:5])


def test_core_operations_send_what_the_document_says(po_app, document, make_token):
    registry = po_app.extensions["postalops.plugins"]
    api = make_token("cn", *sorted({p.name for p in registry.permissions()}))

    def call(method, path, expect, **kw):
        resp = getattr(api, method)(path, **kw)
        assert resp.status_code == expect, (path, resp.get_data(as_text=True)[:500])
        check(document, method, path, resp)
        return resp.json

    call("get", "/api/v1/tree", 200)
    call("get", "/api/v1/plugins", 200)
    key = sorted(
        k
        for k, p in registry.plugins.items()
        if p.status == "loaded" and not registry.is_builtin(k)
    )[0]
    call("put", f"/api/v1/tenants/{CITY}/plugins/{key}", 200, json={"enabled": True})
    user = call(
        "post",
        "/api/v1/users",
        201,
        json={"username": "u1", "password": "long-enough", "unit": CITY, "roles": ["viewer"]},
    )
    call("patch", f"/api/v1/users/{user['id']}", 200, json={"active": False})
    call("get", "/api/v1/users", 200)
    token = call(
        "post",
        "/api/v1/tokens",
        201,
        json={
            "name": "t1",
            "unit": CITY,
            "permissions": ["core.tree.read"],
            "expires_at": "2030-01-01T00:00:00+08:00",
            "subject": "device:1",
        },
    )
    call("delete", f"/api/v1/tokens/{token['id']}", 200)
    call("get", "/api/v1/tokens", 200)
    call("get", "/api/v1/audit", 200)
    job = call("post", "/api/v1/jobs/probe", 202, json={"steps": 1, "delay_ms": 0})
    call("get", f"/api/v1/jobs/{job['id']}", 200)
    call("get", "/api/v1/jobs", 200)
    call("get", "/api/v1/metrics?from=2022-09-01&to=2022-09-30", 200)
    call("post", f"/api/v1/jobs/{job['id']}/cancel", 200)
