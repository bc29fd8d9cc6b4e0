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
from markupsafe import Markup

from . import formatting

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
    }


def init_app(app: Flask) -> None:
    """Register the filters, the status labels and the ``/static/ui/`` assets on ``app``."""
    app.jinja_env.filters.update(_filters())
    app.jinja_env.globals.update(
        status_label=status_label, ui_locale=locale, ui_css_urls=css_urls, Markup=Markup
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
