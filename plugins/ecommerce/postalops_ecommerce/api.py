"""The e-commerce API under ``/api/v1/ecommerce`` (listed in the OpenAPI document).

Bulk endpoints (orders, events, leaders, sessions) validate every row and either write all of
them, answering per row, or nothing, answering 422 with every bad row named.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from flask import current_app, request
from postalops import clock, context
from postalops.api import ApiBlueprint, paginate, query_period, query_tenant
from postalops.errors import Conflict, NotFound, PostalOpsError, ValidationError
from postalops.imports import RowErrors, check_rows, read_upload
from postalops.jobs import submit
from pydantic import BaseModel, Field
from sqlmodel import select

from . import board_cache, campaigns, catalogue, community, settlement
from . import metrics as figures
from .catalogue import readiness
from .ingest import ingest_events, ingest_orders
from .models import (
    Campaign,
    CommissionRate,
    GroupSession,
    Leader,
    Merchant,
    Product,
    Statement,
)
from .order_rows import group_line_rows, parse_event, parse_moment, parse_numbered, parse_order
from .pickup import PointDirectory

api = ApiBlueprint("ecommerce_api", __name__)

SYNC_LIMIT = 5_000


# --- request models (documented in OpenAPI; rows are also checked by order_rows) -------------


class OrderLineIn(BaseModel):
    sku: str
    quantity: int = Field(ge=1)
    unit_price: str = Field(description='decimal string, e.g. "19.90"')


class OrderIn(BaseModel):
    order_no: str = Field(max_length=64)
    channel: Literal["retail", "groupbuy"]
    paid_at: str = Field(description="ISO 8601; without offset read as Asia/Shanghai")
    branch: str | None = Field(None, description="unit code; required for retail orders")
    leader: str | None = None
    session: str | None = None
    pickup_point: str | None = None
    campaign: str | None = None
    amount: str | None = Field(None, description="optional check: must equal the lines' sum")
    lines: list[OrderLineIn]


class EventIn(BaseModel):
    type: Literal["refund", "cancel"]
    order_no: str
    refund_no: str | None = Field(None, description="required for refunds; idempotency key")
    amount: str | None = Field(None, description="refund amount, decimal string")
    at: str


class CampaignIn(BaseModel):
    code: str = Field(max_length=40)
    name: str = Field(max_length=100)
    owner: str | None = Field(None, description="unit code; defaults to the active unit")
    starts_on: dt.date
    ends_on: dt.date
    min_session_orders: int = 10
    ten_thousand_threshold: int = 10_000


class TargetIn(BaseModel):
    unit: str
    kind: Literal[
        "retail_turnover", "groupbuy_turnover", "valid_sessions", "active_leaders", "orders"
    ]
    value: str | int
    effective_from: dt.datetime | None = None


class DistributionIn(BaseModel):
    parent: str
    kind: Literal[
        "retail_turnover", "groupbuy_turnover", "valid_sessions", "active_leaders", "orders"
    ]
    shares: dict[str, str | int]
    effective_from: dt.datetime | None = None


class LeaderIn(BaseModel):
    branch: str
    code: str = Field(max_length=40)
    name: str = Field(max_length=100)
    pickup_point: str = Field(max_length=64)


class SessionIn(BaseModel):
    code: str = Field(max_length=40)
    leader: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    skus: list[str] = []
    min_orders: int | None = Field(
        default=None, ge=1, description="成团: fewest orders; closing below it cancels the session"
    )


class MerchantIn(BaseModel):
    code: str = Field(max_length=40)
    name: str = Field(max_length=100)
    unit: str | None = Field(None, description="unit code; defaults to the active unit")


class ProductIn(BaseModel):
    merchant: str = Field(description="merchant code")
    sku: str = Field(max_length=40)
    name: str = Field(max_length=100)
    category: str
    agreed_price: str = Field(description="price agreed at the pricing meeting, decimal string")
    featured: bool = False


class PavilionIn(BaseModel):
    code: str = Field(max_length=40)
    name: str = Field(max_length=100)
    unit: str
    level: Literal["province", "city"]
    operators: list[str] = []
    skus: list[str] = []


class LeaderboardQuery(BaseModel):
    level: Literal["province", "city", "branch"] = "city"
    tenant: str | None = None
    from_: str | None = Field(None, alias="from")
    to: str | None = None


def _registry():
    return current_app.extensions["postalops.plugins"]


def _aware(moment: dt.datetime | None) -> dt.datetime | None:
    return None if moment is None else parse_moment(moment)


# --- orders and events -----------------------------------------------------------------------


@api.operation(
    "/orders",
    methods=["POST"],
    body=list[OrderIn],
    files=True,
    permission="ecommerce.ingest",
    summary="Push a batch of orders (JSON, CSV, XLSX)",
)
def push_orders():
    """JSON: up to 5,000 orders, answered per row (``created``/``duplicate``). CSV/XLSX (one row
    per order line): imported by a tracked job; 202 with the job id. Either way a bad batch is
    refused whole with every row's every error at once: shape errors (fields) and reference
    errors (unknown leader, session, branch, campaign or pickup point) together."""
    rows = read_upload()
    session = context.session()
    points = PointDirectory(session, _registry())
    if request.files or (request.mimetype or "").endswith(("csv", "spreadsheetml.sheet")):
        objects, grouping = group_line_rows(rows)
        partial: list = []
        valid, shape = parse_numbered(objects, parse_order, partial=partial)
        errors = _row_errors(grouping, shape)
        if errors:  # the job would only name them once the shape errors were fixed
            checked = sorted(valid + partial, key=lambda item: item[0])
            for start in range(0, len(checked), 2_000):
                _references(
                    errors,
                    lambda chunk=checked[start : start + 2_000]: ingest_orders(
                        session, chunk, point_check=points.known, write=False
                    ),
                )
        errors.raise_if_any()
        job = submit(
            "ecommerce.import_orders",
            {"orders": [o for _, o in objects], "first_row": objects[0][0] if objects else 2},
        )
        return {"job": job.id, "orders": len(objects)}, 202
    if len(rows) > SYNC_LIMIT:
        raise ValidationError(
            f"at most {SYNC_LIMIT} orders per JSON batch",
            details=[{"field": "body", "message": "too many orders"}],
        )
    partial: list = []
    valid, shape = parse_numbered(rows, parse_order, partial=partial)
    errors = _row_errors(shape)
    if errors:  # the references of every row, the shape-failed ones' readable codes too
        checked = sorted(valid + partial, key=lambda item: item[0])
        _references(
            errors,
            lambda: ingest_orders(session, checked, point_check=points.known, write=False),
        )
        errors.raise_if_any()
    report = ingest_orders(session, valid, point_check=points.known)
    session.commit()
    created = sum(1 for r in report if r["status"] == "created")
    return {"created": created, "duplicate": len(report) - created, "rows": report}


def _row_errors(*batches: list[dict]) -> RowErrors:
    """Row errors as the parsers report them (``{"row", "errors": [...]}``), collected."""
    errors = RowErrors()
    for batch in batches:
        for detail in batch:
            errors.extend(detail["row"], detail["errors"])
    return errors


def _references(errors: RowErrors, check) -> None:
    """Run a service's reference checks on every row, the readable part of the shape-failed ones
    too (``write=False``: nothing is written), and add the errors they find to ``errors``, so a
    row's shape and reference errors come in one answer."""
    try:
        check()
    except ValidationError as exc:
        if exc.code != "invalid_rows":
            raise
        for detail in exc.details:
            errors.extend(detail["row"], detail["errors"])


@api.operation(
    "/events",
    methods=["POST"],
    body=list[EventIn],
    permission="ecommerce.ingest",
    summary="Push refunds and cancellations",
    files=True,
)
def push_events():
    """Refunds (idempotent on ``refund_no``) and cancellations, answered per row."""
    rows = read_upload()
    partial: list = []
    valid, shape = parse_numbered(rows, parse_event, partial=partial)
    session = context.session()
    errors = _row_errors(shape)
    if errors:  # with every row's unknown order and impossible refund, shape-failed ones too
        checked = sorted(valid + partial, key=lambda item: item[0])
        _references(errors, lambda: ingest_events(session, checked, write=False))
        errors.raise_if_any()
    report = ingest_events(session, valid)
    session.commit()
    return {"rows": report}


# --- campaigns and targets -------------------------------------------------------------------


def _campaign_json(c: Campaign) -> dict:
    return c.model_dump(mode="json")


@api.operation("/campaigns", permission="ecommerce.view", summary="Campaigns visible here")
def list_campaigns():
    tenant = query_tenant()
    frm, to = dt.date(1900, 1, 1), dt.date(9999, 12, 31)
    return {
        "items": [
            _campaign_json(c) for c in figures.campaigns_for(context.session(), tenant, frm, to)
        ]
    }


@api.operation(
    "/campaigns",
    methods=["POST"],
    body=CampaignIn,
    permission="ecommerce.plan",
    summary="Create a campaign",
    status=201,
)
def create_campaign(body: CampaignIn):
    session = context.session()
    c = campaigns.create_campaign(
        session,
        owner_code=body.owner or context.tenant(),
        code=body.code,
        name=body.name,
        starts_on=body.starts_on,
        ends_on=body.ends_on,
        min_session_orders=body.min_session_orders,
        ten_thousand_threshold=body.ten_thousand_threshold,
    )
    session.commit()
    return _campaign_json(c)


@api.operation(
    "/campaigns/<int:campaign_id>/targets",
    permission="ecommerce.view",
    summary="Target history of a campaign (every version)",
)
def target_history(campaign_id: int):
    session = context.session()
    campaigns.get_campaign(session, campaign_id)
    unit = request.args.get("unit")
    return {
        "items": [t.model_dump(mode="json") for t in campaigns.history(session, campaign_id, unit)]
    }


@api.operation(
    "/campaigns/<int:campaign_id>/targets",
    methods=["POST"],
    body=TargetIn,
    permission="ecommerce.plan",
    summary="Set a unit's target (a new version)",
    status=201,
)
def set_target(campaign_id: int, body: TargetIn):
    session = context.session()
    c = campaigns.get_campaign(session, campaign_id)
    t = campaigns.set_target(
        session,
        c,
        unit_code=body.unit,
        kind=body.kind,
        value=body.value,
        effective_from=_aware(body.effective_from),
    )
    session.commit()
    return t.model_dump(mode="json")


@api.operation(
    "/campaigns/<int:campaign_id>/distribute",
    methods=["POST"],
    body=DistributionIn,
    permission="ecommerce.plan",
    summary="Distribute a parent's target to its children (must add up exactly)",
    status=201,
)
def distribute(campaign_id: int, body: DistributionIn):
    session = context.session()
    c = campaigns.get_campaign(session, campaign_id)
    rows = campaigns.distribute(
        session,
        c,
        parent_code=body.parent,
        kind=body.kind,
        shares=body.shares,
        effective_from=_aware(body.effective_from),
    )
    session.commit()
    return {"items": [t.model_dump(mode="json") for t in rows]}


# --- group-buy setup -------------------------------------------------------------------------


@api.operation(
    "/leaders",
    methods=["POST"],
    body=list[LeaderIn],
    files=True,
    permission="ecommerce.groupbuy",
    summary="Register leaders (团长) in bulk (JSON list, CSV or XLSX)",
)
def push_leaders():
    """All-or-nothing: every row's every error in one answer, shape (missing or too long
    fields) and reference (unknown or out-of-scope branch, unknown pickup point) together.
    A batch naming a branch where pickup_points is off is refused whole (409
    ``pickup_points_disabled``): group-buy leaders collect at its points."""
    valid, errors = check_rows(read_upload(), LeaderIn)
    session = context.session()
    points = PointDirectory(session, _registry())
    rows = [(n, b.model_dump()) for n, b in valid]
    community.require_pickup_points(session, rows + errors.raw_rows(), points)
    community.leader_reference_errors(session, rows + errors.raw_rows(), points, errors)
    errors.raise_if_any()
    new = community.import_leaders(session, [r for _, r in rows], points)
    session.commit()
    return {"created": new, "unchanged": len(rows) - new}


@api.operation("/leaders", permission="ecommerce.view", summary="Leaders in scope")
def list_leaders():
    return paginate(context.session(), select(Leader).order_by(Leader.code))


@api.operation(
    "/campaigns/<int:campaign_id>/sessions",
    methods=["POST"],
    body=list[SessionIn],
    files=True,
    permission="ecommerce.groupbuy",
    summary="Register group-buy sessions in bulk (JSON list, CSV or XLSX)",
)
def push_sessions(campaign_id: int):
    """All-or-nothing: every row's every error in one answer, shape (missing fields, bad
    moments) and reference (unknown leader) together."""
    session = context.session()
    c = campaigns.get_campaign(session, campaign_id)
    valid, errors = check_rows(read_upload(), SessionIn)
    rows = [
        (
            n,
            {
                **b.model_dump(),
                "starts_at": parse_moment(b.starts_at),
                "ends_at": parse_moment(b.ends_at),
            },
        )
        for n, b in valid
    ]
    community.session_reference_errors(session, rows + errors.raw_rows(), errors)
    errors.raise_if_any()
    new = community.import_sessions(session, c, [r for _, r in rows])
    session.commit()
    return {"created": new, "unchanged": len(rows) - new}


@api.operation(
    "/merchants",
    methods=["POST"],
    body=list[MerchantIn],
    permission="ecommerce.catalogue",
    summary="Register merchants",
    status=201,
)
def push_merchants(body: list[MerchantIn]):
    session = context.session()
    for m in body:
        catalogue.add_merchant(
            session, unit_code=m.unit or context.tenant(), code=m.code, name=m.name
        )
    session.commit()
    return {"created": len(body)}


@api.operation(
    "/products",
    methods=["POST"],
    body=list[ProductIn],
    files=True,
    permission="ecommerce.catalogue",
    summary="Add products (category, agreed price, featured flag; JSON list, CSV or XLSX)",
    status=201,
)
def push_products():
    """All-or-nothing: every row's every error in one answer: shape (missing or too long fields),
    values (category, price) and references (unknown merchant, a SKU already taken or twice in
    the batch) together. 409 when the only errors are SKUs already taken."""
    valid, errors = check_rows(read_upload(), ProductIn)
    session = context.session()
    raw = errors.raw_rows()
    named = {p.merchant for _, p in valid} | {
        r.get("merchant") for _, r in raw if isinstance(r.get("merchant"), str)
    }
    merchants = {
        m.code: m for m in session.exec(select(Merchant).where(Merchant.code.in_(named))).all()
    }
    taken = set(
        session.exec(select(Product.sku).where(Product.sku.in_({p.sku for _, p in valid}))).all()
    )
    only_taken = not errors
    seen: dict[str, int] = {}
    checked = [(n, r.get("merchant"), None) for n, r in raw] + [
        (n, p.merchant, p) for n, p in valid
    ]
    for n, merchant, p in sorted(checked, key=lambda c: c[0]):
        if isinstance(merchant, str) and merchant not in merchants:
            errors.add(n, "merchant", "unknown merchant")
            only_taken = False
        if p is None:
            continue
        bad = catalogue.product_errors(p.category, p.agreed_price)
        if bad:
            errors.extend(n, bad)
            only_taken = False
        if p.sku in seen:
            errors.add(n, "sku", f"also in row {seen[p.sku]}")
            only_taken = False
        elif p.sku in taken:
            errors.add(n, "sku", f"product {p.sku} exists")
        seen.setdefault(p.sku, n)
    if errors and only_taken:
        raise Conflict("products exist; nothing was written", details=errors.details())
    errors.raise_if_any()
    for _n, p in valid:
        catalogue.add_product(
            session,
            merchant=merchants[p.merchant],
            sku=p.sku,
            name=p.name,
            category=p.category,
            agreed_price=p.agreed_price,
            featured=p.featured,
        )
    session.commit()
    return {"created": len(valid)}


@api.operation(
    "/pavilions",
    methods=["POST"],
    body=PavilionIn,
    permission="ecommerce.catalogue",
    summary="Create a pavilion (provincial or a city's 乡村振兴馆) and list products",
    status=201,
)
def create_pavilion(body: PavilionIn):
    session = context.session()
    pav = catalogue.add_pavilion(
        session,
        unit_code=body.unit,
        code=body.code,
        name=body.name,
        level=body.level,
        operators=body.operators,
    )
    products = (
        {p.sku: p.id for p in session.exec(select(Product).where(Product.sku.in_(body.skus))).all()}
        if body.skus
        else {}
    )
    missing = [sku for sku in body.skus if sku not in products]
    if missing:
        raise ValidationError(
            "unknown products",
            details=[{"field": "skus", "message": f"unknown sku {sku}"} for sku in missing],
        )
    listed = catalogue.list_products(session, pav, list(products.values()))
    session.commit()
    return {"id": pav.id, "listed": listed}


@api.operation("/products", permission="ecommerce.view", summary="Catalogue (featured filter)")
def list_products():
    stmt = select(Product).order_by(Product.sku)
    if request.args.get("featured") in ("1", "true"):
        stmt = stmt.where(Product.featured.is_(True))
    return paginate(context.session(), stmt)


# --- figures ---------------------------------------------------------------------------------


@api.operation(
    "/leaderboard",
    permission="ecommerce.view",
    query=LeaderboardQuery,
    summary="Live attainment ranking by province, city or branch",
)
def get_leaderboard(query: LeaderboardQuery):
    tenant = query_tenant()
    frm, to = query_period()
    return {
        "tenant": tenant,
        "level": query.level,
        "from": frm,
        "to": to,
        "items": figures.leaderboard(
            context.session(), tenant, query.level, frm, to, board_cache.for_app(current_app)
        ),
    }


@api.operation(
    "/campaigns/<int:campaign_id>/curve",
    permission="ecommerce.view",
    summary="Daily cumulative turnover against the plan line",
)
def get_curve(campaign_id: int):
    session = context.session()
    c = campaigns.get_campaign(session, campaign_id)
    return figures.daily_curve(session, query_tenant(), c)


@api.operation("/readiness", permission="ecommerce.view", summary="三有 readiness of each city")
def get_readiness():
    frm, to = query_period()
    return {"items": readiness(context.session(), query_tenant(), frm, to)}


@api.operation(
    "/refresh",
    methods=["POST"],
    permission="ecommerce.refresh",
    summary="Fold new orders into the figures (tracked job)",
    status=202,
)
def start_refresh():
    return {"job": submit("ecommerce.refresh", {}).id}


@api.operation(
    "/recompute",
    methods=["POST"],
    permission="ecommerce.refresh",
    summary="Rebuild the figures from the orders (tracked job)",
    status=202,
)
def start_recompute():
    return {"job": submit("ecommerce.recompute", {}).id}


# --- leader commission, pickup verification, statements, group threshold (issue 19 §3) --------


class CommissionRateIn(BaseModel):
    unit: str | None = Field(default=None, description="unit the rate is set at (default: yours)")
    sku: str = Field(default="", max_length=40, description="a product, or")
    category: str = Field(default="", max_length=30, description="a whole category")
    rate: str = Field(description='a fraction as a decimal string, e.g. "0.08" for 8 %')
    effective_from: dt.date


class PickupIn(BaseModel):
    code: str = Field(min_length=1, max_length=40, description="the order's pickup code")
    pickup_point: str | None = Field(
        default=None,
        max_length=64,
        description="the verifying point (taken from a token bound to pickup_point:<code>)",
    )
    verified_at: dt.datetime | None = Field(
        default=None,
        description="when a device verified offline and syncs later (default: now; never ahead)",
    )


class PeriodIn(BaseModel):
    period: str = Field(description="a month, YYYY-MM")


class PaidIn(BaseModel):
    paid_on: dt.date | None = None


def _secret() -> str:
    return current_app.config["SECRET_KEY"]


def _rate_json(r) -> dict:
    return {"id": r.id, "unit": r.unit_code, "sku": r.sku, "category": r.category,
            "rate": r.rate, "effective_from": r.effective_from.isoformat()}  # fmt: skip


@api.operation(
    "/commission-rates",
    methods=["POST"],
    body=list[CommissionRateIn],
    permission="ecommerce.settle",
    summary="Set leader commission rates per product or category, effective-dated",
    status=201,
)
def push_commission_rates(body: list[CommissionRateIn]):
    session = context.session()
    errors = RowErrors()
    made = []
    for n, item in enumerate(body):
        try:
            with session.begin_nested():
                made.append(
                    settlement.set_rate(
                        session,
                        unit=item.unit or context.tenant(),
                        rate=item.rate,
                        effective_from=item.effective_from,
                        sku=item.sku,
                        category=item.category,
                        by=context.principal().name,
                    )
                )
        except PostalOpsError as exc:
            errors.extend(n, [{"field": d.get("field"), "message": d.get("message", exc.message)}
                              for d in exc.details] or [{"field": None, "message": exc.message}])  # fmt: skip
    errors.raise_if_any()
    session.commit()
    return {"created": [_rate_json(r) for r in made]}


@api.operation("/commission-rates", permission="ecommerce.view", summary="Commission rates")
def list_commission_rates():
    stmt = select(CommissionRate).order_by(CommissionRate.effective_from, CommissionRate.id)
    return paginate(context.session(), stmt, _rate_json)


@api.operation(
    "/orders/<order_no>/pickup-code",
    permission="ecommerce.ingest",
    summary="An order's pickup code (提货码), for the e-shop to show its customer",
)
def get_pickup_code(order_no: str):
    return settlement.code_for(context.session(), _secret(), order_no)


@api.operation(
    "/pickups",
    methods=["POST"],
    body=PickupIn,
    permission="ecommerce.pickup",
    summary="Verify a pickup code at a pickup point (核销): the order becomes picked up",
    status=201,
)
def verify_pickup(body: PickupIn):
    principal = context.principal()
    point = body.pickup_point
    bound = (principal.subject or "").removeprefix("pickup_point:")
    if principal.subject and principal.subject.startswith("pickup_point:"):
        if point and point != bound:
            raise ValidationError(
                f"this token verifies at {bound}, not {point}",
                code="wrong_pickup_point",
                details=[{"field": "pickup_point", "message": "not this token's pickup point"}],
            )
        point = bound
    if not point:
        raise ValidationError(
            "pickup_point is required",
            code="pickup_point_required",
            details=[{"field": "pickup_point", "message": "required"}],
        )
    session = context.session()
    result = settlement.verify_pickup(
        session, _secret(), code=body.code, point=point, by=principal.name,
        at=_aware(body.verified_at),
    )  # fmt: skip
    session.commit()
    return result


def _statement_json(st, leader=None, lines=None) -> dict:
    out = {
        "id": st.id,
        "leader": leader.code if leader else st.leader_id,
        "branch": st.tenant_code,
        "period": st.period,
        "status": st.status,
        "earned": st.earned,
        "clawback": st.clawback,
        "carried": st.carried,
        "payable": st.payable,
        "prepared_by": st.prepared_by,
        "decided_by": st.decided_by or None,
        "decided_on": st.decided_on.isoformat() if st.decided_on else None,
        "paid_on": st.paid_on.isoformat() if st.paid_on else None,
    }
    if lines is not None:
        out["lines"] = [
            {"order_no": ln.order_no, "kind": ln.kind, "base": ln.base,
             "commission": ln.commission, "picked_up_on": ln.picked_up_on.isoformat()}
            for ln in lines
        ]  # fmt: skip
    return out


@api.operation(
    "/statements",
    methods=["POST"],
    body=PeriodIn,
    permission="ecommerce.settle",
    summary="Draw up the month's commission statements of the leaders in scope (idempotent)",
    status=201,
)
def prepare_statements(body: PeriodIn):
    session = context.session()
    result = settlement.generate(
        session, context.tenant(), body.period, by=context.principal().name
    )
    session.commit()
    return result


@api.operation(
    "/statements",
    permission="ecommerce.view",
    summary="Commission statements (?period=&status=), or the payout export (?export=csv|xlsx)",
)
def list_statements():
    from .statement_listing import STATEMENTS

    if request.args.get("export"):
        page = STATEMENTS.run(context.session(), request.args)
        if page.export:
            return page.export_response()
    stmt = select(Statement, Leader).join(Leader, Leader.id == Statement.leader_id)
    if request.args.get("period"):
        stmt = stmt.where(Statement.period == request.args["period"])
    if request.args.get("status"):
        stmt = stmt.where(Statement.status == request.args["status"])
    return paginate(
        context.session(),
        stmt.order_by(Statement.period, Leader.code),
        lambda row: _statement_json(row[0], row[1]),
    )


@api.operation("/statements/<int:statement_id>", permission="ecommerce.view",
               summary="One statement with its order lines")  # fmt: skip
def get_statement(statement_id: int):
    session = context.session()
    st = settlement.get(session, statement_id)
    leader = session.exec(select(Leader).where(Leader.id == st.leader_id)).first()
    return _statement_json(st, leader, settlement.lines_of(session, st.id))


def _decide(statement_id: int, approve: bool):
    session = context.session()
    st = settlement.decide(
        session, statement_id, approve=approve, by=context.principal().name, on=clock.today()
    )
    session.commit()
    return _statement_json(st)


@api.operation("/statements/<int:statement_id>/approve", methods=["POST"],
               permission="ecommerce.settle_approve",
               summary="Approve a statement (not by who prepared it)")  # fmt: skip
def approve_statement(statement_id: int):
    return _decide(statement_id, True)


@api.operation("/statements/<int:statement_id>/reject", methods=["POST"],
               permission="ecommerce.settle_approve", summary="Reject a statement")  # fmt: skip
def reject_statement(statement_id: int):
    return _decide(statement_id, False)


@api.operation("/statements/<int:statement_id>/pay", methods=["POST"], body=PaidIn,
               permission="ecommerce.settle",
               summary="Record the payout of an approved statement")  # fmt: skip
def pay_statement(statement_id: int, body: PaidIn):
    session = context.session()
    st = settlement.pay(
        session, statement_id, by=context.principal().name, on=body.paid_on or clock.today()
    )
    session.commit()
    return _statement_json(st)


@api.operation("/sessions/<code>/close", methods=["POST"], permission="ecommerce.groupbuy",
               summary="Close a group-buy session; below its minimum (成团) it is cancelled "
               "and its orders refunded")  # fmt: skip
def close_group_session(code: str):
    session = context.session()
    group = session.exec(select(GroupSession).where(GroupSession.code == code)).first()
    if group is None:
        raise NotFound("unknown session", details=[{"field": "code", "message": "unknown session"}])
    result = settlement.close_session(session, group)
    session.commit()
    return result
