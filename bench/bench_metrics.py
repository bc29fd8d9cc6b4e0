"""Benchmark: the metrics contract and the overview dashboard at province and group scale
(issue 17 §3), each figure beside a reference measured in the same run on the same rows.

Data: a demo built with ten times the rolling present's volume::

    POSTALOPS_INSTANCE_PATH=/tmp/demo10 .venv/bin/postalops demo --scale 10
    .venv/bin/python bench/bench_metrics.py --instance /tmp/demo10 [--db URL] [--json]

1. ``GET /api/v1/metrics?tenant=<cn.henan|cn>&from=&to=`` (a group token, in-process through
   Flask's test client), over one month of the present (``--from``/``--to``; default the last
   complete month):
   - *cold*: after ``MetricsCache.clear()`` (every plugin's hook runs), ``--rounds`` times;
   - *warm*: ``--warm`` requests in a row (the cache answers after one version query), p95;
   - *reference*: the raw SQL aggregates over the same rows (one ``COUNT``/``SUM`` per plugin's
     fact table, period and subtree), which is what any uncached answer has to read at least.
2. The overview dashboard under load: gunicorn with the Procfile's settings (2 workers x 4
   threads) on the same database, ``--users`` concurrent signed-in users (the demo's ``admin``
   at the group) each posting the page's Dash callback (``/dashboards/_dash-update-component``,
   the overview for ``cn`` or ``cn.henan``, the month) in a loop for ``--seconds`` seconds; p50,
   p95, p99. Reference in the same run: the same users on ``GET /healthz`` of the same server.
   The first overview after the server starts (caches empty) is reported as *cold*.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

TENANTS = ("cn.henan", "cn")
ADMIN, PASSWORD = "admin", "postalops-demo"

# One aggregate per plugin over its fact rows of the period and subtree (the floor of a cold
# answer: every KPI reads these rows at least once). ``{scope}`` filters tenant_code.
REFERENCE_SQL = {
    "ecommerce": "SELECT COUNT(*), SUM(amount_fen), SUM(orders) FROM ecommerce_rollup "
    "WHERE {scope} AND day BETWEEN :f AND :t",
    "lending": "SELECT COUNT(*), SUM(principal) FROM lending_loan "
    "WHERE {scope} AND disbursed_on <= :t",
    "outcall": "SELECT COUNT(*), SUM(CASE WHEN outcome = 'accepted' THEN 1 ELSE 0 END) "
    "FROM outcall_attempt WHERE {scope} AND at >= :fs AND at < :ts",
    "payroll": "SELECT COUNT(*), SUM(CASE WHEN mode = 'pickup_point' THEN 1 ELSE 0 END) "
    "FROM payroll_delivery WHERE {scope} AND scanned_at >= :fs AND scanned_at < :ts",
    "pickup_points": "SELECT COUNT(*), SUM(CASE WHEN notified_at IS NOT NULL THEN 1 ELSE 0 END) "
    "FROM pickup_points_item WHERE {scope} AND arrival_day BETWEEN :f AND :t",
    "sorter": "SELECT COUNT(*), SUM(sorted), SUM(running_ms) FROM sorter_rollup "
    "WHERE {scope} AND grain = 'day' AND day BETWEEN :f AND :t",
}


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


def last_month(today: dt.date) -> tuple[dt.date, dt.date]:
    end = today.replace(day=1) - dt.timedelta(days=1)
    return end.replace(day=1), end


def make_app() -> Any:
    from postalops import migrate
    from postalops.app import create_app
    from postalops.config import Settings

    app = create_app(Settings.from_env())
    try:
        migrate.upgrade(app.extensions["postalops.db"], app.extensions["postalops.plugins"])
    except Exception as exc:  # noqa: BLE001 - a data migration of another plugin failing
        print(
            f"warning: postalops db upgrade failed ({exc.__class__.__name__}); "
            "measuring on the schema as it is",
            file=sys.stderr,
        )
    return app


def group_token(app: Any) -> str:
    from postalops.auth import create_token
    from postalops.tenancy import Scope

    db = app.extensions["postalops.db"]
    with db.transaction(Scope.system_scope()) as s:
        _, secret = create_token(
            s,
            app.extensions["postalops.plugins"],
            name="bench_metrics",
            unit_code="cn",
            permissions=["core.metrics.read"],
            created_by="bench",
        )
    return secret


def reference(app: Any, tenant: str, frm: dt.date, to: dt.date) -> tuple[float, dict[str, float]]:
    """Seconds for the raw aggregates over the period's rows, in all and per plugin."""
    import sqlalchemy as sa

    engine = app.extensions["postalops.db"].engine
    zone = dt.timezone(dt.timedelta(hours=8))
    naive = engine.dialect.name == "sqlite"  # stored as naive UTC there (UTCDateTime)

    def utc(day: dt.date) -> dt.datetime:
        moment = dt.datetime.combine(day, dt.time(), zone).astimezone(dt.UTC)
        return moment.replace(tzinfo=None) if naive else moment

    params = {
        "f": frm,
        "t": to,
        "fs": utc(frm),
        "ts": utc(to + dt.timedelta(days=1)),
        "root": tenant,
        "below": tenant + ".%",
    }
    scope = "(tenant_code = :root OR tenant_code LIKE :below)"
    per: dict[str, float] = {}
    with engine.connect() as conn:
        for key, sql in REFERENCE_SQL.items():
            t = time.perf_counter()
            try:
                conn.execute(sa.text(sql.format(scope=scope)), params).all()
            except Exception as exc:  # noqa: BLE001 - a plugin not installed: no reference
                conn.rollback()
                print(f"  reference {key}: {exc.__class__.__name__}", file=sys.stderr)
                continue
            per[key] = time.perf_counter() - t
    return sum(per.values()), per


def contract(app: Any, token: str, rounds: int, warm: int, frm: dt.date, to: dt.date) -> dict:
    from postalops import metrics_cache

    cache = metrics_cache.for_bind(app.extensions["postalops.db"].engine)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    out: dict[str, Any] = {}
    for tenant in TENANTS:
        url = f"/api/v1/metrics?tenant={tenant}&from={frm}&to={to}"
        cold, refs, warm_times, per_plugin = [], [], [], {}
        for _ in range(rounds):
            cache.clear()
            t = time.perf_counter()
            resp = client.get(url, headers=headers)
            cold.append(time.perf_counter() - t)
            assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
            total, per = reference(app, tenant, frm, to)
            refs.append(total)
            for _ in range(warm):
                t = time.perf_counter()
                assert client.get(url, headers=headers).status_code == 200
                warm_times.append(time.perf_counter() - t)
        for key in sorted(resp.get_json()["metrics"]):  # where a cold answer's time goes
            cache.clear()
            t = time.perf_counter()
            client.get(url + f"&plugin={key}", headers=headers)
            per_plugin[key] = round(1000 * (time.perf_counter() - t), 1)
        out[tenant] = {
            "cold_ms": [round(1000 * c, 1) for c in cold],
            "cold_max_ms": round(1000 * max(cold), 1),
            "warm_p50_ms": round(1000 * statistics.median(warm_times), 2),
            "warm_p95_ms": round(1000 * percentile(warm_times, 95), 2),
            "reference_raw_sql_ms": round(1000 * min(refs), 1),
            "reference_per_plugin_ms": {k: round(1000 * v, 1) for k, v in per.items()},
            "cold_per_plugin_ms": per_plugin,
        }
    return out


# --- the dashboard under load, over HTTP against gunicorn --------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(port: int) -> subprocess.Popen:
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    proc = subprocess.Popen(
        [
            gunicorn,
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--threads",
            "4",
            "--timeout",
            "120",
            "postalops.app:create_app()",
        ],
        env=dict(os.environ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    import requests

    for _ in range(600):
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).ok:
                return proc
        except requests.RequestException:
            pass
        time.sleep(0.2)
    proc.terminate()
    raise SystemExit("gunicorn did not start")


def signed_in(base: str) -> Any:
    import requests

    s = requests.Session()
    page = s.get(base + "/login").text
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', page)
    r = s.post(
        base + "/login",
        data={"username": ADMIN, "password": PASSWORD, "csrf_token": csrf.group(1) if csrf else ""},
        allow_redirects=False,
    )
    assert r.status_code == 302, r.text[:300]
    return s


def overview_payload(unit: str, frm: dt.date, to: dt.date) -> str:
    return json.dumps(
        {
            "output": "po-page.children",
            "outputs": {"id": "po-page", "property": "children"},
            "inputs": [
                {"id": "po-url", "property": "pathname", "value": "/dashboards/"},
                {"id": "po-unit", "property": "value", "value": unit},
                {"id": "po-from", "property": "value", "value": frm.isoformat()},
                {"id": "po-to", "property": "value", "value": to.isoformat()},
            ],
            "changedPropIds": ["po-url.pathname"],
            "state": [],
        }
    )


def load(sessions: list[Any], request: Any, seconds: float) -> tuple[list[float], int]:
    """Each session in its own thread calls ``request(session, i)`` until time is up."""
    times: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def user(n: int, s: Any) -> None:
        i = n
        while time.monotonic() < stop:
            t = time.perf_counter()
            ok = request(s, i)
            took = time.perf_counter() - t
            with lock:
                times.append(took)
                errors[0] += not ok
            i += 1

    threads = [threading.Thread(target=user, args=(n, s)) for n, s in enumerate(sessions)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return times, errors[0]


def dashboard(users: int, seconds: float, frm: dt.date, to: dt.date, warmup: float) -> dict:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start_gunicorn(port)
    try:
        sessions = [signed_in(base) for _ in range(users)]
        url = base + "/dashboards/_dash-update-component"
        payloads = [overview_payload(u, frm, to) for u in TENANTS]
        headers = {"Content-Type": "application/json"}

        def overview(s: Any, i: int) -> bool:
            r = s.post(url, data=payloads[i % len(payloads)], headers=headers, timeout=120)
            return r.status_code == 200 and "po-overview" in r.text

        def healthz(s: Any, i: int) -> bool:
            return s.get(base + "/healthz", timeout=60).status_code == 200

        cold = {}
        for unit, payload in zip(TENANTS, payloads, strict=True):
            t = time.perf_counter()
            r = sessions[0].post(url, data=payload, headers=headers, timeout=300)
            cold[unit] = round(1000 * (time.perf_counter() - t), 1)
            assert r.status_code == 200 and "po-overview" in r.text, r.text[:300]
        # every worker computes its own first pages (per-process cache): a warm-up round, not
        # recorded, so the figures are the steady state the first-load figure above is not
        load(sessions, overview, warmup)
        ref_times, _ = load(sessions, healthz, min(seconds, 10))
        times, errors = load(sessions, overview, seconds)
        return {
            "users": users,
            "seconds": seconds,
            "warmup_seconds": warmup,
            "cold_first_overview_ms": cold,
            "overview_requests": len(times),
            "overview_errors": errors,
            "overview_p50_ms": round(1000 * statistics.median(times), 1),
            "overview_p95_ms": round(1000 * percentile(times, 95), 1),
            "overview_p99_ms": round(1000 * percentile(times, 99), 1),
            "overview_per_s": round(len(times) / seconds, 1),
            "reference_healthz_p95_ms": round(1000 * percentile(ref_times, 95), 1),
            "reference_healthz_per_s": round(len(ref_times) / min(seconds, 10), 1),
        }
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--instance", help="instance folder of a built demo (SQLite file)")
    parser.add_argument("--db", help="database URL (PostgreSQL) instead of the instance's SQLite")
    parser.add_argument("--from", dest="frm", type=dt.date.fromisoformat)
    parser.add_argument("--to", type=dt.date.fromisoformat)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warm", type=int, default=100)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--warmup", type=float, default=20, help="seconds of unrecorded load")
    parser.add_argument("--skip-dashboard", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.instance:
        os.environ["POSTALOPS_INSTANCE_PATH"] = args.instance
    if args.db:
        os.environ["POSTALOPS_DATABASE_URL"] = args.db
    from postalops import clock

    frm, to = last_month(clock.today())
    frm, to = args.frm or frm, args.to or to
    app = make_app()
    result: dict[str, Any] = {
        "database": app.extensions["postalops.db"].engine.dialect.name,
        "from": frm.isoformat(),
        "to": to.isoformat(),
        "metrics": contract(app, group_token(app), args.rounds, args.warm, frm, to),
    }
    app.extensions["postalops.db"].dispose()
    if not args.skip_dashboard:
        result["dashboard"] = dashboard(args.users, args.seconds, frm, to, args.warmup)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{result['database']}, {frm} .. {to}")
    for tenant, r in result["metrics"].items():
        print(
            f"GET /api/v1/metrics?tenant={tenant}: cold {r['cold_max_ms']} ms (max of "
            f"{r['cold_ms']}), warm p95 {r['warm_p95_ms']} ms | raw SQL aggregates over the "
            f"same rows {r['reference_raw_sql_ms']} ms"
        )
        print(f"  cold per plugin (ms): {r['cold_per_plugin_ms']}")
        print(f"  raw SQL per plugin (ms): {r['reference_per_plugin_ms']}")
    if "dashboard" in result:
        d = result["dashboard"]
        print(
            f"overview, {d['users']} users x {d['seconds']} s: p50 {d['overview_p50_ms']} ms, "
            f"p95 {d['overview_p95_ms']} ms, p99 {d['overview_p99_ms']} ms, "
            f"{d['overview_per_s']} req/s, {d['overview_errors']} errors; first (cold) "
            f"{d['cold_first_overview_ms']} | /healthz same users p95 "
            f"{d['reference_healthz_p95_ms']} ms, {d['reference_healthz_per_s']} req/s"
        )


if __name__ == "__main__":
    main()
