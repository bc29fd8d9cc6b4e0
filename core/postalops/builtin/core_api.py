"""The core's HTTP API under /api/v1: tree, plugins, users, tokens, audit, jobs, metrics."""

from __future__ import annotations

import datetime as dt
import importlib.util
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import current_app, render_template, request, send_from_directory
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import select

from postalops import audit, auth, context
from postalops.api import ApiBlueprint, build_openapi, paginate, query_period, query_tenant
from postalops.auth import check_permission, create_token, create_user, visible_unit
from postalops.errors import Forbidden, NotFound
from postalops.metrics import collect
from postalops.models import ApiToken, AuditRecord, Job, OrgUnit, User
from postalops.tenancy import in_subtree

api = ApiBlueprint("core_api", __name__)


def _registry() -> Any:
    return current_app.extensions["postalops.plugins"]


# --- response models (what each operation sends, as /api/v1/openapi.json documents it) ------


class Page(BaseModel):
    """The fields every paged list shares (``paginate``)."""

    page: int
    per_page: int
    total: int


class UnitOut(BaseModel):
    code: str
    parent: str | None
    name_zh: str
    name_en: str
    level: str


class TreeOut(BaseModel):
    root: str
    active: str | None
    items: list[UnitOut]


class HookFailureOut(BaseModel):
    hook: str
    error: str
    at: dt.datetime
    count: int


class PluginOut(BaseModel):
    key: str
    name_zh: str
    name_en: str
    version: str
    requires: dict[str, str]
    status: str = Field(description="loaded | degraded | failed | disabled")
    error: str | None
    degraded: list[HookFailureOut]
    builtin: bool
    enabled: bool


class PluginsOut(BaseModel):
    unit: str | None
    items: list[PluginOut]


class EnablementOut(BaseModel):
    unit: str
    plugin: str
    enabled: bool


class UserOut(BaseModel):
    id: int
    username: str
    display_name: str
    unit: str
    roles: list[str]
    active: bool


class UserPage(Page):
    items: list[UserOut]


class TokenOut(BaseModel):
    id: int
    name: str
    prefix: str
    unit: str
    permissions: list[str]
    subject: str | None
    created_by: str | None
    created_at: dt.datetime
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None


class TokenCreated(TokenOut):
    secret: str = Field(description="shown in this response only")


class TokenPage(Page):
    items: list[TokenOut]


class AuditOut(BaseModel):
    id: int
    at: dt.datetime
    actor: str
    tenant: str
    action: str
    target_type: str
    target_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class AuditPage(Page):
    items: list[AuditOut]


class JobOut(BaseModel):
    id: str
    kind: str
    tenant: str
    started_by: str | None
    status: str = Field(description="queued | running | done | failed | cancelled")
    done: int
    total: int
    message: str
    result: dict[str, Any] | None
    error: str | None
    attempts: int
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None


class JobPage(Page):
    items: list[JobOut]


class KpiOut(BaseModel):
    """One KPI (``postalops.metrics.kpi``); plugins may add fields."""

    model_config = ConfigDict(extra="allow")
    value: Any = Field(description="a number, or a decimal string for money")
    unit: str
    label_zh: str
    label_en: str


class MetricsOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    tenant: str
    from_: dt.date = Field(alias="from")
    to: dt.date
    as_of: dt.datetime = Field(
        description="when the oldest figure of the answer was computed (UTC): at most 60 s "
        "before the request; a write committed through the app shows at the next request"
    )
    metrics: dict[str, dict[str, KpiOut]] = Field(description="plugin key -> KPI name -> KPI")


# --- health & docs -----------------------------------------------------------------------------


@api.route("/healthz")
def healthz() -> Any:
    """Liveness: the process answers. Touches nothing else (see ``/readyz`` for readiness)."""
    return {"status": "ok", "version": current_app.extensions["postalops.version"]}


@api.route("/readyz")
def readyz() -> Any:
    """Readiness: the database (``SELECT 1``, timed), the broker (Redis ``PING``; the
    in-process broker is always ready), degraded and failed plugins, plugins' health checks.
    503 when the database or the broker is down; a degraded plugin is reported, not fatal.
    Anonymous (load balancers): plugins' error texts are on ``postalops plugins`` and the
    admin page only."""
    import time

    checks: dict[str, Any] = {}
    db = current_app.extensions["postalops.db"]
    started = time.perf_counter()
    try:
        with db.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        checks["database"] = {"status": "ok"}
    except Exception as exc:  # noqa: BLE001 - readiness reports any failure as text
        checks["database"] = {"status": "error", "error": exc.__class__.__name__}
    checks["database"]["ms"] = round((time.perf_counter() - started) * 1000, 1)
    broker = current_app.extensions["postalops.jobs"].broker
    client = getattr(broker, "client", None)
    if client is None:
        checks["broker"] = {"status": "ok", "kind": "in-process"}
    else:
        started = time.perf_counter()
        try:
            client.ping()
            checks["broker"] = {"status": "ok", "kind": "redis"}
        except Exception as exc:  # noqa: BLE001
            checks["broker"] = {"status": "error", "kind": "redis", "error": exc.__class__.__name__}
        checks["broker"]["ms"] = round((time.perf_counter() - started) * 1000, 1)
    reg = _registry()
    health: dict[str, str] = {}
    if checks["database"]["status"] == "ok":
        for key, result in reg.call_each("postalops_health"):
            for name, value in result.items() if isinstance(result, dict) else ():
                health[f"{key}.{name}"] = str(value)
    plugins = {
        "degraded": [
            {
                "key": p.key,
                "hooks": [{"hook": f["hook"], "at": f["at"]} for f in p.failure_list()],
            }
            for p in reg.degraded()
        ],
        "failed": sorted(p.key for p in reg.plugins.values() if p.status == "failed"),
        "health": health,
    }
    ready = checks["database"]["status"] == "ok" and checks["broker"]["status"] == "ok"
    return {
        "status": "ready" if ready else "not_ready",
        "version": current_app.extensions["postalops.version"],
        "checks": checks,
        "plugins": plugins,
    }, (200 if ready else 503)


@api.route("/openapi.json")
def openapi() -> Any:
    return build_openapi(current_app)


@api.route("/docs")
def docs() -> Any:
    return render_template("postalops/swagger.html")


@api.route("/docs/assets/<path:filename>")
def docs_asset(filename: str) -> Any:
    """Swagger UI 5 from the swagger-ui-py package (found without importing it: its
    ``__init__`` wires web-framework handlers we do not use)."""
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise NotFound("swagger-ui-py is not installed")
    static = Path(next(iter(spec.submodule_search_locations))) / "static"
    return send_from_directory(static, filename, max_age=86400)


# --- tree & plugins ----------------------------------------------------------------------------


def unit_dict(u: OrgUnit) -> dict[str, Any]:
    return {
        "code": u.code,
        "parent": u.parent_code,
        "name_zh": u.name_zh,
        "name_en": u.name_en,
        "level": u.level,
    }


@api.operation(
    "/tree",
    summary="Org units visible to the caller (their subtree)",
    response=TreeOut,
    permission="core.tree.read",
    tags=["tenancy"],
)
def tree() -> Any:
    ctx = context.current()
    root = ctx.principal.home_unit or "cn"
    rows = ctx.session.exec(select(OrgUnit).order_by(OrgUnit.code)).all()
    return {
        "root": root,
        "active": ctx.unit,
        "items": [unit_dict(u) for u in rows if in_subtree(u.code, root)],
    }


class UnitSwitch(BaseModel):
    unit: str = Field(min_length=1, max_length=200)


@api.operation(
    "/plugins",
    summary="Installed plugins and their state at the active unit",
    tags=["plugins"],
    response=PluginsOut,
)
def plugins() -> Any:
    ctx = context.current()
    reg = _registry()
    on = reg.effective(ctx.session, ctx.unit)
    items = []
    for p in sorted(reg.plugins.values(), key=lambda p: p.key):
        items.append(
            {
                "key": p.key,
                "name_zh": p.info.name_zh if p.info else p.key,
                "name_en": p.info.name_en if p.info else p.key,
                "version": p.version,
                "requires": p.info.requires if p.info else {},
                "status": p.state,
                "error": p.error,
                "degraded": p.failure_list(),
                "builtin": bool(p.info and p.info.builtin),
                "enabled": p.key in on or reg.is_builtin(p.key),
            }
        )
    return {"unit": ctx.unit, "items": items}


class Enablement(BaseModel):
    enabled: bool


@api.operation(
    "/tenants/<unit>/plugins/<key>",
    methods=["PUT"],
    body=Enablement,
    permission="core.plugins.manage",
    tags=["plugins"],
    summary="Enable or disable a plugin for a unit (and its subtree, unless overridden)",
    response=EnablementOut,
)
def set_plugin(unit: str, key: str, body: Enablement) -> Any:
    ctx = context.current()
    if not visible_unit(ctx.principal, unit):
        raise Forbidden(
            f"unit {unit!r} is outside your scope",
            details=[{"field": "unit", "message": "outside scope"}],
        )
    reg = _registry()
    s = ctx.session
    _, after = reg.set_enabled(s, unit, key, body.enabled, ctx.principal.name)
    s.commit()
    return {"unit": unit, "plugin": key, "enabled": after}


# --- users & tokens ----------------------------------------------------------------------------


class UserIn(BaseModel):
    username: str = Field(min_length=1, max_length=80)
    password: str = Field(min_length=8, max_length=200)
    unit: str = Field(min_length=1, max_length=200)
    roles: list[str] = Field(min_length=1)
    display_name: str = ""


def user_dict(u: User) -> dict[str, Any]:
    return {
        "id": u.id,
        "username": u.username,
        "display_name": u.display_name,
        "unit": u.home_unit_code,
        "roles": u.roles,
        "active": u.active,
    }


def _scoped(stmt: Any, column: Any) -> Any:
    root = context.current().principal.home_unit or "cn"
    return stmt.where(sa.or_(column == root, column.like(root + ".%")))


@api.operation(
    "/users",
    permission="core.users.manage",
    tags=["users"],
    summary="Users whose home unit is in the caller's subtree",
    response=UserPage,
)
def list_users() -> Any:
    stmt = _scoped(select(User), User.home_unit_code).order_by(User.username)
    return paginate(context.session(), stmt, user_dict)


@api.operation(
    "/users",
    methods=["POST"],
    body=UserIn,
    permission="core.users.manage",
    tags=["users"],
    status=201,
    summary="Create a user",
    response=UserOut,
)
def post_user(body: UserIn) -> Any:
    ctx = context.current()
    if not visible_unit(ctx.principal, body.unit):
        raise Forbidden("unit outside your scope", details=[{"field": "unit"}])
    user = create_user(
        ctx.session,
        _registry(),
        username=body.username,
        password=body.password,
        unit_code=body.unit,
        roles=body.roles,
        display_name=body.display_name,
    )
    audit.record(
        "core.user.create",
        target_type="user",
        target_id=user.username,
        tenant=body.unit,
        after=user_dict(user),
    )
    ctx.session.commit()
    return user_dict(user), 201


class UserPatch(BaseModel):
    password: str | None = Field(default=None, min_length=8, max_length=200)
    active: bool | None = None


@api.operation(
    "/users/<int:user_id>",
    methods=["PATCH"],
    body=UserPatch,
    permission="core.users.manage",
    tags=["users"],
    summary="Change a user's password or enable/disable them (either ends their sessions)",
    response=UserOut,
)
def patch_user(user_id: int, body: UserPatch) -> Any:
    from flask import session as cookie

    ctx = context.current()
    user = ctx.session.get(User, user_id)
    if user is None or not visible_unit(ctx.principal, user.home_unit_code):
        raise NotFound(f"no user {user_id}", details=[{"field": "user_id"}])
    before = user_dict(user)
    if body.password is not None:
        auth.set_password(ctx.session, user, body.password)
    if body.active is not None and body.active != user.active:
        auth.set_active(ctx.session, user, body.active)
    after = user_dict(user)
    if body.password is not None:
        after["password_changed"] = True
    audit.record(
        "core.user.update",
        target_type="user",
        target_id=user.username,
        tenant=user.home_unit_code,
        before=before,
        after=after,
    )
    ctx.session.commit()
    if ctx.principal.user_id == user.id and user.active:
        cookie["sv"] = user.session_version  # the session that changed it stays signed in
    return user_dict(user)


class TokenIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    unit: str = Field(min_length=1, max_length=200)
    permissions: list[str] = Field(min_length=1)
    expires_at: dt.datetime | None = None
    subject: str | None = Field(default=None, max_length=120)


def token_dict(t: ApiToken) -> dict[str, Any]:
    return {
        "id": t.id,
        "name": t.name,
        "prefix": t.prefix,
        "unit": t.unit_code,
        "permissions": t.permissions,
        "subject": t.subject,
        "created_by": t.created_by,
        "created_at": t.created_at,
        "expires_at": t.expires_at,
        "revoked_at": t.revoked_at,
    }


@api.operation(
    "/tokens",
    permission="core.tokens.manage",
    tags=["tokens"],
    summary="API tokens of units in the caller's subtree (secrets are never shown)",
    response=TokenPage,
)
def list_tokens() -> Any:
    stmt = _scoped(select(ApiToken), ApiToken.unit_code).order_by(ApiToken.id)
    return paginate(context.session(), stmt, token_dict)


@api.operation(
    "/tokens",
    methods=["POST"],
    body=TokenIn,
    permission="core.tokens.manage",
    tags=["tokens"],
    status=201,
    summary="Create an API token; the secret is in this response only",
    response=TokenCreated,
)
def post_token(body: TokenIn) -> Any:
    ctx = context.current()
    if not visible_unit(ctx.principal, body.unit):
        raise Forbidden("unit outside your scope", details=[{"field": "unit"}])
    if body.expires_at is not None and body.expires_at.tzinfo is None:
        body.expires_at = body.expires_at.replace(tzinfo=dt.UTC)
    token, secret = create_token(
        ctx.session,
        _registry(),
        name=body.name,
        unit_code=body.unit,
        permissions=body.permissions,
        created_by=ctx.principal.name,
        expires_at=body.expires_at,
        subject=body.subject,
    )
    audit.record(
        "core.token.create",
        target_type="token",
        target_id=token.id,
        tenant=body.unit,
        after=token_dict(token),
    )
    ctx.session.commit()
    return {**token_dict(token), "secret": secret}, 201


@api.operation(
    "/tokens/<int:token_id>",
    methods=["DELETE"],
    permission="core.tokens.manage",
    tags=["tokens"],
    summary="Revoke a token",
    response=TokenOut,
)
def revoke_token(token_id: int) -> Any:
    ctx = context.current()
    token = auth.revoke_token(ctx.session, ctx.principal, token_id)
    ctx.session.commit()
    return token_dict(token)


# --- audit -------------------------------------------------------------------------------------


def audit_dict(a: AuditRecord) -> dict[str, Any]:
    return {
        "id": a.id,
        "at": a.at,
        "actor": a.actor,
        "tenant": a.tenant_code,
        "action": a.action,
        "target_type": a.target_type,
        "target_id": a.target_id,
        "before": a.before,
        "after": a.after,
    }


@api.operation(
    "/audit",
    permission="core.audit.read",
    tags=["audit"],
    summary="Audit records in scope, newest first (?action=&tenant=&from=&to=)",
    response=AuditPage,
)
def list_audit() -> Any:
    stmt = select(AuditRecord).order_by(AuditRecord.at.desc(), AuditRecord.id.desc())
    if request.args.get("tenant"):
        code = query_tenant()
        stmt = stmt.where(
            sa.or_(AuditRecord.tenant_code == code, AuditRecord.tenant_code.like(code + ".%"))
        )
    if request.args.get("action"):
        stmt = stmt.where(AuditRecord.action == request.args["action"])
    if request.args.get("from") or request.args.get("to"):
        frm, to = query_period()
        start = dt.datetime.combine(frm, dt.time(), tzinfo=dt.UTC)
        end = dt.datetime.combine(to + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
        stmt = stmt.where(AuditRecord.at >= start, AuditRecord.at < end)
    return paginate(context.session(), stmt, audit_dict)


# --- jobs --------------------------------------------------------------------------------------


def job_dict(j: Job) -> dict[str, Any]:
    return {
        "id": j.id,
        "kind": j.kind,
        "tenant": j.tenant_code,
        "started_by": j.started_by,
        "status": j.status,
        "done": j.done,
        "total": j.total,
        "message": j.message,
        "result": j.result,
        "error": j.error,
        "attempts": j.attempts,
        "created_at": j.created_at,
        "started_at": j.started_at,
        "finished_at": j.finished_at,
    }


@api.operation(
    "/jobs",
    permission="core.jobs.view",
    tags=["jobs"],
    summary="Jobs in scope, newest first (?status=&kind=)",
    response=JobPage,
)
def list_jobs() -> Any:
    stmt = select(Job).order_by(Job.created_at.desc())
    if request.args.get("status"):
        stmt = stmt.where(Job.status == request.args["status"])
    if request.args.get("kind"):
        stmt = stmt.where(Job.kind == request.args["kind"])
    return paginate(context.session(), stmt, job_dict)


@api.operation(
    "/jobs/<job_id>",
    permission="core.jobs.view",
    tags=["jobs"],
    summary="One job's status, progress and result",
    response=JobOut,
)
def get_job(job_id: str) -> Any:
    row = context.session().get(Job, job_id)
    if row is None or not context.current().scope.allows(row.tenant_code):
        raise NotFound(f"no job {job_id}")
    return job_dict(row)


@api.operation(
    "/jobs/<job_id>/cancel",
    methods=["POST"],
    permission="core.jobs.cancel",
    tags=["jobs"],
    summary="Cancel a queued or running job",
    response=JobOut,
)
def cancel_job(job_id: str) -> Any:
    row = current_app.extensions["postalops.jobs"].cancel(job_id)
    return job_dict(row)


class JobStartIn(BaseModel):
    kind: str = Field(min_length=1, max_length=100, description="a startable job kind")
    unit: str = Field(min_length=1, max_length=200, description="the unit the job runs for")
    params: dict[str, Any] = Field(default_factory=dict, description="the kind's params schema")
    idempotency_key: str | None = Field(default=None, max_length=200)


class JobKindOut(BaseModel):
    kind: str
    plugin: str
    label_zh: str
    label_en: str
    permission: str
    params_schema: dict[str, Any]


class JobKindList(BaseModel):
    items: list[JobKindOut]


@api.operation(
    "/jobs",
    methods=["POST"],
    body=JobStartIn,
    tags=["jobs"],
    status=202,
    summary="Start a job a plugin declares startable (its run permission; params validated; "
    "404 where its plugin is off)",
    response=JobOut,
)
def start_job(body: JobStartIn) -> Any:
    row = current_app.extensions["postalops.jobs"].start(
        body.kind, body.unit, body.params, idempotency_key=body.idempotency_key
    )
    return job_dict(row), 202


@api.operation(
    "/jobs/kinds",
    tags=["jobs"],
    summary="The job kinds users may start: their permission and params schema",
    response=JobKindList,
)
def startable_kinds() -> Any:
    service = current_app.extensions["postalops.jobs"]
    return {
        "items": [
            {
                "kind": spec.kind,
                "plugin": service.plugin_of(spec.kind),
                "label_zh": spec.label_zh,
                "label_en": spec.label_en,
                "permission": spec.run_permission,
                "params_schema": spec.params_model.model_json_schema()
                if spec.params_model
                else {"type": "object", "properties": {}},
            }
            for spec in service.startable()
        ]
    }


class ProbeIn(BaseModel):
    steps: int = Field(default=10, ge=1, le=10_000)
    delay_ms: int = Field(default=200, ge=0, le=10_000)
    idempotency_key: str | None = Field(default=None, max_length=200)


@api.operation(
    "/jobs/probe",
    methods=["POST"],
    body=ProbeIn,
    permission="core.jobs.run",
    tags=["jobs"],
    status=202,
    summary="Start the diagnostic job (checks broker, workers, progress)",
    response=JobOut,
)
def post_probe(body: ProbeIn) -> Any:
    row = current_app.extensions["postalops.jobs"].submit(
        "core.probe",
        {"steps": body.steps, "delay_ms": body.delay_ms},
        idempotency_key=body.idempotency_key,
    )
    return job_dict(row), 202


# --- metrics -----------------------------------------------------------------------------------


@api.operation(
    "/metrics",
    permission="core.metrics.read",
    tags=["metrics"],
    summary="KPIs of every enabled plugin (?tenant=&from=&to=&plugin=)",
    response=MetricsOut,
)
def metrics() -> Any:
    tenant = query_tenant()
    frm, to = query_period()
    plugin = request.args.get("plugin") or None
    check_permission("core.metrics.read")
    return collect(_registry(), context.session(), tenant, frm, to, plugin)
