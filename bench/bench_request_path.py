"""Benchmark: the fixed cost of a request, and whether it grows with the plugins installed
(issue 17 §1).

Each measurement is an in-process request through Flask's test client (no network, so the
figure is the request path itself: token lookup, scope, enablement and permission checks, the
query, serialisation), the median over ``--requests`` requests:

- ``GET /api/v1/outcall/cases?limit=50`` with a city token (50 rows of the 500 in the city),
  next to a bare Flask app answering the same 50 rows as JSON with SQLAlchemy Core on the same
  database file (the floor);
- ``GET /healthz`` next to a bare Flask JSON hello.

The app has the six plugins installed. ``--synthetic 30`` maps 30 extra tenant models (as 30
more plugins' tables would) before the app starts. The parent process runs a child with and a
child without them, alternating for ``--rounds`` rounds (bench/benchkit.py), and reports how
much the per-request time differs (target: within 5 %). Each figure is the best of the rounds,
since load on a shared machine only ever adds time.

``--cut`` also measures the list, in the same child and alternating with the plain list, with
outcall switched off at a station of Guangzhou, so the city token's list runs in a scope
narrowed for the plugin (``Scope.for_plugin``: one more ``NOT (...)`` criterion on each
statement), and reports its cost against the plain list.

    .venv/bin/python bench/bench_request_path.py [--rounds 3] [--requests 300] [--cut]
        [--clock wall|cpu] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchkit import alternate, best, run_child  # noqa: E402

GZ = "cn.guangdong.guangzhou"
CUT_STATION = GZ + ".tianhe"
# Wall time by default; ``--clock cpu`` times the requests by this thread's CPU time (the test
# client, the app and SQLite all run in it), which other processes on a loaded machine barely
# move, at the price of leaving out waits (none here but the SQLite file's page cache).
CLOCK = time.perf_counter
COLUMNS = (
    "id",
    "case_no",
    "department",
    "service_item",
    "applicant_type",
    "status",
    "attempts",
    "approved_at",
)


def synthetic_models(n: int) -> list[type]:
    """``n`` extra tenant tables, as other plugins would map them."""
    from postalops.models import TenantScoped
    from sqlmodel import Field

    out = []
    for i in range(n):
        ns = {
            "__tablename__": f"bench_synthetic_{i}",
            "__annotations__": {"id": int | None, "label": str},
            "id": Field(default=None, primary_key=True),
            "label": Field(default="", max_length=40),
        }
        out.append(type(f"BenchSynthetic{i}", (TenantScoped,), ns, table=True))
    return out


def median_ms(client: Any, url: str, headers: dict[str, str], n: int) -> float:
    for _ in range(20):  # warm caches and the connection pool
        assert client.get(url, headers=headers).status_code == 200
    times = []
    for _ in range(n):
        t0 = CLOCK()
        resp = client.get(url, headers=headers)
        times.append(CLOCK() - t0)
        assert resp.status_code == 200, resp.get_data(as_text=True)[:200]
    return statistics.median(times) * 1000


def bare_app(db_url: str) -> Any:
    """The reference: Flask + SQLAlchemy Core, the same rows, no PostalOps."""
    import sqlalchemy as sa
    from flask import Flask, jsonify

    engine = sa.create_engine(db_url)
    case = sa.Table("outcall_case", sa.MetaData(), autoload_with=engine)
    app = Flask("bare")

    @app.get("/hello")
    def hello() -> Any:
        return jsonify(status="ok")

    @app.get("/cases")
    def cases() -> Any:
        stmt = (
            sa.select(*(case.c[c] for c in COLUMNS))
            .where(case.c.tenant_code == GZ)
            .order_by(case.c.approved_at.desc(), case.c.id.desc())
            .limit(50)
        )
        with engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(stmt)]
        for r in rows:
            r["approved_at"] = r["approved_at"].isoformat()
        return jsonify(items=rows)

    return app


def measure(synthetic: int, requests: int, cut: bool = False) -> dict[str, Any]:
    """One child's figures; with ``cut``, outcall is off at a station of Guangzhou."""
    extra = synthetic_models(synthetic)
    sys.path.insert(0, str(Path(__file__).parent))
    from bench_outcall import rows
    from postalops.app import create_app
    from postalops.auth import create_token
    from postalops.config import Settings
    from postalops.db import _tenant_classes
    from postalops.tenancy import Scope
    from postalops.testing import build_tree, create_schema, import_all_models
    from postalops_outcall.testing import EXTRA_UNITS

    instance = Path(tempfile.mkdtemp(prefix="bench-request-"))
    settings = Settings.from_env(
        instance_path=instance, database_url=f"sqlite:///{instance / 'bench.sqlite'}"
    )
    app = create_app(settings)  # the six plugins, from their entry points
    import_all_models(app)
    db = app.extensions["postalops.db"]
    create_schema(db)
    station = (CUT_STATION, GZ, "天河", "Tianhe", "station")
    build_tree(app, tree=[("cn", None, "集团", "Group", "group"), *EXTRA_UNITS, station])
    from postalops.models import PluginEnablement
    from sqlmodel import select

    def switch_station(on: bool) -> None:
        """outcall on (a redundant row: no cut) or off (a cut) at the station below the city"""
        with db.transaction(Scope.system_scope()) as s:
            row = s.exec(
                select(PluginEnablement).where(PluginEnablement.unit_code == CUT_STATION)
            ).first() or PluginEnablement(unit_code=CUT_STATION, plugin_key="outcall", enabled=on)
            row.enabled = on
            s.add(row)

    switch_station(True)
    if extra:
        from sqlmodel import SQLModel

        with db.engine.begin() as conn:
            SQLModel.metadata.create_all(conn, tables=[m.__table__ for m in extra])
    from postalops_outcall import demo_plan, service

    with db.transaction(Scope.unit(GZ)) as s:
        service.save_catalogue_entries(s, GZ, demo_plan.GUANGZHOU_CATALOGUE, actor="bench")
    with db.transaction(Scope.system_scope()) as s:
        registry = app.extensions["postalops.plugins"]
        _, intake = create_token(
            s,
            registry,
            name="platform",
            unit_code=GZ,
            permissions=["outcall.intake"],
            created_by="bench",
        )
        _, viewer = create_token(
            s,
            registry,
            name="viewer",
            unit_code=GZ,
            permissions=["outcall.view"],
            created_by="bench",
        )
    client = app.test_client()
    resp = client.post(
        "/api/v1/outcall/cases", json=rows(500), headers={"Authorization": f"Bearer {intake}"}
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    auth = {"Authorization": f"Bearer {viewer}"}
    bare = bare_app(str(db.engine.url)).test_client()
    out = {
        "synthetic": synthetic,
        "tenant_classes": len(_tenant_classes()),
        "plugins": sorted(app.extensions["postalops.plugins"].plugins),
    }
    figures = [
        ("list_ms", client, "/api/v1/outcall/cases?limit=50", auth),
        ("bare_list_ms", bare, "/cases", {}),
        ("healthz_ms", client, "/healthz", {}),
        ("bare_hello_ms", bare, "/hello", {}),
    ]
    if cut:
        figures.insert(1, ("list_cut_ms", client, "/api/v1/outcall/cases?limit=50", auth))
        switch_station(False)
        registry = app.extensions["postalops.plugins"]
        if hasattr(registry, "plugin_scope_at"):  # (a core before the cut measures no cut)
            narrowed = registry.plugin_scope_at(db, Scope.unit(GZ), "outcall")
            assert narrowed.off == (CUT_STATION,), narrowed
    for _ in range(2):  # alternate ours and the reference
        for key, c, url, h in figures:
            switch_station(key != "list_cut_ms")
            out.setdefault(key, []).append(median_ms(c, url, h, requests))
    assert len(client.get("/api/v1/outcall/cases?limit=50", headers=auth).json["items"]) == 50
    return {k: (min(v) if isinstance(v, list) and k.endswith("_ms") else v) for k, v in out.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--synthetic", type=int, default=30)
    ap.add_argument("--cut", action="store_true", help="also measure a plugin-narrowed scope")
    ap.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--child-cut", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if args.clock == "cpu":
        global CLOCK
        CLOCK = time.thread_time
    if args.child is not None:
        print(json.dumps(measure(args.child, args.requests, args.child_cut)))
        return
    # (name, synthetic models): the children the rounds alternate
    children = [("base", 0), ("synthetic", args.synthetic)]

    def child(spec: tuple[str, int], _round: int) -> dict[str, Any]:
        extra = ("--clock", args.clock, *(("--child-cut",) if args.cut else ()))
        return run_child(
            __file__, "--child", str(spec[1]), "--requests", str(args.requests), *extra
        )

    runs = alternate(args.rounds, children, child, lambda spec: spec[0])

    def med(name: str, key: str) -> float:
        # best of the rounds: the two cores are often shared, and load only ever adds time
        return best(runs[name], key)

    base, more = "base", "synthetic"
    n = {"base": "0", "synthetic": str(args.synthetic)}
    result = {
        "clock": args.clock,
        "rounds": args.rounds,
        "requests_per_figure": args.requests,
        "tenant_classes": {n[c]: runs[c][0]["tenant_classes"] for c in n},
        "list_ms": {n[c]: round(med(c, "list_ms"), 2) for c in n},
        "bare_list_ms": {n[c]: round(med(c, "bare_list_ms"), 2) for c in n},
        "healthz_ms": {n[c]: round(med(c, "healthz_ms"), 3) for c in n},
        "bare_hello_ms": {n[c]: round(med(c, "bare_hello_ms"), 3) for c in n},
    }
    result["list_vs_bare"] = round(med(base, "bare_list_ms") / med(base, "list_ms"), 2)
    result["healthz_vs_hello"] = round(med(base, "bare_hello_ms") / med(base, "healthz_ms"), 2)
    result["list_growth_with_synthetic_pct"] = round(
        100 * (med(more, "list_ms") / med(base, "list_ms") - 1), 1
    )
    if args.cut:
        result["list_with_cut_ms"] = round(med(base, "list_cut_ms"), 2)
        result["list_growth_with_cut_pct"] = round(
            100 * (med(base, "list_cut_ms") / med(base, "list_ms") - 1), 1
        )
    if args.json:
        print(json.dumps(result, indent=2))
        return
    tc = result["tenant_classes"]
    b, m = n[base], n[more]
    print(f"tenant classes mapped: {tc[b]} (six plugins), {tc[m]} (+{m})")
    print(
        f"GET /api/v1/outcall/cases?limit=50: {result['list_ms'][b]} ms "
        f"(+{m} models: {result['list_ms'][m]} ms, "
        f"{result['list_growth_with_synthetic_pct']:+.1f} %); bare Flask + Core "
        f"{result['bare_list_ms'][b]} ms -> {result['list_vs_bare']:.2f} of bare speed"
    )
    if args.cut:
        print(
            f"  with outcall off at a station below the city (scope cut): "
            f"{result['list_with_cut_ms']} ms ({result['list_growth_with_cut_pct']:+.1f} %)"
        )
    print(
        f"GET /healthz: {result['healthz_ms'][b]} ms; bare hello "
        f"{result['bare_hello_ms'][b]} ms -> {result['healthz_vs_hello']:.2f} of bare speed"
    )


if __name__ == "__main__":
    main()
