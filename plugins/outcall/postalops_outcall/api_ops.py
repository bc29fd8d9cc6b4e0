"""The API of the supervisor's live view and the fair dialler (issue 20 §2), on outcall's
blueprint (``/api/v1/outcall``): do-not-call, agent states and call times, click-to-dial,
dispositions, handle-time statistics and the live snapshot."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from flask import request
from postalops import context
from postalops.api import paginate, query_period, query_tenant
from postalops.db import in_scope_clause, utcnow
from pydantic import BaseModel, Field
from sqlmodel import select

from . import call_flow, cti, dispositions, dnc, handle_time, live
from . import service as services
from .api import _agent, _aware, api
from .models import OutcallDoNotCall


class DncIn(BaseModel):
    phone: str
    reason: Literal["opt_out", "complaint", "wrong_person", "other"]
    expires_at: dt.datetime | None = Field(None, description="none: for good")
    note: str = ""


class StateIn(BaseModel):
    state: Literal["available", "paused"]
    pause_code: Literal["break", "meal", "training", "meeting", "admin"] | None = None


class DispositionIn(BaseModel):
    code: str
    label: str
    outcome: Literal["accepted", "declined", "no_answer", "busy", "wrong_number", "callback"]
    active: bool = True


class CtiConfigIn(BaseModel):
    url: str
    auth: Literal["token", "hmac"] = "token"
    secret: str = Field(description="Bearer token or HMAC key the provider expects")
    caller_id: str = ""
    enabled: bool = True


class CtiEventIn(BaseModel):
    call_ref: str
    event: Literal["started", "ended"]
    at: dt.datetime | None = Field(None, description="default: when received")
    recording_ref: str | None = None


# --- do-not-call ------------------------------------------------------------------------------


@api.operation(
    "/dnc", methods=["GET"], permission="outcall.view", summary="The do-not-call list (masked)"
)
def list_dnc() -> Any:
    tenant = query_tenant()
    stmt = (
        select(OutcallDoNotCall)
        .where(in_scope_clause(OutcallDoNotCall.tenant_code, tenant))
        .order_by(OutcallDoNotCall.created_at.desc(), OutcallDoNotCall.id.desc())
    )
    if request.args.get("active") == "true":
        stmt = stmt.where(dnc.active(utcnow()))
    return paginate(context.session(), stmt, dnc.entry_json)


@api.operation(
    "/dnc",
    methods=["POST"],
    body=DncIn,
    permission="outcall.manage",
    status=201,
    summary="Put a number on the do-not-call list (or renew it); audited",
)
def add_dnc(body: DncIn) -> Any:
    s = context.session()
    row = dnc.add(s, context.tenant(), body.model_dump(), actor=_agent(), now=utcnow())
    s.commit()
    return dnc.entry_json(row)


@api.operation(
    "/dnc/<int:entry_id>",
    methods=["DELETE"],
    permission="outcall.manage",
    summary="Take a number off the do-not-call list; audited",
)
def delete_dnc(entry_id: int) -> Any:
    s = context.session()
    dnc.remove(s, context.tenant(), entry_id, actor=_agent())
    s.commit()
    return {"deleted": entry_id}


@api.operation(
    "/cases/<int:case_id>/opt-out",
    methods=["POST"],
    permission="outcall.call",
    status=201,
    summary="The applicant asks not to be called again: their number joins the list",
)
def opt_out(case_id: int) -> Any:
    s = context.session()
    row = call_flow.opt_out(s, context.tenant(), case_id, actor=_agent(), now=utcnow())
    s.commit()
    return dnc.entry_json(row)


# --- the agent's state and call times -----------------------------------------------------------


def _state_json(row: Any) -> dict[str, Any]:
    return {
        "agent": row.agent,
        "state": row.state,
        "pause_code": row.pause_code,
        "since": row.since,
        "case_id": row.case_id,
        "call_started_at": row.call_started_at,
        "call_ended_at": row.call_ended_at,
    }


@api.operation(
    "/agents/me", methods=["GET"], permission="outcall.call", summary="Your state as an agent"
)
def my_state() -> Any:
    s = context.session()
    row = live.state_of(s, context.tenant(), _agent(), utcnow())
    s.commit()
    return _state_json(row)


@api.operation(
    "/agents/me/state",
    methods=["PUT"],
    body=StateIn,
    permission="outcall.call",
    summary="Make yourself available, or pause with a pause code",
)
def put_state(body: StateIn) -> Any:
    s = context.session()
    row = live.set_state(
        s, context.tenant(), _agent(), body.state, pause_code=body.pause_code, now=utcnow()
    )
    s.commit()
    return _state_json(row)


def _held(case_id: int) -> Any:
    now = utcnow()
    return services._claimed_case(context.session(), context.tenant(), case_id, _agent(), now)


@api.operation(
    "/cases/<int:case_id>/call/start",
    methods=["POST"],
    permission="outcall.call",
    summary="The call on a case you hold starts (you are on call)",
)
def call_start(case_id: int) -> Any:
    s = context.session()
    case = _held(case_id)
    row = live.call_started(s, context.tenant(), _agent(), case.id, utcnow())
    s.commit()
    return _state_json(row)


@api.operation(
    "/cases/<int:case_id>/call/end",
    methods=["POST"],
    permission="outcall.call",
    summary="The call ends (you are in wrap-up until you save the outcome)",
)
def call_end(case_id: int) -> Any:
    s = context.session()
    case = _held(case_id)
    row = live.call_ended(s, context.tenant(), _agent(), case.id, utcnow())
    s.commit()
    return _state_json(row)


# --- click-to-dial ------------------------------------------------------------------------------


@api.operation(
    "/cti",
    methods=["GET"],
    permission="outcall.view",
    summary="The unit's telephony provider for click-to-dial (null: agents dial by hand)",
)
def get_cti() -> Any:
    return {"provider": cti.config_json(cti.config_for(context.session(), context.tenant()))}


@api.operation(
    "/cti",
    methods=["PUT"],
    body=CtiConfigIn,
    permission="outcall.manage",
    summary="Set the unit's telephony provider (token or HMAC-signed requests); audited",
)
def put_cti(body: CtiConfigIn) -> Any:
    s = context.session()
    row = cti.save_config(s, context.tenant(), body.model_dump(), actor=_agent(), now=utcnow())
    s.commit()
    return {"provider": cti.config_json(row)}


@api.operation(
    "/cases/<int:case_id>/dial",
    methods=["POST"],
    permission="outcall.call",
    summary="Click-to-dial: the provider calls the applicant of a case you hold (409 no_cti "
    "without a provider: dial by hand)",
)
def dial(case_id: int) -> Any:
    s = context.session()
    case = _held(case_id)
    call = cti.place_call(
        s,
        context.tenant(),
        case,
        _agent(),
        callback_url=request.host_url.rstrip("/") + "/api/v1/outcall/cti/events",
        now=utcnow(),
    )
    s.commit()
    return cti.call_json(call)


@api.operation(
    "/cti/events",
    methods=["POST"],
    body=CtiEventIn,
    permission="outcall.cti",
    summary="The telephony provider reports a call's start or end and its recording",
)
def cti_event(body: CtiEventIn) -> Any:
    s = context.session()
    call = cti.record_event(
        s,
        body.call_ref,
        body.event,
        at=_aware(body.at) or utcnow(),
        recording_ref=body.recording_ref,
    )
    s.commit()
    return cti.call_json(call)


# --- dispositions -------------------------------------------------------------------------------


@api.operation(
    "/dispositions",
    methods=["GET"],
    permission="outcall.view",
    summary="The unit's dispositions and the outcome each maps to",
)
def get_dispositions() -> Any:
    rows = dispositions.catalogue(context.session(), context.tenant())
    return {"items": [dispositions.entry_json(r) for r in rows]}


@api.operation(
    "/dispositions",
    methods=["PUT"],
    body=list[DispositionIn],
    permission="outcall.manage",
    summary="Add or update dispositions by code; audited",
)
def put_dispositions(body: list[DispositionIn]) -> Any:
    s = context.session()
    out = dispositions.save(s, context.tenant(), [e.model_dump() for e in body], actor=_agent())
    s.commit()
    return out


# --- statistics and the live view ----------------------------------------------------------------


@api.operation(
    "/stats",
    methods=["GET"],
    permission="outcall.view",
    summary="Handle time, attempts per conversion and conversion by hour, for the queue and "
    "each agent (?from=&to=&tenant=)",
)
def stats() -> Any:
    frm, to = query_period()
    return handle_time.period_stats(context.session(), query_tenant(), frm, to)


@api.operation(
    "/live",
    methods=["GET"],
    permission="outcall.supervise",
    summary="The supervisor's live view: agents' states, queue depth, oldest waiting case, "
    "callbacks due in the next hour, service level",
)
def live_view() -> Any:
    s, tenant = context.session(), query_tenant()
    hours = services.get_settings(s, tenant).service_level_hours
    return live.snapshot(s, tenant, utcnow(), hours=hours)
