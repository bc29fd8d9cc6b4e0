"""The pickup_points API, mounted at ``/api/v1/pickup_points`` and listed in the OpenAPI document.

Rows always belong to the caller's active unit (never to a unit named in the body); list
endpoints take ``?tenant=<code>`` within the caller's scope and ``?from=&to=`` periods.
Imports validate every row and write nothing when any row is bad (422, rows named).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from flask import request
from postalops import clock, context
from postalops import jobs as po_jobs
from postalops.api import ApiBlueprint, paginate, parse_date, query_period, query_tenant
from postalops.db import in_scope_clause
from postalops.errors import BadRequest, NotFound, ValidationError
from pydantic import BaseModel, Field
from sqlmodel import select

from . import service
from .area_import import read_rows, validate_area_row, validate_point_row, validate_rows
from .counter_handover import handover_share, trend
from .models import PickupArea, PickupPoint, PickupSitingScenario
from .permissions import CONFIGURE, DIRECT, MANAGE, RECORD, VIEW
from .points import AreaCategory, PointType
from .service import PromoteIn, SitingParams
from .service_quality import rollup_by_unit
from .site_suggestion import Candidate

api = ApiBlueprint("pickup_points_api", __name__)
TAGS = ["pickup_points"]


def _today() -> dt.date:
    return clock.today()


def _day_arg(name: str = "day") -> dt.date:
    return parse_date(request.args.get(name), name) or _today()


def _upload_rows() -> list[tuple[int, dict[str, Any]]]:
    """Rows from a multipart file (CSV, XLSX, GeoJSON) or a JSON / GeoJSON body."""
    if request.files:
        f = request.files.get("file")
        if f is None:
            raise BadRequest(
                "multipart upload needs a 'file' part",
                details=[{"field": "file", "message": "missing"}],
            )
        data = f.read()
        name = (f.filename or "").lower()
        if name.endswith((".geojson", ".json")):
            fmt = "geojson"
        elif name.endswith(".xlsx") or data[:2] == b"PK":
            fmt = "xlsx"
        else:
            fmt = "csv"
        return read_rows(data, fmt)
    data = request.get_data()
    if not data:
        raise BadRequest(
            "empty body", code="empty_body", details=[{"field": "body", "message": "required"}]
        )
    if (request.mimetype or "") in ("text/csv", "application/csv"):
        return read_rows(data, "csv")
    return read_rows(data, "geojson")


def _dry_run() -> bool:
    return request.args.get("dry_run") in ("1", "true", "yes")


# --- areas and points ---------------------------------------------------------------------------


class AreaOut(BaseModel):
    id: int
    code: str
    name: str
    category: AreaCategory
    county: str
    tenant_code: str
    lon: float
    lat: float
    households: int
    covered: bool | None = None


@api.operation("/areas", summary="List service areas (paginated)", permission=VIEW, tags=TAGS)
def list_areas():
    """Service areas under ``?tenant`` (default: your unit); ``?category=`` filters."""
    tenant = query_tenant()
    stmt = select(PickupArea).where(in_scope_clause(PickupArea.tenant_code, tenant))
    category = request.args.get("category")
    if category:
        if category not in {c.value for c in AreaCategory}:
            raise ValidationError(
                "unknown category", details=[{"field": "query.category", "message": "unknown"}]
            )
        stmt = stmt.where(PickupArea.category == category)
    stmt = stmt.order_by(PickupArea.tenant_code, PickupArea.code)
    return paginate(
        context.session(),
        stmt,
        lambda a: AreaOut.model_validate(a, from_attributes=True).model_dump(),
    )


@api.operation(
    "/areas/import",
    methods=["POST"],
    summary="Import service areas (CSV, XLSX, GeoJSON or JSON), reporting per row",
    permission=MANAGE,
    files=True,
    tags=TAGS,
)
def import_areas():
    """All-or-nothing: any bad row → 422 naming each row and field; ``?dry_run=1`` only checks."""
    report = validate_rows(_upload_rows(), validate_area_row)
    s = context.session()
    service.check_counties(s, context.tenant(), report)  # reported with the shape errors
    if _dry_run():
        return report.to_dict()
    result = service.import_areas(s, context.tenant(), report)
    s.commit()
    return {
        "summary": {"created": result["created"], "updated": result["updated"]},
        "rows": result["rows"],
    }


class PointOut(BaseModel):
    id: int
    code: str
    name: str
    point_type: PointType
    status: str
    county: str
    tenant_code: str
    lon: float
    lat: float
    operator: str | None = None
    capacity: int | None = None
    opening_hours: dict | None = None
    agent_fee: str | None = None
    direct_since: dt.date | None = None


def _point_out(p: PickupPoint) -> dict[str, Any]:
    data = PointOut.model_validate(
        {**p.model_dump(), "agent_fee": str(p.agent_fee) if p.agent_fee is not None else None}
    )
    return data.model_dump(mode="json")


@api.operation("/points", summary="List pickup points (paginated)", permission=VIEW, tags=TAGS)
def list_points():
    """Points under ``?tenant``; ``?status=`` and ``?type=`` filter."""
    tenant = query_tenant()
    stmt = select(PickupPoint).where(in_scope_clause(PickupPoint.tenant_code, tenant))
    if request.args.get("status"):
        stmt = stmt.where(PickupPoint.status == request.args["status"])
    if request.args.get("type"):
        stmt = stmt.where(PickupPoint.point_type == request.args["type"])
    stmt = stmt.order_by(PickupPoint.tenant_code, PickupPoint.code)
    return paginate(context.session(), stmt, _point_out)


@api.operation(
    "/points/import",
    methods=["POST"],
    summary="Import pickup points (CSV, XLSX, GeoJSON or JSON), reporting per row",
    permission=MANAGE,
    files=True,
    tags=TAGS,
)
def import_points():
    """All-or-nothing; a changed status or type is written to the point's history."""
    report = validate_rows(_upload_rows(), validate_point_row)
    s = context.session()
    service.check_counties(s, context.tenant(), report)  # reported with the shape errors
    if _dry_run():
        return report.to_dict()
    who = context.principal().name
    result = service.import_points(s, context.tenant(), report, who, _today())
    s.commit()
    return {
        "summary": {"created": result["created"], "updated": result["updated"]},
        "rows": result["rows"],
    }


class StatusIn(BaseModel):
    status: str = Field(description="active, suspended or closed")
    effective: dt.date | None = None


@api.operation(
    "/points/<int:point_id>/status",
    methods=["POST"],
    body=StatusIn,
    summary="Suspend, close or reactivate a point (audited)",
    permission=MANAGE,
    tags=TAGS,
)
def set_status(point_id: int, body: StatusIn):
    s = context.session()
    point = service.set_status(
        s, point_id, body.status, body.effective or _today(), context.principal().name
    )
    s.commit()
    return _point_out(point)


@api.operation(
    "/points/<code>/state",
    summary="A point's type and status on a date (?day=YYYY-MM-DD)",
    permission=VIEW,
    tags=TAGS,
)
def point_state(code: str):
    state = service.point_state(context.session(), query_tenant(), code, _day_arg())
    if state is None:
        raise NotFound(f"no pickup point {code!r} on that day", details=[{"field": "code"}])
    return state


@api.operation(
    "/active-points", summary="Active points on a date (?day=)", permission=VIEW, tags=TAGS
)
def active_points():
    return {"items": service.active_points(context.session(), query_tenant(), _day_arg())}


class AssignmentIn(BaseModel):
    area_id: int
    point_id: int


@api.operation(
    "/assignments",
    methods=["POST"],
    body=AssignmentIn,
    summary="Assign a point to serve an area",
    permission=MANAGE,
    status=201,
    tags=TAGS,
)
def assign(body: AssignmentIn):
    s = context.session()
    row = service.assign(s, body.area_id, body.point_id)
    s.commit()
    return {"id": row.id, "area_id": row.area_id, "point_id": row.point_id}


# --- coverage -----------------------------------------------------------------------------------


@api.operation(
    "/coverage", summary="Coverage table per unit and category (?day=)", permission=VIEW, tags=TAGS
)
def coverage():
    tenant = query_tenant()
    return {
        "tenant": tenant,
        "items": service.coverage_table(context.session(), tenant, _day_arg()),
    }


@api.operation(
    "/coverage/uncovered",
    summary="Uncovered areas with their nearest points (?day=&k=3)",
    permission=VIEW,
    tags=TAGS,
)
def uncovered():
    k = request.args.get("k", "3")
    if not k.isdigit() or not 1 <= int(k) <= 10:
        raise ValidationError("k must be 1..10", details=[{"field": "query.k", "message": "1..10"}])
    tenant = query_tenant()
    return {"items": service.uncovered_list(context.session(), tenant, _day_arg(), int(k))}


class CandidateIn(BaseModel):
    id: str = Field(min_length=1, max_length=64)
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)


class SuggestIn(BaseModel):
    candidates: list[CandidateIn] = Field(min_length=1, max_length=20000)
    limit: int = Field(ge=1, le=1000)
    day: dt.date | None = None


@api.operation(
    "/coverage/suggest",
    methods=["POST"],
    body=SuggestIn,
    summary="New-site suggestions: greedy maximal covering of uncovered households",
    permission=VIEW,
    tags=TAGS,
)
def suggest(body: SuggestIn):
    tenant = query_tenant()
    candidates = [Candidate(c.id, c.lon, c.lat) for c in body.candidates]
    picked = service.suggest(
        context.session(), tenant, body.day or _today(), candidates, body.limit
    )
    return {"items": picked}


class DayIn(BaseModel):
    day: dt.date | None = None


@api.operation(
    "/coverage/recompute",
    methods=["POST"],
    body=DayIn,
    summary="Recompute and store coverage for your unit (tracked job)",
    permission=MANAGE,
    status=202,
    tags=TAGS,
)
def recompute(body: DayIn):
    day = body.day or _today()
    job = po_jobs.submit("pickup_points.recompute_coverage", {"day": day.isoformat()})
    return {"job_id": job.id, "status": job.status}


# --- item flow ----------------------------------------------------------------------------------


@api.operation(
    "/items",
    methods=["POST"],
    summary="Record item arrivals and events (CSV, XLSX or JSON rows; idempotent by waybill)",
    permission=RECORD,
    files=True,
    tags=TAGS,
)
def record_items():
    s = context.session()
    result = service.record_items(s, context.tenant(), _upload_rows())
    s.commit()
    return result


@api.operation(
    "/volumes",
    methods=["POST"],
    summary="Record daily inbound volumes per point (and counter handovers)",
    permission=RECORD,
    files=True,
    tags=TAGS,
)
def record_volumes():
    s = context.session()
    result = service.record_daily_volumes(s, context.tenant(), _upload_rows())
    s.commit()
    return result


@api.operation(
    "/city-volumes",
    methods=["POST"],
    summary="Record the city's daily urban delivery volume (denominator of the diverted share)",
    permission=RECORD,
    files=True,
    tags=TAGS,
)
def record_city_volumes():
    s = context.session()
    result = service.record_city_volumes(s, context.tenant(), _upload_rows())
    s.commit()
    return result


class ComplaintIn(BaseModel):
    point_id: int
    day: dt.date
    note: str = Field(default="", max_length=500)


@api.operation(
    "/complaints",
    methods=["POST"],
    body=ComplaintIn,
    summary="Record a complaint against a point",
    permission=RECORD,
    status=201,
    tags=TAGS,
)
def complaint(body: ComplaintIn):
    s = context.session()
    service.record_complaint(s, service.get_point(s, body.point_id), body.day, body.note)
    s.commit()
    return {"ok": True}


@api.operation(
    "/quality",
    summary="Service-quality figures per point and rolled up (?from=&to=)",
    permission=VIEW,
    tags=TAGS,
)
def quality():
    tenant = query_tenant()
    frm, to = query_period()
    s = context.session()
    per_point = service.quality_by_point(s, tenant, frm, to)
    units = dict(
        s.exec(
            select(PickupPoint.id, PickupPoint.tenant_code).where(
                in_scope_clause(PickupPoint.tenant_code, tenant)
            )
        ).all()
    )
    codes = dict(
        s.exec(
            select(PickupPoint.id, PickupPoint.code).where(
                in_scope_clause(PickupPoint.tenant_code, tenant)
            )
        ).all()
    )

    def out(f):
        return {
            **{k: getattr(f, k) for k in f.__dataclass_fields__},
            "feedback_compliance": _s(f.feedback_compliance),
            "uncollected_rate": _s(f.uncollected_rate),
        }

    rolled = rollup_by_unit({p: f for p, f in per_point.items() if p in units}, units)
    return {
        "from": frm.isoformat(),
        "to": to.isoformat(),
        "points": [
            {"point_id": p, "code": codes.get(p), **out(f)} for p, f in sorted(per_point.items())
        ],
        "units": {
            u: out(f)
            for u, f in sorted(rolled.items())
            if u == tenant or u.startswith(tenant + ".")
        },
    }


def _s(v: Any) -> str | None:
    return str(v) if v is not None else None


@api.operation(
    "/counter-handover",
    summary="转窗投 share per township branch and month by month (?from=&to=)",
    permission=VIEW,
    tags=TAGS,
)
def counter_handover():
    tenant = query_tenant()
    frm, to = query_period()
    s = context.session()
    months = service.counter_handover_monthly(s, tenant, frm, to)
    branches = service.counter_handover_by_point(s, tenant, frm, to)
    return {
        "branches": [
            {
                "point_id": pid,
                "code": code,
                "unit": unit,
                "counter_items": c,
                "inbound_items": i,
                "share": _s(handover_share(c, i)),
            }
            for pid, code, unit, c, i in branches
        ],
        "items": [
            {
                "period": t.period,
                "counter_items": t.counter_items,
                "inbound_items": t.inbound_items,
                "share": _s(t.share),
                "change": _s(t.change),
            }
            for t in trend(months)
        ],
    }


# --- direct delivery ----------------------------------------------------------------------------


@api.operation(
    "/direct-delivery/proposals",
    summary="Points qualifying for direct delivery on the window ending ?window_end=",
    permission=VIEW,
    tags=TAGS,
)
def proposals():
    tenant = query_tenant()
    end = _day_arg("window_end")
    found, rules = service.proposals(context.session(), tenant, end)
    start, stop = rules.window(end)
    return {
        "window": [start.isoformat(), stop.isoformat()],
        "threshold_per_day": str(rules.threshold_per_day),
        "items": [
            {
                "point_id": p.point_id,
                "average_per_day": str(p.average_per_day),
                "inbound_items": p.inbound_items,
            }
            for p in found
        ],
    }


class SwitchIn(BaseModel):
    point_id: int
    effective: dt.date


@api.operation(
    "/direct-delivery/switches",
    methods=["POST"],
    body=SwitchIn,
    summary="Record a point's switch to direct delivery (audited)",
    permission=DIRECT,
    status=201,
    tags=TAGS,
)
def switch(body: SwitchIn):
    s = context.session()
    row = service.record_switch(s, body.point_id, body.effective, context.principal().name)
    s.commit()
    return {"id": row.id, "point_id": row.point_id, "effective": row.effective.isoformat()}


class ProposeRunIn(BaseModel):
    window_end: dt.date
    effective: dt.date
    switch: bool = False


@api.operation(
    "/direct-delivery/run",
    methods=["POST"],
    body=ProposeRunIn,
    summary="Compute proposals for your unit (and optionally switch them) as a tracked job",
    permission=DIRECT,
    status=202,
    tags=TAGS,
)
def propose_run(body: ProposeRunIn):
    job = po_jobs.submit(
        "pickup_points.propose_direct_delivery",
        {
            "window_end": body.window_end.isoformat(),
            "effective": body.effective.isoformat(),
            "switch": body.switch,
        },
    )
    return {"job_id": job.id, "status": job.status}


@api.operation(
    "/direct-delivery/share",
    summary="Diverted items, city delivery volume and share (?from=&to=)",
    permission=VIEW,
    tags=TAGS,
)
def direct_share():
    tenant = query_tenant()
    frm, to = query_period()
    s = context.session()
    return {
        "diverted_items": service.diverted(s, tenant, frm, to),
        "city_delivery_items": service.city_delivery(s, tenant, frm, to),
        "share": _s(service.share(s, tenant, frm, to)),
        "points_by_city": service.direct_points_by_city(s, tenant, to),
    }


# --- agent fees (代办费) -----------------------------------------------------------------------------


@api.operation(
    "/agent-fees",
    summary="Each point's agent fee for a month (?month=YYYY-MM), or its export (&export=csv|xlsx)",
    permission=VIEW,
    tags=TAGS,
)
def agent_fees():
    from . import agent_fees as fees_of

    tenant = query_tenant()
    month = request.args.get("month") or clock.today().strftime("%Y-%m")
    fees = fees_of.month_fees(context.session(), tenant, month)
    fmt = request.args.get("export")
    if fmt is None:
        return fees_of.as_json(fees)
    if fmt not in ("csv", "xlsx"):
        raise ValidationError(
            "export is csv or xlsx",
            details=[{"field": "query.export", "message": "csv or xlsx"}],
        )
    return fees_of.export_response(fees, fmt)


# --- settings -----------------------------------------------------------------------------------


# Deprecated (one release): the rules are the core's plugin settings,
# GET/PUT /api/v1/settings/pickup_points?unit= and /admin/settings/pickup_points.


def _deprecated(body: dict) -> Any:
    from flask import jsonify

    resp = jsonify(body)
    resp.headers["Deprecation"] = "true"
    resp.headers["Link"] = '</api/v1/settings/pickup_points>; rel="successor-version"'
    return resp


@api.operation(
    "/settings",
    summary="Deprecated: rules in force at your unit (use /api/v1/settings/pickup_points)",
    permission=VIEW,
    tags=TAGS,
)
def get_settings():
    rules = service.rules_for(context.session(), context.tenant())
    values = json.loads(json.dumps(rules.values, default=str))
    return _deprecated({"unit": context.tenant(), "values": values})


class SettingsIn(BaseModel):
    radius_urban_m: float | None = Field(default=None, ge=0, le=100000)
    radius_village_m: float | None = Field(default=None, ge=0, le=100000)
    radius_mailroom_m: float | None = Field(default=None, ge=0, le=100000)
    feedback_hours: str | None = None
    uncollected_days: int | None = None
    return_days: int | None = None
    day_basis: str | None = None
    direct_threshold_per_day: str | None = None
    direct_window_days: int | None = None


@api.operation(
    "/settings",
    methods=["PUT"],
    body=SettingsIn,
    summary="Deprecated: configure the rules at your unit (audited; units below inherit them; "
    "use PUT /api/v1/settings/pickup_points)",
    permission=CONFIGURE,
    tags=TAGS,
)
def put_settings(body: SettingsIn):
    s = context.session()
    values = body.model_dump(exclude_none=True)
    rules = service.save_rules(s, context.tenant(), values, context.principal().name)
    s.commit()
    values = json.loads(json.dumps(rules.values, default=str))
    return _deprecated({"unit": context.tenant(), "values": values})


# --- siting scenarios (issue 20 §3) ----------------------------------------------------------
# A scenario is started as the tracked job ``pickup_points.siting`` (``POST /api/v1/jobs``,
# ``postalops jobs run``, or ``POST /siting/scenarios`` below, which is the same job).


class AcceptIn(BaseModel):
    sites: list[str] = Field(min_length=1, max_length=1000, description="candidate ids")


@api.operation(
    "/siting/scenarios",
    summary="Siting scenarios (paginated, newest first)",
    permission=VIEW,
    tags=TAGS,
)
def list_scenarios():
    tenant = query_tenant()
    stmt = (
        select(PickupSitingScenario)
        .where(in_scope_clause(PickupSitingScenario.tenant_code, tenant))
        .order_by(PickupSitingScenario.created_at.desc(), PickupSitingScenario.id.desc())
    )
    return paginate(context.session(), stmt, service.scenario_summary)


@api.operation(
    "/siting/scenarios",
    methods=["POST"],
    body=SitingParams,
    summary="Run a siting scenario at your unit (tracked job pickup_points.siting)",
    permission=MANAGE,
    status=202,
    tags=TAGS,
)
def start_scenario(body: SitingParams):
    job = po_jobs.submit("pickup_points.siting", body.model_dump(mode="json"))
    return {"job_id": job.id, "status": job.status}


@api.operation(
    "/siting/scenarios/<int:scenario_id>",
    summary="A siting scenario with its LSCP, MCLP, greedy and capacity results",
    permission=VIEW,
    tags=TAGS,
)
def get_scenario(scenario_id: int):
    row = service.get_scenario(context.session(), scenario_id)
    out = service.scenario_summary(row)
    out["planned"] = [p.candidate_id for p in service.planned_sites(context.session(), row.id)]
    return out


@api.operation(
    "/siting/scenarios/<int:scenario_id>/accept",
    methods=["POST"],
    body=AcceptIn,
    summary="Accept chosen sites of a scenario as planned points (audited)",
    permission=MANAGE,
    tags=TAGS,
)
def accept_scenario_sites(scenario_id: int, body: AcceptIn):
    s = context.session()
    row = service.get_scenario(s, scenario_id)
    added = service.accept_sites(s, row, body.sites, context.principal().name)
    return {
        "added": [p.candidate_id for p in added],
        "planned": [p.candidate_id for p in service.planned_sites(s, row.id)],
    }


@api.operation(
    "/siting/planned",
    summary="Planned sites (accepted from siting scenarios) with the points they became "
    "(paginated; ?scenario=)",
    permission=VIEW,
    tags=TAGS,
)
def list_planned_sites():
    scenario = request.args.get("scenario")
    if scenario is not None and not scenario.isdigit():
        raise ValidationError(
            "scenario must be an id", details=[{"field": "query.scenario", "message": "an id"}]
        )
    stmt = service.planned_sites_stmt(query_tenant(), int(scenario) if scenario else None)
    return paginate(context.session(), stmt, lambda r: service.planned_site_out(r[0], r[1]))


@api.operation(
    "/siting/planned/<int:site_id>/promote",
    methods=["POST"],
    body=PromoteIn,
    summary="Turn a planned site into a pickup point with status planned (筹建), at the site's "
    "location (audited; 409 when already promoted)",
    permission=MANAGE,
    status=201,
    tags=TAGS,
)
def promote_planned_site(site_id: int, body: PromoteIn):
    s = context.session()
    point = service.promote_site(s, site_id, body, context.principal().name, _today())
    s.commit()
    return _point_out(point)
