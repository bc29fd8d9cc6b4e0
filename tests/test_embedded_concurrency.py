"""Embedded mode under concurrency (issue 15 §2): SQLite, in-process jobs, a real HTTP server.

Twenty API writers post sorter telemetry over HTTP while the scheduler fires the periodic jobs
(outcall sweep, sorter rollup, sorter alerts) through its own path (``scheduler.fire``: the
scheduled-run row, then the job submission) and in-process workers run them. Expected: no
"database is locked" anywhere, every request answered 2xx, every job succeeded.

The test always uses the embedded default (a SQLite file), whatever backend the suite runs on.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests

pytest.importorskip("postalops_sorter")
pytest.importorskip("postalops_outcall")

WRITERS = 20
BATCHES = 12
EVENTS_PER_BATCH = 40
FIRE_ROUNDS = 6
STATION = "cn.henan.zhengzhou.jinshui"
SH = dt.timezone(dt.timedelta(hours=8))


class LockLog(logging.Handler):
    """Collects every log record mentioning a locked database, from any thread."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.hits: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            text += " " + repr(record.exc_info[1])
        if "locked" in text or "OperationalError" in text:
            self.hits.append(text[:300])


@pytest.fixture
def embedded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """An app on a new SQLite file with in-process jobs, served over HTTP on a free port."""
    from postalops.app import create_app
    from postalops.testing import build_tree, create_schema, import_all_models, make_settings
    from werkzeug.serving import make_server

    monkeypatch.delenv("POSTALOPS_DATABASE_URL", raising=False)
    monkeypatch.delenv("POSTALOPS_REDIS_URL", raising=False)
    settings = make_settings(
        tmp_path, database_url=f"sqlite:///{tmp_path / 'embedded.sqlite'}", redis_url=None
    )
    app = create_app(settings)
    assert app.extensions["postalops.db"].engine.dialect.name == "sqlite"
    import_all_models(app)
    create_schema(app.extensions["postalops.db"])
    build_tree(app)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    jobs = app.extensions["postalops.jobs"]
    jobs.start_workers(settings.worker_threads)
    try:
        yield app, f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        jobs.stop_workers()
        app.extensions["postalops.db"].dispose()


def _devices(app: Any, n: int) -> list[tuple[int, str]]:
    """``n`` sorters at one station, each with its own ingest token (as machines have)."""
    from postalops.auth import create_token
    from postalops.tenancy import Scope
    from postalops_sorter.models import Device, WaveWindow

    db, reg = app.extensions["postalops.db"], app.extensions["postalops.plugins"]
    out = []
    with db.transaction(Scope.system_scope()) as s:
        s.add(WaveWindow(tenant_code=STATION, number=1, start=dt.time(6, 30), end=dt.time(10, 0)))
        for i in range(n):
            d = Device(
                tenant_code=STATION,
                code=f"DS{i:02d}",
                model="YP-DS24",
                chutes=24,
                commissioned_on=dt.date(2020, 6, 1),
                rated_per_hour=3600,
            )
            s.add(d)
            s.flush()
            _, secret = create_token(
                s,
                reg,
                name=f"sorter {i}",
                unit_code=STATION,
                permissions=["sorter.ingest"],
                created_by="test",
                subject=f"sorter:{d.id}",
            )
            out.append((d.id, secret))
    return out


def _overdue_deliveries(app: Any, n: int) -> None:
    """Webhook deliveries whose try is overdue (written where no job was queued): every sweep
    queues them; the receiver is down, so each try fails at once and is recorded."""
    import datetime as dt

    from postalops import webhooks
    from postalops.models import WebhookDelivery
    from postalops.tenancy import Scope
    from sqlmodel import select

    db = app.extensions["postalops.db"]
    with db.transaction(Scope.unit("cn.henan.zhengzhou")) as s:
        webhooks.create_endpoint(s, "cn.henan.zhengzhou", "http://127.0.0.1:9/down", ["*"])
        for i in range(n):
            webhooks.emit(s, "cn.henan.zhengzhou", "outcall.issuing_method_changed", {"i": i})
    with db.transaction(Scope.system_scope()) as s:
        for d in s.exec(select(WebhookDelivery)).all():
            d.next_attempt_at = d.next_attempt_at - dt.timedelta(minutes=10)
            s.add(d)


def _batch(batch: int) -> list[dict[str, Any]]:
    day = (dt.datetime.now(SH) - dt.timedelta(days=1)).date()
    start = dt.datetime(day.year, day.month, day.day, 7, 0, tzinfo=SH)
    events = []
    for k in range(EVENTS_PER_BATCH):
        seq = batch * EVENTS_PER_BATCH + k + 1
        ts = start + dt.timedelta(seconds=seq * 2)
        events.append(
            {
                "seq": seq,
                "ts": ts.isoformat(),
                "type": "item",
                "barcode": f"B{seq:08d}",
                "chute": 1 + seq % 24,
                "result": "sorted",
            }
        )
    return events


def test_twenty_api_writers_and_scheduled_jobs_never_see_a_locked_database(embedded, monkeypatch):
    from postalops.models import Job
    from postalops.scheduler import fire, schedules
    from postalops.tenancy import Scope
    from sqlmodel import select

    app, base = embedded
    devices = _devices(app, WRITERS)
    monkeypatch.setenv("POSTALOPS_WEBHOOK_MAX_ATTEMPTS", "1")  # one try each, no delayed retries
    _overdue_deliveries(app, 5)
    wanted = {"outcall.sweep", "sorter.rollup", "sorter.alerts", "core.webhooks.sweep"}
    scheduled = [s for s in schedules(app) if s.name in wanted]
    assert {s.name for s in scheduled} == wanted

    lock_log = LockLog()
    logging.getLogger().addHandler(lock_log)
    failures: list[str] = []
    stop = threading.Event()
    fired: list[str] = []

    def writer(device_id: int, secret: str) -> None:
        http = requests.Session()
        http.headers["Authorization"] = f"Bearer {secret}"
        for b in range(BATCHES):
            try:
                resp = http.post(
                    f"{base}/api/v1/sorter/devices/{device_id}/events",
                    json=_batch(b),
                    timeout=60,
                )
            except requests.RequestException as exc:
                failures.append(f"device {device_id}: {exc!r}")
                return
            if resp.status_code != 200:
                failures.append(f"device {device_id}: {resp.status_code} {resp.text[:200]}")

    def scheduler_loop() -> None:
        for round_no in range(FIRE_ROUNDS):
            for sched in scheduled:
                job_id = fire(app, sched, period=f"concurrency-{round_no}")
                if job_id:
                    fired.append(job_id)
            if stop.wait(0.5):
                return

    started = time.monotonic()
    threads = [threading.Thread(target=writer, args=d) for d in devices]
    threads.append(threading.Thread(target=scheduler_loop))
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=90)
        stop.set()
        app.extensions["postalops.jobs"].join(timeout_ms=60_000)
    finally:
        logging.getLogger().removeHandler(lock_log)
    elapsed = time.monotonic() - started

    db = app.extensions["postalops.db"]
    with db.session(Scope.system_scope()) as s:
        rows = s.exec(select(Job).where(Job.id.in_(fired))).all()  # type: ignore[attr-defined]
        jobs = {r.id: (r.kind, r.status, r.error) for r in rows}
    assert len(fired) == FIRE_ROUNDS * len(scheduled), fired
    bad_jobs = {k: v for k, v in jobs.items() if v[1] != "succeeded"}
    assert not failures, failures[:5]
    assert not bad_jobs, bad_jobs
    assert not lock_log.hits, lock_log.hits[:5]
    print(
        f"\n{WRITERS} writers x {BATCHES} batches + {len(fired)} jobs in {elapsed:.1f} s",
        flush=True,
    )
