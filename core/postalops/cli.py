"""The ``postalops`` command: serve, worker, scheduler, db, demo, plugins, users, tokens, metrics,
journal.

Bad input exits with status 2 and prints the JSON error format on stderr.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

import click

from .errors import PostalOpsError, ValidationError


def _app() -> Any:
    from .app import create_app

    return create_app()


def handle_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except PostalOpsError as exc:
            click.echo(json.dumps(exc.to_dict(), ensure_ascii=False), err=True)
            sys.exit(2)

    return wrapper


def _system(app: Any, unit: str | None = None) -> Any:
    from .context import CallContext, Principal
    from .tenancy import Scope

    return CallContext(
        db=app.extensions["postalops.db"],
        scope=Scope.system_scope() if unit is None else Scope.unit(unit),
        principal=Principal.system("cli"),
        unit=unit,
    )


@click.group()
@click.version_option(package_name="postalops")
def main() -> None:
    """PostalOps operations platform."""


# --- run modes ---------------------------------------------------------------------------------


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--no-upgrade", is_flag=True, help="do not apply migrations first")
def serve(host: str, port: int, no_upgrade: bool) -> None:
    """Web portal + in-process jobs and schedules on the embedded defaults (no services needed)."""
    from werkzeug.serving import run_simple

    from . import migrate
    from .scheduler import start_background

    app = _app()
    if not no_upgrade:
        migrate.upgrade(app.extensions["postalops.db"], app.extensions["postalops.plugins"])
    from . import simulate as sim

    jobs = app.extensions["postalops.jobs"]
    settings = app.extensions["postalops.settings"]
    simulating = sim.wanted_by_serve(settings)
    if settings.redis_url is None:
        # the simulation job holds a worker thread for as long as it runs: one more for it
        jobs.start_workers(settings.worker_threads + (1 if simulating else 0))
        start_background(app)
    if simulating:
        own = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        sim.start_with_serve(app, f"http://{own}:{port}")
        click.echo("simulation: on (POSTALOPS_SIMULATE=0 turns it off)")
    click.echo(f"PostalOps serving on http://{host}:{port}/")
    run_simple(host, port, app, threaded=True, use_reloader=False)


@main.command()
@click.option("--threads", default=None, type=int, help="worker threads (POSTALOPS_WORKER_THREADS)")
def worker(threads: int | None) -> None:
    """Dramatiq worker for every installed plugin's jobs (production: on Redis)."""
    app = _app()
    jobs = app.extensions["postalops.jobs"]
    settings = app.extensions["postalops.settings"]
    if settings.redis_url is None:
        click.echo(
            "warning: no POSTALOPS_REDIS_URL; this worker only sees its own process", err=True
        )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    jobs.start_workers(threads or settings.worker_threads)
    click.echo(f"worker running: {sorted(jobs.specs)}")
    stop.wait()
    jobs.stop_workers()


@main.command()
def scheduler() -> None:
    """Fire plugins' periodic jobs; run one (or more: each period fires once anyway)."""
    from .scheduler import run_blocking

    run_blocking(_app())


@main.command()
@click.option("--url", default="http://127.0.0.1:8000", show_default=True, help="the portal")
@click.option("--interval", default=5.0, show_default=True, type=float, help="seconds per tick")
@click.option("--duration", default=None, type=float, help="stop after this many seconds")
@click.option("--unit", default=None, help="only this unit's subtree (default: every unit)")
@click.option("--speed", default=1.0, show_default=True, type=float, help="arrival rate factor")
@click.option("--submit", "as_job", is_flag=True, help="run as a tracked job instead")
@handle_errors
def simulate(
    url: str,
    interval: float,
    duration: float | None,
    unit: str | None,
    speed: float,
    as_job: bool,
) -> None:
    """Keep the demo network alive: sorters, outcall intake, orders, pickup items, repayments.

    Each plugin's clients call its public API at URL (which must serve this configuration's
    database) every INTERVAL seconds. Runs in the foreground until Ctrl-C or --duration;
    with --submit it becomes a job on the jobs page, cancellable there."""
    from . import simulate as sim

    if interval <= 0:
        raise ValidationError("--interval must be > 0", details=[{"field": "interval"}])
    if speed < 0:
        raise ValidationError("--speed must be >= 0", details=[{"field": "speed"}])
    if duration is not None and duration < 0:
        raise ValidationError("--duration must be >= 0", details=[{"field": "duration"}])
    if not url.startswith(("http://", "https://")):
        raise ValidationError("--url must be http(s)://...", details=[{"field": "url"}])
    app = _app()
    if as_job:
        job_id = sim.submit_job(
            app, url=url, interval=interval, duration=duration, unit=unit, speed=speed
        )
        click.echo(job_id)
        return
    stop = threading.Event()

    def on_tick(n: int, counts: dict[str, Any]) -> None:
        parts = []
        for key, values in counts.items():
            if "error" in values:
                parts.append(f"{key}: error {values['error'][:120]}")
            else:
                parts.append(f"{key}: " + ", ".join(f"{v} {k}" for k, v in values.items()))
        click.echo(f"tick {n}  " + "; ".join(parts))

    try:
        result = sim.run(
            app,
            url=url,
            interval=interval,
            duration=duration,
            units=(unit,) if unit else (),
            scope_unit=unit,
            speed=speed,
            on_tick=on_tick,
            should_stop=stop.is_set,
        )
    except KeyboardInterrupt:
        click.echo("stopped")
        return
    click.echo(json.dumps(result, ensure_ascii=False))


# --- database ----------------------------------------------------------------------------------


@main.group()
def db() -> None:
    """Database migrations (Alembic: a core branch and one branch per plugin)."""


@db.command("upgrade")
@click.argument("target", default="heads")
def db_upgrade(target: str) -> None:
    """Apply every installed branch's migrations (and PostgreSQL row-level security)."""
    from . import migrate

    app = _app()
    migrate.upgrade(app.extensions["postalops.db"], app.extensions["postalops.plugins"], target)
    click.echo(
        "database at: "
        + ", ".join(
            migrate.current(app.extensions["postalops.db"], app.extensions["postalops.plugins"])
        )
    )


@db.command("current")
def db_current() -> None:
    from . import migrate

    app = _app()
    click.echo(
        "\n".join(
            migrate.current(app.extensions["postalops.db"], app.extensions["postalops.plugins"])
        )
        or "(empty)"
    )


@db.command("revision")
@click.option("--owner", required=True, help="core or a plugin key")
@click.option("-m", "--message", required=True)
def db_revision(owner: str, message: str) -> None:
    """Autogenerate a revision on one owner's branch (developers)."""
    from . import migrate

    app = _app()
    migrate.revision(
        app.extensions["postalops.db"], app.extensions["postalops.plugins"], owner, message
    )


# --- demo --------------------------------------------------------------------------------------


@main.command()
@click.option("--seed", default=20221017, show_default=True, type=int)
@click.option("--if-empty", is_flag=True, help="only when the database has no org units yet")
@click.option("--skip-plugins", is_flag=True, help="only the org tree and users")
@click.option(
    "--scale",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="N x the rolling present's volume (benchmarks; the article's period is unchanged)",
)
@click.option(
    "--jobs",
    default=None,
    type=click.IntRange(min=1),
    help="worker processes for the plugins' demo data [default: 1; more help only on "
    "PostgreSQL: SQLite's one write lock makes the workers take turns]",
)
@handle_errors
def demo(seed: int, if_empty: bool, skip_plugins: bool, scale: int, jobs: int | None) -> None:
    """Build the demo network (idempotent): tree, users, then every plugin's demo data."""
    import sqlalchemy as sa

    from . import migrate
    from .demo import build
    from .models import OrgUnit

    app = _app()
    db_ = app.extensions["postalops.db"]
    migrate.upgrade(db_, app.extensions["postalops.plugins"])
    if if_empty:
        with db_.session(None) as s:
            if s.exec(sa.select(sa.func.count()).select_from(OrgUnit)).one()[0]:
                click.echo(
                    "demo network already present; skipping (run `postalops demo` to complete it)"
                )
                return
    state = {"label": ""}

    def progress(done: int, total: int, message: str = "") -> None:
        width = 30
        filled = int(width * done / total) if total else width
        line = f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {message[:70]:<70}"
        click.echo(line, nl=False, err=True)
        state["label"] = message

    if jobs is None:
        # Measured on SQLite (make run from a fresh clone, 2 cores): 6 min 33 s with two workers
        # against 6 min 7 s with one - each plugin's build holds the one write lock while it
        # computes, so the workers mostly wait for each other. PostgreSQL locks rows and its
        # demo waits on round trips, which workers can overlap; not yet measured, so opt-in.
        jobs = 1
    summary = build(
        app, seed=seed, progress=progress, plugins=not skip_plugins, scale=scale, jobs=jobs
    )

    click.echo("", err=True)
    click.echo(
        f"enabled at cn for the demo: {', '.join(summary['enabled']) or 'none'}"
        + (f"; left off: {', '.join(summary['left_off'])}" if summary["left_off"] else ""),
        err=True,
    )
    click.echo(json.dumps(summary, ensure_ascii=False, indent=2))


# --- plugins -----------------------------------------------------------------------------------


@main.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def plugins(ctx: click.Context, as_json: bool) -> None:
    """List installed plugins: version, requirements, status and where each is enabled."""
    if ctx.invoked_subcommand:
        return
    app = _app()
    reg = app.extensions["postalops.plugins"]
    db_ = app.extensions["postalops.db"]
    reg.probe()  # a hook that raises shows the plugin as degraded, with its error
    rows = []
    from .tenancy import Scope

    with db_.session(Scope.system_scope()) as s:  # every unit's enablement (RLS on PostgreSQL)
        for p in sorted(reg.plugins.values(), key=lambda p: p.key):
            try:
                units = reg.enabled_units(s, p.key) if p.status == "loaded" else []
            except Exception:  # noqa: BLE001 - database not created yet
                units = ["(database not initialised)"]
            rows.append(
                {
                    "key": p.key,
                    "version": p.version,
                    "distribution": p.distribution,
                    "requires": p.info.requires if p.info else {},
                    "status": p.state,
                    "error": p.error,
                    "degraded": p.failure_list(),
                    "builtin": bool(p.info and p.info.builtin),
                    "enabled_at": "always" if p.info and p.info.builtin else units,
                }
            )
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for r in rows:
        req = ", ".join(f"{k} {v}".strip() for k, v in r["requires"].items()) or "-"
        where = (
            r["enabled_at"]
            if isinstance(r["enabled_at"], str)
            else (", ".join(r["enabled_at"]) or "nowhere")
        )
        click.echo(
            f"{r['key']:<16} {r['version']:<8} {r['status']:<8} requires: {req:<24} "
            f"enabled: {where}" + (f"\n{'':<16} error: {r['error']}" if r["error"] else "")
        )
        for f in r["degraded"]:
            click.echo(f"{'':<16} {f['hook']} failed at {f['at']} ({f['count']}x): {f['error']}")


def _toggle(key: str, unit: str, enabled: bool) -> None:
    from . import context

    app = _app()
    reg = app.extensions["postalops.plugins"]
    with context.activate(_system(app)) as ctx:
        reg.set_enabled(ctx.session, unit, key, enabled, "cli")
        ctx.session.commit()
    click.echo(f"{key} {'enabled' if enabled else 'disabled'} at {unit}")


@plugins.command("enable")
@click.argument("key")
@click.option("--unit", required=True)
@handle_errors
def plugins_enable(key: str, unit: str) -> None:
    _toggle(key, unit, True)


@plugins.command("disable")
@click.argument("key")
@click.option("--unit", required=True)
@handle_errors
def plugins_disable(key: str, unit: str) -> None:
    _toggle(key, unit, False)


@plugins.command("new")
@click.argument("key")
@click.option(
    "--dir", "target", default=None, help="folder to write (default: ./postalops-<key>, new)"
)
@click.option("--name-zh", default=None, help="display name in Chinese, e.g. 投诉工单")
@click.option("--name-en", default=None, help="display name in English, e.g. Complaints")
@handle_errors
def plugins_new(key: str, target: str | None, name_zh: str | None, name_en: str | None) -> None:
    """Write a new, installable plugin package: pyproject with its entry point, plugin.py,
    models, the first migration, API, a UI-kit page, a KPI, a dashboard page, a scheduled job,
    zh/en catalogues, a README with the KPI table and tests (docs/plugins.md)."""
    from pathlib import Path

    from .scaffold import render

    out = Path(target or f"postalops-{key.replace('_', '-')}")
    files = render(key, out, name_zh=name_zh, name_en=name_en)
    click.echo(f"wrote {len(files)} files to {out}/")
    click.echo(
        "next:\n"
        f"  pip install -e {out}\n"
        "  postalops db upgrade\n"
        f"  postalops plugins enable {key} --unit <unit code>\n"
        f"  pytest {out}/tests"
    )


# --- org units ---------------------------------------------------------------------------------


@main.group()
def units() -> None:
    """The org-unit tree."""


@units.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@handle_errors
def units_import(path: str) -> None:
    """Add or rename units from CSV/XLSX (columns: code, parent, name_zh, name_en, level).

    Parents must exist or come earlier in the file; all rows are checked before any is written.
    """
    from pydantic import BaseModel, Field
    from sqlmodel import select

    from . import audit, context
    from .imports import parse_csv, parse_xlsx, validate_rows
    from .models import OrgUnit
    from .tenancy import parent_code, valid_code

    class UnitRow(BaseModel):
        code: str = Field(min_length=2, max_length=200)
        parent: str | None = None
        name_zh: str = Field(min_length=1, max_length=100)
        name_en: str = Field(min_length=1, max_length=100)
        level: str = Field(pattern="^(group|province|city|county|station|branch)$")

    data = open(path, "rb").read()
    raw_rows = parse_xlsx(data) if path.lower().endswith(".xlsx") else parse_csv(data)
    errors: list[dict[str, Any]] = []
    rows = []
    for row_no, raw in raw_rows:  # every row is checked, then all errors are reported at once
        try:
            rows.extend(validate_rows([(row_no, raw)], UnitRow))
        except ValidationError as exc:
            errors.extend(exc.details)
    app = _app()
    with context.activate(_system(app)) as ctx:
        s = ctx.session
        known = {u.code: u for u in s.exec(select(OrgUnit)).all()}
        seen = set(known) | {r.get("code") for _, r in raw_rows if r.get("code")}
        seen -= {row.code for _, row in rows}

        for row_no, row in rows:
            if not valid_code(row.code):
                errors.append({"row": row_no, "field": "code", "message": "not a unit code"})
            elif (row.parent or parent_code(row.code)) != parent_code(row.code):
                errors.append(
                    {
                        "row": row_no,
                        "field": "parent",
                        "message": "parent must be the code's prefix",
                    }
                )
            elif parent_code(row.code) and parent_code(row.code) not in seen:
                errors.append({"row": row_no, "field": "parent", "message": "unknown parent"})
            seen.add(row.code)
        if errors:
            errors.sort(key=lambda e: e.get("row", 0))

            raise ValidationError(
                f"{len(errors)} row(s) invalid; nothing was imported",
                code="invalid_rows",
                details=errors,
            )
        added = renamed = 0
        for _, row in rows:
            unit = known.get(row.code)
            if unit is None:
                s.add(
                    OrgUnit(
                        code=row.code,
                        parent_code=parent_code(row.code),
                        name_zh=row.name_zh,
                        name_en=row.name_en,
                        level=row.level,
                        depth=row.code.count("."),
                    )
                )
                added += 1
            elif (unit.name_zh, unit.name_en, unit.level) != (row.name_zh, row.name_en, row.level):
                before = {"name_zh": unit.name_zh, "name_en": unit.name_en, "level": unit.level}
                unit.name_zh, unit.name_en, unit.level = row.name_zh, row.name_en, row.level
                s.add(unit)
                audit.record(
                    "core.unit.update",
                    target_type="unit",
                    target_id=row.code,
                    tenant=row.code,
                    before=before,
                    after={"name_zh": row.name_zh, "name_en": row.name_en, "level": row.level},
                )
                renamed += 1
        s.commit()
    click.echo(json.dumps({"added": added, "updated": renamed}))


# --- jobs --------------------------------------------------------------------------------------


@main.group()
def jobs() -> None:
    """Tracked jobs: start one a plugin declares startable."""


def _param(values: tuple[str, ...]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{item!r} is not k=v", param_hint="--param")
        try:
            params[key.strip()] = json.loads(raw)  # 30, true, null, [..]: typed; else text
        except ValueError:
            params[key.strip()] = raw
    return params


@jobs.command("run")
@click.argument("kind")
@click.option("--unit", required=True, help="the unit the job runs for, e.g. cn.henan.zhengzhou")
@click.option("--param", "params", multiple=True, help="k=v, repeatable (the kind's params)")
@click.option("--key", "idempotency_key", default=None, help="idempotency key")
@click.option("--wait/--no-wait", default=True, show_default=True, help="wait until it is final")
@handle_errors
def jobs_run(
    kind: str, unit: str, params: tuple[str, ...], idempotency_key: str | None, wait: bool
) -> None:
    """Start KIND at --unit, as ``POST /api/v1/jobs`` does (params validated, plugin enabled
    there). Without Redis the job runs in this process. Exit 1 when it fails."""
    from dramatiq.brokers.stub import StubBroker

    from . import context
    from .jobs import wait_for

    values = _param(params)
    app = _app()
    service = app.extensions["postalops.jobs"]
    with context.activate(_system(app)):
        row = service.start(kind, unit, values, idempotency_key=idempotency_key)
    job_id = row.id
    if isinstance(service.broker, StubBroker):  # no Redis: nobody else would run it
        wait = True
        service.start_workers(1)
    try:
        if wait:
            row = wait_for(app.extensions["postalops.db"], job_id, timeout=3600)
    finally:
        service.stop_workers()
    out = {"id": row.id, "kind": row.kind, "unit": row.tenant_code, "status": row.status}
    if row.status == "succeeded":
        out["result"] = row.result
    if row.error:
        out["error"] = row.error
    click.echo(json.dumps(out, ensure_ascii=False, default=str))
    if row.status in ("failed", "cancelled"):
        sys.exit(1)


# --- users & tokens ----------------------------------------------------------------------------


@main.group()
def users() -> None:
    """Portal users."""


@users.command("create")
@click.argument("username")
@click.option("--unit", required=True, help="home unit code, e.g. cn.henan")
@click.option("--role", "roles", multiple=True, required=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--name", "display_name", default="")
@handle_errors
def users_create(
    username: str, unit: str, roles: tuple[str, ...], password: str, display_name: str
) -> None:
    from . import audit, context
    from .auth import create_user

    app = _app()
    with context.activate(_system(app)) as ctx:
        user = create_user(
            ctx.session,
            app.extensions["postalops.plugins"],
            username=username,
            password=password,
            unit_code=unit,
            roles=roles,
            display_name=display_name,
        )
        audit.record(
            "core.user.create",
            target_type="user",
            target_id=username,
            tenant=unit,
            after={"username": username, "roles": list(roles)},
        )
        ctx.session.commit()
        click.echo(f"user {user.username} created at {unit} with roles {', '.join(roles)}")


@main.group()
def tokens() -> None:
    """API tokens for machine clients."""


@tokens.command("create")
@click.option("--name", required=True)
@click.option("--unit", required=True)
@click.option("--permission", "permissions", multiple=True, required=True)
@click.option("--days", default=365, show_default=True, type=int, help="0 = never expires")
@click.option("--subject", default=None, help="bind to one subject, e.g. sorter:17")
@handle_errors
def tokens_create(
    name: str, unit: str, permissions: tuple[str, ...], days: int, subject: str | None
) -> None:
    """Create a token; the secret is printed once and never stored."""
    from . import audit, context
    from .auth import create_token
    from .db import utcnow

    if days < 0:
        raise ValidationError("days must be >= 0", details=[{"field": "days"}])
    app = _app()
    with context.activate(_system(app)) as ctx:
        token, secret = create_token(
            ctx.session,
            app.extensions["postalops.plugins"],
            name=name,
            unit_code=unit,
            permissions=permissions,
            created_by="cli",
            subject=subject,
            expires_at=utcnow() + dt.timedelta(days=days) if days else None,
        )
        audit.record(
            "core.token.create",
            target_type="token",
            target_id=token.id,
            tenant=unit,
            after={"name": name, "permissions": sorted(permissions)},
        )
        ctx.session.commit()
    click.echo(secret)


# --- metrics -----------------------------------------------------------------------------------


def _date(value: str, field: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValidationError(
            f"--{field} must be YYYY-MM-DD", details=[{"field": field, "message": "not a date"}]
        ) from None


@main.command()
@click.option("--tenant", required=True)
@click.option("--from", "date_from", required=True)
@click.option("--to", "date_to", required=True)
@click.option("--plugin", default=None)
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def metrics(tenant: str, date_from: str, date_to: str, plugin: str | None, as_json: bool) -> None:
    """Print the metrics contract for a unit and an inclusive date range."""
    from sqlmodel import select

    from . import context
    from .errors import NotFound
    from .metrics import collect
    from .models import OrgUnit

    frm, to = _date(date_from, "from"), _date(date_to, "to")
    app = _app()
    with context.activate(_system(app)) as ctx:
        if ctx.session.exec(select(OrgUnit).where(OrgUnit.code == tenant)).first() is None:
            raise NotFound(f"unknown unit {tenant!r}", details=[{"field": "tenant"}])
    with context.activate(_system(app, tenant)) as ctx:
        out = collect(app.extensions["postalops.plugins"], ctx.session, tenant, frm, to, plugin)
    if as_json:
        click.echo(json.dumps(out, ensure_ascii=False, indent=2, default=str))
        return
    click.echo(f"{out['tenant']}  {out['from']} .. {out['to']}")
    for key, kpis in out["metrics"].items():
        click.echo(f"[{key}]")
        for name, k in kpis.items():
            click.echo(f"  {k['label_zh']} ({name}): {k['value']} {k['unit']}")


# --- journal -----------------------------------------------------------------------------------


@main.group()
def journal() -> None:
    """Finance's journal: the vouchers (记账凭证) of every enabled plugin (docs/finance.md)."""


@journal.command("export")
@click.option("--tenant", required=True, help="unit code, e.g. cn.henan")
@click.option("--from", "date_from", required=True, help="first local date, YYYY-MM-DD")
@click.option("--to", "date_to", required=True, help="last local date, YYYY-MM-DD")
@click.option("--format", "fmt", default="xlsx", show_default=True, help="xlsx | csv | json")
@click.option("--output", default=None, help="file to write ('-' = stdout; default: journal-….FMT)")
@handle_errors
def journal_export(tenant: str, date_from: str, date_to: str, fmt: str, output: str | None) -> None:
    """Write the vouchers of TENANT's subtree dated FROM..TO; totals and problems on stderr."""
    from sqlmodel import select

    from . import context, vouchers
    from .errors import NotFound
    from .models import OrgUnit

    if fmt not in ("xlsx", "csv", "json"):
        raise ValidationError(
            "--format must be xlsx, csv or json", details=[{"field": "format", "message": fmt}]
        )
    frm, to = _date(date_from, "from"), _date(date_to, "to")
    vouchers.check_range(frm, to)
    app = _app()
    with context.activate(_system(app)) as ctx:
        if ctx.session.exec(select(OrgUnit).where(OrgUnit.code == tenant)).first() is None:
            raise NotFound(f"unknown unit {tenant!r}", details=[{"field": "tenant"}])
    with context.activate(_system(app, tenant)) as ctx:
        out = vouchers.collect(app.extensions["postalops.plugins"], ctx.session, tenant, frm, to)
        if fmt == "json":
            data = json.dumps(out.as_json(), ensure_ascii=False, indent=2).encode() + b"\n"
        else:
            data = vouchers.export_bytes(ctx.session, out, fmt)[0]
    target = output or vouchers.filename(out, fmt)
    if target == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        with open(target, "wb") as fh:
            fh.write(data)
    t = out.totals
    state = "balanced" if t.balanced else f"NOT balanced: {t.unbalanced} voucher(s)"
    click.echo(
        f"{tenant} {frm}..{to}: {t.vouchers} vouchers, debit {t.debit}, credit {t.credit}, "
        f"{state}" + ("" if target == "-" else f" -> {target}"),
        err=True,
    )
    for d in out.degraded:
        click.echo(f"warning: plugin {d['plugin']} left out (degraded): {d['error']}", err=True)


def _add_catalogs() -> None:
    from .catalogs import catalogs

    main.add_command(catalogs)  # postalops catalogs extract|update|compile [--plugin KEY]


_add_catalogs()


if __name__ == "__main__":  # pragma: no cover
    main()
