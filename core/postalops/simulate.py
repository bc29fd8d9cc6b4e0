"""``postalops simulate``: keeps the demo network alive while the portal runs (issue 16 §3).

The core owns the loop, the HTTP client and the credentials; each plugin owns what its machines
and partners send, as a :class:`Simulator` returned from ``postalops_simulators()``. A tick
asks every enabled plugin's simulator for one plausible batch of calls at the tick's time, made
through the plugin's public HTTP API with bearer tokens, exactly as a sorter, the government
platform, the e-shop or a bank counter would. So the simulation also exercises the API.

Idempotent: a tick is named by its time (``Tick.key``), every record it sends carries a natural
key or idempotency key derived from that name (case numbers, order numbers, refund numbers,
waybills, repayment references, telemetry sequence numbers), and its random draws are seeded by
it; sending the same tick twice adds nothing. Only today's records are written: the demo's
article period (2020-2022) is never touched.

Credentials are API tokens made on demand (:meth:`Tick.client`): one per role (or permission
set), unit and subject, its secret derived from the app's secret key, so a restarted simulation
finds its tokens again instead of piling up new ones. A revoked or expired one is replaced.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import math
import random
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import requests
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from . import clock
from .jobs import JobCancelled, JobContext, job

__all__ = [
    "Simulator",
    "Tick",
    "Client",
    "SimulateError",
]


log = logging.getLogger(__name__)

JOB_KIND = "core.simulate"
DEFAULT_URL = "http://127.0.0.1:8000"
DEFAULT_INTERVAL = 5.0
TOKEN_DAYS = 365


@dataclass(frozen=True)
class Simulator:
    """One plugin's part of the simulation.

    ``tick(t)`` makes the calls its clients would make at ``t.at`` through ``t.client(...)`` and
    returns counts of what it sent (``{"cases": 3}``). It must be idempotent for a given
    ``t.key`` (derive record keys from it) and write only records of ``t.at``'s day. A unit
    outside ``t.units`` (``t.wants(code)``) is left alone.
    """

    key: str
    tick: Callable[[Tick], dict[str, int]]


class SimulateError(Exception):
    """An API call of the simulation answered an error (status and body kept)."""

    def __init__(self, method: str, path: str, status: int, body: Any) -> None:
        super().__init__(f"{method} {path} -> {status}: {str(body)[:300]}")
        self.status, self.body = status, body


class Client:
    """A bearer-token HTTP client for ``<base>/api/v1``: what a machine client holds."""

    def __init__(self, http: requests.Session, base_url: str, secret: str) -> None:
        self._http, self.base_url, self._secret = http, base_url.rstrip("/"), secret

    def request(self, method: str, path: str, **kw: Any) -> Any:
        headers = {"Authorization": f"Bearer {self._secret}"}
        resp = self._http.request(
            method, f"{self.base_url}/api/v1{path}", headers=headers, timeout=30, **kw
        )
        try:
            body = resp.json()
        except ValueError:
            body = resp.text
        if resp.status_code >= 400:
            raise SimulateError(method, path, resp.status_code, body)
        return body

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params or None)

    def post(self, path: str, body: Any) -> Any:
        return self.request("POST", path, json=body)

    def items(self, path: str, **params: Any) -> list[dict[str, Any]]:
        """Every item of a paged list (``{items, page, per_page, total}``)."""
        out: list[dict[str, Any]] = []
        page = 1
        while True:
            body = self.get(path, page=page, per_page=200, **params)
            out.extend(body.get("items", []))
            if not body.get("items") or len(out) >= body.get("total", 0):
                return out
            page += 1


class TokenBank:
    """API tokens of the simulation, made idempotently in the app's database.

    A token's secret is an HMAC of its name under the app's secret key: the bank finds the row
    by the secret's hash, so a restarted simulation reuses its tokens. Tokens are only made
    within ``scope_unit``'s subtree (the scope of whoever started the simulation).
    """

    def __init__(self, app: Any, scope_unit: str | None = None) -> None:
        self.app = app
        self.scope_unit = scope_unit
        self._key = str(app.config["SECRET_KEY"]).encode()
        self._cache: dict[tuple[Any, ...], str] = {}
        self._lock = threading.Lock()

    def permissions_of(self, role: str) -> list[str]:
        """The permissions ``role`` holds by default (as a user of that role would)."""
        from .auth import role_permissions

        perms = role_permissions(self.app.extensions["postalops.plugins"], [role])
        if not perms or "*" in perms:
            raise ValueError(f"role {role!r} is not a role for a simulated client")
        return sorted(perms)

    def secret(
        self, unit: str, permissions: Iterable[str], subject: str | None = None, label: str = ""
    ) -> str:
        perms = tuple(sorted(set(permissions)))
        key = (unit, perms, subject)
        with self._lock:
            if key not in self._cache:
                self._cache[key] = self._ensure(unit, perms, subject, label)
            return self._cache[key]

    def clear(self) -> None:
        """Forget the secrets held (after a 401: a token was revoked; the next is made anew)."""
        with self._lock:
            self._cache.clear()

    def _ensure(self, unit: str, perms: tuple[str, ...], subject: str | None, label: str) -> str:
        from .auth import token_lookup
        from .context import CallContext, Principal
        from .db import utcnow
        from .models import ApiToken, OrgUnit
        from .tenancy import Scope

        db = self.app.extensions["postalops.db"]
        scope = Scope.system_scope() if self.scope_unit is None else Scope.unit(self.scope_unit)
        if not scope.allows(unit):
            raise SimulateError("TOKEN", unit, 403, "unit outside the simulation's scope")
        name = f"simulate {label or ','.join(perms)} {subject or unit}"[:100]
        ctx = CallContext(
            db=db, scope=scope, principal=Principal.system("simulate"), unit=self.scope_unit
        )
        now = utcnow()
        generation, raced = 0, False
        while generation < 100:  # a revoked or expired token is replaced by the next one
            material = "|".join(("simulate", unit, ",".join(perms), subject or "", str(generation)))
            digest = hmac.new(self._key, material.encode(), hashlib.sha256).hexdigest()
            secret = f"po_sim{digest[:40]}"
            lookup = token_lookup(secret)
            with db.session(None, lookups=lookup) as s:
                row = s.exec(
                    select(ApiToken).where(ApiToken.token_hash == next(iter(lookup.values())))
                ).first()
                if row is not None:
                    s.expunge(row)
            if row is None:
                with db.session(scope) as s:
                    if s.exec(select(OrgUnit).where(OrgUnit.code == unit)).first() is None:
                        raise SimulateError("TOKEN", unit, 404, f"no unit {unit}")
                try:
                    self._create(ctx, name, unit, perms, subject, secret, now)
                except IntegrityError:  # another simulation made the same token meanwhile
                    if raced:
                        raise
                    raced = True
                    continue  # look it up again
                return secret
            expires = row.expires_at
            if expires is not None and expires.tzinfo is None:
                expires = expires.replace(tzinfo=dt.UTC)
            if row.revoked_at is None and (expires is None or expires > now):
                return secret
            generation += 1
        raise SimulateError("TOKEN", unit, 409, "too many revoked simulation tokens")

    def _create(
        self,
        ctx: Any,
        name: str,
        unit: str,
        perms: tuple[str, ...],
        subject: str | None,
        secret: str,
        now: dt.datetime,
    ) -> None:
        from . import audit, context
        from .auth import create_token

        with context.activate(ctx) as active:
            token, _ = create_token(
                active.session,
                self.app.extensions["postalops.plugins"],
                name=name,
                unit_code=unit,
                permissions=perms,
                created_by="simulate",
                subject=subject,
                expires_at=now + dt.timedelta(days=TOKEN_DAYS),
                secret=secret,
            )
            audit.record(
                "core.token.create",
                target_type="token",
                target_id=token.id,
                tenant=unit,
                after={"name": name, "permissions": list(perms), "subject": subject},
            )
            active.session.commit()


_cache: dict[tuple[str, str], tuple[float, Any]] = {}
_cache_lock = threading.Lock()


@dataclass
class Tick:
    """One round of the simulation: its time, its name and the clients to call with."""

    at: dt.datetime  # aware, in the network's zone
    base_url: str
    bank: TokenBank
    units: tuple[str, ...] = ()
    interval: float = DEFAULT_INTERVAL
    speed: float = 1.0  # multiplies every arrival rate (a busier network; tests)
    http: requests.Session = field(default_factory=requests.Session)

    @property
    def key(self) -> str:
        """The tick's name: its local time to the second (records' keys derive from it)."""
        return self.at.strftime("%Y%m%dT%H%M%S")

    @property
    def today(self) -> dt.date:
        return self.at.date()

    def expected(self, per_minute: float) -> float:
        """How many arrivals this tick brings at ``per_minute`` (times ``speed``)."""
        return per_minute * self.speed * self.interval / 60

    def draw(self, name: str, mean: float) -> int:
        """A whole number of arrivals around ``mean`` (its integer part, plus one with the
        probability of its fraction), drawn from this tick's rng ``name``."""
        return int(mean) + (1 if self.rng(name).random() < mean - int(mean) else 0)

    def cached(self, name: str, ttl: float, load: Callable[[], Any]) -> Any:
        """``load()``'s answer kept ``ttl`` seconds per portal (lists that change rarely:
        devices, points, products), so a tick does not page through them every time."""
        key = (self.base_url, name)
        with _cache_lock:
            hit = _cache.get(key)
        if hit is not None and time.monotonic() - hit[0] < ttl:
            return hit[1]
        value = load()
        with _cache_lock:
            _cache[key] = (time.monotonic(), value)
        return value

    def rng(self, name: str) -> random.Random:
        """Random draws of this tick for ``name``: the same tick always draws the same."""
        return random.Random(f"postalops-simulate:{name}:{self.key}")

    @property
    def roots(self) -> tuple[str, ...]:
        """The subtrees to look in: the chosen units, else the simulation's whole scope."""
        return self.units or (self.bank.scope_unit or "cn",)

    def wants(self, unit: str) -> bool:
        """Whether ``unit`` lies in the units this simulation drives (all when none given)."""
        if not self.units:
            return True
        return any(unit == u or unit.startswith(u + ".") for u in self.units)

    def client(
        self,
        unit: str,
        *,
        role: str | None = None,
        permissions: Iterable[str] = (),
        subject: str | None = None,
    ) -> Client:
        """A client holding a token at ``unit`` with ``role``'s default permissions (or
        ``permissions``), bound to ``subject`` (``"sorter:17"``) if given."""
        perms = list(permissions) or self.bank.permissions_of(role or "")
        secret = self.bank.secret(unit, perms, subject, label=role or "")
        return Client(self.http, self.base_url, secret)


def simulators(app: Any) -> list[tuple[str, Simulator]]:
    """Every loaded plugin's simulators, in plugin-key order."""
    reg = app.extensions["postalops.plugins"]
    out = []
    for key, sims in reg.call_each("postalops_simulators"):
        for sim in sims:
            if isinstance(sim, Simulator):
                out.append((key, sim))
    return out


def run_tick(app: Any, tick: Tick) -> dict[str, Any]:
    """Run every plugin's simulator once for ``tick``; one plugin's failure (a refused call,
    a plugin switched off) is reported in its counts and does not stop the others."""
    reg = app.extensions["postalops.plugins"]
    out: dict[str, Any] = {}
    for key, sim in simulators(app):
        try:
            counts = sim.tick(tick)
        except SimulateError as exc:
            if exc.status == 401:  # a token revoked or expired: make the next one
                tick.bank.clear()
            log.warning("simulate %s: %s", sim.key, exc)
            out[sim.key] = {"error": str(exc)[:300]}
            continue
        except Exception as exc:  # noqa: BLE001 - a broken simulator must not stop the rest
            reg.record_failure(key, "postalops_simulators", exc)
            out[sim.key] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
            continue
        out[sim.key] = dict(counts or {})
    return out


def add_counts(total: dict[str, Any], counts: dict[str, Any]) -> None:
    """Add one tick's counts to a running total (errors are kept as the last one seen)."""
    for key, values in counts.items():
        into = total.setdefault(key, {})
        for name, value in values.items():
            if isinstance(value, int):
                into[name] = into.get(name, 0) + value
            else:
                into[name] = value


def run(
    app: Any,
    *,
    url: str = DEFAULT_URL,
    interval: float = DEFAULT_INTERVAL,
    duration: float | None = None,
    units: Iterable[str] = (),
    scope_unit: str | None = None,
    speed: float = 1.0,
    on_tick: Callable[[int, dict[str, Any]], None] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> dict[str, Any]:
    """Tick every ``interval`` seconds (at once when a tick took longer) until the next tick
    would start after ``duration`` seconds, or ``should_stop()`` answers true (checked every
    half second). ``duration=0`` makes one tick. Returns ``{"ticks", "counts"}``.

    A tick's time is ``postalops.clock.now()`` at the start plus the time elapsed since (the
    same as the clock's, unless a test froze it: then the simulation still moves on)."""
    bank = TokenBank(app, scope_unit)
    http = requests.Session()
    units = tuple(units)
    started = time.monotonic()
    first = clock.now()
    ticks = 0
    total: dict[str, Any] = {}
    try:
        while not should_stop():
            began = time.monotonic()
            at = max(clock.now(), first + dt.timedelta(seconds=began - started))
            tick = Tick(
                at.replace(microsecond=0),
                url,
                bank,
                units=units,
                interval=interval,
                speed=speed,
                http=http,
            )
            counts = run_tick(app, tick)
            add_counts(total, counts)
            ticks += 1
            if on_tick is not None:
                on_tick(ticks, counts)
            wake = began + interval
            if duration is not None and wake - started >= duration:
                break  # the next tick would start after the duration
            while not should_stop() and time.monotonic() < wake:
                time.sleep(min(0.5, max(0.0, wake - time.monotonic())))
    finally:
        http.close()
    return {"ticks": ticks, "counts": total}


def wanted_by_serve(settings: Any) -> bool:
    """Whether ``postalops serve`` starts the simulation by itself: only in the embedded mode
    (SQLite and the in-process broker) and unless ``POSTALOPS_SIMULATE=0``. A production setup
    (PostgreSQL or Redis, gunicorn) never starts it."""
    return (
        bool(settings.simulate)
        and settings.redis_url is None
        and str(settings.database_url).startswith("sqlite")
    )


def start_with_serve(app: Any, url: str, interval: float = DEFAULT_INTERVAL) -> threading.Thread:
    """Submit the simulation job once the server at ``url`` answers (``postalops serve``).

    Earlier simulation jobs left queued or running by a stopped server (the in-process broker
    lost their messages) are marked cancelled first, so the jobs page shows one live run."""

    def submit_when_up() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{url}/healthz", timeout=2).status_code < 500:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.5)
        try:
            job_id = submit_job(app, url=url, interval=interval, replace_stale=True)
        except Exception:  # noqa: BLE001 - the portal runs on without the simulation
            log.exception("simulate: could not start")
            return
        log.info("simulate: job %s started against %s", job_id, url)

    thread = threading.Thread(target=submit_when_up, name="postalops-simulate", daemon=True)
    thread.start()
    return thread


def submit_job(
    app: Any,
    *,
    url: str = DEFAULT_URL,
    interval: float = DEFAULT_INTERVAL,
    duration: float | None = None,
    unit: str | None = None,
    speed: float = 1.0,
    replace_stale: bool = False,
) -> str:
    """Submit the tracked simulation job at ``unit`` (default the group ``cn``) as the system."""
    from . import context
    from .context import CallContext, Principal
    from .db import utcnow
    from .models import Job, OrgUnit
    from .tenancy import Scope

    db = app.extensions["postalops.db"]
    jobs = app.extensions["postalops.jobs"]
    with db.transaction(Scope.system_scope()) as s:
        tenant = unit or "cn"
        if s.exec(select(OrgUnit).where(OrgUnit.code == tenant)).first() is None:
            from .errors import NotFound

            raise NotFound(f"unknown unit {tenant!r}", details=[{"field": "unit"}])
        if replace_stale:
            for row in s.exec(
                select(Job).where(
                    Job.kind == JOB_KIND,
                    Job.status.in_(("queued", "running")),  # type: ignore[attr-defined]
                )
            ).all():
                row.status, row.message = "cancelled", "server restarted"
                row.cancel_requested, row.finished_at = True, utcnow()
                s.add(row)
    ctx = CallContext(
        db=db, scope=Scope.unit(tenant), principal=Principal.system("simulate"), unit=tenant
    )
    params: dict[str, Any] = {"url": url, "interval": interval}
    if duration is not None:
        params["duration"] = duration
    if unit is not None:
        params["unit"] = unit
    if speed != 1.0:
        params["speed"] = speed
    with context.activate(ctx):
        row = jobs.submit(JOB_KIND, params, tenant=tenant)
    return str(row.id)


@job(
    JOB_KIND,
    max_retries=0,
    time_limit_ms=10 * 365 * 24 * 3600 * 1000,  # runs until cancelled
    label_zh="模拟网点运行",
    label_en="Network simulation",
)
def simulate_job(
    ctx: JobContext,
    url: str = DEFAULT_URL,
    interval: float = DEFAULT_INTERVAL,
    duration: float | None = None,
    unit: str | None = None,
    speed: float = 1.0,
) -> dict:
    """Tick until cancelled (the jobs page, ``POST /api/v1/jobs/<id>/cancel``) or until
    ``duration`` seconds have passed; progress counts the ticks."""
    from .errors import ValidationError

    if not str(url).startswith(("http://", "https://")):
        raise ValidationError("url must be http(s)", details=[{"field": "url"}])
    interval = max(0.5, float(interval))
    total = max(1, math.ceil(duration / interval)) if duration is not None else 0
    cancelled = {"flag": False}

    def on_tick(n: int, counts: dict[str, Any]) -> None:
        sent = sum(v for c in counts.values() for v in c.values() if isinstance(v, int))
        ctx.progress(n, max(total, n) if total else 0, f"tick {n}: {sent} records")

    last_check = [0.0]

    def should_stop() -> bool:
        if time.monotonic() - last_check[0] < 1.0:
            return cancelled["flag"]
        last_check[0] = time.monotonic()
        try:
            ctx.check_cancelled()
        except JobCancelled:
            cancelled["flag"] = True
        return cancelled["flag"]

    result = run(
        ctx.app,
        url=url,
        interval=interval,
        duration=duration,
        units=(unit,) if unit else (),
        scope_unit=ctx.tenant,
        speed=max(0.0, float(speed)),
        on_tick=on_tick,
        should_stop=should_stop,
    )
    if cancelled["flag"]:
        ctx.check_cancelled()  # raises: the job ends as cancelled
    return result
