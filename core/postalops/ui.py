"""The portal UI kit's Python side: formatting filters, unit names, status labels, local assets.

``init_app`` (called by the app factory) registers on the Flask app:

- the Jinja filters of :mod:`postalops.formatting`, in the request's language and the configured
  time zone (``POSTALOPS_TIMEZONE``): ``money``, ``money_card``, ``percent``, ``number``,
  ``quantity`` (a count and its unit word), ``kpi_value``, ``duration``, ``date``,
  ``datetime``, ``month``, ``unit_name``, ``humanize``;
- the status label registry, built once from every plugin's ``postalops_status_labels`` hook
  (read by the ``status_badge`` macro of ``postalops/ui.html`` and by :func:`status_label`);
- Bootstrap 5 and Bootstrap Icons, served from the ``bootstrap-flask`` package under
  ``/static/ui/`` (no CDN). ``css_urls()`` lists the stylesheets for the Dash side.

Plugin authors use :class:`Status`, :func:`status_label` and :func:`unit_names`; the rest is
private wiring. docs/ui.md is the reference for the macros and filters.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, current_app, g, has_request_context

from . import formatting

__all__ = [
    "Status",
    "status_label",
    "unit_name",
    "humanize",
    "field_errors",
    "confirm_first",
]


log = logging.getLogger(__name__)

TONES = ("neutral", "info", "progress", "success", "warning", "danger")
TONE_ICONS = {
    "neutral": "bi-circle",
    "info": "bi-info-circle",
    "progress": "bi-arrow-repeat",
    "success": "bi-check-circle",
    "warning": "bi-exclamation-triangle",
    "danger": "bi-x-circle",
}


@dataclass(frozen=True)
class Status:
    """How one enum value reads on a badge: zh and en labels and a tone.

    ``tone`` is one of ``neutral`` (grey: draft, cancelled), ``info`` (blue: queued, submitted),
    ``progress`` (blue, spinning arrows: running), ``success`` (green: approved, succeeded),
    ``warning`` (amber: due, behind plan), ``danger`` (red: failed, overdue, declined). The tone
    fixes the colour and the icon, so the same state looks the same everywhere and colour is
    never the only signal. ``icon`` overrides the tone's Bootstrap Icons name.
    """

    label_zh: str
    label_en: str
    tone: str = "neutral"
    icon: str | None = None

    def __post_init__(self) -> None:
        if self.tone not in TONES:
            raise ValueError(f"tone must be one of {TONES}, not {self.tone!r}")


CORE_STATUS_LABELS: dict[str, dict[str, Status]] = {
    "job": {
        "queued": Status("排队中", "Queued", "info", "bi-hourglass-split"),
        "running": Status("运行中", "Running", "progress"),
        "succeeded": Status("已完成", "Succeeded", "success"),
        "failed": Status("失败", "Failed", "danger"),
        "cancelled": Status("已取消", "Cancelled", "neutral", "bi-slash-circle"),
    },
    "plugin": {
        "loaded": Status("已加载", "Loaded", "success"),
        "failed": Status("加载失败", "Failed to load", "danger"),
        "disabled": Status("已停用", "Disabled", "neutral"),
        "enabled": Status("已启用", "Enabled", "success"),
        "degraded": Status("部分故障", "Degraded", "warning"),
    },
    "audit.action": {
        "core.user.create": Status("创建用户", "User created", "info", "bi-person-plus"),
        "core.user.update": Status("修改用户", "User changed", "info", "bi-person-gear"),
        "core.token.create": Status("创建接口令牌", "API token created", "info", "bi-key"),
        "core.token.revoke": Status("撤销令牌", "API token revoked", "danger", "bi-key"),
        "core.unit.update": Status("修改单位", "Unit changed", "info", "bi-diagram-3"),
        "core.plugin.enable": Status("启用插件", "Plugin enabled", "success", "bi-toggle-on"),
        "core.plugin.disable": Status("停用插件", "Plugin disabled", "warning", "bi-toggle-off"),
    },
    "audit.target": {
        "user": Status("用户", "User"),
        "token": Status("接口令牌", "API token"),
        "unit": Status("单位", "Unit"),
        "plugin": Status("插件", "Plugin"),
    },
    "bool": {
        "true": Status("是", "Yes", "success"),
        "false": Status("否", "No", "neutral"),
    },
}
"""The core's own enums; registered through the built-in ``core`` plugin's hook."""


def humanize(value: Any) -> str:
    """``"interest_only_bullet"`` -> ``"Interest only bullet"``: the last resort for a value
    no plugin labelled (never shown raw)."""
    text = re.sub(r"[_\-.]+", " ", str(value)).strip()
    return text[:1].upper() + text[1:] if text else ""


def locale() -> str:
    """``"zh"`` or ``"en"`` for the current request (``"zh"`` outside a request)."""
    if not has_request_context():
        return "zh"
    from flask_babel import get_locale

    return "zh" if formatting.is_zh(get_locale()) else "en"


def _tz() -> str:
    settings = current_app.extensions.get("postalops.settings")
    return getattr(settings, "timezone", formatting.DEFAULT_TZ)


# --- status labels ------------------------------------------------------------------------------


def collect_status_labels(registry: Any) -> dict[str, dict[str, Status]]:
    """Merge every plugin's ``postalops_status_labels()`` into one ``{domain: {value: Status}}``.

    Domains are plugin-owned (``"payroll.run"``); two plugins claiming the same value of the
    same domain with different labels is a programming error, reported at boot.
    """
    out: dict[str, dict[str, Status]] = {}
    for key, domains in registry.call_each("postalops_status_labels", boot=True):
        for domain, values in domains.items():
            target = out.setdefault(domain, {})
            for value, status in values.items():
                if not isinstance(status, Status):
                    status = Status(*status)
                old = target.get(str(value))
                if old is not None and old != status:
                    log.warning("plugin %s relabels %s.%s", key, domain, value)
                target[str(value)] = status
    return out


def status_label(value: Any, domain: str, lang: str | None = None) -> tuple[str, str, str]:
    """``(label, tone, icon)`` of ``value`` in ``domain`` for the current language.

    An unknown value gets a neutral tone and a humanised label, and is logged, so a missing
    label is seen in the logs, never as raw snake_case on a page.
    """
    lang = lang or locale()
    if isinstance(value, bool):
        value = "true" if value else "false"
    value = getattr(value, "value", value)  # enum members
    labels = current_app.extensions.get("postalops.status_labels", {})
    status = labels.get(domain, {}).get(str(value))
    if status is None:
        if value is None or value == "":
            return formatting.MISSING, "neutral", TONE_ICONS["neutral"]
        log.warning("no status label for %r in domain %r", value, domain)
        return humanize(value), "neutral", TONE_ICONS["neutral"]
    label = status.label_zh if formatting.is_zh(lang) else status.label_en
    return label, status.tone, status.icon or TONE_ICONS[status.tone]


# --- unit names ---------------------------------------------------------------------------------


def unit_names() -> dict[str, tuple[str, str]]:
    """``{code: (name_zh, name_en)}`` of every org unit, read once per request.

    Org units rarely change, but they do (the tenants API, ``postalops demo``); one query per
    request keeps every page right after a rename in any worker, and no page issues a query
    per unit shown.
    """
    cached = g.get("_postalops_unit_names") if has_request_context() else None
    if cached is not None:
        return cached
    from sqlmodel import select

    from .models import OrgUnit

    db = current_app.extensions["postalops.db"]
    with db.session(None) as s:  # names are not tenant data: codes shown are already visible
        rows = s.exec(select(OrgUnit.code, OrgUnit.name_zh, OrgUnit.name_en)).all()
    names = {code: (zh, en) for code, zh, en in rows}
    if has_request_context():
        g._postalops_unit_names = names
    return names


def unit_name(code: Any, lang: str | None = None) -> str:
    """The unit's name in the current language (郑州市分公司); the code itself when unknown."""
    if code is None or code == "":
        return formatting.MISSING
    names = unit_names().get(str(code))
    if names is None:
        return str(code)
    return names[0] if formatting.is_zh(lang or locale()) else names[1]


def visible_units() -> list[tuple[str, str, int]]:
    """``[(code, name, depth)]`` of the caller's subtree, tree-ordered, depth relative to the
    caller's home unit: the options of unit pickers (read from the per-request name cache)."""
    from . import context
    from .tenancy import in_subtree

    ctx = context.current_or_none()
    if ctx is None:
        return []
    root = ctx.principal.home_unit or "cn"
    zh = formatting.is_zh(locale())
    base = root.count(".")
    return [
        (code, names[0] if zh else names[1], code.count(".") - base)
        for code, names in sorted(unit_names().items())
        if in_subtree(code, root)
    ]


# --- forms --------------------------------------------------------------------------------------


def field_errors(details: Any) -> dict[str, str]:
    """``{field: message}`` from a PostalOpsError's ``details`` (``[{"field", "message"}]``),
    for ``form_field(..., error=errors.get(name))``."""
    out: dict[str, str] = {}
    for d in details or []:
        if isinstance(d, dict) and d.get("field"):
            out.setdefault(str(d["field"]), str(d.get("message") or ""))
    return out


def confirm_first(message: str, confirm_label: str) -> Any:
    """In a POST view behind ``ui.confirm_form``: None when the user confirmed, otherwise the
    confirmation page (for browsers without JavaScript), which re-posts the same fields with
    ``confirmed=1``. Usage: ``if (page := ui.confirm_first(msg, label)) is not None: return page``.
    """
    from flask import render_template, request

    if request.form.get("confirmed") == "1":
        return None
    fields = [
        (k, v) for k, v in request.form.items(multi=True) if k not in ("csrf_token", "confirmed")
    ]
    return render_template(
        "postalops/confirm.html",
        message=message,
        confirm_label=confirm_label,
        fields=fields,
        action=request.path,
        back=request.referrer or "/",
    )


def compact_json(value: Any) -> str:
    """Before/after snapshots in one line, Chinese kept readable."""
    import json

    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


# --- error pages --------------------------------------------------------------------------------


def _error_texts(status: int) -> tuple[str, str]:
    from .i18n import core

    _ = core.gettext

    return {
        400: (_("The request could not be processed"), _("Check what you entered and try again.")),
        401: (_("Please log in"), _("Log in to continue.")),
        403: (
            _("You do not have permission to see this page"),
            _("Ask an administrator if you need access."),
        ),
        404: (
            _("Page not found"),
            _(
                "The page does not exist, or the feature is not enabled for your unit. "
                "Check the address or go back."
            ),
        ),
        405: (_("This action is not available here"), _("Go back and use the page's buttons.")),
        409: (_("The request clashes with the current state"), _("Reload the page and try again.")),
        413: (_("The file is too large"), _("Upload a smaller file.")),
        422: (_("Some values are not accepted"), _("Correct them and try again.")),
        429: (_("Too many requests"), _("Wait a minute and try again.")),
    }.get(
        status,
        (
            _("Something went wrong"),
            _("The error has been logged. Try again later; if it persists, tell an administrator."),
        ),
    )


def _detail_lines(details: Any, code: str | None) -> list[str]:
    """Details of an error as sentences, never a dict: a missing permission by its label."""
    from .i18n import core

    _ = core.gettext

    lines: list[str] = []
    lang = locale()
    perms = {p.name: p for p in current_app.extensions["postalops.plugins"].permissions()}
    for d in details or []:
        if isinstance(d, dict) and "permission" in d:
            p = perms.get(str(d["permission"]))
            name = (p.label_zh if lang == "zh" else p.label_en) if p else humanize(d["permission"])
            lines.append(_("This page needs the permission “%(name)s”.", name=name))
        elif isinstance(d, dict) and ("field" in d or "row" in d):
            where = d.get("field") or _("row %(n)s", n=d.get("row"))
            msg = d.get("message") or d.get("errors") or ""
            if isinstance(msg, dict):
                msg = "; ".join(f"{k}: {v}" for k, v in msg.items())
            lines.append(f"{where}: {msg}" if msg else str(where))
        elif isinstance(d, str):
            lines.append(d)
    if code == "out_of_scope" and not lines:
        lines.append(_("This record belongs to a unit outside yours."))
    return lines


def error_page(
    status: int, message: str | None = None, details: Any = None, code: str | None = None
) -> tuple[str, int]:
    """The friendly error page in the portal layout and the user's language: what happened in
    plain words, what to do, and a way back. Internals (exception text, dicts, English framework
    descriptions) stay out; a domain error's own message is shown for 4xx, as it names the
    problem (``message``)."""
    from flask import render_template, request

    title, advice = _error_texts(status)
    shown = message if message and status in (400, 409, 422) else None
    if code == "csrf":
        from .i18n import core

        shown = core.gettext("The form has expired. Reload the page and try again.")
    back = (
        request.referrer
        if request.referrer and request.referrer.startswith(request.host_url)
        else None
    )
    return render_template(
        "postalops/error.html",
        status=status,
        title=title,
        advice=advice,
        message=shown,
        lines=_detail_lines(details, code),
        back=back,
    ), status


# --- assets -------------------------------------------------------------------------------------


def _bootstrap_static() -> Path:
    import flask_bootstrap

    return Path(flask_bootstrap.__file__).parent / "static" / "bootstrap5"


def css_urls() -> list[str]:
    """Stylesheets of the portal's look, in order: Bootstrap, Bootstrap Icons, the portal theme.
    The Dash host passes these as ``external_stylesheets`` so dashboards match the pages."""
    return [
        "/static/ui/css/bootstrap.min.css",
        "/static/ui/css/font/bootstrap-icons.min.css",
        "/static/postalops.css",
    ]


# --- wiring -------------------------------------------------------------------------------------


def _filters() -> dict[str, Any]:
    f = formatting
    return {
        "money": lambda v, places=2: f.money(v, locale(), places),
        "money_card": lambda v: f.money_card(v, locale()),
        "percent": lambda v, places=1: f.percent(v, locale(), places),
        "number": lambda v, places=None: f.number(v, places, locale()),
        "quantity": lambda v, unit=None: f.count(v, unit, locale()),
        "kpi_value": lambda v, unit, card=False: f.kpi_value(v, unit, locale(), card=card),
        "duration": lambda v, unit="seconds": f.duration(v, locale(), unit),
        "date": lambda v: f.date(v, locale(), _tz()),
        "datetime": lambda v: f.datetime(v, locale(), _tz()),
        "month": lambda v: f.month(v, locale()),
        "unit_name": lambda code: unit_name(code),
        "unit_word": lambda unit, n=2: f.unit_word(unit, n, locale()),
        "humanize": humanize,
        "compact_json": compact_json,
    }


def init_app(app: Flask) -> None:
    """Register the filters, the status labels and the ``/static/ui/`` assets on ``app``."""
    app.jinja_env.filters.update(_filters())
    app.jinja_env.globals.update(
        status_label=status_label,
        ui_locale=locale,
        ui_css_urls=css_urls,
        ui_visible_units=visible_units,
    )
    registry = app.extensions["postalops.plugins"]
    app.extensions["postalops.status_labels"] = collect_status_labels(registry)
    app.extensions["postalops.ui_css"] = css_urls()
    bp = Blueprint(
        "ui",
        __name__,
        static_folder=str(_bootstrap_static()),
        static_url_path="/static/ui",
    )
    app.register_blueprint(bp)
