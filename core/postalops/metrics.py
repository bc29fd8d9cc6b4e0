"""The metrics contract: every plugin's KPIs for a tenant scope and an inclusive date range.

``collect`` is the only reader: the API, the CLI and the dashboards all call it, so a KPI means
the same thing everywhere. Each plugin's hook runs under the caller's scope narrowed for that
plugin (``Scope.for_plugin``): a province's figures leave out its cities where the plugin is off.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from contextvars import ContextVar
from decimal import Decimal
from typing import Any

from sqlmodel import Session

from . import metrics_cache
from .errors import ValidationError

__all__ = [
    "kpi",
    "touch",
]


REQUIRED = ("value", "unit", "label_zh", "label_en")

# While set (:func:`tracking_as_of`), every ``collect`` answer's ``as_of`` is appended to it: a
# page cached from several answers is as old as the oldest of them.
_OLDEST: ContextVar[list[dt.datetime] | None] = ContextVar("postalops_metrics_oldest", default=None)


@contextlib.contextmanager
def tracking_as_of() -> Iterator[list[dt.datetime]]:
    """``with tracking_as_of() as seen:`` collects the ``as_of`` of every answer read inside."""
    seen: list[dt.datetime] = []
    token = _OLDEST.set(seen)
    try:
        yield seen
    finally:
        _OLDEST.reset(token)


def kpi(value: Any, unit: str, label_zh: str, label_en: str, **extra: Any) -> dict[str, Any]:
    """One KPI entry. Decimals become strings (exact); rates are fractions, unit ``"ratio"``."""
    if isinstance(value, float) and unit in ("CNY", "yuan"):
        raise TypeError("money KPIs must be Decimal")
    if isinstance(value, Decimal):
        value = str(value)
    return {"value": value, "unit": unit, "label_zh": label_zh, "label_en": label_en, **extra}


def touch(session: Session, *plugins: str) -> None:
    """Mark ``plugins``' KPIs changed by ``session``'s transaction, for a write the engine does
    not see (``COPY`` through the driver's own cursor): cached answers are recomputed after the
    commit. Every write through SQLAlchemy (ORM or Core, any statement) is seen on its own."""
    metrics_cache.touch(session, *plugins)


def collect(
    registry: Any,
    session: Session,
    tenant: str,
    date_from: dt.date,
    date_to: dt.date,
    plugin: str | None = None,
) -> dict[str, Any]:
    """``{"tenant", "from", "to", "as_of", "metrics": {plugin_key: {kpi: {...}}}}`` for the
    enabled plugins.

    Each plugin's KPIs come from the process's :mod:`postalops.metrics_cache` when they were
    computed at the current version of that plugin's data (and of the org tree), at most
    ``MAX_AGE`` seconds ago; otherwise its hook runs. ``as_of`` is the oldest computation time
    among the answers used (UTC, ISO 8601)."""
    if date_from > date_to:
        raise ValidationError("from is after to", details=[{"field": "from"}])
    cache = metrics_cache.for_bind(session.get_bind())
    scope = session.info.get("scope")
    # an entry is shared by every caller whose scope holds the whole subtree of ``tenant``
    versions = (
        cache.versions(session)
        if cache is not None and scope is not None and scope.allows(tenant)
        else None
    )
    core_version = (versions or {}).get(metrics_cache.CORE_AREA, 0)
    written = cache.written(session) if versions is not None else set()
    if versions is None or metrics_cache.CORE_AREA in written:
        enabled = registry.effective(session, tenant)
    else:
        enabled = cache.enabled(session, registry, tenant, core_version)
    if plugin is not None:
        registry.get(plugin)
        enabled = enabled & {plugin}
    if metrics_cache.CORE_AREA in written:
        versions = None  # the org tree or enablement changed in this transaction
    answers: dict[str, tuple[dict[str, Any], dt.datetime]] = {}
    missing = set()
    claimed = []
    try:
        return _answer(
            registry,
            session,
            tenant,
            date_from,
            date_to,
            plugin,
            enabled,
            versions,
            core_version,
            written,
            cache,
            answers,
            missing,
            claimed,
        )
    finally:
        for k in claimed:
            cache.release(k)


def _answer(
    registry: Any,
    session: Session,
    tenant: str,
    date_from: dt.date,
    date_to: dt.date,
    plugin: str | None,
    enabled: set[str],
    versions: dict[str, int] | None,
    core_version: int,
    written: set[str],
    cache: Any,
    answers: dict[str, tuple[dict[str, Any], dt.datetime]],
    missing: set[str],
    claimed: list[tuple],
) -> dict[str, Any]:
    for key in sorted(enabled):
        version = (
            None if versions is None or key in written else (versions.get(key, 0), core_version)
        )
        entry = (key, tenant, date_from, date_to)
        hit = cache.lookup(entry, version) if cache else None
        if hit is not None and cache.stale_soon(hit[1]) and cache.claim(entry):
            claimed.append(entry)  # this request refreshes it; the others keep the hit
            hit = None
        if hit is None:
            missing.add(key)
        else:
            answers[key] = hit
    if missing or _builtin_answers(registry):
        started = dt.datetime.now(dt.UTC)
        for key, kpis in registry.call_each(
            "postalops_metrics",
            only=missing,
            scopes=_hook_scopes(registry, session, cache, versions, core_version),
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
            answers[key] = (kpis, started)
            if cache is not None and versions is not None and key in missing - written:
                version = (versions.get(key, 0), core_version)
                cache.store((key, tenant, date_from, date_to), version, kpis, started)
    out: dict[str, Any] = {}
    stamps = []
    for key in sorted(answers):
        kpis, at = answers[key]
        stamps.append(at)
        if kpis:  # copies: a caller may change what it was given, never the cache
            out[key] = {name: dict(entry) for name, entry in kpis.items()}
    as_of = min(stamps) if stamps else dt.datetime.now(dt.UTC)
    oldest = _OLDEST.get()
    if oldest is not None:
        oldest.append(as_of)
    return {
        "tenant": tenant,
        "from": date_from.isoformat(),
        "to": date_to.isoformat(),
        "as_of": as_of.isoformat(timespec="seconds"),
        "metrics": out,
    }


def _hook_scopes(
    registry: Any, session: Session, cache: Any, versions: dict[str, int] | None, core_version: int
) -> Any:
    """Each plugin's hook runs cut where the plugin is off (``PluginRegistry.hook_scopes``).
    With the cache, from enablement rows kept per core version: the cut and the versions an
    answer is stored under then agree (a switch bumps the core version)."""
    scope = session.info.get("scope")
    if scope is None or scope.system or scope.code is None:
        return None
    if cache is not None and versions is not None:
        rows = cache.enablement_rows(session, registry, scope.code, core_version)
    else:  # no cache, or enablement written in this transaction: read it here
        rows = registry.enablement_rows(session, scope.code)
    return registry.hook_scopes(session, rows)


def _builtin_answers(registry: Any) -> bool:
    """A built-in plugin implements the metrics hook (it answers uncached, on every call)."""
    impls = registry.pm.hook.postalops_metrics.get_hookimpls()
    return any(registry.is_builtin(registry.pm.get_name(i.plugin)) for i in impls)


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
