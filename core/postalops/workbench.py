"""The workbench (工作台): the portal home of each user, per role.

Two parts, both limited to the business plugins enabled at the active unit whose view
permission the user holds (the permission of the plugin's main nav entry):

- the headline KPIs of the unit (the first KPIs of each plugin's metrics contract, for the
  period the dashboards open on);
- the inbox: what waits for this user, from every plugin's ``postalops_tasks`` hook, called
  through the guarded path (a plugin that raises or answers in a wrong shape is marked degraded
  and left out; the others and the page keep working), each under the user's scope narrowed for
  the plugin (``Scope.for_plugin``: no task counts rows of a unit where the plugin is off).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from . import clock, formatting
from .context import Principal
from .metrics import collect
from .plugins import NavItem, PluginRegistry, Task

HEADLINE_PER_PLUGIN = 3


@dataclass(frozen=True)
class Area:
    """A business plugin the user may see at the unit: its key, names and main page."""

    key: str
    name_zh: str
    name_en: str
    url: str


@dataclass(frozen=True)
class InboxItem:
    """A task with the plugin that raised it and its timing, ready for the template."""

    plugin: Area
    task: Task
    overdue: bool
    due: dt.datetime | dt.date | None
    waited: dt.timedelta | None


def _main_nav(navs: Iterable[NavItem]) -> NavItem | None:
    items = sorted((n for n in navs if not n.admin), key=lambda n: n.order)
    return items[0] if items else None


def areas(
    registry: PluginRegistry, session: Session, principal: Principal, unit: str
) -> list[Area]:
    """Business plugins enabled at ``unit`` whose view permission ``principal`` holds, in nav
    order. A plugin without a nav entry declares no view permission: it is shown to everyone."""
    enabled = registry.effective(session, unit)
    navs = dict(registry.call_each("postalops_nav_items", only=enabled))
    out = []
    for key in sorted(enabled):
        p = registry.plugins[key]
        if p.status != "loaded" or p.info is None:
            continue
        main = _main_nav(navs.get(key) or ())
        if main is not None and main.permission and not principal.can(main.permission):
            continue
        url = main.url if main is not None else f"/p/{key}/"
        out.append((main.order if main else 1000, Area(key, p.info.name_zh, p.info.name_en, url)))
    return [a for _, a in sorted(out, key=lambda t: (t[0], t[1].key))]


def period(settings: Any, today: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """The period of the headline KPIs: the dashboards' configured period
    (``POSTALOPS_DASHBOARD_PERIOD``), else the current month up to today (network's day)."""
    configured = getattr(settings, "dashboard_period", None)
    if configured:
        return configured
    today = today or clock.today()
    return today.replace(day=1), today


def headline(
    registry: PluginRegistry,
    session: Session,
    unit: str,
    shown: list[Area],
    date_from: dt.date,
    date_to: dt.date,
    per_plugin: int = HEADLINE_PER_PLUGIN,
) -> list[tuple[Area, dict[str, Any]]]:
    """The first ``per_plugin`` KPIs of each shown plugin (metrics contract), in area order."""
    out = []
    for area in shown:  # only the plugins shown: others' metrics are not computed at all
        kpis = collect(registry, session, unit, date_from, date_to, plugin=area.key)["metrics"]
        entries = kpis.get(area.key) or {}
        if entries:
            out.append((area, dict(list(entries.items())[:per_plugin])))
    return out


def _as_task(entry: Any) -> Task:
    if isinstance(entry, Task):
        return entry
    if isinstance(entry, Mapping):
        return Task(**entry)
    raise TypeError(f"a task must be a postalops.plugins.Task, not {type(entry).__name__}")


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def inbox(
    registry: PluginRegistry,
    session: Session,
    principal: Principal,
    unit: str,
    shown: list[Area],
    now: dt.datetime | None = None,
) -> list[InboxItem]:
    """Every task of the shown plugins for ``principal`` at ``unit``: overdue first, then by
    tone (danger, warning, info), then the earliest due and the longest waiting."""
    now = now or dt.datetime.now(dt.UTC)
    today = now.astimezone(clock.zone()).date()
    by_key = {a.key: a for a in shown}
    items: list[InboxItem] = []
    for key, answer in registry.call_each(
        "postalops_tasks",
        only=set(by_key),
        scopes=registry.hook_scopes(session) if by_key else None,  # cut where each is off
        session=session,
        user=principal,
        unit=unit,
    ):
        area = by_key.get(key)
        if area is None:  # a builtin answering: the core's own pages are not an area
            continue
        try:
            if not isinstance(answer, list | tuple):
                raise TypeError(f"postalops_tasks must return a list, not {type(answer).__name__}")
            tasks = [_as_task(t) for t in answer]
        except (TypeError, ValueError) as exc:  # a malformed answer is a failure of the hook
            registry.record_failure(key, "postalops_tasks", exc)
            continue
        for t in tasks:
            due = _aware(t.due) if isinstance(t.due, dt.datetime) else t.due
            if isinstance(due, dt.datetime):
                overdue = due < now
            elif isinstance(due, dt.date):
                overdue = due < today
            else:
                overdue = False
            waited = now - _aware(t.since) if t.since is not None else None
            items.append(InboxItem(area, t, overdue, due, waited))

    tone_rank = {"danger": 0, "warning": 1, "info": 2}

    def order(item: InboxItem) -> tuple:
        due = item.due
        if isinstance(due, dt.datetime):
            due_key = due.timestamp()
        elif isinstance(due, dt.date):
            due_key = dt.datetime.combine(due, dt.time(), clock.zone()).timestamp()
        else:
            due_key = float("inf")
        waited = -(item.waited.total_seconds()) if item.waited else 0.0
        return (not item.overdue, tone_rank[item.task.tone], due_key, waited, item.plugin.key)

    return sorted(items, key=order)


def waited_text(delta: dt.timedelta | None, locale: str) -> str:
    """How long a task has waited: ``"3 天"`` from a day up, else ``"2小时5分"`` (whole
    minutes); nothing under a minute."""
    if delta is None or delta < dt.timedelta(minutes=1):
        return ""
    if delta.days >= 1:
        return formatting.count(delta.days, "days", locale)
    return formatting.duration(dt.timedelta(minutes=int(delta.total_seconds() // 60)), locale)
