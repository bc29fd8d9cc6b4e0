"""The portal shell: login, language and unit switching, home, jobs and admin pages."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlparse

import sqlalchemy as sa
from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import get_locale
from sqlmodel import select

from postalops import audit, auth, context, ui
from postalops.auth import (
    TooManyAttempts,
    check_login,
    check_permission,
    create_token,
    create_user,
    known_roles,
    visible_unit,
)
from postalops.db import utcnow
from postalops.errors import NotFound, PostalOpsError, Unauthorized
from postalops.i18n import core as _core_domain
from postalops.listing import Column, Listing
from postalops.models import ApiToken, AuditRecord, Job, OrgUnit, User
from postalops.tenancy import in_subtree

_ = _core_domain.gettext  # the core's own strings: plugins cannot change them

bp = Blueprint("portal", __name__, url_prefix="")


def _registry() -> Any:
    return current_app.extensions["postalops.plugins"]


def _safe_next(target: str | None) -> str:
    if not target:
        return url_for("portal.home")
    parsed = urlparse(target)
    if parsed.scheme or parsed.netloc or not target.startswith("/"):
        return url_for("portal.home")
    return target


def is_zh() -> bool:
    return str(get_locale() or "zh_CN").startswith("zh")


def label(obj: Any, field: str = "label") -> str:
    return getattr(obj, f"{field}_zh") if is_zh() else getattr(obj, f"{field}_en")


@bp.app_context_processor
def shell_context() -> dict[str, Any]:
    ctx = context.current_or_none()
    data: dict[str, Any] = {
        "is_zh": is_zh(),
        "label": label,
        "current_user": g.get("user"),
        "active_unit": None,
        "nav": [],
        "admin_nav": [],
        "units": [],
        "can": lambda perm: bool(ctx and ctx.principal.can(perm)),
    }
    if ctx is None or ctx.unit is None:
        return data
    reg = _registry()
    s = ctx.session
    enabled = reg.effective(s, ctx.unit)
    items = []
    for key, navs in reg.call_each("postalops_nav_items", only=enabled):
        for item in navs:
            if item.permission and not ctx.principal.can(item.permission):
                continue
            items.append((item.order, key, item))
    items.sort(key=lambda t: (t[0], t[1]))
    data["nav"] = [(k, i) for _, k, i in items if not i.admin]
    data["admin_nav"] = [(k, i) for _, k, i in items if i.admin]
    root = ctx.principal.home_unit or "cn"
    units = [
        u for u in s.exec(select(OrgUnit).order_by(OrgUnit.code)).all() if in_subtree(u.code, root)
    ]
    data["units"] = units
    data["active_unit"] = next((u for u in units if u.code == ctx.unit), None)
    return data


@bp.route("/healthz")
def healthz() -> Any:
    from .core_api import healthz as api_healthz

    return api_healthz()


@bp.route("/readyz")
def readyz() -> Any:
    from .core_api import readyz as api_readyz

    return api_readyz()


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    error = None
    status = 200
    if request.method == "POST":
        db = current_app.extensions["postalops.db"]
        settings = current_app.extensions["postalops.settings"]
        username = (request.form.get("username") or "").strip()
        password = request.form.get("password") or ""
        # The WSGI peer, or (ProxyFix, POSTALOPS_TRUSTED_PROXIES) what trusted proxies saw:
        # never an X-Forwarded-For the client wrote itself.
        address = request.remote_addr or "?"
        with db.session(None, lookups=auth.user_lookup(username=username)) as s:
            try:
                user = check_login(
                    s, username, password, address, auth.LoginPolicy.from_settings(settings)
                )
            except TooManyAttempts as exc:
                status = 429
                if exc.code == "account_locked":
                    error = _(
                        "This account is locked after too many failed logins. "
                        "Try again in %(minutes)d minutes.",
                        minutes=settings.login_lock_minutes,
                    )
                else:
                    error = _("Too many failed logins. Wait a minute and try again.")
            except Unauthorized:
                error, status = _("Wrong username or password."), 401
            else:
                session.clear()
                session["uid"] = user.id
                session["unit"] = user.home_unit_code
                session["sv"] = user.session_version
                session.permanent = False
                return redirect(_safe_next(request.args.get("next")))
    return render_template("postalops/login.html", error=error), status


@bp.route("/logout", methods=["POST"])
def logout() -> Any:
    user = g.get("user")
    if user is not None:  # ends this and every other session of the user, on the server
        db = current_app.extensions["postalops.db"]
        with db.session(None, lookups=auth.user_lookup(user_id=user.id)) as s:
            auth.end_sessions(s, user.id)
            s.commit()
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    return redirect(url_for("portal.login"))


@bp.route("/lang", methods=["POST"])
def set_language() -> Any:
    lang = request.form.get("lang")
    if lang in ("zh_CN", "en"):
        session["lang"] = lang
    return redirect(
        _safe_next(request.form.get("next") or request.referrer and urlparse(request.referrer).path)
    )


@bp.route("/unit", methods=["POST"])
def switch_unit() -> Any:
    ctx = context.current()
    code = request.form.get("unit") or ""
    if not visible_unit(ctx.principal, code):
        flash(_("That unit is outside your scope."), "error")
    elif ctx.session.exec(select(OrgUnit).where(OrgUnit.code == code)).first() is None:
        flash(_("Unknown unit."), "error")
    else:
        session["unit"] = code
    return redirect(_safe_next(request.form.get("next")))


@bp.route("/")
def home() -> Any:
    """The workbench (工作台): the unit's headline KPIs and the user's inbox (docs/plugins.md,
    ``postalops_tasks``), limited to plugins enabled here whose view permission the user holds."""
    from postalops import workbench

    ctx = context.current()
    reg = _registry()
    shown = workbench.areas(reg, ctx.session, ctx.principal, ctx.unit)
    frm, to = workbench.period(current_app.extensions["postalops.settings"])
    # Only the KPIs of plugins the user may open: their own pages show the same figures.
    kpis = workbench.headline(reg, ctx.session, ctx.unit, shown, frm, to)
    inbox = workbench.inbox(reg, ctx.session, ctx.principal, ctx.unit, shown)
    locale = "zh" if is_zh() else "en"
    roles = known_roles(reg)
    role_names = [label(roles[r]) for r in ctx.principal.roles if r in roles]
    return render_template(
        "postalops/home.html",
        areas=shown,
        kpis=kpis,
        period=(frm, to),
        inbox=inbox,
        waited=lambda item: workbench.waited_text(item.waited, locale),
        role_names=role_names,
        business_keys=reg.business_keys(),  # a page of one of these in the nav: work is possible
    )


# --- jobs --------------------------------------------------------------------------------------

# Scheduler housekeeping: jobs the scheduler fired, and the jobs those started in turn (their
# ``started_by`` is ``job:<id>(scheduler:<name>)``). Hidden on the jobs page unless asked for.
SCHEDULED = sa.or_(
    Job.started_by.like("scheduler:%"),  # type: ignore[union-attr]
    Job.started_by.like("job:%(scheduler:%"),  # type: ignore[union-attr]
)
JOB_STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")


class JobListing(Listing):
    """The jobs list. ``scheduled=1`` shows the scheduler's housekeeping too (left out by
    default); the flag is kept in the paging and sorting links like any filter."""

    def _filters(self, args: Any, locale: str, tz: str) -> tuple[list[Any], dict[str, str], list]:
        clauses, values, problems = super()._filters(args, locale, tz)
        if str(args.get(self.prefix + "scheduled") or "") == "1":
            values["scheduled"] = "1"
        else:
            clauses.append(sa.or_(Job.started_by.is_(None), sa.not_(SCHEDULED)))  # type: ignore[union-attr]
        return clauses, values, problems


def _job_kinds() -> list[tuple[str, str, str]]:
    specs = current_app.extensions["postalops.jobs"].specs
    return sorted(((k, s.label_zh, s.label_en) for k, s in specs.items()), key=lambda t: t[2])


def started_by_label(who: str | None) -> str:
    """Who started a job, in words: a user's name, 定时任务 for the scheduler (also for the jobs
    its jobs started), 接口令牌 … for a token."""
    if not who:
        return "—"
    if who.startswith("job:") and "(" in who and who.endswith(")"):
        return started_by_label(who[who.index("(") + 1 : -1])
    if who.startswith("scheduler:"):
        return _("Scheduler")
    if who.startswith("user:"):
        return who[len("user:") :]
    if who.startswith("token:"):
        return _("API token %(name)s", name=who[len("token:") :].split(" ", 1)[-1])
    if who == "system" or who.startswith("system"):
        return _("System")
    return who


JOBS = JobListing(
    select(Job),
    [
        Column("created_at", "创建时间", "Created", kind="datetime", sortable=True,
               filter="date_range"),
        Column("kind", "作业", "Job", sortable=True, filter="choice", choices=_job_kinds),
        Column("tenant_code", "单位", "Unit", kind="unit", sortable=True, filter="unit"),
        Column("status", "状态", "Status", kind="status", domain="job", sortable=True,
               filter="choice", choices=JOB_STATUSES),
        Column("finished_at", "完成时间", "Finished", kind="datetime", sortable=True),
    ],
    default_sort="-created_at",
    per_page=50,
    filename="jobs",
)  # fmt: skip


@bp.route("/jobs")
def jobs() -> Any:
    check_permission("core.jobs.view")
    session = context.session()
    page = JOBS.run(session, request.args)
    service = current_app.extensions["postalops.jobs"]
    hidden = 0
    if not page.values.get("scheduled"):
        hidden = session.execute(
            sa.select(sa.func.count()).select_from(Job).where(SCHEDULED)
        ).scalar_one()
    zh = is_zh()
    return render_template(
        "postalops/jobs.html",
        page=page,
        runnable=_runnable_schedules(session),
        per_unit_label=_per_unit_label,
        hidden_scheduled=hidden,
        job_label=lambda kind: service.label(kind, zh),
        result_url=service.result_url,
        started_by=started_by_label,
        columns={c.key: c for c in JOBS.columns},
    )


def _per_unit_label(level: str | None) -> str:
    labels = {
        "province": _("Once per province where it is enabled"),
        "city": _("Once per city where it is enabled"),
        "county": _("Once per county where it is enabled"),
        "station": _("Once per station where it is enabled"),
        "branch": _("Once per branch where it is enabled"),
    }
    return labels.get(level or "", _("Once for the whole unit"))


def _runnable_schedules(session: Any) -> list[Any]:
    """Schedules whose job is startable by this user, and the units "run now" would start it
    for at the unit being viewed (its plugin enabled there)."""
    from postalops.scheduler import schedules

    ctx = context.current()
    service = current_app.extensions["postalops.jobs"]
    reg = _registry()
    if not ctx.unit:
        return []
    out = []
    for item in schedules(current_app):
        spec = service.specs.get(item.kind)
        if spec is None or not spec.startable or not ctx.principal.can(spec.run_permission):
            continue
        if _run_now_units(session, item, ctx.unit, reg, service):
            out.append(item)
    return out


def _run_now_units(session: Any, item: Any, unit: str, reg: Any, service: Any) -> list[str]:
    """Where "run now" at ``unit`` starts ``item``'s job: a ``per_unit`` schedule at each unit
    of its level under ``unit`` where the plugin is on (or at ``unit`` itself when it is that
    level or below); any other at ``unit``. Only units where the plugin is enabled."""
    plugin = service.plugin_of(item.kind)
    if item.per_unit:
        below = session.exec(
            select(OrgUnit.code)
            .where(OrgUnit.level == item.per_unit)
            .where(sa.or_(OrgUnit.code == unit, OrgUnit.code.like(unit + ".%")))  # type: ignore[attr-defined]
            .order_by(OrgUnit.code)
        ).all()
        targets = [c for c in below if reg.is_enabled(session, c, plugin)]
        if targets:
            return targets
    return [unit] if reg.is_enabled(session, unit, plugin) else []


@bp.route("/jobs/schedules/<name>/run", methods=["POST"])
def run_schedule_now(name: str) -> Any:
    """The "run now" button of a schedule: its job at the unit being viewed, through the same
    checks as ``POST /api/v1/jobs`` (the job's run permission, plugin enabled, params)."""
    from postalops.scheduler import schedules

    service = current_app.extensions["postalops.jobs"]
    item = next((s for s in schedules(current_app) if s.name == name), None)
    spec = service.specs.get(item.kind) if item else None
    if item is None or spec is None or not spec.startable:
        raise NotFound(f"no schedule {name} that can be run now")
    check_permission(spec.run_permission)
    page = ui.confirm_first(_("The job starts now, besides its scheduled runs."), _("Run now"))
    if page is not None:
        return page
    ctx = context.current()
    units = _run_now_units(ctx.session, item, ctx.unit, _registry(), service)
    if not units:
        flash(_("This plugin is not enabled here."), "error")
        return redirect(url_for("portal.jobs"))
    started = 0
    for unit in units:
        try:
            service.start(item.kind, unit, dict(item.params))
            started += 1
        except PostalOpsError as exc:
            if exc.status == 403:
                raise
            flash(exc.message, "error")
    if started:
        flash(_("Jobs started: %(n)s.", n=started), "info")
    return redirect(url_for("portal.jobs"))


@bp.route("/jobs/<job_id>/cancel", methods=["POST"])
def cancel_job(job_id: str) -> Any:
    check_permission("core.jobs.cancel")
    from postalops import ui

    page = ui.confirm_first(
        _("The job stops at its next step; what it already did is kept."), _("Cancel the job")
    )
    if page is not None:
        return page
    try:
        current_app.extensions["postalops.jobs"].cancel(job_id)
        flash(_("The job will stop at its next step."), "info")
    except PostalOpsError as exc:
        if exc.status == 404:
            raise
        flash(_("This job has already finished."), "warning")
    return redirect(_safe_next(request.form.get("next") or url_for("portal.jobs")))


@bp.route("/jobs/probe", methods=["POST"])
def run_probe() -> Any:
    check_permission("core.jobs.run")
    try:
        steps = int(request.form.get("steps", 20))
        delay = int(request.form.get("delay_ms", 300))
        if not (1 <= steps <= 10_000 and 0 <= delay <= 10_000):
            raise ValueError
    except ValueError:
        flash(_("Steps must be 1-10000 and delay 0-10000 ms."), "error")
        return redirect(url_for("portal.jobs"))
    current_app.extensions["postalops.jobs"].submit(
        "core.probe", {"steps": steps, "delay_ms": delay}
    )
    flash(_("Diagnostic job queued."), "info")
    return redirect(url_for("portal.jobs"))


# --- admin -------------------------------------------------------------------------------------


@bp.route("/admin/plugins", methods=["GET", "POST"])
def admin_plugins() -> Any:
    check_permission("core.plugins.manage")
    ctx = context.current()
    reg = _registry()
    unit = request.values.get("unit") or ctx.unit
    if not visible_unit(ctx.principal, unit):
        unit = ctx.unit
    if request.method == "POST":
        key = request.form.get("plugin", "")
        enabled = request.form.get("enabled") == "1"
        if not enabled and key in reg.plugins:
            # switching off hides a plugin for a whole subtree: asked first (no-JS browsers
            # get a confirmation page; ui.js asks in a dialog before posting)
            p = reg.plugins[key]
            name = (p.info.name_zh if is_zh() else p.info.name_en) if p.info else key
            page = ui.confirm_first(
                _(
                    "%(plugin)s will be switched off for %(unit)s and every unit below it: its "
                    "menu, pages, API and dashboard cards disappear there. Its data is kept, "
                    "and switching it on again brings it back.",
                    plugin=name,
                    unit=ui.unit_name(unit),
                ),
                _("Disable %(plugin)s", plugin=name),
            )
            if page is not None:
                return page
        try:
            reg.set_enabled(ctx.session, unit, key, enabled, ctx.principal.name)
            ctx.session.commit()
            flash(_("Saved."), "info")
        except PostalOpsError as exc:
            ctx.session.rollback()
            flash(exc.message, "error")
        return redirect(url_for("portal.admin_plugins", unit=unit))
    on = reg.effective(ctx.session, unit)
    explicit = {
        r.split(" ")[0] for k in reg.business_keys() for r in reg.enabled_units(ctx.session, k)
    }
    rows = [
        (p, p.key in on)
        for p in sorted(reg.plugins.values(), key=lambda p: p.key)
        if not reg.is_builtin(p.key)
    ]
    names = {
        p.key: (p.info.name_zh if is_zh() else p.info.name_en)
        for p in reg.plugins.values()
        if p.info is not None
    }
    return render_template(
        "postalops/admin_plugins.html", rows=rows, unit=unit, explicit=explicit, names=names
    )


@bp.route("/admin/users", methods=["GET", "POST"])
def admin_users() -> Any:
    check_permission("core.users.manage")
    ctx = context.current()
    reg = _registry()
    if request.method == "POST":
        unit = request.form.get("unit", "")
        try:
            if not visible_unit(ctx.principal, unit):
                raise PostalOpsError(_("That unit is outside your scope."), status=403)
            user = create_user(
                ctx.session,
                reg,
                username=request.form.get("username", "").strip(),
                password=request.form.get("password", ""),
                unit_code=unit,
                roles=request.form.getlist("roles"),
                display_name=request.form.get("display_name", ""),
            )
            audit.record(
                "core.user.create",
                target_type="user",
                target_id=user.username,
                tenant=unit,
                after={"username": user.username, "roles": user.roles},
            )
            ctx.session.commit()
            flash(_("User created."), "info")
        except PostalOpsError as exc:
            ctx.session.rollback()
            flash(
                exc.message
                + "".join(
                    f" {d.get('field', '')}: {d.get('message', '')}"
                    for d in exc.details
                    if isinstance(d, dict)
                ),
                "error",
            )
        return redirect(url_for("portal.admin_users"))
    root = ctx.principal.home_unit or "cn"
    users = [
        u
        for u in ctx.session.exec(select(User).order_by(User.home_unit_code, User.username)).all()
        if in_subtree(u.home_unit_code, root)
    ]
    return render_template(
        "postalops/admin_users.html", users=users, roles=list(known_roles(reg).values())
    )


@bp.route("/admin/tokens", methods=["GET", "POST"])
def admin_tokens() -> Any:
    check_permission("core.tokens.manage")
    ctx = context.current()
    reg = _registry()
    secret = None
    if request.method == "POST":
        unit = request.form.get("unit", "")
        try:
            if not visible_unit(ctx.principal, unit):
                raise PostalOpsError(_("That unit is outside your scope."), status=403)
            days = int(request.form.get("days") or 0)
            expires = utcnow() + dt.timedelta(days=days) if days > 0 else None
            token, secret = create_token(
                ctx.session,
                reg,
                name=request.form.get("name", ""),
                unit_code=unit,
                permissions=request.form.getlist("permissions"),
                created_by=ctx.principal.name,
                expires_at=expires,
            )
            audit.record(
                "core.token.create",
                target_type="token",
                target_id=token.id,
                tenant=unit,
                after={"name": token.name, "permissions": token.permissions},
            )
            ctx.session.commit()
        except (PostalOpsError, ValueError) as exc:
            ctx.session.rollback()
            flash(getattr(exc, "message", str(exc)), "error")
    root = ctx.principal.home_unit or "cn"
    tokens = [
        t
        for t in ctx.session.exec(select(ApiToken).order_by(ApiToken.id.desc())).all()
        if in_subtree(t.unit_code, root)
    ]
    return render_template(
        "postalops/admin_tokens.html", tokens=tokens, secret=secret, permissions=reg.permissions()
    )


@bp.route("/admin/tokens/<int:token_id>/revoke", methods=["POST"])
def revoke_token(token_id: int) -> Any:
    check_permission("core.tokens.manage")
    ctx = context.current()
    auth.revoke_token(ctx.session, ctx.principal, token_id)
    ctx.session.commit()
    flash(_("Token revoked."), "info")
    return redirect(url_for("portal.admin_tokens"))


def _audit_actions() -> list[str]:
    labels = current_app.extensions["postalops.status_labels"].get("audit.action", {})
    return sorted(labels)


def _audit_changes(row: AuditRecord) -> dict[str, str] | None:
    """``{field: "before → after"}``: one readable column instead of two JSON blobs."""
    from postalops.ui import compact_json

    def shown(v: Any) -> str:
        return "—" if v is None else v if isinstance(v, str) else compact_json(v)

    before, after = row.before or {}, row.after or {}
    if not isinstance(before, dict) or not isinstance(after, dict):
        return {"before": shown(row.before), "after": shown(row.after)}
    out = {}
    for key in sorted(set(before) | set(after)):
        b, a = before.get(key), after.get(key)
        out[key] = shown(a) if key not in before or b == a else f"{shown(b)} → {shown(a)}"
    return out or None


def _audit_target(row: AuditRecord) -> str:
    from postalops.ui import status_label

    return f"{status_label(row.target_type, 'audit.target')[0]} {row.target_id}"


AUDIT = Listing(
    select(AuditRecord),
    [
        Column("at", "时间", "Time", kind="datetime", sortable=True, filter="date_range"),
        Column("actor", "操作人", "Who", sortable=True, filter="text"),
        Column("tenant_code", "单位", "Unit", kind="unit", sortable=True, filter="unit"),
        Column(
            "action",
            "操作",
            "Action",
            kind="status",
            domain="audit.action",
            sortable=True,
            filter="choice",
            choices=_audit_actions,
        ),
        Column("target", "对象", "Target", value=_audit_target),
        Column("changes", "变更内容", "Changes", kind="json", value=_audit_changes, export=False),
        Column("before", "变更前", "Before", kind="json", show=False),
        Column("after", "变更后", "After", kind="json", show=False),
    ],
    default_sort="-at",
    filename="audit",
)


@bp.route("/admin/audit")
def admin_audit() -> Any:
    check_permission("core.audit.read")
    page = AUDIT.run(context.session(), request.args)
    if page.export:
        return page.export_response()
    return render_template("postalops/admin_audit.html", page=page)
