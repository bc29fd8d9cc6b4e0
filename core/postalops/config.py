"""Configuration from ``POSTALOPS_*`` environment variables, with embedded defaults.

Every variable is listed in README.md. Defaults run the product with no server at all:
SQLite in the instance folder and an in-process broker.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

# name -> (default, description); README's configuration table is checked against this.
SETTINGS: dict[str, tuple[str, str]] = {
    "POSTALOPS_DATABASE_URL": (
        "sqlite:///<instance>/postalops.sqlite",
        "SQLAlchemy URL; PostgreSQL in production (postgresql+psycopg://...)",
    ),
    "POSTALOPS_REDIS_URL": ("", "Redis URL for the Dramatiq broker; empty = in-process broker"),
    "POSTALOPS_INSTANCE_PATH": ("./instance", "folder for the SQLite file, secret key and uploads"),
    "POSTALOPS_SECRET_KEY": ("<generated into the instance folder>", "Flask session signing key"),
    "POSTALOPS_MAX_CONTENT_LENGTH": (
        "10485760",
        "largest accepted request body in bytes (413 above)",
    ),
    "POSTALOPS_SECURE_COOKIES": ("0", "1 = session cookie only over HTTPS (set behind TLS)"),
    "POSTALOPS_DEFAULT_LOCALE": ("zh_CN", "portal language when the user has not chosen one"),
    "POSTALOPS_TIMEZONE": ("Asia/Shanghai", "zone in which times are shown and days are cut"),
    "POSTALOPS_WORKER_THREADS": (
        "2",
        "job worker threads (in-process broker and postalops worker)",
    ),
    "POSTALOPS_DB_RUNTIME_ROLE": (
        "postalops_runtime",
        "PostgreSQL non-owner role the app runs as, so row-level security applies; empty = off",
    ),
    "POSTALOPS_REDIS_HEARTBEAT_MS": (
        "60000",
        "after this long a dead worker's jobs are redelivered",
    ),
    "POSTALOPS_LOGIN_MAX_FAILURES": ("5", "failed logins per user+address per minute before 429"),
    "POSTALOPS_LOGIN_BACKOFF_AFTER": (
        "5",
        "failed logins of one account (any address) after which each try waits (back-off)",
    ),
    "POSTALOPS_LOGIN_BACKOFF_SECONDS": (
        "2",
        "first back-off wait; it doubles with each further failure (capped at the lock time)",
    ),
    "POSTALOPS_LOGIN_LOCK_AFTER": (
        "10",
        "failed logins of one account within the lock window that lock it (429, even the "
        "right password)",
    ),
    "POSTALOPS_LOGIN_LOCK_MINUTES": (
        "15",
        "the window failures are counted in; a locked account opens when fewer remain in it",
    ),
    "POSTALOPS_LOGIN_ADDRESS_MAX_FAILURES": (
        "20",
        "failed logins from one address, across accounts, within the lock window before 429",
    ),
    "POSTALOPS_TRUSTED_PROXIES": (
        "0",
        "reverse proxies in front of the app whose X-Forwarded-For/-Proto are trusted; "
        "0 = ignore those headers",
    ),
    "POSTALOPS_DISABLED_PLUGINS": ("", "comma list of installed plugin keys not to load"),
    "POSTALOPS_DASHBOARD_PERIOD": ("", "default dashboard period FROM/TO; empty = last 30 days"),
    "POSTALOPS_HOUSEKEEPING_CRON": (
        "17 3 * * *",
        "when the core's housekeeping job runs (UTC cron)",
    ),
    "POSTALOPS_WEBHOOK_MAX_ATTEMPTS": (
        "8",
        "tries per webhook delivery before it is marked failed (replay from the admin page)",
    ),
    "POSTALOPS_WEBHOOK_BACKOFF_S": (
        "30",
        "wait before the second try of a webhook delivery; it doubles with each further try",
    ),
    "POSTALOPS_SIMULATE": (
        "1",
        "1 = `postalops serve` in the embedded mode starts `postalops simulate` against itself; "
        "0 = off (never started with PostgreSQL, Redis or gunicorn)",
    ),
}


def _env(name: str) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else None


@dataclass
class Settings:
    """Resolved settings; build with :func:`from_env` or pass overrides in tests."""

    instance_path: Path
    database_url: str
    redis_url: str | None
    secret_key: str
    max_content_length: int = 10 * 1024 * 1024
    secure_cookies: bool = False
    default_locale: str = "zh_CN"
    timezone: str = "Asia/Shanghai"
    worker_threads: int = 2
    db_runtime_role: str | None = "postalops_runtime"
    redis_heartbeat_ms: int = 60000
    login_max_failures: int = 5
    login_backoff_after: int = 5
    login_backoff_seconds: int = 2
    login_lock_after: int = 10
    login_lock_minutes: int = 15
    login_address_max_failures: int = 20
    trusted_proxies: int = 0
    disabled_plugins: frozenset[str] = field(default_factory=frozenset)
    dashboard_period: tuple[dt.date, dt.date] | None = None
    simulate: bool = True
    testing: bool = False

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        instance = Path(_env("POSTALOPS_INSTANCE_PATH") or "instance").resolve()
        instance.mkdir(parents=True, exist_ok=True)
        db_url = _env("POSTALOPS_DATABASE_URL") or f"sqlite:///{instance / 'postalops.sqlite'}"
        role = os.environ.get("POSTALOPS_DB_RUNTIME_ROLE", "postalops_runtime").strip() or None
        values: dict[str, object] = dict(
            instance_path=instance,
            database_url=db_url,
            redis_url=_env("POSTALOPS_REDIS_URL"),
            secret_key=_env("POSTALOPS_SECRET_KEY") or _instance_secret(instance),
            max_content_length=int(_env("POSTALOPS_MAX_CONTENT_LENGTH") or 10 * 1024 * 1024),
            secure_cookies=(_env("POSTALOPS_SECURE_COOKIES") or "0") == "1",
            default_locale=_env("POSTALOPS_DEFAULT_LOCALE") or "zh_CN",
            timezone=_env("POSTALOPS_TIMEZONE") or "Asia/Shanghai",
            worker_threads=int(_env("POSTALOPS_WORKER_THREADS") or 2),
            db_runtime_role=role,
            redis_heartbeat_ms=int(_env("POSTALOPS_REDIS_HEARTBEAT_MS") or 60000),
            login_max_failures=int(_env("POSTALOPS_LOGIN_MAX_FAILURES") or 5),
            login_backoff_after=int(_env("POSTALOPS_LOGIN_BACKOFF_AFTER") or 5),
            login_backoff_seconds=int(_env("POSTALOPS_LOGIN_BACKOFF_SECONDS") or 2),
            login_lock_after=int(_env("POSTALOPS_LOGIN_LOCK_AFTER") or 10),
            login_lock_minutes=int(_env("POSTALOPS_LOGIN_LOCK_MINUTES") or 15),
            login_address_max_failures=int(_env("POSTALOPS_LOGIN_ADDRESS_MAX_FAILURES") or 20),
            trusted_proxies=int(_env("POSTALOPS_TRUSTED_PROXIES") or 0),
            dashboard_period=_period(_env("POSTALOPS_DASHBOARD_PERIOD")),
            simulate=(_env("POSTALOPS_SIMULATE") or "1") != "0",
            disabled_plugins=frozenset(
                p.strip()
                for p in (_env("POSTALOPS_DISABLED_PLUGINS") or "").split(",")
                if p.strip()
            ),
        )
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith("postgresql")


def _period(value: str | None) -> tuple[dt.date, dt.date] | None:
    if not value:
        return None
    try:
        start, end = (dt.date.fromisoformat(p.strip()) for p in value.split("/"))
    except ValueError as exc:
        raise SystemExit(
            f"POSTALOPS_DASHBOARD_PERIOD must be YYYY-MM-DD/YYYY-MM-DD: {exc}"
        ) from exc
    return (start, end) if start <= end else (end, start)


def _instance_secret(instance: Path) -> str:
    """A per-install secret kept in the instance folder, so sessions survive restarts."""
    path = instance / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()
