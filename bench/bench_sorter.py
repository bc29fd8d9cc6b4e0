"""Benchmark: sustained sorter telemetry ingest through the HTTP API into PostgreSQL (issue 6).

One local day of 29 simulated disc sorters (about 10,000 events each) is posted in batches of
5,000 events to ``POST /api/v1/sorter/devices/<id>/events`` on gunicorn with 2 workers over
loopback, each machine with its own token (tenant scope, row-level security, idempotency check,
dirty-day marks: the production path). Reported next to the floor measured in the same run: a
raw ``COPY`` of the same rows into the same table by the table owner. Then, on the ingested day:
the rollup recompute for 29 devices (minute, hour, wave and day rollups, departures), and the
p95 latency of the live station page's data request (``GET .../devices/<id>/live``).

Targets (issue 6): ingest >= 50% of COPY and >= 50,000 events/s on this 2-core machine.

    .venv/bin/python bench/bench_sorter.py [--db postgresql+psycopg://postgres@127.0.0.1:5432/bench_sorter]
        [--events-per-device 10000] [--clients 4] [--json]

The database named in ``--db`` is dropped and recreated.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv" / "bin"
DEVICES = 29
BATCH = 5_000
PORT = 18766
OTHER_PLUGINS = "outcall,payroll,pickup_points,ecommerce,lending"
SH = dt.timezone(dt.timedelta(hours=8))


def sh(cmd: list[str], env: dict[str, str]) -> None:
    subprocess.run(cmd, env=env, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)


def recreate(db_url: str) -> None:
    admin = db_url.rsplit("/", 1)[0].replace("postgresql+psycopg", "postgresql") + "/postgres"
    name = db_url.rsplit("/", 1)[1]
    with psycopg.connect(admin, autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        c.execute(f'CREATE DATABASE "{name}"')


def setup(env: dict[str, str]) -> tuple[Any, list[tuple[int, str]], str, dt.date]:
    """Org tree, 29 stations with one sorter each, device tokens, a viewer token."""
    os.environ.update(env)
    from postalops.app import create_app
    from postalops.auth import create_token
    from postalops.models import OrgUnit, PluginEnablement
    from postalops.tenancy import Scope
    from postalops_sorter.models import Device, WaveWindow
    from postalops_sorter.purge import ensure_partitions

    app = create_app()
    db = app.extensions["postalops.db"]
    registry = app.extensions["postalops.plugins"]
    day = (dt.datetime.now(SH) - dt.timedelta(days=1)).date()
    devices = []
    with db.transaction(Scope.system_scope()) as s:
        for code, parent, level in [
            ("cn", None, "group"),
            ("cn.henan", "cn", "province"),
            ("cn.henan.zhengzhou", "cn.henan", "city"),
        ]:
            s.add(
                OrgUnit(
                    code=code,
                    parent_code=parent,
                    name_zh=code,
                    name_en=code,
                    level=level,
                    depth=code.count("."),
                )
            )
        s.add(PluginEnablement(unit_code="cn", plugin_key="sorter", enabled=True))
        for i in range(DEVICES):
            station = f"cn.henan.zhengzhou.s{i + 1:02d}"
            s.add(
                OrgUnit(
                    code=station,
                    parent_code="cn.henan.zhengzhou",
                    name_zh=station,
                    name_en=station,
                    level="station",
                    depth=3,
                )
            )
            s.add(
                WaveWindow(tenant_code=station, number=1, start=dt.time(6, 30), end=dt.time(10, 0))
            )
            d = Device(
                tenant_code=station,
                code=f"DS{i + 1:02d}",
                model="YP-DS24",
                chutes=24,
                commissioned_on=day - dt.timedelta(days=30),
                rated_per_hour=3500,
            )
            s.add(d)
            s.flush()
            _, secret = create_token(
                s,
                registry,
                name=d.code,
                unit_code=station,
                permissions=["sorter.ingest"],
                created_by="bench",
                subject=f"sorter:{d.id}",
            )
            devices.append((d.id, secret))
        _, viewer = create_token(
            s,
            registry,
            name="viewer",
            unit_code="cn.henan",
            permissions=["sorter.view"],
            created_by="bench",
        )
    with db.session(Scope.system_scope(), owner=True) as s:
        ensure_partitions(s.connection(), dt.datetime.now(dt.UTC), 90)
        s.commit()
    return app, devices, viewer, day


def make_events(last_day: dt.date, per_device: int, days: int = 1) -> dict[int, list[dict]]:
    """Busy simulated days per machine, ``days`` days up to ``last_day``: runs through waves 1-3
    until ``per_device`` events a day; each machine's events in time order."""
    from postalops_sorter.simulation import Run, simulate_run

    out: dict[int, list[dict]] = {i: [] for i in range(DEVICES)}
    for back in range(days - 1, -1, -1):
        day = last_day - dt.timedelta(days=back)
        for i in range(DEVICES):
            events: list[dict] = []
            for hour in (7, 11, 15, 19):
                if len(events) >= per_device:
                    break
                start = dt.datetime.combine(day, dt.time(hour, 0), tzinfo=SH)
                run = Run(
                    start=start,
                    items=min(3_200, per_device - len(events)),
                    rate_per_hour=3300,
                    jams=1,
                )
                first = back * 10_000_000 + len(events) + hour * 100_000
                events += simulate_run(run, seed=f"bench{i}-{back}", first_seq=first)
            out[i] += events[:per_device]
    return out


def copy_reference(
    db_url: str, devices: list[tuple[int, str]], events: dict[int, list[dict]]
) -> tuple[int, float]:
    """Raw COPY of the same rows into the same table, as the owner (no API, no checks)."""
    from postalops_sorter.events import parse_columns
    from postalops_sorter.ingest import COLUMNS

    now = dt.datetime.now(dt.UTC)
    rows = []
    for i, (device_id, _) in enumerate(devices):
        station = f"cn.henan.zhengzhou.s{i + 1:02d}"
        batch = parse_columns(events[i], now=now, chutes=24)
        rows += [(station, device_id, *row) for row in batch.rows()]
    url = db_url.replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(url) as c:
        started = time.perf_counter()
        with (
            c.cursor() as cur,
            cur.copy(f"COPY sorter_event ({', '.join(COLUMNS)}) FROM STDIN") as copy,
        ):
            for r in rows:
                copy.write_row(r)
        c.commit()
        elapsed = time.perf_counter() - started
        c.execute("TRUNCATE sorter_event, sorter_dirty_day")
        c.commit()
    return len(rows), elapsed


def wait_up(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status < 500:
                return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError("gunicorn did not come up")


def post_all(
    port: int, devices: list[tuple[int, str]], events: dict[int, list[dict]], clients: int
) -> tuple[int, float, list[str]]:
    """Post every batch; a device's batches go in order from one client thread."""
    work: queue.Queue = queue.Queue()
    for i, (device_id, secret) in enumerate(devices):
        bodies = [
            json.dumps(events[i][k : k + BATCH]).encode() for k in range(0, len(events[i]), BATCH)
        ]
        work.put((device_id, secret, bodies))
    accepted = [0]
    errors: list[str] = []
    lock = threading.Lock()

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        while True:
            try:
                device_id, secret, bodies = work.get_nowait()
            except queue.Empty:
                return
            for body in bodies:
                conn.request(
                    "POST",
                    f"/api/v1/sorter/devices/{device_id}/events",
                    body=body,
                    headers={
                        "Authorization": f"Bearer {secret}",
                        "Content-Type": "application/json",
                    },
                )
                resp = conn.getresponse()
                data = json.loads(resp.read())
                with lock:
                    if resp.status != 200:
                        errors.append(f"{resp.status}: {str(data)[:200]}")
                    else:
                        accepted[0] += data["accepted"]

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return accepted[0], time.perf_counter() - started, errors


def rollup_time(app: Any) -> tuple[float, dict]:
    from postalops import context
    from postalops.context import CallContext, Principal
    from postalops.tenancy import Scope
    from postalops_sorter.recompute import recompute_dirty

    db = app.extensions["postalops.db"]
    ctx = CallContext(db=db, scope=Scope.unit("cn"), principal=Principal.system("bench"), unit="cn")
    with context.activate(ctx):
        started = time.perf_counter()
        result = recompute_dirty(ctx.session, now=dt.datetime.now(dt.UTC), retention_days=90)
        ctx.session.commit()
        return time.perf_counter() - started, result


def live_latency(
    port: int, devices: list[tuple[int, str]], viewer: str, n: int = 200
) -> list[float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    times = []
    for k in range(n):
        device_id = devices[k % len(devices)][0]
        started = time.perf_counter()
        conn.request(
            "GET",
            f"/api/v1/sorter/devices/{device_id}/live",
            headers={"Authorization": f"Bearer {viewer}"},
        )
        resp = conn.getresponse()
        resp.read()
        times.append(time.perf_counter() - started)
        if resp.status != 200:
            raise RuntimeError(f"live page data: HTTP {resp.status}")
    return times


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--db", default="postgresql+psycopg://postgres@127.0.0.1:5432/bench_sorter")
    p.add_argument("--events-per-device", type=int, default=10_000, help="per device and day")
    p.add_argument(
        "--days", type=int, default=1, help="days of telemetry to post (the rollup is of the last)"
    )
    p.add_argument("--clients", type=int, default=4)
    p.add_argument(
        "--threads", type=int, default=1, help="gunicorn threads per worker (gthread when > 1)"
    )
    p.add_argument("--json", action="store_true")
    args = p.parse_args()

    instance = tempfile.mkdtemp(prefix="bench-sorter-")
    env = {
        **os.environ,
        "POSTALOPS_DATABASE_URL": args.db,
        "POSTALOPS_INSTANCE_PATH": instance,
        "POSTALOPS_DISABLED_PLUGINS": OTHER_PLUGINS,
    }
    recreate(args.db)
    sh([str(VENV / "postalops"), "db", "upgrade"], env)
    app, devices, viewer, day = setup(env)
    events = make_events(day, args.events_per_device, args.days)
    copied, copy_s = copy_reference(args.db, devices, events)

    server = subprocess.Popen(
        [
            str(VENV / "gunicorn"),
            "-w",
            "2",
            "--threads",
            str(args.threads),
            "-b",
            f"127.0.0.1:{PORT}",
            "--log-level",
            "warning",
            "postalops.app:create_app()",
        ],
        env=env,
        cwd=ROOT,
    )
    try:
        wait_up(PORT)
        accepted, ingest_s, errors = post_all(PORT, devices, events, args.clients)
        if args.days > 1:  # the rollup is timed for the last day only, as with --days 1
            with psycopg.connect(args.db.replace("postgresql+psycopg", "postgresql")) as c:
                c.execute("DELETE FROM sorter_dirty_day WHERE day < %s", (day,))
        roll_s, roll = rollup_time(app)
        lat = live_latency(PORT, devices, viewer)
    finally:
        server.terminate()
        server.wait(timeout=30)

    ingest_rate, copy_rate = accepted / ingest_s, copied / copy_s
    p95 = statistics.quantiles(lat, n=20)[18] * 1000
    result = {
        "events": copied,
        "days": args.days,
        "accepted": accepted,
        "errors": errors[:5],
        "gunicorn": f"-w 2 --threads {args.threads}",
        "ingest_s": round(ingest_s, 2),
        "ingest_events_per_s": round(ingest_rate),
        "copy_s": round(copy_s, 2),
        "copy_events_per_s": round(copy_rate),
        "ingest_vs_copy": round(ingest_rate / copy_rate, 3),
        "rollup_day_29_devices_s": round(roll_s, 2),
        "rollup": roll,
        "live_p50_ms": round(statistics.median(lat) * 1000, 1),
        "live_p95_ms": round(p95, 1),
        "targets": {"ingest_vs_copy": ">= 0.5", "ingest_events_per_s": ">= 50000"},
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(
            f"events: {copied:,} ({DEVICES} devices, {args.days} day(s), batches of {BATCH:,}); accepted {accepted:,}"
        )
        print(
            f"ingest via HTTP (gunicorn -w 2 --threads {args.threads}): {ingest_rate:,.0f} events/s  ({ingest_s:.2f} s)"
        )
        print(f"raw COPY, same rows, same table: {copy_rate:,.0f} events/s  ({copy_s:.2f} s)")
        print(
            f"ingest / COPY: {ingest_rate / copy_rate:.1%}   (targets: >= 50% and >= 50,000 events/s)"
        )
        print(f"rollup of the last day of {DEVICES} devices: {roll_s:.2f} s  {roll}")
        print(
            f"live page data request: p50 {statistics.median(lat) * 1000:.1f} ms, p95 {p95:.1f} ms ({len(lat)} requests)"
        )
        if errors:
            print("errors:", errors[:5])
    return 0 if accepted == copied and not errors else 1


if __name__ == "__main__":
    sys.exit(main())
