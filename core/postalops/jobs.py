"""Tracked background jobs on Dramatiq.

A plugin declares a job with :func:`job` and returns it from ``postalops_actors``; the core makes
it a Dramatiq actor on the configured broker (Redis when ``POSTALOPS_REDIS_URL`` is set, else an
in-process broker whose worker threads ``postalops serve`` starts). Because the core creates the
actors after choosing the broker, no actor ever binds to the wrong broker at import.

Example::

    @job("payroll.run", max_retries=3)
    def run_payroll(ctx: JobContext, month: str) -> dict:
        couriers = ...
        for i, c in enumerate(couriers, 1):
            ...upsert payslip (idempotent)...
            ctx.progress(i, len(couriers), f"courier {c.code}")   # also checks cancellation
        return {"payslips": len(couriers)}

    job_id = submit("payroll.run", {"month": "2026-10"})   # from a view: caller's scope stamped
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import dramatiq
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import CurrentMessage, Middleware
from pydantic import BaseModel
from pydantic import ValidationError as PydanticError
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from . import context
from .context import CallContext, Principal
from .db import Database, utcnow
from .errors import Conflict, Forbidden, NotFound, PostalOpsError, ValidationError
from .models import Job
from .tenancy import Scope

__all__ = [
    "job",
    "JobContext",
    "submit",
    "wait_for",
]


log = logging.getLogger(__name__)

QUEUE = "postalops"
FINAL = ("succeeded", "failed", "cancelled")


@dataclass(frozen=True)
class JobSpec:
    kind: str
    fn: Callable[..., Any]
    max_retries: int = 3
    min_backoff_ms: int = 1000
    max_backoff_ms: int = 60_000
    time_limit_ms: int = 3_600_000
    label_zh: str = ""
    label_en: str = ""
    result_url: str | Callable[[Job], str | None] | None = None
    run_permission: str | None = None
    params_model: type[BaseModel] | None = None

    @property
    def startable(self) -> bool:
        """Users may start it (``POST /api/v1/jobs``, ``postalops jobs run``, "run now")."""
        return self.run_permission is not None


def job(
    kind: str,
    *,
    max_retries: int = 3,
    min_backoff_ms: int = 1000,
    time_limit_ms: int = 3_600_000,
    label_zh: str = "",
    label_en: str = "",
    result_url: str | Callable[[Job], str | None] | None = None,
    run_permission: str | None = None,
    params_model: type[BaseModel] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark ``fn(ctx: JobContext, **params)`` as the tracked job ``kind`` ("<plugin>.<verb>").

    ``fn`` must be idempotent: a redelivered or re-run job may run it again from the start.
    Its return value (JSON-able) becomes the job's ``result``.

    ``result_url`` is where a finished job's result is seen (the jobs page links to it): a
    portal path formatted with the job's ``params``, ``result``, ``tenant`` and ``id``
    (``"/p/payroll/runs/{result[run_id]}"``), or a function of the job record returning a path
    or None. A job may also record its own link as ``result["result_url"]``.

    ``run_permission`` makes the job startable by users holding it (``POST /api/v1/jobs``,
    ``postalops jobs run``, the "run now" button of its schedules); ``params_model`` (a pydantic
    model) validates what they pass, and its dump becomes the job's params.
    """

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        fn.__postalops_job__ = JobSpec(
            kind,
            fn,
            max_retries,
            min_backoff_ms,  # type: ignore[attr-defined]
            time_limit_ms=time_limit_ms,
            label_zh=label_zh or kind,
            label_en=label_en or kind,
            result_url=result_url,
            run_permission=run_permission,
            params_model=params_model,
        )
        return fn

    return deco


class JobCancelled(Exception):
    """Raised inside a job at its next progress step after cancellation was requested."""


class JobContext:
    """What a running job sees: its id, params, scoped session, progress reporting."""

    def __init__(self, service: JobService, job_row: Job, call: CallContext) -> None:
        self._service = service
        self.id = job_row.id
        self.kind = job_row.kind
        self.tenant = job_row.tenant_code
        self.params = dict(job_row.params)
        self.call = call

    @property
    def session(self) -> Session:
        """The job's working session, scoped to the tenant of whoever started it."""
        return self.call.session

    @property
    def app(self) -> Any:
        """The Flask app the job runs for (its settings and plugin registry)."""
        return self._service.app

    def progress(self, done: int, total: int, message: str = "") -> None:
        """Record progress (committed at once, so the portal bar moves) and honour cancel."""
        with self._service.db.transaction(Scope.system_scope()) as s:
            row = s.get(Job, self.id)
            if row is None:
                raise JobCancelled("job record vanished")
            row.done, row.total = int(done), int(total)
            if message:
                row.message = message[:500]
            cancel = row.cancel_requested
            s.add(row)
        if cancel:
            raise JobCancelled(self.id)

    def submit(self, kind: str, params: dict[str, Any] | None = None, **kwargs: Any) -> Job:
        """Start another job from inside this one, in this job's tenant scope."""
        return self._service.submit(kind, params, **kwargs)

    def check_cancelled(self) -> None:

        with self._service.db.transaction(Scope.system_scope()) as s:
            row = s.get(Job, self.id)
            if row is None or row.cancel_requested:
                raise JobCancelled(self.id)


# Scope stamped on the message, restored for the duration of processing in the worker thread.
_message_scope: ContextVar[dict[str, Any] | None] = ContextVar("postalops_msg_scope", default=None)


class TenantScopeMiddleware(Middleware):
    """Stamps the sender's tenant scope on each message and restores it in the worker."""

    def before_enqueue(self, broker: Any, message: Any, delay: Any) -> None:
        if "postalops_scope" in message.options:
            return
        ctx = context.current_or_none()
        if ctx is not None:
            message.options["postalops_scope"] = {
                "unit": ctx.unit,
                "system": ctx.scope.system,
                "actor": ctx.principal.name,
            }

    def before_process_message(self, broker: Any, message: Any) -> None:
        _message_scope.set(message.options.get("postalops_scope"))

    def after_process_message(
        self,
        broker: Any,
        message: Any,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        _message_scope.set(None)

    after_skip_message = after_process_message


def make_broker(redis_url: str | None, *, heartbeat_ms: int = 60000) -> dramatiq.Broker:
    """Redis broker in production, an in-process one otherwise; set as dramatiq's global broker."""
    middleware = [m() for m in dramatiq.middleware.default_middleware]
    if redis_url:
        from dramatiq.brokers.redis import RedisBroker

        broker: dramatiq.Broker = RedisBroker(
            url=redis_url,
            namespace="postalops",
            heartbeat_timeout=heartbeat_ms,
            # maintenance_chance is per million broker commands. With a short heartbeat (tests,
            # small installs) check for dead workers' messages on every command, else a killed
            # job could wait minutes; otherwise keep dramatiq's default of 1 in 1000.
            maintenance_chance=1_000_000 if heartbeat_ms < 60000 else 1000,
            middleware=middleware,
        )
    else:
        broker = StubBroker(middleware=middleware)
        broker.emit_after("process_boot")
    broker.add_middleware(CurrentMessage())
    broker.add_middleware(TenantScopeMiddleware())
    dramatiq.set_broker(broker)
    return broker


class JobService:
    """The app's broker, actors and job records (``app.extensions['postalops.jobs']``)."""

    def __init__(
        self,
        db: Database,
        registry: Any,
        broker: dramatiq.Broker,
        registry_is_enabled: Callable[[Session, str, str], bool] | None = None,
    ) -> None:
        self.db = db
        self.broker = broker
        self.app: Any = None  # the Flask app, set by create_app (jobs that need its services)
        self.specs: dict[str, JobSpec] = {}
        self.actors: dict[str, dramatiq.Actor] = {}
        self._is_enabled = registry_is_enabled
        self._registry = registry
        self._plugin_of: dict[str, str] = {}
        self._workers: list[dramatiq.Worker] = []
        db.jobs = self  # code holding only the database queues work after a commit (webhooks)
        for plugin_key, fns in registry.call_each("postalops_actors", boot=True):
            for fn in fns:
                spec: JobSpec | None = getattr(fn, "__postalops_job__", None)
                if spec is None:
                    raise TypeError(f"{plugin_key}: {fn!r} is not decorated with @job")
                self._declare(spec, plugin_key)

    def _declare(self, spec: JobSpec, plugin_key: str) -> None:
        name = spec.kind.replace(".", "__")
        if spec.kind in self.specs:
            raise ValueError(f"job kind {spec.kind} declared twice")
        self.specs[spec.kind] = spec
        self._plugin_of[spec.kind] = plugin_key

        def run(job_id: str) -> None:
            self._run(spec, job_id)

        run.__name__ = name
        self.actors[spec.kind] = dramatiq.Actor(
            run,
            broker=self.broker,
            actor_name=name,
            queue_name=QUEUE,
            priority=0,
            options={
                "max_retries": spec.max_retries,
                "min_backoff": spec.min_backoff_ms,
                "max_backoff": spec.max_backoff_ms,
                "time_limit": spec.time_limit_ms,
            },
        )

    # -- sending -----------------------------------------------------------------------------
    def submit(
        self,
        kind: str,
        params: dict[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
        tenant: str | None = None,
        delay_ms: int | None = None,
    ) -> Job:
        """Create the job record and send its message, in the caller's scope.

        With ``idempotency_key``, a second submit returns the first job instead of a new one.
        """
        if kind not in self.specs:
            raise NotFound(f"unknown job kind {kind!r}", details=[{"field": "kind"}])
        ctx = context.current()
        tenant = tenant or ctx.unit or "cn"
        if not ctx.scope.allows(tenant):
            raise Conflict(f"unit {tenant!r} is outside your scope")
        plugin = self._plugin_of[kind]
        if self._is_enabled and not self._is_enabled(ctx.session, tenant, plugin):
            raise NotFound(f"plugin {plugin} is not enabled for {tenant}")
        params = params or {}
        _check_json(params)
        _bind_params(self.specs[kind], params)
        return self.send(
            kind,
            params,
            tenant=tenant,
            actor=ctx.principal.name,
            idempotency_key=idempotency_key,
            delay_ms=delay_ms,
        )

    def start(
        self,
        kind: str,
        unit: str,
        params: dict[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> Job:
        """A user starts a startable job (see :func:`job`'s ``run_permission``) at ``unit``:
        404 for a kind that is unknown or not startable, 403 without its permission, 422
        naming the bad param (``params.<name>``), then :meth:`submit`'s checks (unit in the
        caller's scope, plugin enabled there: 404)."""
        spec = self.specs.get(kind)
        if spec is None or not spec.startable:
            raise NotFound(
                f"no job {kind!r} that users may start",
                details=[{"field": "kind", "message": "unknown or not startable"}],
            )
        who = context.current().principal
        if not who.can(spec.run_permission):
            raise Forbidden(
                f"missing permission {spec.run_permission}",
                code="missing_permission",
                details=[{"permission": spec.run_permission}],
            )
        from .models import OrgUnit

        session = context.current().session
        known = isinstance(unit, str) and (
            session.exec(select(OrgUnit.code).where(OrgUnit.code == unit)).first() is not None
        )
        if not known:
            raise NotFound(f"unknown unit {unit!r}", details=[{"field": "unit"}])
        params = dict(params or {})
        if spec.params_model is not None:
            try:
                params = spec.params_model.model_validate(params).model_dump(mode="json")
            except PydanticError as exc:
                details = [
                    {
                        "field": ".".join(["params", *(str(p) for p in err["loc"])]),
                        "message": err["msg"],
                    }
                    for err in exc.errors()
                ]
                raise ValidationError(
                    f"bad parameters for {kind}: "
                    + "; ".join(f"{d['field']}: {d['message']}" for d in details),
                    details=details,
                ) from exc
        return self.submit(kind, params, idempotency_key=idempotency_key, tenant=unit)

    def startable(self) -> list[JobSpec]:
        """The job kinds users may start, by kind."""
        return [self.specs[k] for k in sorted(self.specs) if self.specs[k].startable]

    def plugin_of(self, kind: str) -> str:
        return self._plugin_of[kind]

    def send(
        self,
        kind: str,
        params: dict[str, Any],
        *,
        tenant: str,
        actor: str,
        idempotency_key: str | None = None,
        delay_ms: int | None = None,
    ) -> Job:
        """Write the job record (in its own transaction) and enqueue it, without the caller
        checks of :meth:`submit`: for the core's own work queued after a commit (webhook
        deliveries), when the caller's session can no longer be used."""
        with self.db.transaction(Scope.system_scope()) as s:
            if idempotency_key:
                existing = s.exec(select(Job).where(Job.idempotency_key == idempotency_key)).first()
                if existing is not None:
                    return existing
            row = Job(
                id=str(uuid.uuid4()),
                kind=kind,
                tenant_code=tenant,
                params=params,
                started_by=actor,
                idempotency_key=idempotency_key,
                message="queued",
            )
            s.add(row)
            try:
                s.flush()
            except IntegrityError:
                s.rollback()
                existing = s.exec(select(Job).where(Job.idempotency_key == idempotency_key)).first()
                if existing is None:
                    raise
                return existing
        msg = self.actors[kind].message_with_options(
            args=(row.id,),
            postalops_scope={"unit": tenant, "system": False, "actor": actor},
        )
        self.broker.enqueue(msg, delay=delay_ms)
        return row

    def cancel(self, job_id: str) -> Job:
        """Ask a job to stop: a queued job is cancelled now, a running one at its next step."""
        with self.db.transaction(context.current().scope) as s:
            row = s.get(Job, job_id)
            if row is None or not context.current().scope.allows(row.tenant_code):
                raise NotFound(f"no job {job_id}")
            if row.status in FINAL:
                raise Conflict(f"job already {row.status}")
            row.cancel_requested = True
            if row.status == "queued":
                row.status, row.finished_at, row.message = "cancelled", utcnow(), "cancelled"
            s.add(row)
        return row

    # -- running -----------------------------------------------------------------------------
    def _run(self, spec: JobSpec, job_id: str) -> None:
        with self.db.transaction(Scope.system_scope()) as s:
            row = s.get(Job, job_id)
            if row is None:
                log.warning("job %s: no record; message dropped", job_id)
                return
            if row.status in FINAL:
                log.info("job %s already %s; redelivery ignored", job_id, row.status)
                return
            if row.cancel_requested:
                row.status, row.finished_at = "cancelled", utcnow()
                s.add(row)
                return
            stamped = _message_scope.get() or {}
            unit = stamped.get("unit") or row.tenant_code
            if unit != row.tenant_code:
                raise ValidationError("message scope does not match the job's tenant")
            plugin = self._plugin_of[spec.kind]
            if self._is_enabled and not self._is_enabled(s, row.tenant_code, plugin):
                row.status, row.error = "failed", f"plugin {plugin} is disabled for {unit}"
                row.finished_at = utcnow()
                s.add(row)
                return
            # The job works at its unit without the subtrees below it where its plugin is off
            # (a province-wide job of a plugin that is off in one city never touches that
            # city): the core enforces it, in the ORM criteria and the PostgreSQL policy.
            scope = self._registry.plugin_scope(s, Scope.unit(unit), plugin)
            row.status, row.attempts, row.started_at = "running", row.attempts + 1, utcnow()
            row.error, row.message = None, "running"
            s.add(row)
            s.flush()
            s.expunge(row)
        who = Principal(
            kind="job",
            name=f"job:{job_id}({row.started_by})",
            home_unit=unit,
            permissions=frozenset({"*"}),
        )
        call = CallContext(db=self.db, scope=scope, principal=who, unit=unit)
        try:
            _bind_params(spec, row.params)
            with context.activate(call) as active:
                jctx = JobContext(self, row, active)
                result = spec.fn(jctx, **row.params)
                active.session.commit()
        except JobCancelled:
            self._finish(job_id, "cancelled", message="cancelled")
            return
        except Exception as exc:
            msg = CurrentMessage.get_current_message()
            retries = msg.options.get("retries", 0) if msg is not None else spec.max_retries
            # Domain errors (bad input, out of scope) will not pass on a retry: fail at once.
            final = retries >= spec.max_retries or isinstance(exc, PostalOpsError)
            self._finish(
                job_id,
                "failed" if final else "queued",
                error=f"{type(exc).__name__}: {exc}",
                message="failed" if final else f"retry {retries + 1}/{spec.max_retries}",
            )
            if final:
                log.exception("job %s failed", job_id)
                return  # recorded as failed; do not let dramatiq retry a final failure
            raise
        _check_json(result)
        self._finish(job_id, "succeeded", result=result, message="done")

    def _finish(
        self,
        job_id: str,
        status: str,
        *,
        result: Any = None,
        error: str | None = None,
        message: str = "",
    ) -> None:
        with self.db.transaction(Scope.system_scope()) as s:
            row = s.get(Job, job_id)
            if row is None:
                return
            row.status, row.message = status, message
            if status == "succeeded":
                row.result = result if isinstance(result, dict) else {"value": result}
                if row.total:
                    row.done = row.total
            if error:
                row.error = error[:4000]
            if status in FINAL:
                row.finished_at = utcnow()
            s.add(row)

    # -- results -----------------------------------------------------------------------------
    def result_url(self, row: Job) -> str | None:
        """The portal path where a succeeded job's result is seen, or None: what the job recorded
        (``result["result_url"]``), else its kind's ``result_url`` (see :func:`job`). A link
        that cannot be made (a missing result key, a function raising) is None, and logged."""
        if row.status != "succeeded":
            return None
        result = row.result if isinstance(row.result, dict) else {}
        own = result.get("result_url")
        if isinstance(own, str) and own.startswith("/") and not own.startswith("//"):
            return own
        spec = self.specs.get(row.kind)
        link = spec.result_url if spec else None
        if link is None:
            return None
        try:
            if callable(link):
                url = link(row)
            else:
                url = link.format(
                    params=row.params or {}, result=result, tenant=row.tenant_code, id=row.id
                )
        except Exception:  # noqa: BLE001 - a bad link must not break the jobs page
            log.warning("job %s (%s): no result link", row.id, row.kind, exc_info=True)
            return None
        if not isinstance(url, str) or not url.startswith("/") or url.startswith("//"):
            return None
        return url

    def label(self, kind: str, zh: bool) -> str:
        """The job kind's name in the user's language (its ``label_zh`` / ``label_en``)."""
        spec = self.specs.get(kind)
        if spec is None:
            return kind
        return spec.label_zh if zh else spec.label_en

    # -- workers -----------------------------------------------------------------------------
    def start_workers(self, threads: int = 2) -> dramatiq.Worker:
        """Start worker threads in this process (embedded mode, ``postalops worker``, tests)."""
        worker = dramatiq.Worker(self.broker, worker_threads=threads, worker_timeout=100)
        worker.start()
        self._workers.append(worker)
        return worker

    def stop_workers(self) -> None:
        for w in self._workers:
            w.stop()
        self._workers.clear()

    def join(self, timeout_ms: int = 30000) -> None:
        """Wait until the in-process queue is drained (tests, the demo builder)."""
        if isinstance(self.broker, StubBroker):
            self.broker.join(QUEUE, timeout=timeout_ms, fail_fast=False)
            for w in self._workers:
                w.join()


def _bind_params(spec: JobSpec, params: dict[str, Any]) -> None:
    """Refuse params the job function does not take (a bad message is a 422, not a retry)."""
    import inspect

    try:
        inspect.signature(spec.fn).bind(None, **params)
    except TypeError as exc:
        raise ValidationError(
            f"bad parameters for {spec.kind}: {exc}",
            details=[{"field": "params", "message": str(exc)}],
        ) from exc


def _check_json(value: Any) -> None:

    import json

    try:
        json.dumps(value)
    except TypeError as exc:
        raise ValidationError(
            f"job params/result must be JSON: {exc}",
            details=[{"field": "params", "message": str(exc)}],
        ) from exc


def service() -> JobService:
    from flask import current_app

    return current_app.extensions["postalops.jobs"]


def submit(kind: str, params: dict[str, Any] | None = None, **kwargs: Any) -> Job:
    """Submit a job from a request (shortcut for ``service().submit``)."""
    return service().submit(kind, params, **kwargs)


def wait_for(
    db: Database, job_id: str, timeout: float = 30.0, statuses: tuple[str, ...] = FINAL
) -> Job:
    """Poll a job record until it reaches one of ``statuses`` (tests and CLI)."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        with db.transaction(Scope.system_scope()) as s:
            row = s.get(Job, job_id)
            if row is not None:
                s.expunge(row)
        if row is not None and row.status in statuses:
            return row
        if time.monotonic() > deadline:
            raise TimeoutError(f"job {job_id} still {row.status if row else 'missing'}")
        time.sleep(0.05)


_lock = threading.Lock()
