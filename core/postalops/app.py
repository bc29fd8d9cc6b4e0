"""The application factory: ``gunicorn 'postalops.app:create_app()'``.

Nothing happens at import; ``create_app`` wires settings, database, plugins, broker and web.
"""

from __future__ import annotations

import decimal
import logging
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask, g, redirect, request, session, url_for
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask_babel import Babel, Domain
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException

from . import __version__, context, i18n, metrics_cache, ui
from .api import ApiBlueprint, JSONProvider, install_converters
from .auth import (
    authenticate_bearer,
    token_lookup,
    user_lookup,
    user_principal,
    visible_unit,
)
from .config import Settings
from .context import CallContext
from .db import Database
from .db_errors import as_api_error
from .errors import PostalOpsError, Unauthorized
from .jobs import JobService, make_broker
from .models import User
from .plugins import PluginRegistry
from .tenancy import Scope

log = logging.getLogger(__name__)

LOCALES = ("zh_CN", "en")
ANONYMOUS_ENDPOINTS = {
    "static",
    "portal.login",
    "portal.set_language",
    "portal.healthz",
    "core_api.healthz",
    "portal.readyz",
    "core_api.readyz",
    "core_api.openapi",
    "core_api.docs",
    "core_api.docs_asset",
    "ui.static",
}


def create_app(
    settings: Settings | None = None,
    *,
    extra_plugins: tuple[Any, ...] = (),
    entry_points: bool = True,
) -> Flask:
    """Build a PostalOps app. ``extra_plugins`` registers plugin modules directly (tests)."""
    from .builtin import core as core_plugin

    settings = settings or Settings.from_env()
    app = Flask(
        "postalops", instance_path=str(settings.instance_path), root_path=str(Path(__file__).parent)
    )
    app.jinja_environment = i18n.I18nEnvironment  # each template in its owner's domain
    app.json = JSONProvider(app)
    app.session_interface = _CookieSessions()
    install_converters(app)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_content_length,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        SESSION_COOKIE_NAME="postalops_session",
        WTF_CSRF_CHECK_DEFAULT=False,  # checked in _before_request, skipped for Bearer tokens
        WTF_CSRF_TIME_LIMIT=None,
        BABEL_DEFAULT_LOCALE=settings.default_locale,
        BABEL_DEFAULT_TIMEZONE=settings.timezone,
        TESTING=settings.testing,
    )
    db = Database(settings.database_url, runtime_role=settings.db_runtime_role)
    registry = PluginRegistry(
        builtins=[core_plugin],
        entry_points=entry_points,
        extra=extra_plugins,
        skip=settings.disabled_plugins,
    )
    broker = make_broker(settings.redis_url, heartbeat_ms=settings.redis_heartbeat_ms)
    jobs = JobService(db, registry, broker, registry_is_enabled=registry.is_enabled)
    # KPIs cached per plugin, invalidated by the commits that write the plugin's tables
    metrics_cache.install(db.engine, registry.business_keys())
    jobs.app = app
    app.extensions.update(
        {
            "postalops.settings": settings,
            "postalops.db": db,
            "postalops.plugins": registry,
            "postalops.jobs": jobs,
            "postalops.version": __version__,
            "postalops.api_prefixes": {},
        }
    )

    # One translation domain per plugin package, the core's below them (postalops.i18n).
    app.extensions["postalops.i18n"] = i18n.Catalogues(
        {p.key: i18n.package_of(_module_name(p.module)) for p in registry.loaded()}
    )
    app.extensions["postalops.babel_domain"] = i18n.RequestDomain()
    _Babel(app, locale_selector=_select_locale, timezone_selector=lambda: settings.timezone)

    CSRFProtect(app)
    if settings.trusted_proxies > 0:
        # Only then are X-Forwarded-For/-Proto believed, and only the entries the trusted
        # proxies appended; X-Forwarded-Host is left alone (proxies rarely overwrite it).
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n)  # type: ignore[method-assign]

    app.before_request(_before_request)
    app.teardown_request(_teardown_request)
    _register_error_handlers(app)
    _register_blueprints(app, registry)
    ui.init_app(app)
    registry.call_each("postalops_app_created", app=app)  # guarded: see PluginRegistry
    return app


class _CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, without building the cookie signer for a request that
    carries no session cookie (API calls with a token, health checks): an empty session needs
    no signature, and the signer cost more than the whole ``/healthz`` view."""

    def open_session(self, app: Flask, request: Any) -> SecureCookieSession | None:
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)


class _Babel(Babel):
    @property
    def domain_instance(self) -> Domain:  # type: ignore[override]
        from flask import current_app

        return current_app.extensions["postalops.babel_domain"]


def _module_name(module: Any) -> str:
    """A plugin's module name (a plugin registered as an object: its class's module)."""
    return getattr(module, "__name__", None) or type(module).__module__


def _select_locale() -> str:

    lang = session.get("lang")
    if lang in LOCALES:
        return lang

    ctx = context.current_or_none()
    if ctx is not None and ctx.principal.user_id is not None:
        user_locale = g.get("user_locale")
        if user_locale in LOCALES:
            return user_locale
    best = request.accept_languages.best_match(["zh_CN", "zh", "en"]) if request else None
    settings: Settings = _ext("postalops.settings")
    if best == "en" and settings.default_locale != "zh_CN":
        return "en"
    return settings.default_locale


def _ext(name: str) -> Any:
    from flask import current_app

    return current_app.extensions[name]


def _before_request() -> Any:
    db: Database = _ext("postalops.db")
    registry: PluginRegistry = _ext("postalops.plugins")
    auth_header = request.headers.get("Authorization", "")
    ctx: CallContext | None = None
    if auth_header.startswith("Bearer "):
        secret = auth_header[7:].strip()
        # One session for the token lookup and the request's work: found under its sign-in
        # lookup, then scoped to the token's unit (Database.rescope).
        s = db.session(None, lookups=token_lookup(secret))
        try:
            who = authenticate_bearer(s, secret)
            unit = who.home_unit
            scope = Scope.unit(unit)
            db.rescope(s, scope)
        except BaseException:
            s.close()
            raise
        ctx = CallContext(db=db, scope=scope, principal=who, unit=unit, _session=s)
    elif auth_header:
        raise Unauthorized("Authorization header must be 'Bearer <token>'", code="bad_auth_header")
    else:
        uid = session.get("uid")
        if uid is not None:
            with db.session(None, lookups=user_lookup(user_id=uid)) as s:
                user = s.get(User, uid)
                if user is not None:
                    s.expunge(user)
            # Logout, a password change and disabling bump the user's session_version: a
            # cookie signed before that (it carries the old number) no longer authenticates.
            if user is None or not user.active or session.get("sv") != user.session_version:
                session.clear()
            else:
                who = user_principal(user, registry)
                unit = session.get("unit") or user.home_unit_code
                if not visible_unit(who, unit):
                    unit = user.home_unit_code
                g.user = user
                g.user_locale = user.locale
                ctx = CallContext(db=db, scope=Scope.unit(unit), principal=who, unit=unit)
        # CSRF guards what a cookie may do: checked for a signed-in user's writes and for the
        # anonymous forms (login, language); any other anonymous write is simply 401 below.
        if request.method not in ("GET", "HEAD", "OPTIONS") and (
            ctx is not None or request.endpoint in ANONYMOUS_ENDPOINTS
        ):
            from flask import current_app

            if request.path not in current_app.extensions.get("postalops.csrf_exempt_paths", ()):
                current_app.extensions["csrf"].protect()
    if ctx is not None:
        g._postalops_ctx_token = context.push(ctx)
        return None
    if request.endpoint in ANONYMOUS_ENDPOINTS or request.endpoint is None:
        return None
    if request.path.startswith("/dashboards/_dash-component-suites/"):
        return None  # the Dash JavaScript bundles: code, no data
    if request.path.startswith(("/api/", "/dashboards/_")) or request.method != "GET":
        raise Unauthorized("authentication required", code="unauthenticated")
    return redirect(url_for("portal.login", next=request.full_path.rstrip("?")))


def _teardown_request(exc: BaseException | None) -> None:
    token = g.pop("_postalops_ctx_token", None)
    if token is not None:
        ctx = context.current_or_none()
        if ctx is not None and ctx._session is not None and exc is not None:
            ctx._session.rollback()
        context.pop(token)


def _wants_json() -> bool:
    return (
        request.path.startswith("/api/")
        or request.path.startswith("/dashboards/_")
        or request.is_json
        or request.accept_mimetypes.best == "application/json"
    )


def _register_error_handlers(app: Flask) -> None:
    @app.errorhandler(PostalOpsError)
    def domain_error(exc: PostalOpsError) -> Any:
        _rollback()
        if _wants_json():
            return exc.to_dict(), exc.status
        return ui.error_page(exc.status, exc.message, exc.details, exc.code)

    @app.errorhandler(sa.exc.IntegrityError)
    @app.errorhandler(sa.exc.DataError)
    @app.errorhandler(OverflowError)
    @app.errorhandler(decimal.InvalidOperation)
    def database_refusal(exc: Exception) -> Any:
        # A unique code taken, a required column missing, a number the column cannot hold:
        # the client's mistake, answered 409/422 naming the column; the transaction is rolled
        # back (domain_error), so nothing is written.
        log.info("database refused the request: %s", exc)
        return domain_error(as_api_error(exc))

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError) -> Any:
        body = {
            "error": {
                "code": "csrf",
                "message": exc.description or "CSRF token missing",
                "details": [{"field": "csrf_token", "message": "missing or invalid"}],
            }
        }
        if _wants_json():
            return body, 400
        return ui.error_page(400, code="csrf")

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        _rollback()
        code = {
            400: "bad_request",
            401: "unauthorized",
            403: "forbidden",
            404: "not_found",
            405: "method_not_allowed",
            413: "too_large",
            429: "too_many_requests",
        }.get(exc.code or 500, "http_error")
        if _wants_json():
            return {
                "error": {"code": code, "message": exc.description or exc.name, "details": []}
            }, exc.code
        return ui.error_page(exc.code or 500, code=code)


def _rollback() -> None:
    ctx = context.current_or_none()
    if ctx is not None and ctx._session is not None:
        ctx._session.rollback()


def _register_blueprints(app: Flask, registry: PluginRegistry) -> None:
    prefixes = app.extensions["postalops.api_prefixes"]
    catalogues: i18n.Catalogues = app.extensions["postalops.i18n"]
    for key, blueprints in registry.call_each("postalops_blueprints", boot=True, app=app):
        builtin = registry.is_builtin(key)
        for bp in blueprints:
            catalogues.blueprints[bp.name] = catalogues.packages.get(key, i18n.CORE)
            if isinstance(bp, ApiBlueprint):
                prefix = "/api/v1" if builtin else f"/api/v1/{key}"
            else:
                prefix = bp.url_prefix if builtin else f"/p/{key}"
            prefixes[bp.name] = prefix
            app.register_blueprint(bp, url_prefix=prefix)
            if not builtin:
                app.before_request_funcs.setdefault(bp.name, []).append(_enabled_guard(key))


def _enabled_guard(key: str) -> Any:
    """404 for a plugin's routes where the caller's active unit has it disabled; where it is
    enabled, the request's scope is narrowed for the plugin (``Scope.for_plugin``): the
    subtrees below the unit where it is off are cut out, from the enablement cache."""

    def guard() -> None:
        from werkzeug.exceptions import NotFound as HTTPNotFound

        ctx = context.current_or_none()
        if ctx is None:
            return  # the view's own auth check answers 401 / redirects
        registry: PluginRegistry = _ext("postalops.plugins")
        if key not in registry.enabled_at(ctx.db, ctx.unit or ""):
            raise HTTPNotFound()
        narrowed = registry.plugin_scope_at(ctx.db, ctx.scope, key)
        cut = (narrowed.off, narrowed.on) != (ctx.scope.off, ctx.scope.on)
        ctx.scope = narrowed
        if ctx._session is not None:
            if cut:  # a bearer request's open session (PostgreSQL: one more set_config)
                ctx.db.rescope(ctx._session, narrowed)
            else:
                ctx._session.info["scope"] = narrowed

    return guard
