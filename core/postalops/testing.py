"""pytest fixtures for PostalOps and plugin authors (loaded automatically via ``pytest11``).

Backend follows the environment: ``POSTALOPS_DATABASE_URL`` (PostgreSQL) and
``POSTALOPS_REDIS_URL`` (Redis) when set, otherwise a SQLite file and the in-process broker.

Fixtures:
- ``po_app``: the app with every installed plugin (session-wide); the schema is created once.
- ``po_db``: the app's :class:`~postalops.db.Database`, emptied before each test.
- ``tenants``: a small tree (``cn``, ``cn.henan``, ``cn.henan.zhengzhou``, ``cn.henan.kaifeng``,
  ``cn.hebei``, ``cn.hebei.shijiazhuang``) with every plugin enabled at ``cn``.
- ``make_user(username, unit, *roles)``: a user; ``login(user)``: a :class:`PortalClient`.
- ``make_token(unit, *permissions)``: an :class:`ApiClient` with a bearer token.
- ``as_unit(unit)``: a context manager running code as a caller scoped to ``unit``.
- ``workers``: in-process (or Redis) worker threads for the test.
- ``empty_db``: a :class:`~postalops.db.Database` on a new, empty database (a SQLite file, or
  a PostgreSQL database created for the test and dropped after it), for migration tests.
- ``frozen_today``: ``postalops.clock`` frozen on ``FROZEN_TODAY`` (``.set(day)`` moves it).
- ``enable_plugin(key, unit, on=True)``: switch a plugin on (or off) at one unit, as the CLI does.
- ``run_job(kind, params=None, unit="cn")``: submit a job and return its record once finished.
- ``login_as(role, unit)`` / ``token_for(role, unit)``: a new user (or token) of that role at
  that unit, as a logged-in :class:`PortalClient` (or an :class:`ApiClient`), in one line.
- ``default_metrics(app, tenant, plugin)``: ``GET /api/v1/metrics`` with no period (the last
  30 days up to ``postalops.clock.today()``), through a group-level token.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel

__all__ = [
    "PASSWORD",
    "FROZEN_TODAY",
    "TREE",
    "PortalClient",
    "ApiClient",
    "FrozenClock",
    "count_rows",
    "system_scope",
    "system_context",
    "build_tree",
    "default_metrics",
    "page_text",
    "live_server",
    "assert_readable",
    "table_rows",
    "scheduler_tick",
    "jobs_of",
    "po_app",
    "po_db",
    "tenants",
    "make_user",
    "login",
    "make_token",
    "as_unit",
    "workers",
    "empty_db",
    "frozen_today",
    "enable_plugin",
    "run_job",
    "login_as",
    "token_for",
]


PASSWORD = "test-password-1"

TREE = [
    ("cn", None, "集团", "Group", "group"),
    ("cn.henan", "cn", "河南", "Henan", "province"),
    ("cn.henan.zhengzhou", "cn.henan", "郑州", "Zhengzhou", "city"),
    ("cn.henan.zhengzhou.jinshui", "cn.henan.zhengzhou", "金水", "Jinshui", "station"),
    ("cn.henan.kaifeng", "cn.henan", "开封", "Kaifeng", "city"),
    ("cn.hebei", "cn", "河北", "Hebei", "province"),
    ("cn.hebei.shijiazhuang", "cn.hebei", "石家庄", "Shijiazhuang", "city"),
]


def make_settings(tmp: Path, **overrides: Any) -> Any:
    from postalops.config import Settings

    os.environ.setdefault("POSTALOPS_INSTANCE_PATH", str(tmp))
    values: dict[str, Any] = dict(
        testing=True,
        redis_heartbeat_ms=int(os.environ.get("POSTALOPS_REDIS_HEARTBEAT_MS", "60000")),
    )
    if not os.environ.get("POSTALOPS_DATABASE_URL"):
        values["database_url"] = f"sqlite:///{tmp / 'test.sqlite'}"
    values.update(overrides)
    return Settings.from_env(**values)


def create_schema(db: Any) -> None:
    """Drop and create every table of the installed models (tests only: no create_all
    elsewhere), then the row-level-security policies."""
    from postalops.db import ensure_row_level_security

    with db.engine.begin() as conn:
        SQLModel.metadata.drop_all(conn)
        SQLModel.metadata.create_all(conn)
        ensure_row_level_security(conn, db.runtime_role)


def empty_tables(db: Any) -> None:
    tables = list(reversed(SQLModel.metadata.sorted_tables))
    with db.engine.begin() as conn:
        if db.is_postgres:
            # DELETE on (mostly empty) tables is far cheaper than TRUNCATE's per-table file
            # swap and exclusive locks; one round trip for all of them.
            conn.exec_driver_sql("; ".join(f'DELETE FROM "{t.name}"' for t in tables))
        else:
            for t in tables:
                conn.execute(t.delete())


def import_all_models(app: Any) -> None:
    from postalops.migrate import _import_models

    _import_models(app.extensions["postalops.plugins"])


def _cheap_password_hashing() -> None:
    """Tests hash many passwords: use argon2's cheapest profile (still argon2id) for speed."""
    from argon2 import PasswordHasher, profiles

    from postalops import auth

    auth._hasher = PasswordHasher.from_parameters(profiles.CHEAPEST)


@pytest.fixture(autouse=True, scope="module")
def _release_idle_connections() -> Iterator[None]:
    """After each test module, close the idle pooled PostgreSQL connections of every app built
    so far (an engine reconnects when next used). Tests that build apps of their own would
    otherwise keep up to 15 connections each until garbage collection, and the whole suite ran
    the server out of its 100 ("too many clients already")."""
    yield
    import gc

    from postalops.db import live_databases

    gc.collect()
    for db in live_databases():
        if db.is_postgres:
            db.dispose()


@pytest.fixture(scope="session")
def po_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from postalops.app import create_app

    _cheap_password_hashing()
    tmp = tmp_path_factory.mktemp("postalops")
    app = create_app(make_settings(tmp))
    settings = app.extensions["postalops.settings"]
    if settings.redis_url:  # a test Redis: start without messages left by an earlier run
        import redis

        redis.Redis.from_url(settings.redis_url).flushdb()
    import_all_models(app)
    create_schema(app.extensions["postalops.db"])
    yield app
    app.extensions["postalops.jobs"].stop_workers()
    app.extensions["postalops.db"].dispose()


@pytest.fixture
def po_db(po_app: Any) -> Any:
    db = po_app.extensions["postalops.db"]
    empty_tables(db)
    return db


class PortalClient:
    """A Flask test client logged in through the real login form; adds the CSRF header."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.csrf = ""

    def refresh_csrf(self) -> str:
        page = self.client.get("/login" if not self.csrf else "/").get_data(as_text=True)
        m = re.search(r'name="csrf-token" content="([^"]+)"', page)
        self.csrf = m.group(1) if m else ""
        return self.csrf

    def login(self, username: str, password: str = PASSWORD) -> Any:
        self.refresh_csrf()
        resp = self.client.post(
            "/login", data={"username": username, "password": password, "csrf_token": self.csrf}
        )
        self.refresh_csrf()
        return resp

    def _headers(self, kw: dict[str, Any]) -> dict[str, Any]:
        headers = dict(kw.pop("headers", {}) or {})
        headers.setdefault("X-CSRFToken", self.csrf)
        kw["headers"] = headers
        return kw

    def get(self, url: str, **kw: Any) -> Any:
        return self.client.get(url, **kw)

    def post(self, url: str, **kw: Any) -> Any:
        return self.client.post(url, **self._headers(kw))

    def put(self, url: str, **kw: Any) -> Any:
        return self.client.put(url, **self._headers(kw))

    def patch(self, url: str, **kw: Any) -> Any:
        return self.client.patch(url, **self._headers(kw))

    def delete(self, url: str, **kw: Any) -> Any:
        return self.client.delete(url, **self._headers(kw))

    def switch_unit(self, unit: str) -> Any:
        return self.post("/unit", data={"unit": unit, "csrf_token": self.csrf, "next": "/"})


class ApiClient:
    """A test client that sends ``Authorization: Bearer <secret>`` on every request."""

    def __init__(self, client: Any, secret: str, token_id: int) -> None:
        self.client, self.secret, self.token_id = client, secret, token_id

    def _kw(self, kw: dict[str, Any]) -> dict[str, Any]:
        headers = dict(kw.pop("headers", {}) or {})
        headers["Authorization"] = f"Bearer {self.secret}"
        kw["headers"] = headers
        return kw

    def get(self, url: str, **kw: Any) -> Any:
        return self.client.get(url, **self._kw(kw))

    def post(self, url: str, **kw: Any) -> Any:
        return self.client.post(url, **self._kw(kw))

    def put(self, url: str, **kw: Any) -> Any:
        return self.client.put(url, **self._kw(kw))

    def patch(self, url: str, **kw: Any) -> Any:
        return self.client.patch(url, **self._kw(kw))

    def delete(self, url: str, **kw: Any) -> Any:
        return self.client.delete(url, **self._kw(kw))


def system_scope() -> Any:
    """The unrestricted scope, for fixtures that write users, tokens or plugin enablement (on
    PostgreSQL those rows are under row-level security; an unscoped session sees none)."""
    from postalops.tenancy import Scope

    return Scope.system_scope()


def system_context(app: Any, unit: str | None = None) -> Any:
    from postalops.context import CallContext, Principal
    from postalops.tenancy import Scope

    return CallContext(
        db=app.extensions["postalops.db"],
        scope=Scope.system_scope() if unit is None else Scope.unit(unit),
        principal=Principal.system("test"),
        unit=unit,
    )


def build_tree(
    app: Any, tree: list[tuple[str, str | None, str, str, str]] = TREE, enable_all: bool = True
) -> None:
    from postalops.models import OrgUnit, PluginEnablement

    db = app.extensions["postalops.db"]
    with db.transaction(system_scope()) as s:
        for code, parent, zh, en, level in tree:
            s.add(
                OrgUnit(
                    code=code,
                    parent_code=parent,
                    name_zh=zh,
                    name_en=en,
                    level=level,
                    depth=code.count("."),
                )
            )
        if enable_all:
            for key in app.extensions["postalops.plugins"].business_keys():
                s.add(PluginEnablement(unit_code="cn", plugin_key=key, enabled=True))


@pytest.fixture
def tenants(po_app: Any, po_db: Any) -> list[str]:
    build_tree(po_app)
    return [t[0] for t in TREE]


@pytest.fixture
def make_user(po_app: Any, tenants: list[str]) -> Any:
    from postalops.auth import create_user

    def make(username: str, unit: str, *roles: str, password: str = PASSWORD) -> Any:
        with po_app.extensions["postalops.db"].transaction(system_scope()) as s:
            user = create_user(
                s,
                po_app.extensions["postalops.plugins"],
                username=username,
                password=password,
                unit_code=unit,
                roles=roles or ("ops",),
            )
            s.expunge(user)
        return user

    return make


@pytest.fixture
def login(po_app: Any) -> Any:
    def do(user: Any, password: str = PASSWORD) -> PortalClient:
        client = PortalClient(po_app.test_client())
        resp = client.login(user.username if hasattr(user, "username") else user, password)
        assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
        return client

    return do


@pytest.fixture
def make_token(po_app: Any, tenants: list[str]) -> Any:
    from postalops.auth import create_token

    def make(
        unit: str, *permissions: str, subject: str | None = None, expires_at: Any = None
    ) -> ApiClient:
        with po_app.extensions["postalops.db"].transaction(system_scope()) as s:
            token, secret = create_token(
                s,
                po_app.extensions["postalops.plugins"],
                name="test",
                unit_code=unit,
                permissions=permissions,
                created_by="test",
                subject=subject,
                expires_at=expires_at,
            )
            token_id = token.id
        return ApiClient(po_app.test_client(), secret, token_id)

    return make


@pytest.fixture
def as_unit(po_app: Any) -> Any:
    """``with as_unit("cn.henan.zhengzhou") as s:`` runs as a caller scoped to that unit."""
    from postalops import context

    @contextlib.contextmanager
    def run(unit: str | None) -> Iterator[Any]:
        with context.activate(system_context(po_app, unit)) as ctx:
            yield ctx.session

    return run


@pytest.fixture
def workers(po_app: Any) -> Iterator[Any]:
    jobs = po_app.extensions["postalops.jobs"]
    jobs.start_workers(2)
    yield jobs
    jobs.stop_workers()


@pytest.fixture
def empty_db(tmp_path: Path) -> Iterator[Any]:
    import uuid

    from postalops.db import Database

    url = os.environ.get("POSTALOPS_DATABASE_URL")
    if not url:
        db = Database(f"sqlite:///{tmp_path / 'mig.sqlite'}")
        yield db
        db.dispose()
        return
    name = f"postalops_mig_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    db = Database(url.rsplit("/", 1)[0] + "/" + name, runtime_role="postalops_runtime")
    yield db
    db.dispose()
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
    admin.dispose()


def count_rows(app: Any, model: Any) -> int:
    """Rows of ``model`` across all tenants (for 'nothing was written' assertions)."""
    db = app.extensions["postalops.db"]
    with db.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(model.__table__)).scalar_one()


@pytest.fixture(scope="session")
def po_tmp() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as d:
        yield Path(d)


# A Wednesday long after the article (autumn 2022): the demo's present is a full 90 days.
FROZEN_TODAY = "2025-03-12"


class FrozenClock:
    """What ``frozen_today`` yields: ``.day`` is today, ``.now`` the frozen moment;
    ``.set(day)`` moves it (a later run), ``.set("2025-03-12 23:30")`` to a time of day
    (network zone), ``.advance(days=1, hours=0)`` forward from where it is."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, day: Any) -> None:
        self._mp = monkeypatch
        self.set(day)

    def set(self, day: Any) -> Any:
        import datetime as dt

        from postalops import clock

        if isinstance(day, str):
            day = dt.datetime.fromisoformat(day) if len(day) > 10 else dt.date.fromisoformat(day)
        if isinstance(day, dt.datetime):
            at = day if day.tzinfo else day.replace(tzinfo=clock.zone())
        else:
            at = dt.datetime.combine(day, dt.time(10, 30), clock.zone())
        self.now = at
        self.day = at.astimezone(clock.zone()).date()
        self._mp.setattr(clock, "now", lambda: at)
        return self.day

    def advance(self, days: int = 0, hours: int = 0, minutes: int = 0) -> Any:
        import datetime as dt

        return self.set(self.now + dt.timedelta(days=days, hours=hours, minutes=minutes))


@pytest.fixture
def frozen_today(monkeypatch: pytest.MonkeyPatch) -> FrozenClock:
    """Freeze ``postalops.clock`` (``now()`` / ``today()``) at 10:30 on ``FROZEN_TODAY`` in the
    network's zone; ``frozen_today.set("2025-03-13")`` moves it. Code asking
    ``datetime.date.today()`` directly is not frozen: it should ask ``postalops.clock``."""
    return FrozenClock(monkeypatch, FROZEN_TODAY)


@pytest.fixture
def enable_plugin(po_app: Any, tenants: list[str]) -> Any:
    """``enable_plugin("claims", "cn.henan.zhengzhou")`` switches a plugin on at one unit (or off
    with ``on=False``) through the core's enablement, as ``postalops plugins enable`` does:
    requirements checked, audited, the tenant hooks called. ``tenants`` enables every plugin at
    ``cn``; for "on in Zhengzhou only" switch it off at ``cn`` first."""
    from postalops import context

    reg = po_app.extensions["postalops.plugins"]

    def switch(key: str, unit: str, on: bool = True) -> None:
        with context.activate(system_context(po_app)) as ctx:
            reg.set_enabled(ctx.session, unit, key, on, "test")
            ctx.session.commit()

    return switch


@pytest.fixture
def run_job(po_app: Any, tenants: list[str], workers: Any) -> Any:
    """``job = run_job("payroll.run", {"month": "2026-10"}, "cn.henan.zhengzhou")`` submits a job
    in that unit's scope (refused there like any submit: plugin off, bad params), lets the
    test's worker threads run it, and returns the job record once it is final (``job.status``,
    ``job.result``, ``job.error``)."""
    from postalops import context
    from postalops.jobs import wait_for

    def run(
        kind: str,
        params: dict[str, Any] | None = None,
        unit: str = "cn",
        idempotency_key: str | None = None,
        timeout: float = 30.0,
    ) -> Any:
        with context.activate(system_context(po_app, unit)):
            job = workers.submit(kind, params or {}, idempotency_key=idempotency_key, tenant=unit)
        return wait_for(po_app.extensions["postalops.db"], job.id, timeout=timeout)

    return run


def scheduler_tick(app: Any, at: Any) -> list[str]:
    """One pass of the scheduler at ``at`` (an aware datetime; cron times are UTC): fires every
    schedule due then, as ``postalops scheduler`` would, and returns the names fired."""
    from postalops.scheduler import tick

    return tick(app, at)


def jobs_of(app: Any, kind: str) -> list[Any]:
    """The job records of ``kind`` across all units, oldest first (detached)."""
    from sqlmodel import select

    from postalops.models import Job

    with app.extensions["postalops.db"].transaction(system_scope()) as s:
        rows = list(s.exec(select(Job).where(Job.kind == kind).order_by(Job.created_at)).all())
        for row in rows:
            s.expunge(row)
    return rows


def _role_name(role: str, unit: str, taken: dict[str, int]) -> str:
    # hyphens: a login name shown in the page must not read as a snake_case token
    base = f"{role}-{unit.rsplit('.', 1)[-1]}".replace("_", "-")
    taken[base] = taken.get(base, 0) + 1
    return base if taken[base] == 1 else f"{base}-{taken[base]}"


@pytest.fixture
def login_as(make_user: Any, login: Any) -> Any:
    """``c = login_as("payroll_hr", "cn.henan.zhengzhou")``: a new user holding that role at
    that unit, logged in through the real form (a :class:`PortalClient`; ``c.user`` is the
    user). Any role of ``postalops_roles`` or the core's (``admin``, ``ops``, ``viewer``)."""
    taken: dict[str, int] = {}

    def make(role: str, unit: str = "cn.henan.zhengzhou") -> PortalClient:
        user = make_user(_role_name(role, unit, taken), unit, role)
        client = login(user)
        client.user = user  # type: ignore[attr-defined]
        return client

    return make


@pytest.fixture
def token_for(po_app: Any, make_token: Any) -> Any:
    """``api = token_for("station_head", "cn.henan.zhengzhou")``: an :class:`ApiClient` whose
    token holds exactly the permissions the role grants (every permission for ``admin``)."""
    from postalops.auth import known_roles, role_permissions

    reg = po_app.extensions["postalops.plugins"]

    def make(role: str, unit: str = "cn.henan.zhengzhou", subject: str | None = None) -> ApiClient:
        if role not in known_roles(reg):
            raise ValueError(f"unknown role {role!r}; known: {sorted(known_roles(reg))}")
        perms = role_permissions(reg, [role])
        if "*" in perms:
            perms = frozenset(p.name for p in reg.permissions())
        return make_token(unit, *sorted(perms), subject=subject)

    return make


def default_metrics(app: Any, tenant: str, plugin: str) -> dict[str, Any]:
    """``GET /api/v1/metrics?tenant=&plugin=`` with no from/to (the API's default period), as a
    token at ``cn`` holding ``core.metrics.read`` (the plugin must be enabled there); returns
    ``{kpi: value}`` of that plugin, values as the API sends them."""
    from postalops.auth import create_token

    with app.extensions["postalops.db"].transaction(system_scope()) as s:
        _token, secret = create_token(
            s,
            app.extensions["postalops.plugins"],
            name="default-metrics",
            unit_code="cn",
            permissions=("core.metrics.read",),
            created_by="test",
        )
    resp = ApiClient(app.test_client(), secret, 0).get(
        f"/api/v1/metrics?tenant={tenant}&plugin={plugin}"
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
    body = resp.get_json()
    return {k: v["value"] for k, v in body["metrics"].get(plugin, {}).items()}


# --- reading a page as its user does ----------------------------------------------------------

SNAKE_CASE = re.compile(r"(?<![\w./-])[a-z][a-z0-9]*(?:_[a-z0-9]+)+(?![\w])")
UNIT_CODE = re.compile(r"(?<![\w.])cn(?:\.[a-z][a-z0-9_]*)+(?![\w])")
# an unformatted or over-long decimal; a price per item (¥0.585) keeps its own digits
LONG_DECIMAL = re.compile(r"(?<![¥\d.,])[\d,]+\.\d{3,}")


@contextlib.contextmanager
def live_server(app: Any) -> Iterator[str]:
    """Serve ``app`` over HTTP on a free 127.0.0.1 port, in a thread, for a browser test;
    yields the base URL and stops the server afterwards."""
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


def page_text(html: str, skip: tuple[str, ...] = ("script", "style", "textarea", "code")) -> str:
    """The text a reader sees: tags, attribute values and the ``skip`` elements removed (a
    textarea holds what the user edits, a ``<code>`` a column name to type, not prose)."""
    tags = "|".join(skip)
    text = re.sub(rf"<({tags})\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text))


def assert_readable(html: str) -> str:
    """No snake_case token, raw unit code or unformatted decimal in the page's visible text
    (issue 14's rule for the zh portal); returns that text."""
    text = page_text(html)
    assert not SNAKE_CASE.findall(text), SNAKE_CASE.findall(text)
    assert not UNIT_CODE.findall(text), UNIT_CODE.findall(text)
    assert not LONG_DECIMAL.findall(text), LONG_DECIMAL.findall(text)
    return text


def table_rows(html: str, table_id: str) -> int:
    """How many body rows the table ``id=table_id`` shows."""
    table = re.search(rf'<table[^>]*id="{table_id}".*?</table>', html, re.S)
    assert table is not None, table_id
    return len(re.findall(r"<tr[ >]", table[0].split("<tbody>")[1]))
