"""``/api/v1/webhooks``: endpoints, the delivery log and replay (``postalops.webhooks``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import request
from pydantic import BaseModel, Field
from sqlmodel import select

from postalops import context, webhooks
from postalops.api import ApiBlueprint, paginate
from postalops.db import in_scope_clause
from postalops.models import WebhookDelivery, WebhookEndpoint

api = ApiBlueprint("core_webhooks_api", __name__)
MANAGE = "core.webhooks.manage"
TAGS = ["webhooks"]


class EndpointIn(BaseModel):
    url: str = Field(min_length=1, max_length=500, description="http(s) URL events are POSTed to")
    event_types: list[str] = Field(
        min_length=1, description="types to receive: exact, `outcall.*` (a prefix) or `*`"
    )
    unit: str | None = Field(
        default=None, max_length=200, description="unit code (default: your active unit)"
    )
    active: bool = True
    description: str = Field(default="", max_length=200)


class EndpointPatch(BaseModel):
    url: str | None = Field(default=None, max_length=500)
    event_types: list[str] | None = None
    active: bool | None = None
    description: str | None = Field(default=None, max_length=200)
    rotate_secret: bool = False


class EndpointOut(BaseModel):
    id: int
    unit: str
    url: str
    event_types: list[str]
    active: bool
    description: str
    created_at: dt.datetime
    created_by: str | None
    secret: str | None = Field(
        default=None, description="only when created or rotated: keep it, it is not shown again"
    )


class EndpointPage(BaseModel):
    items: list[EndpointOut]
    page: int
    per_page: int
    total: int


class TryOut(BaseModel):
    try_: int = Field(alias="try")
    at: dt.datetime
    status_code: int | None
    latency_ms: int | None
    ok: bool
    error: str | None
    replay: bool


class DeliveryOut(BaseModel):
    id: int
    event_id: str | None
    event_type: str
    unit: str | None
    endpoint_id: int
    url: str | None
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: dt.datetime | None
    delivered_at: dt.datetime | None
    created_at: dt.datetime
    tries: list[TryOut] = []


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]
    page: int
    per_page: int
    total: int


@api.operation(
    "/webhooks/endpoints",
    summary="Webhook endpoints of your active unit's subtree (secrets never shown)",
    permission=MANAGE,
    tags=TAGS,
    response=EndpointPage,
)
def list_endpoints() -> Any:
    stmt = (
        select(WebhookEndpoint)
        .where(in_scope_clause(WebhookEndpoint.unit_code, context.tenant()))
        .order_by(WebhookEndpoint.unit_code, WebhookEndpoint.id)
    )
    return paginate(context.session(), stmt, webhooks.endpoint_json)


@api.operation(
    "/webhooks/endpoints",
    methods=["POST"],
    body=EndpointIn,
    permission=MANAGE,
    tags=TAGS,
    status=201,
    summary="Add an endpoint; the answer holds its signing secret, shown this once",
    response=EndpointOut,
)
def create_endpoint(body: EndpointIn) -> Any:
    s = context.session()
    row = webhooks.create_endpoint(
        s,
        body.unit or context.tenant(),
        body.url,
        body.event_types,
        active=body.active,
        description=body.description,
        actor=context.principal().name,
    )
    s.commit()
    return {**webhooks.endpoint_json(row), "secret": row.secret}


@api.operation(
    "/webhooks/endpoints/<int:endpoint_id>",
    methods=["PATCH"],
    body=EndpointPatch,
    permission=MANAGE,
    tags=TAGS,
    summary="Change an endpoint, switch it off or on, or rotate its secret (audited)",
    response=EndpointOut,
)
def patch_endpoint(endpoint_id: int, body: EndpointPatch) -> Any:
    s = context.session()
    row, secret = webhooks.update_endpoint(
        s, endpoint_id, body.model_dump(exclude_unset=True), actor=context.principal().name
    )
    s.commit()
    return {**webhooks.endpoint_json(row), "secret": secret}


@api.operation(
    "/webhooks/deliveries",
    summary="The delivery log: each event sent to each endpoint, with every try "
    "(?status=, ?event_type=, ?endpoint=)",
    permission=MANAGE,
    tags=TAGS,
    response=DeliveryPage,
)
def list_deliveries() -> Any:
    s = context.session()
    stmt = select(WebhookDelivery).order_by(WebhookDelivery.id.desc())
    if request.args.get("status"):
        stmt = stmt.where(WebhookDelivery.status == request.args["status"])
    if request.args.get("event_type"):
        stmt = stmt.where(WebhookDelivery.event_type == request.args["event_type"])
    if (request.args.get("endpoint") or "").isdigit():
        stmt = stmt.where(WebhookDelivery.endpoint_id == int(request.args["endpoint"]))
    return paginate(s, stmt, lambda d: webhooks.delivery_json(s, d))


@api.operation(
    "/webhooks/deliveries/<int:delivery_id>/replay",
    methods=["POST"],
    permission=MANAGE,
    tags=TAGS,
    status=202,
    summary="Send a delivered or failed delivery again now (409 while it is still being tried)",
    response=DeliveryOut,
)
def replay_delivery(delivery_id: int) -> Any:
    s = context.session()
    d = webhooks.replay(s, delivery_id, actor=context.principal().name)
    s.commit()
    return webhooks.delivery_json(s, d)
