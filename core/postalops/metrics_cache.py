"""The metrics contract's cache: each plugin's KPIs for a (tenant, from, to), kept until that
plugin's data changes.

Invalidation is explicit and exact, across processes and hosts:

- Every SQL write (``INSERT``/``UPDATE``/``DELETE``, ORM flush or Core, any session) is seen by a
  ``before_cursor_execute`` listener on the engine, which notes the *area* of the table written:
  the plugin whose key prefixes the table name (``sorter_rollup`` -> ``sorter``), or ``core``
  for the org tree and plugin enablement.
- When that transaction commits, the same transaction bumps the area's row of
  ``core_metrics_version`` (one upsert, in the ``commit`` event, before the database commits):
  the write and the new version become visible together.
- A reader reads the versions first (one small query), then serves a cached entry only if it
  was computed at the current version of its plugin and of ``core``; otherwise it recomputes.
  So the next read after any committed write reflects it, whichever process made it.

A write that bypasses SQLAlchemy's cursor (``COPY`` through the raw driver, ``psql``) is not
seen; its writer calls :func:`touch` in its transaction, and in any case no entry is served
more than :data:`MAX_AGE` seconds after it was computed: the documented freshness bound. The
contract's answer carries ``as_of``, the oldest computation time among the entries it used.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import secrets
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlmodel import Field, Session, SQLModel

from .db import UTCDateTime, utcnow

MAX_AGE = 60.0  # seconds: no entry is served older than this (writes outside SQLAlchemy)
MAX_ENTRIES = 4096  # per process and database
CORE_AREA = "core"
# Core tables whose rows change KPIs: the tree (units' subtrees) and enablement.
CORE_TABLES = frozenset({"core_org_unit", "core_plugin_enablement"})
TABLE = "core_metrics_version"

_WRITTEN = "postalops_metrics_written"
_MEMO = "postalops_metrics_versions"
_WRITE = re.compile(
    r'\b(?:INSERT\s+(?:OR\s+\w+\s+)?INTO|UPDATE|DELETE\s+FROM|TRUNCATE(?:\s+TABLE)?)\s+"?'
    r"([A-Za-z_][A-Za-z0-9_]*)",
    re.IGNORECASE,
)
_TRUNCATE_LIST = re.compile(r"\bTRUNCATE(?:\s+TABLE)?\s+([^;]+)", re.IGNORECASE)
_AREA_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class MetricsVersion(SQLModel, table=True):
    """The version of an area's data (a plugin, or ``core``): a new random number at every
    committed transaction that wrote the area's tables."""

    __tablename__ = TABLE

    area: str = Field(primary_key=True, max_length=64)
    version: int = Field(default=0, sa_type=sa.BigInteger)
    changed_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class MetricsCache:
    """The cache of one database (engine) in this process, and the write tracking that keeps
    it exact. Created by :func:`install`; found again by :func:`for_bind`."""

    def __init__(self, engine: sa.Engine, areas: Iterable[str], max_age: float = MAX_AGE) -> None:
        self.engine = engine
        self.max_age = max_age
        self.areas = sorted({a for a in areas if _AREA_NAME.match(a)}, key=len, reverse=True)
        self._area_of: dict[str, str | None] = {}
        self._entries: OrderedDict[tuple, tuple[tuple[int, int], float, dt.datetime, Any]] = (
            OrderedDict()
        )
        self._enabled: dict[str, tuple[int, frozenset[str]]] = {}
        self._rows: dict[str, tuple[int, list[tuple[str, str, bool]]]] = {}
        self._inflight: dict[tuple, threading.Lock] = {}
        self._lock = threading.Lock()
        self._table_ok = False
        self._table_checked = 0.0
        self.hits = 0
        self.misses = 0
        event.listen(engine, "before_cursor_execute", self._seen)
        event.listen(engine, "commit", self._commit)
        event.listen(engine, "rollback", self._rollback)

    def add_areas(self, areas: Iterable[str]) -> None:
        merged = set(self.areas) | {a for a in areas if _AREA_NAME.match(a)}
        if len(merged) != len(self.areas):
            self.areas = sorted(merged, key=len, reverse=True)
            self._area_of = {}

    # --- write tracking ------------------------------------------------------------------------

    def area_of(self, table: str) -> str | None:
        """The area whose KPIs a write to ``table`` can change (``None``: none)."""
        if table not in self._area_of:
            name = table.lower()
            found = CORE_AREA if name in CORE_TABLES else None
            if found is None and not name.startswith("core_"):
                found = next((a for a in self.areas if name.startswith(a + "_")), None)
            self._area_of[table] = found
        return self._area_of[table]

    def _seen(
        self, conn: sa.Connection, cursor: Any, statement: str, params: Any, ctx: Any, many: bool
    ) -> None:
        head = statement.lstrip()[:1]
        if head not in ("I", "U", "D", "W", "T", "i", "u", "d", "w", "t"):
            return  # SELECT, SAVEPOINT, PRAGMA, SET ...: no write
        tables = _WRITE.findall(statement)
        if head in ("T", "t"):
            for names in _TRUNCATE_LIST.findall(statement):  # TRUNCATE a, b, c
                tables += [n.strip().strip('"') for n in names.split(",")]
        for table in tables:
            area = self.area_of(table)
            if area is not None:
                conn.info.setdefault(_WRITTEN, set()).add(area)

    def _rollback(self, conn: sa.Connection) -> None:
        conn.info.pop(_WRITTEN, None)

    def _commit(self, conn: sa.Connection) -> None:
        areas = conn.info.pop(_WRITTEN, None)
        if areas:
            self._bump(conn, areas)

    def _bump(self, conn: sa.Connection, areas: Iterable[str]) -> None:
        """Upsert the areas' versions on the committing transaction (raw cursor: no events)."""
        names = sorted(a for a in set(areas) if _AREA_NAME.match(a))  # one lock order
        if not names:
            return
        # a new random version, not version + 1: a version must never come back after the
        # table was emptied (tests do; a restore would), or an old entry would match it again
        version = secrets.randbits(62)
        values = ", ".join(f"('{a}', {version}, CURRENT_TIMESTAMP)" for a in names)
        sql = (
            f"INSERT INTO {TABLE} (area, version, changed_at) VALUES {values} "
            "ON CONFLICT (area) DO UPDATE SET version = excluded.version, "
            "changed_at = excluded.changed_at"
        )
        cursor = conn.connection.cursor()
        try:
            if self._table_ok:
                cursor.execute(sql)
                return
            # until the table is known to exist (a database not yet migrated), never let the
            # bump abort the writer's transaction
            cursor.execute("SAVEPOINT postalops_metrics_version")
            try:
                cursor.execute(sql)
            except conn.dialect.loaded_dbapi.Error:
                cursor.execute("ROLLBACK TO SAVEPOINT postalops_metrics_version")
            else:
                self._table_ok = True
            cursor.execute("RELEASE SAVEPOINT postalops_metrics_version")
        finally:
            cursor.close()

    # --- reading -------------------------------------------------------------------------------

    def versions(self, session: Session) -> dict[str, int] | None:
        """Every area's version, or ``None`` while the version table does not exist.

        Read once per transaction of ``session`` (a dashboard page asks for dozens of answers;
        they all use the same versions, so the page is consistent)."""
        if not self._table_ok:
            now = time.monotonic()
            if now - self._table_checked < 5:
                return None
            self._table_checked = now
            if not sa.inspect(self.engine).has_table(TABLE):
                return None
            self._table_ok = True
        transaction = session.get_transaction()
        memo = session.info.get(_MEMO)
        if transaction is not None and memo is not None and memo[0] is transaction:
            return memo[1]
        rows = session.connection().exec_driver_sql(f"SELECT area, version FROM {TABLE}")
        versions = {area: int(version) for area, version in rows}
        session.info[_MEMO] = (session.get_transaction(), versions)
        return versions

    @staticmethod
    def written(session: Session) -> set[str]:
        """Areas the session's open transaction has written (not committed yet): their cached
        answers predate those writes, so they are recomputed, and not kept."""
        if session.new or session.dirty or session.deleted:
            session.flush()  # pending rows count as written (as autoflush would make them)
        if session.get_transaction() is None:
            return set()
        return set(session.connection().info.get(_WRITTEN, ()))

    def enabled(self, session: Session, registry: Any, tenant: str, core_version: int) -> set[str]:
        """``registry.effective(session, tenant)``, kept while the core version stands (every
        enablement change bumps it)."""
        with self._lock:
            hit = self._enabled.get(tenant)
        if hit is not None and hit[0] == core_version:
            return set(hit[1])
        found = registry.effective(session, tenant)
        with self._lock:
            self._enabled[tenant] = (core_version, frozenset(found))
            if len(self._enabled) > MAX_ENTRIES:
                self._enabled.clear()
        return set(found)

    def enablement_rows(
        self, session: Session, registry: Any, code: str, core_version: int
    ) -> list[tuple[str, str, bool]]:
        """``registry.enablement_rows(session, code)`` (the rows each plugin's cut is computed
        from, ``PluginRegistry.hook_scopes``), kept while the core version stands: a switch
        bumps it in its own transaction, so an entry is never computed under an older cut than
        the versions it is stored with."""
        with self._lock:
            hit = self._rows.get(code)
        if hit is not None and hit[0] == core_version:
            return hit[1]
        rows = registry.enablement_rows(session, code)
        with self._lock:
            self._rows[code] = (core_version, rows)
            if len(self._rows) > MAX_ENTRIES:
                self._rows.clear()
        return rows

    def lookup(self, key: tuple, version: tuple[int, int] | None) -> tuple[Any, dt.datetime] | None:
        """``(value, computed_at)`` of ``key`` if it was computed at ``version`` and at most
        ``max_age`` seconds ago; else ``None`` (always ``None`` without a version)."""
        if version is None:
            return None
        now = time.monotonic()
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None and hit[0] == version and now - hit[1] <= self.max_age:
                self._entries.move_to_end(key)
                self.hits += 1
                return hit[3], hit[2]
        self.misses += 1
        return None

    def store(self, key: tuple, version: tuple[int, int], value: Any, at: dt.datetime) -> None:
        """Keep ``value``, computed at ``version`` (read before computing) and time ``at``."""
        # its age counts from ``at`` (when the computation began), not from now
        started = time.monotonic() - max(0.0, (dt.datetime.now(dt.UTC) - at).total_seconds())
        with self._lock:
            self._entries[key] = (version, started, at, value)
            self._entries.move_to_end(key)
            while len(self._entries) > MAX_ENTRIES:
                self._entries.popitem(last=False)

    def stale_soon(self, at: dt.datetime) -> bool:
        r"""An entry computed at ``at`` is past half its life: the request that :meth:`claim`\ s
        it recomputes it, while every other one is still served the valid entry (so entries
        expiring under load are never rebuilt by all their readers at once)."""
        return (dt.datetime.now(dt.UTC) - at).total_seconds() > self.max_age / 2

    def claim(self, key: tuple) -> bool:
        """Take ``key``'s lock without waiting (``False``: another thread is refreshing it)."""
        with self._lock:
            lock = self._inflight.setdefault(key, threading.Lock())
        return lock.acquire(blocking=False)

    def release(self, key: tuple) -> None:
        with self._lock:
            lock = self._inflight.get(key)
        if lock is not None and lock.locked():
            lock.release()

    @contextlib.contextmanager
    def single_flight(self, key: tuple) -> Iterator[None]:
        """Hold ``key``'s lock of this process: threads asking for the same missing entry wait
        for the one computing it (then find it with :meth:`lookup`) instead of computing it
        side by side."""
        with self._lock:
            lock = self._inflight.setdefault(key, threading.Lock())
        with lock:
            yield
        with self._lock:
            if len(self._inflight) > MAX_ENTRIES:
                self._inflight.clear()

    def clear(self) -> None:
        """Forget every entry of this process (the benchmark's cold start; tests)."""
        with self._lock:
            self._entries.clear()
            self._enabled.clear()
            self._rows.clear()


_CACHES: weakref.WeakKeyDictionary[sa.Engine, MetricsCache] = weakref.WeakKeyDictionary()


def install(engine: sa.Engine, areas: Iterable[str], max_age: float = MAX_AGE) -> MetricsCache:
    """Track writes on ``engine`` and cache metrics read through it (once per engine)."""
    cache = _CACHES.get(engine)
    if cache is None:
        cache = _CACHES[engine] = MetricsCache(engine, areas, max_age)
    else:  # another app on the same engine (tests): its plugins' tables count too
        cache.add_areas(areas)
    return cache


def for_bind(bind: Any) -> MetricsCache | None:
    """The cache of the engine behind ``bind`` (a session's bind, an engine or a connection)."""
    engine = getattr(bind, "engine", bind)
    return _CACHES.get(engine)


def touch(session: Session, *areas: str) -> None:
    """Mark ``areas`` (plugin keys) changed by the session's transaction, for a write the engine
    cannot see (``COPY`` through the raw driver): their cached KPIs are recomputed after commit."""
    conn = session.connection()
    conn.info.setdefault(_WRITTEN, set()).update(areas)


def touch_tables(session: Session, *tables: str) -> None:
    """:func:`touch` the areas of ``tables`` (for a writer that knows tables, not plugins:
    ``postalops.bulk`` inserting through COPY and the driver's own cursor)."""
    cache = for_bind(session.get_bind())
    if cache is None:
        return
    areas = {a for a in map(cache.area_of, tables) if a is not None}
    if areas:
        touch(session, *areas)
