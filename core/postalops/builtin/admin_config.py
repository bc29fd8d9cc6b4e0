"""Admin pages for the core's shared services: webhooks (endpoints, delivery log, replay) and
plugin settings (a form per plugin, values per unit with inheritance)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlmodel import select

from postalops import context, plugin_settings, ui, webhooks
from postalops.auth import check_permission
from postalops.db import in_scope_clause
from postalops.errors import PostalOpsError
from postalops.models import WebhookDelivery, WebhookEndpoint

bp = Blueprint("admin_config", __name__, url_prefix="")
MANAGE = "core.webhooks.manage"


def _registry() -> Any:
    return current_app.extensions["postalops.plugins"]


# --- webhooks -------------------------------------------------------------------------------


def _webhooks_page(errors: dict[str, str] | None = None, form: Any = None, status: int = 200):
    s = context.session()
    unit = context.tenant()
    endpoints = s.exec(
        select(WebhookEndpoint)
        .where(in_scope_clause(WebhookEndpoint.unit_code, unit))
        .order_by(WebhookEndpoint.unit_code, WebhookEndpoint.id)
    ).all()
    urls = {e.id: e.url for e in endpoints}
    deliveries = s.exec(select(WebhookDelivery).order_by(WebhookDelivery.id.desc()).limit(50)).all()
    log = [webhooks.delivery_json(s, d) for d in deliveries]
    for d in log:
        d["last_latency_ms"] = d["tries"][-1]["latency_ms"] if d["tries"] else None
        d["url"] = d["url"] or urls.get(d["endpoint_id"])
    return (
        render_template(
            "postalops/admin_webhooks.html",
            endpoints=endpoints,
            deliveries=log,
            errors=errors or {},
            form=form or {},
            unit_options=ui.visible_units(),
            active=unit,
        ),
        status,
    )


@bp.route("/admin/webhooks", methods=["GET", "POST"])
def admin_webhooks() -> Any:
    check_permission(MANAGE)
    if request.method == "GET":
        return _webhooks_page()
    s = context.session()
    form = request.form
    try:
        row = webhooks.create_endpoint(
            s,
            form.get("unit") or context.tenant(),
            form.get("url", ""),
            form.get("event_types", "").replace("，", ",").split(","),
            description=form.get("description", ""),
            actor=context.principal().name,
        )
        s.commit()
    except PostalOpsError as exc:
        s.rollback()
        errors = ui.field_errors(exc.details) or {"url": exc.message}
        if "unit" not in errors and exc.status == 403:
            errors["unit"] = _("That unit is outside your scope.")
        return _webhooks_page(errors, form, status=422 if exc.status != 403 else 403)
    flash(
        _(
            "Endpoint added. Copy its signing secret now; it will not be shown again: %(secret)s",
            secret=row.secret,
        ),
        "success",
    )
    return redirect(url_for("admin_config.admin_webhooks"))


@bp.route("/admin/webhooks/<int:endpoint_id>", methods=["POST"])
def webhook_endpoint(endpoint_id: int) -> Any:
    check_permission(MANAGE)
    s = context.session()
    action = request.form.get("action")
    changes: dict[str, Any] = {}
    if action == "activate":
        changes["active"] = True
    elif action == "deactivate":
        changes["active"] = False
    elif action == "rotate":
        page = ui.confirm_first(
            _("The receiver must be given the new secret: events are signed with it at once."),
            _("Rotate secret"),
        )
        if page is not None:
            return page
        changes["rotate_secret"] = True
    secret = webhooks.update_endpoint(s, endpoint_id, changes, actor=context.principal().name)[1]
    s.commit()
    if secret:
        flash(
            _(
                "New signing secret (copy it now; it will not be shown again): %(secret)s",
                secret=secret,
            ),
            "success",
        )
    else:
        flash(_("Endpoint saved."), "success")
    return redirect(url_for("admin_config.admin_webhooks"))


@bp.route("/admin/webhooks/deliveries/<int:delivery_id>/replay", methods=["POST"])
def replay_delivery(delivery_id: int) -> Any:
    check_permission(MANAGE)
    s = context.session()
    try:
        webhooks.replay(s, delivery_id, actor=context.principal().name)
        s.commit()
    except PostalOpsError as exc:
        s.rollback()
        if exc.status == 404:
            raise
        flash(_("This delivery is still being tried; its next try is already queued."), "warning")
        return redirect(url_for("admin_config.admin_webhooks"))
    flash(_("The event is being sent again."), "success")
    return redirect(url_for("admin_config.admin_webhooks"))


# --- plugin settings ------------------------------------------------------------------------


@bp.route("/admin/settings")
def admin_settings() -> Any:
    check_permission("core.settings.view")
    reg = _registry()
    s = context.session()
    unit = context.tenant()
    ctx = context.current()
    plugins = [
        (key, reg.get(key).info)
        for key, schema in sorted(reg.settings_schemas().items())
        if reg.is_enabled(s, unit, key) and ctx.principal.can(schema.view_permission)
    ]
    return render_template("postalops/admin_settings.html", plugins=plugins)


def _parse_form(fields: list[plugin_settings.FormField]) -> dict[str, Any]:
    """The values typed in the form; an empty field (or 'inherit') is inherited."""
    own: dict[str, Any] = {}
    for f in fields:
        raw = (request.form.get(f.name) or "").strip()
        if raw in ("", "__inherit__"):
            continue
        if f.type == "checkbox":
            own[f.name] = raw == "1"
        else:
            own[f.name] = raw
    return own


@bp.route("/admin/settings/<plugin>", methods=["GET", "POST"])
def plugin_settings_page(plugin: str) -> Any:
    from .settings_api import resolve

    # The plugin's own view permission (checked by resolve), not core.settings.view: a plugin's
    # supervisors edit their settings here without the admin menu.
    schema, unit = resolve(plugin, request.values.get("unit") or None, edit=False)
    s = context.session()
    fields = plugin_settings.form_fields(schema.model)
    errors: dict[str, str] = {}
    typed: dict[str, Any] | None = None
    status = 200
    if request.method == "POST":
        check_permission(schema.edit_permission)
        typed = _parse_form(fields)
        try:
            plugin_settings.save(
                s, schema.model, plugin, unit, typed, actor=context.principal().name
            )
            s.commit()
            flash(_("Settings saved."), "success")
            return redirect(url_for("admin_config.plugin_settings_page", plugin=plugin, unit=unit))
        except PostalOpsError as exc:
            s.rollback()
            errors = ui.field_errors(exc.details)
            status = exc.status if exc.status in (403, 422) else 422
    eff = plugin_settings.effective(s, schema.model, plugin, unit)
    info = _registry().get(plugin).info
    return (
        render_template(
            "postalops/admin_plugin_settings.html",
            plugin=plugin,
            info=info,
            unit=unit,
            fields=fields,
            values=eff.as_json(),
            own=typed if typed is not None else eff.own,
            source=eff.source,
            errors=errors,
            can_edit=context.principal().can(schema.edit_permission),
        ),
        status,
    )
