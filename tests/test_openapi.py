"""The OpenAPI document at /api/v1/openapi.json: a valid OpenAPI 3.1 document whose every
operation shows its own models (component names are per plugin, never shared by accident)."""

from __future__ import annotations

import pytest
from openapi_spec_validator import validate
from postalops.api import ApiBlueprint, component_prefix
from pydantic import TypeAdapter


@pytest.fixture
def document(po_app, po_db):
    resp = po_app.test_client().get("/api/v1/openapi.json")
    assert resp.status_code == 200
    return resp.json


def resolve(document, schema):
    while "$ref" in schema:
        name = schema["$ref"].removeprefix("#/components/schemas/")
        schema = document["components"]["schemas"][name]
    return schema


def operations(app):
    """(path, method, Operation) for every documented route, as build_openapi walks them."""
    import re

    prefixes = app.extensions["postalops.api_prefixes"]
    for bp_name, bp in app.blueprints.items():
        if isinstance(bp, ApiBlueprint):
            for op in bp.operations:
                path = prefixes[bp_name] + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", op.rule)
                for method in op.methods:
                    yield bp_name, path, method.lower(), op


def test_the_document_is_valid_openapi_3_1(document):
    assert document["openapi"].startswith("3.1")
    validate(document)  # raises OpenAPIValidationError naming the first problem


def test_every_ref_points_at_a_component(document):
    import json

    names = set(document["components"]["schemas"])
    refs = set()
    text = json.dumps(document)
    for chunk in text.split('"$ref": "')[1:]:
        refs.add(chunk.split('"', 1)[0])
    assert refs, "the document uses components"
    missing = sorted(r for r in refs if r.removeprefix("#/components/schemas/") not in names)
    assert not missing


def test_each_operation_documents_its_own_body_model(po_app, document):
    checked = 0
    for _, path, method, op in operations(po_app):
        if op.body is None:
            continue
        content = document["paths"][path][method]["requestBody"]["content"]
        shown = resolve(document, content["application/json"]["schema"])
        own = TypeAdapter(op.body).json_schema()
        if own.get("type") == "array":  # list[Model]: compare the items
            shown = resolve(document, shown["items"])
            own = own["$defs"][own["items"]["$ref"].rsplit("/", 1)[1]]
        assert set(shown.get("properties", {})) == set(own.get("properties", {})), (
            f"{method.upper()} {path} shows another model's schema"
        )
        checked += 1
    assert checked > 0


def test_component_names_are_unique_across_plugins(po_app, document):
    """Each component belongs to one plugin (its name starts with that plugin's prefix), and
    models of the same class name in two plugins are two components."""
    schemas = document["components"]["schemas"]
    prefixes = {
        component_prefix(name)
        for name, bp in po_app.blueprints.items()
        if isinstance(bp, ApiBlueprint)
    }
    for name in schemas:
        if name == "Error":
            continue
        owners = [p for p in prefixes if name.startswith(p)]
        assert owners, f"component {name} is not named after its plugin"
    installed = po_app.extensions["postalops.plugins"].plugins
    if {"ecommerce", "lending"} <= set(installed):
        eco = resolve(document, {"$ref": "#/components/schemas/EcommerceProductIn"})
        lend = resolve(document, {"$ref": "#/components/schemas/LendingProductIn"})
        assert "agreed_price" in eco["properties"] and "annual_rate" in lend["properties"]
        body = document["paths"]["/api/v1/ecommerce/products"]["post"]["requestBody"]
        items = resolve(document, body["content"]["application/json"]["schema"])["items"]
        assert "agreed_price" in resolve(document, items)["properties"]


def test_int_path_parameters_are_bounded(document):
    params = [
        p
        for item in document["paths"].values()
        for op in item.values()
        for p in op["parameters"]
        if p["in"] == "path" and p["schema"]["type"] == "integer"
    ]
    assert params
    assert all(p["schema"]["maximum"] == 2**31 - 1 for p in params)
