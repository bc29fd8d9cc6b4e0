"""Benchmark: the portal under load, next to bare references served the same way (issue 17 §2, §6).

Starts gunicorn with the Procfile's web settings (2 workers x 4 threads) on a prepared database,
and the references of bench/bench_portal_reference.py under the same settings, then drives each
with wrk at 50 connections, alternating PostalOps and its reference round by round (3 rounds x
8 s per figure by default):

- ``GET /healthz`` next to a bare Flask JSON hello (target: >= 80 % of its req/s);
- ``GET /api/v1/outcall/cases?limit=50`` with a Guangzhou city token (50 rows of the city's
  cases) next to bare Flask + SQLAlchemy Core running the same SQL (the page and its count) and
  answering the rows as JSON (targets: >= 50 % of its req/s, p99 < 100 ms).

Each figure is printed per round and as the median of the rounds; the ratio is the median of the
per-round ratios (ours / reference measured back to back), which is what to compare on a shared
machine.

Data:
- SQLite (default): the demo network (``postalops demo``) in ``--instance``, built when the
  database has no org tree yet (``postalops demo --if-empty``, which also applies migrations;
  ``--reuse`` takes the database as it is).
- PostgreSQL (``--db postgresql+psycopg://postgres@127.0.0.1:5432/bench_portal``): the database
  is created if missing, migrated (``postalops db upgrade`` also sets up the runtime role and
  row-level security: PostalOps runs as ``postalops_runtime`` under RLS, the reference as the
  owner). ``--data small`` (the default on PostgreSQL) loads the org tree and users of the demo
  and ``--cases`` outcall cases for Guangzhou through the API; ``--data demo`` builds the whole
  demo there.

Load: wrk (``apt-get install -y wrk``); without it a Python load generator (threads over
keep-alive connections) is used, which needs a core of its own and reads lower.

    .venv/bin/python bench/bench_portal.py [--db URL] [--rounds 3] [--duration 8] [--json FILE]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchkit import ROOT, Server, alternate, fetch  # noqa: E402

GZ = "cn.guangdong.guangzhou"
LIST_URL = "/api/v1/outcall/cases?limit=50"
TARGETS = {"healthz": 0.80, "list": 0.50}
P99_TARGET_MS = 100.0


# --- preparing the database -----------------------------------------------------------------------


def _env(db_url: str | None, instance: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSTALOPS_")}
    env["POSTALOPS_INSTANCE_PATH"] = str(instance)
    if db_url:
        env["POSTALOPS_DATABASE_URL"] = db_url
    return env


def _cli(env: dict[str, str], *args: str) -> None:
    postalops = str(Path(sys.executable).parent / "postalops")
    t0 = time.perf_counter()
    subprocess.run([postalops, *args], env=env, check=True, cwd=ROOT)
    print(f"  postalops {' '.join(args)}: {time.perf_counter() - t0:.0f} s", flush=True)


def _create_pg_database(db_url: str) -> None:
    import sqlalchemy as sa

    url = sa.engine.make_url(db_url)
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.execute(
            sa.text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": url.database}
        ).first():
            conn.exec_driver_sql(f'CREATE DATABASE "{url.database}"')
    admin.dispose()


def prepare(
    db_url: str | None, instance: Path, data: str, cases: int, reuse: bool = False
) -> tuple[str, str]:
    """Build the data; return (database URL, a Guangzhou token holding ``outcall.view``)."""
    instance.mkdir(parents=True, exist_ok=True)
    env = _env(db_url, instance)
    if db_url and db_url.startswith("postgresql"):
        _create_pg_database(db_url)
    if not reuse:
        _cli(env, "demo", "--if-empty", *(() if data == "demo" else ("--skip-plugins",)))
    os.environ.update(env)
    for k in [k for k in os.environ if k.startswith("POSTALOPS_") and k not in env]:
        del os.environ[k]
    from postalops import context
    from postalops.app import create_app
    from postalops.auth import create_token
    from postalops.tenancy import Scope
    from postalops.testing import system_context

    app = create_app()
    db = app.extensions["postalops.db"]
    registry = app.extensions["postalops.plugins"]
    with context.activate(system_context(app)) as ctx:
        if "outcall" not in registry.effective(ctx.session, GZ):
            registry.set_enabled(ctx.session, GZ, "outcall", True, "bench")
        ctx.session.commit()
    with db.transaction(Scope.system_scope()) as s:
        _, viewer = create_token(
            s,
            registry,
            name="bench-portal",
            unit_code=GZ,
            permissions=["outcall.view"],
            created_by="bench",
        )
        _, intake = create_token(
            s,
            registry,
            name="bench-portal-intake",
            unit_code=GZ,
            permissions=["outcall.intake"],
            created_by="bench",
        )
    client = app.test_client()
    auth = {"Authorization": f"Bearer {viewer}"}
    have = client.get(f"{LIST_URL}&per_page=1", headers=auth).get_json()["total"]
    if have < cases and data != "demo":
        sys.path.insert(0, str(Path(__file__).parent))
        from bench_outcall import rows
        from postalops_outcall import demo_plan, service

        with db.transaction(Scope.unit(GZ)) as s:
            service.save_catalogue_entries(s, GZ, demo_plan.GUANGZHOU_CATALOGUE, actor="bench")
        resp = client.post(
            "/api/v1/outcall/cases", json=rows(cases), headers={"Authorization": f"Bearer {intake}"}
        )
        assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
        have = client.get(f"{LIST_URL}&per_page=1", headers=auth).get_json()["total"]
    body = client.get(LIST_URL, headers=auth).get_json()
    assert len(body["items"]) == 50, f"the list needs 50 rows in {GZ}, has {have}"
    if db.is_postgres:
        import sqlalchemy as sa

        with db.session(Scope.unit(GZ)) as s:
            role = s.execute(sa.text("SELECT current_user")).scalar_one()
        print(f"  PostalOps queries as {role} under row-level security", flush=True)
    print(f"  {have} cases visible to the Guangzhou token", flush=True)
    url = str(db.engine.url.render_as_string(hide_password=False))
    db.dispose()
    return url, viewer


# --- load ---------------------------------------------------------------------------------------

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    assert m, text
    return float(m[1]) * _UNITS[m[2]]


def wrk(port: int, path: str, headers: dict[str, str], seconds: int, conns: int) -> dict:
    cmd = ["wrk", "-t2", f"-c{conns}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    for k, v in headers.items():
        cmd += ["-H", f"{k}: {v}"]
    out = subprocess.run(
        [*cmd, f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True, check=True
    ).stdout
    lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", out, re.M))
    if "99" not in lat:
        raise RuntimeError(f"wrk measured nothing on {path}:\n{out}")
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    timeouts = re.search(r"Socket errors:.*timeout (\d+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1]),
        "p50_ms": _ms(lat["50"]),
        "p99_ms": _ms(lat["99"]),
        "errors": int(bad[1]) if bad else 0,
        "timeouts": int(timeouts[1]) if timeouts else 0,
    }


def python_load(port: int, path: str, headers: dict[str, str], seconds: int, conns: int) -> dict:
    """Fallback when wrk is missing: ``conns`` threads, each on a keep-alive connection."""
    lat: list[float] = []
    errors = [0]
    stop = time.monotonic() + seconds
    lock = threading.Lock()

    def run() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine = []
        while time.monotonic() < stop:
            t0 = time.perf_counter()
            try:
                conn.request("GET", path, headers=headers)
                resp = conn.getresponse()
                resp.read()
                ok = resp.status == 200
            except OSError:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                ok = False
            mine.append((time.perf_counter() - t0) * 1000)
            if not ok:
                with lock:
                    errors[0] += 1
        with lock:
            lat.extend(mine)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=run) for _ in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lat.sort()
    return {
        "rps": len(lat) / (time.perf_counter() - t0),
        "p50_ms": lat[len(lat) // 2],
        "p99_ms": lat[min(len(lat) - 1, int(len(lat) * 0.99))],
        "errors": errors[0],
        "timeouts": 0,
    }


# --- the run ------------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", help="PostgreSQL URL (default: SQLite in --instance)")
    ap.add_argument("--instance", type=Path, default=Path("/tmp/postalops-bench-portal"))
    ap.add_argument(
        "--data", choices=("demo", "small"), help="default: demo on SQLite, small on PG"
    )
    ap.add_argument("--cases", type=int, default=500, help="Guangzhou cases with --data small")
    ap.add_argument(
        "--reuse", action="store_true", help="use the database as it is (no demo build or upgrade)"
    )
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=8, help="seconds per figure and round")
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--json", type=Path, help="also write the figures to this file")
    args = ap.parse_args()
    data = args.data or ("small" if args.db else "demo")
    backend = "PostgreSQL (runtime role, RLS)" if args.db else "SQLite"
    print(f"preparing {backend}, data: {data}", flush=True)
    db_url, token = prepare(args.db, args.instance, data, args.cases, args.reuse)
    load = wrk if shutil.which("wrk") else python_load
    if load is python_load:
        print("wrk not found (apt-get install -y wrk): using the Python load generator")
    env = _env(args.db, args.instance)
    ours = Server("PostalOps", "postalops.app:create_app()", env, "/healthz", "bench-portal")
    try:
        ref = Server(
            "reference",
            "bench_portal_reference:create_app()",
            {**env, "BENCH_REFERENCE_DB": db_url},
            "/hello",
            "bench-portal",
        )
    except BaseException:
        ours.stop()
        raise
    auth = {"Authorization": f"Bearer {token}"}
    figures = {
        "healthz": ((ours, "/healthz", {}), (ref, "/hello", {})),
        "list": ((ours, LIST_URL, auth), (ref, "/cases", {})),
    }
    status, body = fetch(ours.port, LIST_URL, auth)
    assert status == 200 and len(json.loads(body)["items"]) == 50, body[:300]
    status, body = fetch(ref.port, "/cases", {})
    assert status == 200 and len(json.loads(body)["items"]) == 50, body[:300]
    # (figure, side, server, path, headers) for each figure's PostalOps and reference sides
    sides = [
        (name, "ours" if srv is ours else "ref", srv, path, h)
        for name, pair in figures.items()
        for srv, path, h in pair
    ]

    def run(side: tuple, r: int) -> dict:
        name, _, srv, path, h = side
        fig = load(srv.port, path, h, args.duration, args.connections)
        print(
            f"  round {r + 1} {name:8} {srv.name:10} {fig['rps']:8.0f} req/s  "
            f"p50 {fig['p50_ms']:7.1f} ms  p99 {fig['p99_ms']:7.1f} ms"
            + (f"  ERRORS {fig['errors']}" if fig["errors"] else ""),
            flush=True,
        )
        return fig

    try:
        for _, _, srv, path, h in sides:
            load(srv.port, path, h, 2, args.connections)  # warm every worker and pool
        # the order reverses every other round: who goes first alternates within each figure
        by_side = alternate(args.rounds, sides, run, lambda side: f"{side[0]}:{side[1]}")
    finally:
        ours.stop()
        ref.stop()
    results = {
        name: {side: by_side[f"{name}:{side}"] for side in ("ours", "ref")} for name in figures
    }
    report(results, backend, data, ours.settings, args, load is wrk)


def report(
    results: dict, backend: str, data: str, settings: str, args: Any, used_wrk: bool
) -> None:
    def med(rounds: list[dict], key: str) -> float:
        return statistics.median(f[key] for f in rounds)

    summary: dict[str, Any] = {
        "backend": backend,
        "data": data,
        "gunicorn": settings,
        "load": "wrk" if used_wrk else "python",
        "connections": args.connections,
        "rounds": args.rounds,
        "seconds": args.duration,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "figures": {},
    }
    labels = {
        "healthz": ("GET /healthz", "bare Flask JSON hello"),
        "list": (f"GET {LIST_URL} (city token)", "bare Flask + Core, same SQL, JSON"),
    }
    print(
        f"\n{backend}, gunicorn {settings}, {args.connections} connections, "
        f"{args.rounds} rounds x {args.duration} s, load by {summary['load']}"
    )
    print(f"{'figure':44} {'PostalOps':>26} {'reference':>26} {'ratio':>6}")
    ok = True
    for name, sides in results.items():
        ratios = [o["rps"] / r["rps"] for o, r in zip(sides["ours"], sides["ref"], strict=True)]
        ratio = statistics.median(ratios)
        ours = {k: med(sides["ours"], k) for k in ("rps", "p50_ms", "p99_ms")}
        ref = {k: med(sides["ref"], k) for k in ("rps", "p50_ms", "p99_ms")}
        errors = sum(f["errors"] + f["timeouts"] for s in sides.values() for f in s)
        met = ratio >= TARGETS[name] and errors == 0
        if name == "list":
            met = met and ours["p99_ms"] < P99_TARGET_MS
        ok = ok and met
        summary["figures"][name] = {
            "ours": ours,
            "reference": ref,
            "ratio": round(ratio, 3),
            "ratios": [round(x, 3) for x in ratios],
            "target": TARGETS[name],
            "errors": errors,
            "met": met,
            "rounds": sides,
        }
        label, ref_label = labels[name]
        print(
            f"{label:44} {ours['rps']:7.0f} req/s p99 {ours['p99_ms']:6.1f} ms "
            f"{ref['rps']:7.0f} req/s p99 {ref['p99_ms']:6.1f} ms {ratio:6.2f}"
            f"  (target >= {TARGETS[name]:.2f}"
            + (f", p99 < {P99_TARGET_MS:.0f} ms" if name == "list" else "")
            + f": {'met' if met else 'NOT met'})"
        )
        print(
            f"{'':44} reference: {ref_label}; per-round ratios {', '.join(f'{x:.2f}' for x in ratios)}"
        )
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))
    print("\nall targets met" if ok else "\nsome targets NOT met")


if __name__ == "__main__":
    main()
