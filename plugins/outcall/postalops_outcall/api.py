"""Outcall's JSON API under ``/api/v1/outcall`` (listed in the OpenAPI document).

Views only translate HTTP to service calls and commit; every rule lives in the services and
the pure modules. Refusals raise domain errors before anything is committed.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Literal

from flask import Response, request
from postalops import context, webhooks
from postalops.api import ApiBlueprint, paginate, query_period, query_tenant
from postalops.db import in_scope_clause, utcnow
from postalops.errors import NotFound
from postalops.fields import WebhookUrl
from postalops.imports import read_upload
from postalops.models import WebhookDelivery
from pydantic import BaseModel, Field
from sqlmodel import select

from . import call_script, masking
from . import service as services
from .metrics import breakdown, daily
from .models import (
    OutcallAttempt,
    OutcallCase,
    OutcallCatalogueItem,
    OutcallOrder,
)

api = ApiBlueprint("outcall_api", __name__)


class CaseIn(BaseModel):
    """One approved case as the government platform sends it (Chinese headers also accepted)."""

    case_no: str = Field(
        description="the platform's case number (办件编号); intake is idempotent on it"
    )
    department: str
    service_item: str
    applicant_type: Literal["personal", "enterprise"]
    approval_level: Literal["municipal", "district"]
    applicant_name: str
    phone: str = Field(description="mainland mobile or landline")
    id_number: str = Field(description="18-character resident ID, GB 11643 checksum")
    approved_at: str = Field(description="ISO 8601; naive times are Asia/Shanghai")
    issuing_method: Literal["window", "mail"]
    old_certificate_return: bool = False
    ready_at: str | None = None
    collected_at: str | None = Field(
        default=None, description="set when collected at the window: closes the case"
    )


class AddressIn(BaseModel):
    province: str = ""
    city: str = ""
    district: str = ""
    detail: str = ""
    recipient: str = ""
    phone: str = ""


class OutcomeIn(BaseModel):
    outcome: (
        Literal["accepted", "declined", "no_answer", "busy", "wrong_number", "callback"] | None
    ) = Field(None, description="required unless a disposition is given (it maps to one)")
    disposition: str | None = Field(None, description="a code of the unit's disposition catalogue")
    callback_at: dt.datetime | None = None
    address: AddressIn | None = None
    note: str = ""
    started_at: dt.datetime | None = Field(
        None, description="when the call started (else the start recorded by the call buttons/CTI)"
    )
    ended_at: dt.datetime | None = None
    wrapup_seconds: int | None = Field(
        None, description="wrap-up after the call; default: from ended_at to now"
    )


class CatalogueEntryIn(BaseModel):
    department: str
    item: str
    participating: bool = True
    script: str | None = None


class SettingsIn(BaseModel):
    retry_delay_minutes: int | None = None
    max_attempts: int | None = None
    claim_minutes: int | None = None
    calling_start: str | None = None
    calling_end: str | None = None
    queue_days: int | None = None
    callback_hold_minutes: int | None = None
    webhook_url: WebhookUrl | None = None
    waybill_prefix: str | None = None


class RevealIn(BaseModel):
    reason: str = ""


def _aware(at: dt.datetime | None) -> dt.datetime | None:
    """A time without offset from a client is Guangzhou wall-clock time."""
    if at is not None and at.tzinfo is None:
        from zoneinfo import ZoneInfo

        return at.replace(tzinfo=ZoneInfo("Asia/Shanghai"))
    return at


def _agent() -> str:
    return context.principal().name


def _order_json(o: OutcallOrder, *, full: bool = False) -> dict[str, Any]:
    from .masking import mask_name, mask_phone

    return {
        "id": o.id,
        "tenant": o.tenant_code,
        "waybill_no": o.waybill_no,
        "source": o.source,
        "source_ref": o.source_ref,
        "case_id": o.case_id,
        "item": o.item,
        "sender": o.sender,
        "recipient": o.recipient if full else mask_name(o.recipient),
        "phone": o.phone if full else mask_phone(o.phone),
        "province": o.province,
        "city": o.city,
        "district": o.district,
        "detail": o.detail if full else "",
        "created_at": o.created_at,
    }


@api.operation(
    "/cases",
    methods=["POST"],
    body=list[CaseIn],
    files=True,
    permission="outcall.intake",
    summary="Intake a batch of approved cases (JSON list, CSV or XLSX); report per row",
)
def intake() -> Any:
    rows = read_upload()
    s = context.session()
    report = services.intake_cases(s, context.tenant(), rows)
    s.commit()
    return report, 200


@api.operation(
    "/cases", methods=["GET"], permission="outcall.view", summary="List cases (phone and ID masked)"
)
def list_cases() -> Any:
    tenant = query_tenant()
    stmt = select(OutcallCase).where(in_scope_clause(OutcallCase.tenant_code, tenant))
    if request.args.get("status"):
        stmt = stmt.where(OutcallCase.status == request.args["status"])
    if request.args.get("eligible") in ("true", "false"):
        stmt = stmt.where(OutcallCase.eligible.is_(request.args["eligible"] == "true"))
    if request.args.get("case_no"):
        stmt = stmt.where(OutcallCase.case_no == request.args["case_no"])
    stmt = stmt.order_by(OutcallCase.approved_at.desc(), OutcallCase.id.desc())
    return paginate(context.session(), stmt, masking.masked_case, plain=True)


@api.operation(
    "/cases/<int:case_id>",
    methods=["GET"],
    permission="outcall.view",
    summary="One case with its rules, attempts and order",
)
def get_case(case_id: int) -> Any:
    s = context.session()
    case = services.get_case(s, context.tenant(), case_id)
    attempts = s.exec(
        select(OutcallAttempt).where(OutcallAttempt.case_id == case.id).order_by(OutcallAttempt.at)
    ).all()
    order = s.exec(select(OutcallOrder).where(OutcallOrder.case_id == case.id)).first()
    out = masking.masked_case(case)
    out["attempts_log"] = [
        {
            "at": a.at,
            "agent": a.agent,
            "outcome": a.outcome,
            "callback_at": a.callback_at,
            "note": a.note,
        }
        for a in attempts
    ]
    out["order"] = _order_json(order) if order else None
    return out


@api.operation(
    "/cases/<int:case_id>/reveal",
    methods=["POST"],
    body=RevealIn,
    permission="outcall.reveal",
    summary="Reveal a case's full phone and ID number (writes an audit record)",
)
def reveal(case_id: int, body: RevealIn) -> Any:
    s = context.session()
    out = services.reveal(s, context.tenant(), case_id, actor=_agent(), reason=body.reason)
    s.commit()
    return out


def _active_call(case: OutcallCase) -> dict[str, Any]:
    """What the agent sees on the active call: full numbers, the call script, the rules."""
    out = masking.masked_case(case, full=True)
    out["script"] = call_script.for_case(context.session(), case)
    return out


@api.operation(
    "/queue/claim",
    methods=["POST"],
    permission="outcall.call",
    summary="Claim the next callable case (or the one you hold)",
)
def claim() -> Any:
    s = context.session()
    case = services.claim_next(s, context.tenant(), _agent())
    s.commit()
    if case is None:
        return {
            "case": None,
            "message": "no callable case now (empty queue or outside calling hours)",
        }
    return {"case": _active_call(case)}


@api.operation(
    "/cases/<int:case_id>/outcome",
    methods=["POST"],
    body=OutcomeIn,
    permission="outcall.call",
    summary="Record the outcome of your call on a case you hold; accepted creates the mail order",
)
def outcome(case_id: int, body: OutcomeIn) -> Any:
    from .call_flow import record_call

    s = context.session()
    done = record_call(
        s,
        context.tenant(),
        case_id,
        _agent(),
        outcome=body.outcome,
        disposition=body.disposition,
        started_at=_aware(body.started_at),
        ended_at=_aware(body.ended_at),
        wrapup_seconds=body.wrapup_seconds,
        callback_at=_aware(body.callback_at),
        address=body.address.model_dump() if body.address else None,
        note=body.note,
        now=utcnow(),
    )
    s.commit()
    case, order = done.case, done.order
    result: dict[str, Any] = {
        "case": masking.masked_case(case),
        "order": None,
        "offer_opt_out": done.offer_opt_out,
    }
    if order is not None:
        result["order"] = _order_json(order, full=True)
    return result


@api.operation(
    "/cases/<int:case_id>/release",
    methods=["POST"],
    permission="outcall.call",
    summary="Give back a claimed case without calling",
)
def release(case_id: int) -> Any:
    s = context.session()
    services.release_claim(s, context.tenant(), case_id, _agent())
    s.commit()
    return {"released": case_id}


@api.operation(
    "/catalogue",
    methods=["GET"],
    permission="outcall.view",
    summary="The unit's departments and service items",
)
def get_catalogue() -> Any:
    rows = (
        context.session()
        .exec(
            select(OutcallCatalogueItem)
            .where(OutcallCatalogueItem.tenant_code == context.tenant())
            .order_by(OutcallCatalogueItem.department, OutcallCatalogueItem.item)
        )
        .all()
    )
    return {
        "items": [
            {
                "department": r.department,
                "item": r.item,
                "participating": r.participating,
                "script": r.script,
            }
            for r in rows
        ]
    }


@api.operation(
    "/catalogue",
    methods=["PUT"],
    body=list[CatalogueEntryIn],
    permission="outcall.manage",
    summary="Add or update catalogue entries (audited)",
)
def put_catalogue(body: list[CatalogueEntryIn]) -> Any:
    s = context.session()
    out = services.save_catalogue_entries(
        s, context.tenant(), [e.model_dump() for e in body], actor=_agent()
    )
    s.commit()
    return out


def _deprecated(body: dict[str, Any], successor: str) -> Any:
    from flask import jsonify

    resp = jsonify(json.loads(json.dumps(body, default=str)))
    resp.headers["Deprecation"] = "true"
    resp.headers["Link"] = f'<{successor}>; rel="successor-version"'
    return resp


@api.operation(
    "/settings",
    methods=["GET"],
    permission="outcall.view",
    summary="Deprecated: the unit's queue policy and webhook "
    "(use /api/v1/settings/outcall and /api/v1/webhooks/endpoints)",
)
def get_settings() -> Any:
    view = services.settings_view(context.session(), context.tenant())
    return _deprecated(view, "/api/v1/settings/outcall")


@api.operation(
    "/settings",
    methods=["PATCH"],
    body=SettingsIn,
    permission="outcall.manage",
    summary="Deprecated: change the queue policy or webhook (audited; "
    "use /api/v1/settings/outcall and /api/v1/webhooks/endpoints)",
)
def patch_settings(body: SettingsIn) -> Any:
    """A field left out or sent as null stays as it is (the platform's PATCH convention), except
    ``webhook_url: null``, which removes the webhook."""
    s = context.session()
    changes = {
        k: v
        for k, v in body.model_dump(exclude_unset=True).items()
        if v is not None or k == "webhook_url"
    }
    view = services.update_settings(s, context.tenant(), changes, actor=_agent())
    s.commit()
    return _deprecated(view, "/api/v1/settings/outcall")


@api.operation(
    "/orders",
    methods=["GET"],
    permission="outcall.view",
    summary="Government-mail orders (recipient masked)",
)
def list_orders() -> Any:
    tenant = query_tenant()
    stmt = (
        select(OutcallOrder)
        .where(in_scope_clause(OutcallOrder.tenant_code, tenant))
        .order_by(OutcallOrder.created_at.desc(), OutcallOrder.id.desc())
    )
    if request.args.get("source"):
        stmt = stmt.where(OutcallOrder.source == request.args["source"])
    return paginate(context.session(), stmt, _order_json)


def _notification_json(s: Any, d: Any) -> dict[str, Any]:
    out = webhooks.delivery_json(s, d)
    return {"case_no": webhooks.payload_of(s, d).get("case_no"), **out}


@api.operation(
    "/notifications",
    methods=["GET"],
    permission="outcall.view",
    summary="Platform notifications (the core's deliveries of outcall.* events) and their tries",
)
def list_notifications() -> Any:
    s = context.session()
    stmt = webhooks.deliveries_of("outcall.").order_by(WebhookDelivery.id.desc())
    if request.args.get("status"):
        stmt = stmt.where(WebhookDelivery.status == request.args["status"])
    return paginate(s, stmt, lambda d: _notification_json(s, d))


@api.operation(
    "/notifications/<int:notification_id>/retry",
    methods=["POST"],
    permission="outcall.manage",
    summary="Deprecated: send a notification again now "
    "(use POST /api/v1/webhooks/deliveries/{id}/replay)",
)
def retry_notification(notification_id: int) -> Any:
    s = context.session()
    d = s.get(WebhookDelivery, notification_id)
    if d is None or not d.event_type.startswith("outcall."):
        raise NotFound(f"no notification {notification_id}", details=[{"field": "notification_id"}])
    webhooks.replay(s, notification_id, actor=_agent())
    s.commit()
    return {"id": notification_id, "status": "pending"}


@api.operation(
    "/export.csv",
    methods=["GET"],
    permission="outcall.export",
    summary="Export cases as CSV (name, phone, ID masked)",
)
def export_csv() -> Any:
    tenant = query_tenant()
    rows = context.session().exec(
        select(OutcallCase)
        .where(in_scope_clause(OutcallCase.tenant_code, tenant))
        .order_by(OutcallCase.id)
    )
    return Response(
        masking.export_cases_csv(rows),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f"attachment; filename=outcall-{tenant}-{utcnow():%Y%m%d}.csv"
        },
    )


@api.operation(
    "/mail-volume",
    methods=["GET"],
    permission="outcall.view",
    summary="Government-mail orders per unit and source in a period",
)
def mail_volume() -> Any:
    tenant = query_tenant()
    frm, to = query_period()
    return {
        "tenant": tenant,
        "from": frm,
        "to": to,
        **services.mail_volume(context.session(), tenant, frm, to),
    }


@api.operation(
    "/breakdown",
    methods=["GET"],
    permission="outcall.view",
    summary="Calls and success by department, service_item or agent; and per day",
)
def get_breakdown() -> Any:
    tenant = query_tenant()
    frm, to = query_period()
    by = request.args.get("by", "department")
    if by == "day":
        return {"items": daily(context.session(), tenant, frm, to)}
    if by not in ("department", "service_item", "agent"):
        from postalops.errors import ValidationError

        raise ValidationError(
            "by must be department, service_item, agent or day", details=[{"field": "query.by"}]
        )
    return {"items": breakdown(context.session(), tenant, frm, to, by)}
