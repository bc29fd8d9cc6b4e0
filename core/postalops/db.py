"""Persistence: engine, sessions, column types and central tenant-scope enforcement.

Every session carries a :class:`~postalops.tenancy.Scope` in ``session.info["scope"]``.
An ORM event adds the scope criteria to every SELECT, UPDATE and DELETE touching a
:class:`~postalops.models.TenantScoped` model, and a flush hook refuses writes outside it, so a
plugin author cannot forget the filter. On PostgreSQL each transaction also runs
``SET LOCAL ROLE <runtime role>`` and ``set_config('postalops.scope', ..., true)`` so row-level
security is a second wall for Core statements and raw SQL; ``SET LOCAL`` dies with the
transaction, so pooled connections never leak a scope.

A scope narrowed for a plugin (:meth:`Scope.for_plugin`: a plugin's job, page or API call) also
cuts out the subtrees below its unit where the plugin is off: the ORM criteria gain one
``NOT (...)`` term per statement, and on PostgreSQL ``postalops.off`` carries the same cut as a
regular expression the tenant policy tests (one comparison per row when nothing is cut out).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import re
import threading
import weakref
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event, or_
from sqlalchemy.engine import Engine
from sqlalchemy.orm import ORMExecuteState, sessionmaker, with_loader_criteria
from sqlalchemy.sql.util import find_tables
from sqlmodel import Session, SQLModel

from .errors import ScopeError, ValidationError
from .money import FEN as MONEY_QUANT
from .money import to_fen
from .tenancy import Scope, in_subtree  # noqa: F401 - imported from here by older code

# The plugin surface of this module (postalops.surface); the rest (Database, scope_of, the
# row-level-security helpers) is the core's own.
__all__ = [
    "Money",
    "UTCDateTime",
    "utcnow",
    "money",
    "in_scope_clause",
    "check_in_scope",
    "SCOPE_INFO",
]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(sa.types.TypeDecorator):
    """Timezone-aware datetime stored in UTC on every backend (SQLite keeps no zone)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: PostalOps stores timezone-aware times only")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class Money(sa.types.TypeDecorator):
    """NUMERIC(18, 2) returned as a quantised ``Decimal`` (never float) on every backend."""

    impl = sa.Numeric(18, 2, asdecimal=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, float):
            raise TypeError("money must be Decimal, not float")
        value = Decimal(value).quantize(MONEY_QUANT)
        # SQLite has no decimal type: store the exact text, read it back as Decimal.
        return str(value) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Any) -> Decimal | None:
        if value is None:
            return None
        return Decimal(str(value)).quantize(MONEY_QUANT)

    def load_dialect_impl(self, dialect: Any) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.String(40))
        return dialect.type_descriptor(sa.Numeric(18, 2, asdecimal=True))


def scope_of(session: Session) -> Scope:
    """The scope a session runs with; fails closed when none was set."""
    scope = session.info.get("scope")
    if scope is None:
        raise ScopeError("no tenant scope on this session", code="no_scope")
    return scope


def _tenant_base() -> type:
    from .models import TenantScoped

    return TenantScoped


def _tenant_classes() -> list[type]:
    """Every mapped TenantScoped class (cached per number of mappers, which only grows)."""
    return list(_tenant_index()[0])


def _tenant_index() -> tuple[tuple[type, ...], dict[sa.Table, tuple[type, ...]]]:
    """(tenant classes, their tables -> classes), rebuilt only when a mapper is added."""
    registry = SQLModel._sa_registry  # type: ignore[attr-defined]
    # The number of mapped classes, without ``registry.mappers`` (a new frozenset of every
    # mapper at each call: a tenth of a 50-row list's time when asked per statement).
    count = len(getattr(registry, "_managers", ())) or len(registry.mappers)
    cached = _TENANT_INDEX.get(count)
    if cached is None:
        mappers = registry.mappers
        base = _tenant_base()
        classes = tuple(m.class_ for m in mappers if issubclass(m.class_, base))
        by_table: dict[sa.Table, tuple[type, ...]] = {}
        for cls in classes:
            for table in sa.inspect(cls).tables:
                by_table[table] = by_table.get(table, ()) + (cls,)
        cached = (classes, by_table)
        _TENANT_INDEX.clear()
        _TENANT_INDEX[count] = cached
    return cached


_TENANT_INDEX: dict[int, tuple[tuple[type, ...], dict[sa.Table, tuple[type, ...]]]] = {}


def _scope_options(classes: Any, scope: Scope) -> list[Any]:
    """One loader criterion per tenant class the statement touches (SQLModel mixins have no
    class-level column, so a single criterion on the mixin cannot be built). Only the touched
    classes: building a criterion for every tenant class of every installed plugin cost ~11 ms
    a statement with the six plugins, and grew with each plugin added (issue 17)."""
    code = scope.code or ""
    options = [_scope_option(cls, code) for cls in classes]
    if scope.off:
        options += [_off_option(cls, scope.off, scope.on) for cls in classes]
    return options


@functools.lru_cache(maxsize=4096)
def _scope_option(cls: type, code: str) -> Any:
    """The criterion for one class and unit, built once: the option is immutable and the
    values it binds are ``code`` and its prefix, so each statement of the same unit reuses it."""
    prefix = code + ".%"
    return with_loader_criteria(
        cls,
        lambda c: or_(c.tenant_code == code, c.tenant_code.like(prefix)),
        include_aliases=True,
    )


@functools.lru_cache(maxsize=4096)
def _off_option(cls: type, off: tuple[str, ...], on: tuple[str, ...]) -> Any:
    """The criterion cutting a plugin's off subtrees out of one class (see Scope.for_plugin).
    A plain expression, not a lambda: its shape depends on how many subtrees are cut out."""
    return with_loader_criteria(cls, off_clause(cls.tenant_code, off, on), include_aliases=True)


def off_clause(column: Any, off: tuple[str, ...], on: tuple[str, ...]) -> Any:
    """SQL for ``column`` outside the cut-out subtrees ``off`` (except those of ``on`` inside
    them): the ORM side of ``Scope.excludes``; ``postalops.off`` is the PostgreSQL side."""
    from .tenancy import excluded_groups

    arms = []
    for root, holes in excluded_groups(off, on):
        inside = in_scope_clause(column, root)
        if holes:
            inside = sa.and_(inside, sa.not_(or_(*(in_scope_clause(column, h) for h in holes))))
        arms.append(inside)
    return sa.not_(or_(*arms))


@event.listens_for(Session, "do_orm_execute")
def _apply_scope(state: ORMExecuteState) -> None:
    if state.is_column_load or state.is_relationship_load:
        return  # the parent query already carried the criteria
    scope: Scope | None = state.session.info.get("scope")
    if scope is not None and scope.system:
        return  # unrestricted: nothing to add, nothing to look up
    classes, raw_tenant_table = _touched_tenant_classes(state)
    if not classes and not raw_tenant_table:
        return
    if scope is None:
        raise ScopeError("tenant-scoped query without a scope", code="no_scope")
    if state.is_insert:
        _check_insert_params(state, scope)
        return
    if classes:
        state.statement = state.statement.options(*_scope_options(classes, scope))


def _touched_tenant_classes(state: ORMExecuteState) -> tuple[list[type], bool]:
    """The tenant classes whose tables the statement reads or writes, including tables reached
    only through ``select_from``, joins, aliases or subqueries (``count(*)`` queries); and
    whether it touches a table with ``tenant_code`` that no tenant class maps."""
    base = _tenant_base()
    _classes, by_table = _tenant_index()
    found: dict[type, None] = {}
    raw = tables = False
    for t in find_tables(
        state.statement,
        include_aliases=True,
        include_joins=True,
        include_selects=True,
        include_crud=True,
    ):
        while isinstance(t, sa.sql.expression.Alias):
            t = t.element
        if not isinstance(t, sa.Table):
            continue
        tables = True
        mapped = by_table.get(t)
        if mapped:
            found.update(dict.fromkeys(mapped))
        elif "tenant_code" in t.c:
            raw = True
    if not tables:
        # Entities without their table in the statement (``from_statement``): found by their
        # mappers. Asked only then: ``all_mappers`` costs more than walking the tables.
        for mapper in state.all_mappers:
            if issubclass(mapper.class_, base):
                found[mapper.class_] = None
    return list(found), raw


def _check_insert_params(state: ORMExecuteState, scope: Scope) -> None:
    params = state.parameters
    rows = params if isinstance(params, list) else [params or {}]
    for index, row in enumerate(rows):
        code = row.get("tenant_code")
        if not scope.allows(code):
            raise ScopeError(
                f"row {index} targets unit {code!r} outside your scope {scope.code!r}",
                details=[{"row": index, "field": "tenant_code", "message": "outside scope"}],
            )


@event.listens_for(Session, "before_flush")
def _guard_writes(session: Session, flush_context: Any, instances: Any) -> None:
    base = _tenant_base()
    scope: Scope | None = session.info.get("scope")
    for obj in list(session.new) + list(session.dirty) + list(session.deleted):
        if not isinstance(obj, base):
            continue
        if scope is None:
            raise ScopeError("write to a tenant-scoped row without a scope", code="no_scope")
        if obj.tenant_code is None and obj in session.new and scope.code:
            obj.tenant_code = scope.code
        if not obj.tenant_code:
            raise ValidationError(
                "tenant_code is required", details=[{"field": "tenant_code", "message": "required"}]
            )
        if not scope.allows(obj.tenant_code):
            raise ScopeError(
                f"{type(obj).__name__} of unit {obj.tenant_code!r} is outside your scope "
                f"{scope.code!r}",
                details=[{"field": "tenant_code", "message": "outside scope"}],
            )
        # A scoped row may not be moved out of scope by changing its tenant either.
        hist = sa.inspect(obj).attrs.tenant_code.history
        for old in hist.deleted or ():
            if old and not scope.allows(old):
                raise ScopeError("row belongs to a unit outside your scope")


_WRITTEN = "postalops.written_tables"
_COMMITTED = "postalops.committed_tables"
_WRITE = re.compile(r"^\s*(?:INSERT|UPDATE|DELETE|TRUNCATE|WITH)\b", re.IGNORECASE)
# Per process and database URL, like the caches they invalidate: every app of this process on
# the same database (tests build several) sees each other's commits.
_GENERATIONS: dict[tuple[str, str], int] = {}
_WATCHED: dict[str, tuple[str, ...]] = {}
_GENERATIONS_LOCK = threading.Lock()


# Every Database of this process (weakly): the test plugin closes their idle pooled connections
# after each test module, so a suite that builds many apps stays under the server's limit.
_LIVE: weakref.WeakSet[Database] = weakref.WeakSet()


def live_databases() -> list[Database]:
    """The Database objects of this process not yet garbage-collected."""
    return list(_LIVE)


class Database:
    """Engine plus session factory for one app (``app.extensions['postalops.db']``)."""

    def __init__(self, url: str, *, runtime_role: str | None = None, echo: bool = False) -> None:
        self.url = url
        self.jobs: Any = None  # the app's JobService, set by it (queues work after a commit)
        kwargs: dict[str, Any] = {"echo": echo, "future": True}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        else:
            kwargs.update(pool_pre_ping=True, pool_size=5, max_overflow=10)
        self.engine: Engine = sa.create_engine(url, **kwargs)
        self.is_postgres = self.engine.dialect.name == "postgresql"
        _LIVE.add(self)
        self.runtime_role = runtime_role if self.is_postgres else None
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
            event.listen(self.engine, "before_cursor_execute", _sqlite_begin_immediate)
        self._factory = sessionmaker(self.engine, class_=Session, expire_on_commit=False)
        if self.is_postgres:
            event.listen(self._factory, "after_begin", self._pg_scope)
        # Committed writes to watched tables, counted for per-process caches (see watch()).
        event.listen(self.engine, "before_cursor_execute", self._note_write)
        event.listen(self.engine, "commit", self._note_commit)
        event.listen(self.engine, "rollback", self._forget_writes)
        event.listen(self.engine, "checkin", self._publish_writes)

    # -- change counters for per-process caches -------------------------------------------------
    def watch(self, table: str) -> None:
        """Count the committed transactions of this process that write ``table`` (idempotent).

        A per-process cache of a small configuration table (plugin enablement) compares
        :meth:`generation` with the value it loaded under and reloads when it moved, so a
        change committed by this process (any session, Core statement or raw SQL, through any
        app on the same database) takes effect at the next request. Other processes are not
        seen: such a cache also expires after a bound of its own."""
        if table in _WATCHED.get(self.url, ()):
            return  # the request path asks on every request: no lock once watched
        with _GENERATIONS_LOCK:
            _GENERATIONS.setdefault((self.url, table), 0)
            if table not in _WATCHED.get(self.url, ()):
                _WATCHED[self.url] = (*_WATCHED.get(self.url, ()), table)

    def generation(self, table: str) -> int:
        """How many committed transactions of this process wrote ``table`` (watched)."""
        return _GENERATIONS[(self.url, table)]

    def _note_write(self, conn: sa.Connection, cursor: Any, statement: str, *args: Any) -> None:
        watched = _WATCHED.get(self.url)
        if watched and _WRITE.match(statement):
            for table in watched:
                if table in statement:
                    conn.info.setdefault(_WRITTEN, set()).add(table)

    def _note_commit(self, conn: sa.Connection) -> None:
        # The "commit" event comes before the database commits: counted when the connection
        # returns to the pool, so a cache reloaded in between cannot keep the old rows.
        written = conn.info.pop(_WRITTEN, None)
        if written:
            conn.info.setdefault(_COMMITTED, set()).update(written)

    def _forget_writes(self, conn: sa.Connection) -> None:
        conn.info.pop(_WRITTEN, None)

    def _publish_writes(self, dbapi_conn: Any, record: Any) -> None:
        committed = record.info.pop(_COMMITTED, None) if record is not None else None
        if committed:
            with _GENERATIONS_LOCK:
                for table in committed:
                    _GENERATIONS[(self.url, table)] += 1

    def _pg_scope(self, session: Session, transaction: Any, connection: sa.Connection) -> None:
        # One round trip per transaction: the role (``set_config('role', …, true)`` is
        # ``SET LOCAL ROLE``), the scope and the sign-in lookups, all dying with the transaction.
        scope: Scope | None = session.info.get("scope")
        settings: dict[str, str] = {}
        if self.runtime_role and not session.info.get("owner"):
            settings["role"] = self.runtime_role
        settings["postalops.scope"] = scope.pg_setting if scope else ""
        settings["postalops.off"] = scope.pg_off if scope else ""
        settings["postalops.off_like"] = scope.pg_off_like if scope else ""
        for (table, column), value in (session.info.get("lookups") or {}).items():
            settings[lookup_setting(table, column)] = str(value)
        _set_local(connection, settings)

    def rescope(self, session: Session, scope: Scope) -> None:
        """Give a session opened for a sign-in lookup (``session(None, lookups=...)``) the
        caller's scope once the lookup has found who is calling, so a bearer request runs its
        token lookup and its work in one session and transaction. The lookups end here: on
        PostgreSQL the open transaction's scope is set and its lookup settings are emptied.
        Also narrows a request's open session for a plugin (``Scope.for_plugin``)."""
        lookups = session.info.get("lookups") or {}
        session.info["scope"] = scope
        session.info["lookups"] = {}
        if self.is_postgres and session.in_transaction():
            settings = {
                "postalops.scope": scope.pg_setting,
                "postalops.off": scope.pg_off,
                "postalops.off_like": scope.pg_off_like,
            }
            settings.update({lookup_setting(t, c): "" for t, c in lookups})
            _set_local(session.connection(), settings)

    def session(
        self,
        scope: Scope | None,
        *,
        owner: bool = False,
        lookups: dict[tuple[str, str], Any] | None = None,
    ) -> Session:
        """A new session bound to ``scope``. ``owner=True`` skips the runtime role (migrations).

        ``lookups`` (``{("core_user", "username"): "alice"}``) lets an unscoped session see the
        one row that sign-in looks for, before any scope exists: on PostgreSQL the table's policy
        admits rows whose column equals the value (see :data:`SCOPE_INFO`)."""
        s = self._factory()
        s.info["scope"] = scope
        s.info["owner"] = owner
        s.info["lookups"] = dict(lookups or {})
        s.info[DB_INFO] = self  # per-process caches keyed by database (PluginRegistry.hook_scopes)
        return s

    @contextlib.contextmanager
    def transaction(self, scope: Scope | None) -> Iterator[Session]:
        """``with db.transaction(scope) as s:`` commits on success, rolls back on error."""
        s = self.session(scope)
        try:
            yield s
            s.commit()
        except BaseException:
            s.rollback()
            raise
        finally:
            s.close()

    def dispose(self) -> None:
        self.engine.dispose()


DB_INFO = "postalops.database"
"""``session.info`` key of the :class:`Database` that opened the session."""


def switch_scope(session: Session, scope: Scope) -> None:
    """Run ``session``'s next statements under ``scope`` (a plugin's data hook under its cut,
    see ``PluginRegistry.call_each``): the ORM criteria read it per statement; on PostgreSQL an
    open transaction gets the new row-level-security settings in one ``set_config`` round
    trip, and none when they are those already set (a transaction begun later sets them
    itself). Call it outside a SAVEPOINT: rolling one back would undo the settings."""
    old: Scope | None = session.info.get("scope")
    session.info["scope"] = scope
    if old == scope or not session.in_transaction():
        return
    if session.get_bind().dialect.name != "postgresql":
        return
    new = (scope.pg_setting, scope.pg_off, scope.pg_off_like)
    if old is not None and (old.pg_setting, old.pg_off, old.pg_off_like) == new:
        return
    _set_local(
        session.connection(),
        {"postalops.scope": new[0], "postalops.off": new[1], "postalops.off_like": new[2]},
    )


def _set_local(connection: sa.Connection, settings: dict[str, str]) -> None:
    """``set_config(name, value, true)`` for each setting, in one statement."""
    calls = ", ".join(f"set_config(:n{i}, :v{i}, true)" for i in range(len(settings)))
    params: dict[str, str] = {}
    for i, (name, value) in enumerate(settings.items()):
        params[f"n{i}"], params[f"v{i}"] = name, value
    connection.execute(sa.text(f"SELECT {calls}"), params)


def _sqlite_pragmas(dbapi_conn: Any, record: Any) -> None:
    # pysqlite's own transaction handling opens a DEFERRED transaction before the first write:
    # that transaction reads first and asks for the write lock afterwards, and SQLite refuses
    # such an upgrade at once ("database is locked") instead of waiting out busy_timeout
    # whenever another writer got in between. Turn it off; _sqlite_begin_immediate begins
    # writes itself (the SQLAlchemy recipe for pysqlite transactions).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


_SQLITE_WRITE = re.compile(
    r"^\s*(?:INSERT|UPDATE|DELETE|REPLACE|WITH\b.*\b(?:INSERT|UPDATE|DELETE|REPLACE)\b)",
    re.IGNORECASE | re.DOTALL,
)
_SQLITE_SAVEPOINT = re.compile(
    r"^\s*(SAVEPOINT|RELEASE|ROLLBACK\s+TO)\s+(?:SAVEPOINT\s+)?(\S+)", re.I
)
_TX_KEY = "postalops_sqlite_tx"


def _sqlite_begin_immediate(
    conn: sa.Connection, cursor: Any, statement: str, params: Any, context: Any, many: bool
) -> None:
    """Writes on SQLite run in ``BEGIN IMMEDIATE`` transactions: the write lock is taken
    first, so a writer waits its turn (``busy_timeout``) instead of failing, and readers are
    never serialised: reads outside a write run as before, each statement on its own snapshot
    (what PostgreSQL's READ COMMITTED gives too); WAL lets them run beside the one writer.

    A deferred transaction opened by a ``SAVEPOINT`` that has not written yet is turned into an
    immediate one at its first write (commit the read-only part, ``BEGIN IMMEDIATE``, re-open
    the savepoints), never upgraded in place.
    """
    raw = cursor.connection
    info = conn.info
    if not raw.in_transaction:
        info[_TX_KEY] = None
    savepoint = _SQLITE_SAVEPOINT.match(statement)
    if savepoint is not None:
        if not raw.in_transaction:  # SQLite opens a deferred transaction for it
            info[_TX_KEY] = {"mode": "deferred", "savepoints": []}
        _track_savepoint(info, savepoint.group(1).upper(), savepoint.group(2))
        return
    if not _SQLITE_WRITE.match(statement):
        return
    state = info.get(_TX_KEY)
    if not raw.in_transaction:
        raw.execute("BEGIN IMMEDIATE")
        info[_TX_KEY] = {"mode": "immediate", "savepoints": []}
    elif state is None or state["mode"] != "immediate":
        names = list(state["savepoints"]) if state else []
        raw.execute("COMMIT")  # nothing was written: this only ends the read snapshot
        raw.execute("BEGIN IMMEDIATE")
        for name in names:
            raw.execute(f"SAVEPOINT {name}")
        info[_TX_KEY] = {"mode": "immediate", "savepoints": names}


def _track_savepoint(info: dict[str, Any], verb: str, name: str) -> None:
    state = info.get(_TX_KEY) or {"mode": "deferred", "savepoints": []}
    info[_TX_KEY] = state
    names: list[str] = state["savepoints"]
    if verb == "SAVEPOINT":
        names.append(name)
    elif name in names:
        # RELEASE drops the savepoint and those above it; ROLLBACK TO keeps the savepoint.
        del names[names.index(name) + (0 if verb == "RELEASE" else 1) :]


def check_in_scope(session: Session, tenant_code: str) -> None:
    """Raise :class:`ScopeError` unless ``tenant_code`` is inside the session's scope."""
    scope = scope_of(session)
    if not scope.allows(tenant_code):
        raise ScopeError(f"unit {tenant_code!r} is outside your scope {scope.code!r}")


# --- PostgreSQL row-level security -------------------------------------------------------------

# The tenant policy. The scope is read once per statement: each ``(SELECT current_setting(…))``
# becomes an InitPlan whose value parallel workers receive, instead of a function call per row
# (3.9x the unscoped scan on 25 M rows, against 1.5x for this form; see docs/benchmarks.md).
# The subtree test is a byte-wise range: in the "C" collation the codes starting with
# ``scope || '.'`` are exactly those in [scope || '.', scope || '/'), as '/' follows '.'.
# An unset or empty scope matches nothing: NULL compares to nothing, and no code starts with
# '.'. ``postalops_in_scope(code)`` is the same unit test as a function, for ad-hoc SQL (without
# the plugin cut below: in a function it made every call several times slower).
# Tenant rows also pass the plugin cut (see Scope.for_plugin): ``postalops.off`` empty or unset
# lets every row through after one comparison with the InitPlan's value. Else a row is cut when
# its code is in a cut-out root (``postalops.off_like``: LIKE patterns, a fraction of a
# microsecond a row) and matches the regular expression ``postalops.off``, which also knows the
# subtrees switched on again inside those roots; the expression (about 3 us a row) runs only on
# the rows of the cut-out subtrees. The COALESCE keeps the array an InitPlan value: a cast
# outside the sub-select would parse the array text again on every row; NULLIF keeps an empty
# setting from failing as an array when PostgreSQL evaluates the InitPlan early (parallel plans).
_SCOPE = "(SELECT current_setting('postalops.scope', true)"
_OFF = "(SELECT current_setting('postalops.off', true))"
_OFF_LIKE = (
    "COALESCE((SELECT NULLIF(current_setting('postalops.off_like', true), '')::text[]), '{}')"
)


def _scope_test(column: str) -> str:
    return (
        f"{_SCOPE}) = '*' OR {column} = {_SCOPE}) "
        f"OR ({column} COLLATE \"C\" >= {_SCOPE} || '.') "
        f"AND {column} COLLATE \"C\" < {_SCOPE} || '/'))"
    )


def _off_test(column: str) -> str:
    return (
        f"(COALESCE({_OFF}, '') = '' "
        f"OR NOT ({column} LIKE ANY ({_OFF_LIKE}) AND {column} ~ {_OFF}))"
    )


def _tenant_test(column: str) -> str:
    return f"({_scope_test(column)}) AND {_off_test(column)}"


RLS_POLICY = _tenant_test("tenant_code")
_RLS_FUNCTION = f"""
CREATE OR REPLACE FUNCTION postalops_in_scope(code text) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT {_scope_test("code")} $$
"""


# Tables that belong to a unit through another column than ``tenant_code`` declare it in their
# table info, and get a policy of their own (``ensure_row_level_security``)::
#
#     __table_args__ = {"info": {SCOPE_INFO: {"column": "unit_code", "read": "path"}}}
#
# ``read``: ``"subtree"`` (the scope's unit and below, like tenant rows) or ``"path"`` (also the
# units above it: configuration a unit inherits, such as plugin enablement). Writes are always
# limited to the subtree. ``lookups``: columns an unscoped sign-in session may match exactly
# (``Database.session(lookups=...)``), e.g. ``core_user.username`` before the login has a scope.
SCOPE_INFO = "postalops_scope"


def lookup_setting(table: str, column: str) -> str:
    """The transaction setting that carries a sign-in lookup value for ``table.column``."""
    return f"postalops.lookup_{table}_{column}"


def _ancestor_test(column: str) -> str:
    """The row's unit is the scope's unit or above it (the scope lies in the row's subtree)."""
    return (
        f"({_SCOPE}) COLLATE \"C\" >= {column} || '.' "
        f"AND {_SCOPE}) COLLATE \"C\" < {column} || '/')"
    )


def unit_scoped_tables(metadata: sa.MetaData | None = None) -> dict[str, dict[str, Any]]:
    """Tables scoped through their own unit column: name -> their :data:`SCOPE_INFO`."""
    metadata = metadata or SQLModel.metadata
    return {t.name: t.info[SCOPE_INFO] for t in metadata.tables.values() if SCOPE_INFO in t.info}


def _unit_policies(table: sa.Table, spec: dict[str, Any]) -> tuple[str, str]:
    """(read, write) conditions of a unit-column table's policy."""
    column = f'"{spec["column"]}"'
    write = _scope_test(column)
    for name in spec.get("lookups", ()):
        setting = f"(SELECT current_setting('{lookup_setting(table.name, name)}', true))"
        if isinstance(table.c[name].type, sa.Integer):
            write += f" OR \"{name}\" = NULLIF({setting}, '')::integer"
        else:
            write += f' OR "{name}" = {setting}'
    read = write
    if spec.get("read", "subtree") == "path":
        read += " OR " + _ancestor_test(column)
    return read, write


def tenant_tables(metadata: sa.MetaData | None = None) -> list[str]:
    """Names of every table holding tenant rows (those with a ``tenant_code`` column)."""
    metadata = metadata or SQLModel.metadata
    return sorted(t.name for t in metadata.tables.values() if "tenant_code" in t.c)


def ensure_row_level_security(conn: sa.Connection, runtime_role: str | None) -> None:
    """Create the runtime role, grant it the tables and put a scope policy on tenant tables.

    Idempotent; run by ``postalops db upgrade`` after migrations (and by the test fixtures), so a
    plugin's new table is covered without the author writing any policy.
    """
    if conn.dialect.name != "postgresql" or not runtime_role:
        return
    role = runtime_role.replace('"', "")
    conn.exec_driver_sql(
        f"DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') "
        f'THEN CREATE ROLE "{role}" NOLOGIN; END IF; END $$'
    )
    conn.exec_driver_sql(f'GRANT "{role}" TO CURRENT_USER')
    conn.exec_driver_sql(f'GRANT USAGE ON SCHEMA public TO "{role}"')
    conn.exec_driver_sql(
        f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "{role}"'
    )
    conn.exec_driver_sql(f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO "{role}"')
    conn.exec_driver_sql(_RLS_FUNCTION)
    existing = set(
        conn.execute(
            sa.text(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "JOIN pg_attribute a ON a.attrelid = c.oid "
                "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') "
                "AND a.attname = 'tenant_code' AND NOT a.attisdropped"
            )
        ).scalars()
    )
    for table in sorted(existing):
        has_policy = conn.execute(
            sa.text(
                "SELECT 1 FROM pg_policies WHERE tablename = :t AND policyname = 'tenant_scope'"
            ),
            {"t": table},
        ).first()
        conn.exec_driver_sql(f'ALTER TABLE "{table}" ENABLE ROW LEVEL SECURITY')
        conn.exec_driver_sql(f'ALTER TABLE "{table}" FORCE ROW LEVEL SECURITY')
        # ALTER on an existing policy brings databases created by older versions up to date.
        verb = "ALTER" if has_policy else "CREATE"
        conn.exec_driver_sql(
            f'{verb} POLICY tenant_scope ON "{table}" USING ({RLS_POLICY}) '
            f"WITH CHECK ({RLS_POLICY})"
        )
    present = set(sa.inspect(conn).get_table_names())
    for name, spec in sorted(unit_scoped_tables().items()):
        if name not in present:
            continue
        read, write = _unit_policies(SQLModel.metadata.tables[name], spec)
        conn.exec_driver_sql(f'ALTER TABLE "{name}" ENABLE ROW LEVEL SECURITY')
        conn.exec_driver_sql(f'ALTER TABLE "{name}" FORCE ROW LEVEL SECURITY')
        # Writes (and the reads every command makes) within the subtree; plain SELECT also
        # sees the path above when the table holds inherited configuration.
        conn.exec_driver_sql(f'DROP POLICY IF EXISTS unit_scope ON "{name}"')
        conn.exec_driver_sql(f'DROP POLICY IF EXISTS unit_scope_read ON "{name}"')
        conn.exec_driver_sql(
            f'CREATE POLICY unit_scope ON "{name}" USING ({write}) WITH CHECK ({write})'
        )
        conn.exec_driver_sql(f'CREATE POLICY unit_scope_read ON "{name}" FOR SELECT USING ({read})')


def money(value: Any) -> Decimal:
    """A money value (str/int/Decimal) as ``Decimal`` rounded half up to the fen
    (:func:`postalops.money.to_fen`); floats are refused (``TypeError``)."""
    if isinstance(value, float):
        raise TypeError("money must not be float")
    return to_fen(Decimal(str(value)))


def in_scope_clause(column: Any, root: str) -> Any:
    """SQL for ``column`` in the subtree of ``root`` (for Core/aggregate queries)."""
    return or_(column == root, column.like(root + ".%"))
