"""The metrics contract: every plugin's KPIs for a tenant scope and an inclusive date range.

``collect`` is the only reader: the API, the CLI and the dashboards all call it, so a KPI means
the same thing everywhere.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlmodel import Session

from .errors import ValidationError

REQUIRED = ("value", "unit", "label_zh", "label_en")


def kpi(value: Any, unit: str, label_zh: str, label_en: str, **extra: Any) -> dict[str, Any]:
    """One KPI entry. Decimals become strings (exact); rates are fractions, unit ``"ratio"``."""
    if isinstance(value, float) and unit in ("CNY", "yuan"):
        raise TypeError("money KPIs must be Decimal")
    if isinstance(value, Decimal):
        value = str(value)
    return {"value": value, "unit": unit, "label_zh": label_zh, "label_en": label_en, **extra}


def collect(
    registry: Any,
    session: Session,
    tenant: str,
    date_from: dt.date,
    date_to: dt.date,
    plugin: str | None = None,
) -> dict[str, Any]:
    """``{"tenant", "from", "to", "metrics": {plugin_key: {kpi: {...}}}}`` for enabled plugins."""
    if date_from > date_to:
        raise ValidationError("from is after to", details=[{"field": "from"}])
    enabled = registry.effective(session, tenant)
    if plugin is not None:
        registry.get(plugin)
        enabled = enabled & {plugin}
    out: dict[str, Any] = {}
    for key, kpis in registry.call_each(
        "postalops_metrics",
        only=enabled,
        session=session,
        tenant=tenant,
        date_from=date_from,
        date_to=date_to,
    ):
        if registry.is_builtin(key) and plugin not in (None, key):
            continue
        try:
            kpis = _checked(key, kpis)
        except TypeError as exc:  # a malformed answer counts as a failure of the hook
            registry.record_failure(key, "postalops_metrics", exc)
            continue
        if kpis:
            out[key] = kpis
    return {
        "tenant": tenant,
        "from": date_from.isoformat(),
        "to": date_to.isoformat(),
        "metrics": out,
    }


def _checked(key: str, kpis: Any) -> dict[str, Any]:
    if not isinstance(kpis, dict):
        raise TypeError(f"plugin {key} metrics must be a dict, not {type(kpis).__name__}")
    out = {}
    for name, entry in kpis.items():
        if not isinstance(entry, dict):
            raise TypeError(f"plugin {key} KPI {name} must be a dict")
        missing = [f for f in REQUIRED if f not in entry]
        if missing:
            raise TypeError(f"plugin {key} KPI {name} lacks {missing}")
        value = entry["value"]
        out[name] = {**entry, "value": str(value) if isinstance(value, Decimal) else value}
    return out
