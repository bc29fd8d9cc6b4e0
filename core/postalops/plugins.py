"""Plugin discovery, metadata, requirements and per-unit enablement.

One :class:`PluginRegistry` per app (``app.extensions["postalops.plugins"]``): no module-level
mutable state, so tests can build many apps side by side.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib.metadata as md
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pluggy
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version
from sqlmodel import Session, col, select

from . import hookspecs
from .db import DB_INFO, switch_scope
from .errors import Conflict, NotFound
from .models import OrgUnit, PluginEnablement
from .tenancy import Scope, ancestors, in_subtree, plugin_exclusions

__all__ = [
    "PluginInfo",
    "Role",
    "Permission",
    "NavItem",
    "Schedule",
    "DashboardPage",
    "SettingsSchema",
    "Task",
    "PickedUpItems",
    "picked_up_items",
]


log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "postalops.plugins"

ENABLEMENT_MAX_AGE = 2.0
"""Seconds a process may keep serving its cached plugin enablement after another process (the
admin page on another gunicorn worker or host, ``postalops plugins enable``) switched a plugin:
the bound within which a switch reaches every process. This process's own switches apply at
once (:meth:`PluginRegistry.enabled_at`)."""


@dataclass(frozen=True)
class PluginInfo:
    """What a plugin says about itself (``postalops_plugin_info``).

    ``requires`` maps other plugin keys to a version specifier (``{"pickup_points": ">=0.1"}``).
    ``builtin`` marks the core's own features, which are always on.
    ``demo_weight`` is the relative cost of the plugin's ``postalops_demo`` build (1 = a small
    one); ``postalops demo --jobs N`` starts the heaviest first so the workers finish together.
    """

    key: str
    name_zh: str
    name_en: str
    version: str
    requires: dict[str, str] = field(default_factory=dict)
    description: str = ""
    builtin: bool = False
    demo_weight: float = 1.0


@dataclass(frozen=True)
class Role:
    """A role users can hold. ``grants`` adds permissions declared elsewhere (e.g. the core's
    ``core.metrics.read``) to this role, on top of each Permission's own ``roles``."""

    name: str
    label_zh: str
    label_en: str
    grants: tuple[str, ...] = ()
    demo_units: tuple[str, ...] = ()  # where `postalops demo` puts this role's users


@dataclass(frozen=True)
class Permission:
    """A permission string and the roles that hold it by default."""

    name: str
    label_zh: str
    label_en: str
    roles: tuple[str, ...] = ()


@dataclass(frozen=True)
class NavItem:
    label_zh: str
    label_en: str
    url: str
    permission: str | None = None
    order: int = 100
    admin: bool = False  # shown in the admin section of the nav


@dataclass(frozen=True)
class Schedule:
    """A periodic job: ``kind`` is a job kind from ``postalops_actors``; ``cron`` has 5 fields.

    Without ``per_unit`` one job runs at ``tenant`` (refused when the plugin is off there).
    With ``per_unit="city"`` (any org level: "province", "city", "station", ...) each firing
    sends one job per unit of that level under ``tenant`` where the plugin is enabled, scoped
    to that unit (idempotency key ``schedule:<name>:<unit>:<fire time>``); units where it is
    off get none.
    """

    name: str
    kind: str
    cron: str
    params: dict[str, Any] = field(default_factory=dict)
    tenant: str = "cn"
    per_unit: str | None = None


@dataclass(frozen=True)
class DashboardPage:
    """A dashboard page at ``/dashboards/<path>``; ``layout(ctx)`` builds it for the viewer.

    ``ctx`` is a :class:`postalops_dashboards.ViewContext` (tenant, period, locale, session).
    The page, and its plugin's cards on the overview, show only to holders of ``permission``
    (default: the plugin's ``<key>.view`` when it declares one).
    """

    path: str
    title_zh: str
    title_en: str
    layout: Callable[[Any], Any]
    order: int = 100
    permission: str | None = None


@dataclass(frozen=True)
class SettingsSchema:
    """A plugin's settings (``postalops_settings_schema``): a pydantic ``model`` whose fields
    are the settings (defaults, validation; labels in ``Field(title=..., json_schema_extra=
    {"label_zh": ...})``), the permission that may read them and the one that may change them.
    The core stores values per unit with inheritance (``postalops.plugin_settings``)."""

    model: type
    view_permission: str
    edit_permission: str


TASK_TONES = ("info", "warning", "danger")


@dataclass(frozen=True)
class Task:
    """One entry of the workbench inbox (``postalops_tasks``): something waiting for the user.

    ``key`` names the kind of task within the plugin (``"approve_runs"``); ``url`` is the page
    where it is done. Give a ``count`` (with ``unit``, a count unit of
    ``postalops.formatting.UNITS`` such as ``"cases"``) or a ``detail_zh``/``detail_en`` line,
    or both. ``due`` is when it must be done (a datetime or a date: past due reads as overdue);
    ``since`` how long it has waited (the oldest item's time). ``tone``: ``info``, ``warning``
    (due soon, behind plan) or ``danger`` (overdue); overdue tasks sort first.
    """

    key: str
    title_zh: str
    title_en: str
    url: str
    count: int | None = None
    unit: str | None = None
    detail_zh: str = ""
    detail_en: str = ""
    due: dt.datetime | dt.date | None = None
    since: dt.datetime | None = None
    tone: str = "info"

    def __post_init__(self) -> None:
        if not (self.key and self.title_zh and self.title_en):
            raise ValueError("a task needs key, title_zh and title_en")
        if not isinstance(self.url, str) or not self.url.startswith("/"):
            raise ValueError(f"task {self.key}: url must be a path of this site, not {self.url!r}")
        if self.tone not in TASK_TONES:
            raise ValueError(f"task {self.key}: tone must be one of {TASK_TONES}")
        if self.count is not None and (isinstance(self.count, bool) or int(self.count) < 0):
            raise ValueError(f"task {self.key}: count must be a whole number >= 0")


@dataclass
class HookFailure:
    """The last failure of one plugin's hook: what it raised and when (UTC)."""

    hook: str
    error: str
    at: dt.datetime
    count: int = 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "hook": self.hook,
            "error": self.error,
            "at": self.at.isoformat(timespec="seconds"),
            "count": self.count,
        }


@dataclass
class LoadedPlugin:
    key: str
    info: PluginInfo | None
    module: Any
    distribution: str | None = None
    status: str = "loaded"  # loaded | failed | disabled
    error: str | None = None
    # Hooks whose last call raised (a loaded plugin with any is "degraded"); a hook that
    # answers again is removed, so this is the plugin's present state, per process.
    failures: dict[str, HookFailure] = field(default_factory=dict)

    @property
    def version(self) -> str:
        return self.info.version if self.info else "?"

    @property
    def degraded(self) -> bool:
        return self.status == "loaded" and bool(self.failures)

    @property
    def state(self) -> str:
        """loaded | degraded | failed | disabled (what ``postalops plugins`` shows)."""
        return "degraded" if self.degraded else self.status

    def failure_list(self) -> list[dict[str, Any]]:
        return [f.as_dict() for f in sorted(self.failures.values(), key=lambda f: f.hook)]


class HookScopes:
    """The scope each plugin's data hook runs under at one caller unit (``base``): ``base``
    narrowed for the plugin (``Scope.for_plugin``), cut wherever it is off at or below the
    unit, from the enablement rows ``(unit, plugin, enabled)`` at, above and below it. A
    unit is cut exactly when the plugin is off there, whichever caller above it asks, so an
    answer computed under the cut is the same for every caller holding the tenant (the
    metrics cache shares it). Built-in plugins run under ``base``. Memoised per plugin."""

    def __init__(
        self,
        registry: PluginRegistry,
        base: Scope,
        rows: list[tuple[str, str, bool]],
        memo: dict[Any, Any] | None = None,
    ) -> None:
        self.registry, self.base, self.rows = registry, base, rows
        self._memo: dict[Any, Any] = {} if memo is None else memo

    def __call__(self, key: str) -> Scope:
        memo_key = ("hook", self.base.code, key)
        found = self._memo.get(memo_key)
        if found is None:
            found = self._memo[memo_key] = self._narrow(key)
        return found

    def _narrow(self, key: str) -> Scope:
        if self.registry.is_builtin(key) or self.base.code is None:
            return self.base
        code = self.base.code
        mine = [(u, on) for u, k, on in self.rows if k == key]
        depth = {c: i for i, c in enumerate(ancestors(code))}
        here = [(depth[u], on) for u, on in mine if u in depth]
        on_here = min(here)[1] if here else False  # the nearest row at or above wins
        off, on = plugin_exclusions(mine, code, on_here)
        return self.base.for_plugin(key, off, on)


class PluginRegistry:
    """Loads plugins through pluggy and answers which are enabled where."""

    def __init__(
        self,
        *,
        builtins: Iterable[Any] = (),
        entry_points: bool = True,
        extra: Iterable[Any] = (),
        skip: Iterable[str] = (),
    ) -> None:
        self.pm = pluggy.PluginManager("postalops")
        self.pm.add_hookspecs(hookspecs)
        self.plugins: dict[str, LoadedPlugin] = {}
        self._failure_lock = threading.Lock()
        self._logged: set[tuple[str, str]] = set()
        # (generation, loaded at, rows, memo): see enabled_at(); the memo maps a unit to its
        # effective set and a (unit, plugin) pair to the unit's scope narrowed for the plugin
        # (plugin_scope_at())
        self._enablement: tuple[int, float, list[tuple[str, str, bool]], dict[Any, Any]]
        self._enablement = (-1, 0.0, [], {})
        self.enablement_max_age = ENABLEMENT_MAX_AGE
        skip = set(skip)
        for module in builtins:
            self._register(module, None)
        if entry_points:
            self._load_entry_points(skip)
        for module in extra:
            self._register(module, None)
        self._check_requirements()

    # -- loading ---------------------------------------------------------------------------
    def _load_entry_points(self, skip: set[str]) -> None:
        for ep in md.entry_points(group=ENTRY_POINT_GROUP):
            dist = ep.dist.name if ep.dist else None
            if ep.name in skip:
                self.plugins[ep.name] = LoadedPlugin(
                    ep.name, None, None, dist, "disabled", "listed in POSTALOPS_DISABLED_PLUGINS"
                )
                continue
            if ep.name in self.plugins:
                continue  # an editable and a regular install of the same plugin
            try:
                module = ep.load()
            except Exception as exc:  # noqa: BLE001 - a broken plugin must not stop the app
                log.exception("plugin %s failed to import", ep.name)
                self.plugins[ep.name] = LoadedPlugin(
                    ep.name, None, None, dist, "failed", f"import failed: {exc!r}"
                )
                continue
            self._register(module, dist, expected_key=ep.name)

    def _register(self, module: Any, dist: str | None, expected_key: str | None = None) -> None:
        info_fn = getattr(module, "postalops_plugin_info", None)
        fallback_key = expected_key or getattr(module, "__name__", None) or type(module).__name__
        try:
            info = info_fn() if info_fn else None
        except Exception as exc:  # noqa: BLE001 - a broken plugin must not stop the app
            log.exception("plugin %s failed in postalops_plugin_info", fallback_key)
            self.plugins[fallback_key] = LoadedPlugin(
                fallback_key, None, None, dist, "failed", f"postalops_plugin_info failed: {exc!r}"
            )
            return
        if info is not None and not isinstance(info, PluginInfo):
            self.plugins[fallback_key] = LoadedPlugin(
                fallback_key,
                None,
                None,
                dist,
                "failed",
                f"postalops_plugin_info returned {type(info).__name__}, not PluginInfo",
            )
            return
        key = info.key if info else fallback_key
        if info is None:
            self.plugins[key] = LoadedPlugin(
                key, None, module, dist, "failed", "no postalops_plugin_info hook"
            )
            return
        if expected_key and expected_key != info.key:
            self.plugins[expected_key] = LoadedPlugin(
                expected_key,
                info,
                module,
                dist,
                "failed",
                f"entry point name {expected_key!r} differs from plugin key {info.key!r}",
            )
            return
        self.pm.register(module, name=key)
        self.plugins[key] = LoadedPlugin(key, info, module, dist)

    def _check_requirements(self) -> None:
        """Fail plugins whose requirements are missing, wrong-versioned or cyclic (to a fixpoint)."""
        changed = True
        while changed:
            changed = False
            for p in self.loaded():
                problem = self._requirement_problem(p)
                if problem:
                    self._fail(p, problem)
                    changed = True
        for cycle in self._cycles():
            for key in cycle:
                p = self.plugins[key]
                if p.status == "loaded":
                    self._fail(p, "cyclic requirement: " + " -> ".join(cycle + [cycle[0]]))

    def _requirement_problem(self, p: LoadedPlugin) -> str | None:
        assert p.info is not None
        for req, spec in p.info.requires.items():
            other = self.plugins.get(req)
            if other is None:
                return f"requires plugin {req!r}, which is not installed"
            if other.status != "loaded" or other.info is None:
                return f"requires plugin {req!r}, which failed to load"
            try:
                if spec and Version(other.info.version) not in SpecifierSet(spec):
                    return f"requires {req} {spec}, installed is {other.info.version}"
            except InvalidSpecifier:
                return f"bad version specifier {spec!r} for {req}"
        return None

    def _cycles(self) -> list[list[str]]:
        graph = {p.key: list(p.info.requires) for p in self.loaded() if p.info}
        cycles, state = [], {}

        def visit(node: str, path: list[str]) -> None:
            state[node] = "active"
            for nxt in graph.get(node, []):
                if state.get(nxt) == "active":
                    cycles.append(path[path.index(nxt) :] if nxt in path else [nxt])
                elif nxt not in state:
                    visit(nxt, path + [nxt])
            state[node] = "done"

        for node in sorted(graph):
            if node not in state:
                visit(node, [node])
        return cycles

    def _fail(self, p: LoadedPlugin, reason: str) -> None:
        log.error("plugin %s not loaded: %s", p.key, reason)
        p.status, p.error = "failed", reason
        if self.pm.is_registered(p.module):
            self.pm.unregister(p.module)

    # -- queries ---------------------------------------------------------------------------
    def loaded(self) -> list[LoadedPlugin]:
        return [p for p in self.plugins.values() if p.status == "loaded"]

    def get(self, key: str) -> LoadedPlugin:
        p = self.plugins.get(key)
        if p is None or p.status != "loaded":
            raise NotFound(
                f"plugin {key!r} is not installed",
                details=[{"field": "plugin", "message": "unknown plugin"}],
            )
        return p

    def business_keys(self) -> list[str]:
        """Keys of loaded non-builtin plugins (the ones enablement applies to)."""
        return sorted(p.key for p in self.loaded() if p.info and not p.info.builtin)

    def call_each(
        self,
        hook: str,
        only: set[str] | None = None,
        boot: bool = False,
        scopes: HookScopes | None = None,
        **kwargs: Any,
    ) -> list[tuple[str, Any]]:
        """Call ``hook`` on each plugin separately, returning ``(plugin_key, result)`` pairs in
        plugin-key order (so output never depends on registration order).

        This is the one guarded path every hook call of the core goes through: a plugin whose
        hook raises is marked degraded (:meth:`record_failure`: error, hook, UTC time, logged
        once per plugin and hook), its contribution is left out, and the other plugins answer.
        When a ``session`` is passed, each plugin runs inside a SAVEPOINT on PostgreSQL, so a
        failed statement of one plugin does not abort the transaction the others use.

        ``only`` restricts the call to those plugin keys (builtins always answer). With
        ``boot=True`` (blueprints, actors, dashboard pages) a plugin whose hook raises is
        marked failed and unregistered instead, since half a plugin cannot be served; a builtin
        failing at boot is a bug of the core and stops the app.

        ``scopes`` (:meth:`hook_scopes`, for the data hooks called for a tenant: metrics,
        journal entries, tasks) runs each plugin with the ``session`` narrowed for it
        (``Scope.for_plugin``: nothing of the units where it is off), switched before its call
        and the caller's scope restored after the last one (:func:`postalops.db.switch_scope`).
        """
        caller = getattr(self.pm.hook, hook)
        out = []
        impls = sorted(caller.get_hookimpls(), key=lambda i: self.pm.get_name(i.plugin))
        session = kwargs.get("session")
        if session is not None:  # a hook reading another plugin's data finds the registry
            session.info[REGISTRY_INFO] = self
        switching: Session | None = session if scopes is not None else None
        restore: Scope | None = switching.info.get("scope") if switching is not None else None
        try:
            for impl in impls:
                key = self.pm.get_name(impl.plugin)
                if only is not None and key not in only and not self.is_builtin(key):
                    continue
                args = {a: kwargs[a] for a in impl.argnames}
                if switching is not None and restore is not None and scopes is not None:
                    # builtins run in the caller's own scope
                    builtin = self.is_builtin(str(key))
                    switch_scope(switching, restore if builtin else scopes(str(key)))
                if boot and self.is_builtin(key):
                    result = impl.function(**args)
                else:
                    try:
                        with _savepoint(session if "session" in args else None):
                            result = impl.function(**args)
                    except Exception as exc:  # noqa: BLE001 - isolate a broken plugin
                        if boot:
                            log.exception("plugin %s failed in %s", key, hook)
                            self._fail(self.plugins[key], f"{hook} failed: {exc!r}")
                        else:
                            self.record_failure(key, hook, exc)
                        continue
                    self._recovered(key, hook)
                if result is not None:
                    out.append((key, result))
        finally:
            if switching is not None and restore is not None:
                switch_scope(switching, restore)
        return out

    def hook_scopes(
        self, session: Session, rows: Iterable[tuple[str, str, bool]] | None = None
    ) -> HookScopes | None:
        """Each plugin's scope for a data hook called with ``session`` (``call_each(scopes=)``,
        :meth:`running_as`): the session's unit scope narrowed for the plugin, cut exactly
        where the plugin is off below and at that unit. ``rows`` are the enablement rows
        ``(unit, plugin, enabled)`` at, above and below the unit; when not given, the per-process
        enablement cache of :meth:`enabled_at` (a switch reaches it within
        :data:`ENABLEMENT_MAX_AGE`; the metrics cache passes rows kept per core version
        instead, exact). ``None`` for a system-scope or unscoped session, which is not cut."""
        scope: Scope | None = session.info.get("scope")
        if scope is None or scope.system or scope.code is None:
            return None
        if rows is not None:
            return HookScopes(self, Scope.unit(scope.code), list(rows))
        db = session.info.get(DB_INFO)
        if db is None:
            return HookScopes(
                self, Scope.unit(scope.code), self.enablement_rows(session, scope.code)
            )
        # the request path's per-process cache (ENABLEMENT_MAX_AGE): no query once loaded, and
        # each (unit, plugin) cut computed once per load
        self.enabled_at(db, scope.code)
        _generation, _loaded, all_rows, memo = self._enablement
        return HookScopes(self, Scope.unit(scope.code), all_rows, memo)

    def enablement_rows(self, session: Session, code: str) -> list[tuple[str, str, bool]]:
        """Every plugin's explicit enablement rows at ``code``, above it and below it."""
        unit = col(PluginEnablement.unit_code)
        return [
            (str(u), str(k), bool(on))
            for u, k, on in session.execute(
                select(
                    PluginEnablement.unit_code,
                    PluginEnablement.plugin_key,
                    PluginEnablement.enabled,
                ).where(unit.in_(ancestors(code)) | unit.like(code + ".%"))
            )
        ]

    @contextlib.contextmanager
    def running_as(self, session: Session, key: str) -> Iterator[Session]:
        """``with registry.running_as(session, key):`` the block reads ``session`` narrowed for
        plugin ``key`` (a dashboard page drawn by the plugin), the caller's scope restored
        after it."""
        scopes = None if self.is_builtin(key) else self.hook_scopes(session)
        if scopes is None:
            yield session
            return
        restore = session.info["scope"]
        switch_scope(session, scopes(key))
        try:
            yield session
        finally:
            switch_scope(session, restore)

    def record_failure(self, key: str, hook: str, exc: BaseException) -> None:
        """Mark plugin ``key`` degraded because ``hook`` raised ``exc`` (or answered in a shape
        the core refuses). Logged with its traceback the first time per plugin and hook."""
        p = self.plugins.get(key)
        if p is None:
            return
        error = f"{type(exc).__name__}: {exc}"[:1000]
        now = dt.datetime.now(dt.UTC)
        with self._failure_lock:
            previous = p.failures.get(hook)
            p.failures[hook] = HookFailure(
                hook, error, now, (previous.count + 1) if previous else 1
            )
            first = (key, hook) not in self._logged
            self._logged.add((key, hook))
        if first:
            log.error(
                "plugin %s is degraded: %s raised; its contribution is left out",
                key,
                hook,
                exc_info=(type(exc), exc, exc.__traceback__),
            )
        else:
            log.debug("plugin %s: %s raised again: %s", key, hook, error)

    def _recovered(self, key: str, hook: str) -> None:
        p = self.plugins.get(key)
        if p is None or hook not in p.failures:
            return
        with self._failure_lock:
            gone = p.failures.pop(hook, None)
        if gone is not None:
            log.warning("plugin %s: %s answers again after %d failure(s)", key, hook, gone.count)

    def degraded(self) -> list[LoadedPlugin]:
        """Loaded plugins with a failing hook (readiness, ``postalops plugins``, admin page)."""
        return [p for p in self.loaded() if p.degraded]

    def probe(self) -> None:
        """Call the hooks that take no arguments (nav, permissions, roles, schedules,
        migrations, health) through the guarded path, so a fresh process (``postalops
        plugins``) can show which plugins are degraded. Metrics and other hooks needing a
        tenant are only checked where they are called."""
        for hook in (
            "postalops_nav_items",
            "postalops_permissions",
            "postalops_roles",
            "postalops_schedules",
            "postalops_migrations",
            "postalops_health",
        ):
            self.call_each(hook)

    def permissions(self) -> list[Permission]:
        return [perm for _, perms in self.call_each("postalops_permissions") for perm in perms]

    def settings_schemas(self) -> dict[str, SettingsSchema]:
        """plugin key -> its :class:`SettingsSchema`, for plugins that declare one."""
        out = {}
        for key, schema in self.call_each("postalops_settings_schema"):
            if isinstance(schema, SettingsSchema):
                out[key] = schema
        return out

    def roles(self) -> list[Role]:
        return [r for _, roles in self.call_each("postalops_roles") for r in roles]

    # -- enablement --------------------------------------------------------------------------
    def is_builtin(self, key: str) -> bool:
        p = self.plugins.get(key)
        return bool(p and p.info and p.info.builtin)

    def effective(self, session: Session, unit_code: str) -> set[str]:
        """Business plugins enabled at ``unit_code``: the nearest explicit row up the tree wins."""
        rows = session.exec(
            select(PluginEnablement).where(
                PluginEnablement.unit_code.in_(ancestors(unit_code))  # type: ignore[union-attr]
            )
        ).all()
        return self._effective_of(((r.unit_code, r.plugin_key, r.enabled) for r in rows), unit_code)

    def is_enabled(self, session: Session, unit_code: str, key: str) -> bool:
        return self.is_builtin(key) or key in self.effective(session, unit_code)

    def enabled_at(self, db: Any, unit_code: str) -> frozenset[str]:
        """:meth:`effective` from a per-process cache of the enablement table (the request
        path's check, which otherwise cost a query a request).

        The cache is reloaded when a transaction of this process that wrote the table commits
        (``Database.generation``: a switch takes effect at the next request, whichever
        session made it) and at the latest ``enablement_max_age`` seconds after it was loaded
        (:data:`ENABLEMENT_MAX_AGE`: the bound for a switch made by another process or host).
        Inside a transaction that is changing enablement, read :meth:`effective` instead."""
        table = PluginEnablement.__tablename__
        db.watch(table)
        generation, loaded_at, rows, memo = self._enablement
        now = time.monotonic()
        if generation != db.generation(table) or now - loaded_at > self.enablement_max_age:
            generation = db.generation(table)  # read before loading: a later commit reloads
            with db.session(Scope.system_scope()) as s:
                rows = [
                    (r.unit_code, r.plugin_key, r.enabled)
                    for r in s.execute(
                        select(
                            PluginEnablement.unit_code,
                            PluginEnablement.plugin_key,
                            PluginEnablement.enabled,
                        )
                    )
                ]
            memo = {}
            self._enablement = (generation, now, rows, memo)
        found = memo.get(unit_code)
        if found is None:
            found = memo[unit_code] = frozenset(self._effective_of(rows, unit_code))
        return found

    def plugin_scope(self, session: Session, scope: Scope, key: str) -> Scope:
        """``scope`` narrowed for work of ``key`` (``Scope.for_plugin``): the subtrees below its
        unit where ``key`` is switched off are cut out, read from the database (a job's start).
        Built-in plugins and the system scope are not narrowed."""
        if scope.system or scope.code is None or self.is_builtin(key):
            return scope
        rows = session.exec(
            select(PluginEnablement.unit_code, PluginEnablement.enabled).where(
                PluginEnablement.plugin_key == key,
                PluginEnablement.unit_code.like(scope.code + ".%"),  # type: ignore[union-attr]
            )
        ).all()
        return scope.for_plugin(key, *plugin_exclusions(rows, scope.code))

    def plugin_scope_at(self, db: Any, scope: Scope, key: str) -> Scope:
        """:meth:`plugin_scope` from the per-process enablement cache of :meth:`enabled_at`
        (the request path's narrowing of ``/p/<key>`` and ``/api/v1/<key>``): a dictionary
        lookup once the (unit, plugin) pair was seen since the cache was loaded."""
        if scope.system or scope.code is None or self.is_builtin(key):
            return scope
        self.enabled_at(db, scope.code)  # (re)loads the cache when stale
        _generation, _loaded, rows, memo = self._enablement
        plain = scope.plugin is None  # a plain unit scope: memoised by its code
        narrowed = memo.get((scope.code, key)) if plain else None
        if narrowed is None:
            mine = ((u, on) for u, k, on in rows if k == key)
            narrowed = scope.for_plugin(key, *plugin_exclusions(mine, scope.code))
            if plain:
                memo[(scope.code, key)] = narrowed
        return narrowed

    def _effective_of(self, rows: Iterable[tuple[str, str, bool]], unit_code: str) -> set[str]:
        depth = {code: i for i, code in enumerate(ancestors(unit_code))}
        best: dict[str, tuple[int, bool]] = {}
        for unit, key, on in rows:
            d = depth.get(unit)
            if d is not None and (key not in best or d < best[key][0]):
                best[key] = (d, on)
        installed = set(self.business_keys())
        return {k for k, (_, on) in best.items() if on and k in installed}

    def set_enabled(
        self, session: Session, unit_code: str, key: str, enabled: bool, actor: str
    ) -> tuple[bool | None, bool]:
        """Switch ``key`` on/off at ``unit_code``; refuse (409) if requirements would break
        anywhere in the subtree. Records the change in the audit log and calls the
        ``postalops_tenant_enabled``/``_disabled`` hooks. Returns (before, after) effective
        state at the unit. The caller commits (the API, the admin page and the CLI)."""
        self.get(key)
        if self.is_builtin(key):
            raise Conflict(f"{key} is part of the core and cannot be switched off")
        if session.exec(select(OrgUnit).where(OrgUnit.code == unit_code)).first() is None:
            raise NotFound(
                f"unknown unit {unit_code!r}",
                details=[{"field": "unit", "message": "unknown unit"}],
            )
        before = key in self.effective(session, unit_code)
        row = session.exec(
            select(PluginEnablement).where(
                PluginEnablement.unit_code == unit_code, PluginEnablement.plugin_key == key
            )
        ).first()
        if row is None:
            row = PluginEnablement(
                unit_code=unit_code, plugin_key=key, enabled=enabled, changed_by=actor
            )
        else:
            row.enabled, row.changed_by = enabled, actor
        session.add(row)
        session.flush()
        self._check_subtree(session, unit_code, key)
        from . import audit

        audit.record(
            "core.plugin." + ("enable" if enabled else "disable"),
            target_type="plugin",
            target_id=key,
            tenant=unit_code,
            before={"enabled": before},
            after={"enabled": enabled},
            session=session,
            actor=actor,
        )
        hook = "postalops_tenant_enabled" if enabled else "postalops_tenant_disabled"
        self.call_each(hook, session=session, unit_code=unit_code, plugin_key=key)
        return before, enabled

    def _check_subtree(self, session: Session, root: str, changed: str) -> None:
        codes = [u for u in session.exec(select(OrgUnit.code)).all() if in_subtree(u, root)]
        for code in codes:
            on = self.effective(session, code)
            for key in sorted(on):
                info = self.plugins[key].info
                assert info is not None
                for req in info.requires:
                    if req not in on:
                        other = req if key == changed else key
                        if key == changed:
                            msg = (
                                f"cannot enable {key} at {code}: it requires {req}, "
                                f"which is disabled there"
                            )
                        else:
                            msg = (
                                f"cannot disable {req} at {code}: {key} is enabled there "
                                f"and requires it"
                            )
                        raise Conflict(
                            msg,
                            code="plugin_requirement",
                            details=[{"plugin": other, "unit": code}],
                        )

    def enabled_units(self, session: Session, key: str) -> list[str]:
        """Units where ``key`` has an explicit 'on' (what ``postalops plugins`` prints)."""
        rows = session.exec(
            select(PluginEnablement).where(PluginEnablement.plugin_key == key)
        ).all()
        return sorted(f"{r.unit_code}{'' if r.enabled else ' (off)'}" for r in rows)


@contextlib.contextmanager
def _savepoint(session: Session | None) -> Any:
    """A SAVEPOINT around one plugin's hook on PostgreSQL, where a failed statement aborts the
    whole transaction. SQLite keeps its transaction usable after a failed statement, and a
    savepoint there would open a transaction (and, at a write, take the write lock) for reads."""
    if session is None or session.get_bind().dialect.name != "postgresql":
        yield
        return
    with session.begin_nested():
        yield


PICKED_UP_HOOK = "postalops_picked_up_items"
REGISTRY_INFO = "postalops.registry"
"""``session.info`` key of the registry that called a hook with that session (call_each)."""


@dataclass(frozen=True)
class PickedUpItems:
    """What :func:`picked_up_items` found: ``rows`` per answering plugin (each row
    ``{"pickup_point": code, "unit": unit_code, "day": date, "items": int}``), and ``sources``:
    every installed plugin implementing the hook with ``"counted"`` (it answered), ``"off"``
    (disabled at the tenant) or ``"failed"`` (its hook raised or answered a wrong shape; it is
    marked degraded); ``names``: each of those plugins' display name as ``(zh, en)``, for
    saying which one was not counted."""

    rows: dict[str, list[dict[str, Any]]]
    sources: dict[str, str]
    names: dict[str, tuple[str, str]] = field(default_factory=dict)

    def total(self) -> int:
        return sum(r["items"] for rows in self.rows.values() for r in rows)


def _picked_up_row(row: Any) -> dict[str, Any]:
    if not isinstance(row, dict):
        raise TypeError(f"{PICKED_UP_HOOK} rows are dicts, not {type(row).__name__}")
    code, unit, day, items = (row.get(k) for k in ("pickup_point", "unit", "day", "items"))
    if not isinstance(code, str) or not code or not isinstance(unit, str):
        raise TypeError(f"{PICKED_UP_HOOK} row needs pickup_point and unit strings: {row!r}")
    if not isinstance(day, dt.date) or isinstance(day, dt.datetime):
        raise TypeError(f"{PICKED_UP_HOOK} row day must be a datetime.date: {row!r}")
    if isinstance(items, bool) or not isinstance(items, int) or items < 0:
        raise TypeError(f"{PICKED_UP_HOOK} row items must be a count >= 0: {row!r}")
    return {"pickup_point": code, "unit": unit, "day": day, "items": items}


def picked_up_items(
    session: Session,
    tenant: str,
    date_from: dt.date,
    date_to: dt.date,
    *,
    registry: Any = None,
) -> PickedUpItems:
    """Items picked up at pickup points of ``tenant``'s subtree on the inclusive local dates, as
    reported by the plugins implementing ``postalops_picked_up_items`` (ecommerce: verified
    group-buy orders). Each plugin is asked only where it is enabled, with ``session`` cut for
    it like the other data hooks (units below where it is off are out of its reach), and the
    caller's scope is restored after. ``registry`` defaults to the one that called the hook
    ``session`` came with, or else the current Flask app's."""
    if registry is None:
        registry = session.info.get(REGISTRY_INFO)
    if registry is None:
        from flask import current_app

        registry = current_app.extensions["postalops.plugins"]
    enabled = registry.effective(session, tenant)
    caller = getattr(registry.pm.hook, PICKED_UP_HOOK)
    installed = sorted(
        str(registry.pm.get_name(i.plugin))
        for i in caller.get_hookimpls()
        if not registry.is_builtin(str(registry.pm.get_name(i.plugin)))
    )
    rows: dict[str, list[dict[str, Any]]] = {}
    for key, answer in registry.call_each(
        PICKED_UP_HOOK,
        only=enabled,
        scopes=registry.hook_scopes(session),  # each plugin cut where it is off
        session=session,
        tenant=tenant,
        date_from=date_from,
        date_to=date_to,
    ):
        if key not in enabled:
            continue
        try:
            if not isinstance(answer, list | tuple):
                raise TypeError(f"{PICKED_UP_HOOK} must return a list")
            checked = [_picked_up_row(r) for r in answer]
        except TypeError as exc:  # a malformed answer is a failure of the hook
            registry.record_failure(key, PICKED_UP_HOOK, exc)
            continue
        rows[key] = [r for r in checked if date_from <= r["day"] <= date_to]
    sources = {
        key: "counted" if key in rows else "off" if key not in enabled else "failed"
        for key in installed
    }
    names = {}
    for key in installed:
        info = registry.plugins[key].info if key in registry.plugins else None
        names[key] = (info.name_zh, info.name_en) if info else (key, key)
    return PickedUpItems(rows=rows, sources=sources, names=names)
