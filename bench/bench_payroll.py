"""Benchmark: one province-month payroll run (issue 5).

20,000 couriers (18,000 own staff, 2,000 outsourced) in Henan's 18 cities, and 30 million events
for September 2022 (25 M delivery scans, 5 M collection records), generated inside the database.
Measures ``run_payroll`` for ``cn.henan`` (two GROUP BYs, pricing every courier, writing every
payslip and line, run as a province user under tenant scope and, on PostgreSQL, row-level
security), next to the floor: one hand-written SQL ``GROUP BY`` that computes the same
per-courier delivery counts over the same table, run on the same machine in the same run.
Target: the run takes no more than 2x the floor.

It also reports the run's peak Python memory (tracemalloc). With ``--memory-check`` it repeats
the run on a fifth of the events with the same couriers: the peak must not grow with events.

    createdb -h 127.0.0.1 -U postgres bench_payroll
    .venv/bin/python bench/bench_payroll.py \\
        --db postgresql+psycopg://postgres@127.0.0.1:5432/bench_payroll [--memory-check] [--json]
    .venv/bin/python bench/bench_payroll.py --db sqlite:////tmp/bench_payroll.sqlite \\
        [--deliveries 25000000 --collections 5000000]
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import sqlalchemy as sa

CITIES = [
    "zhengzhou",
    "kaifeng",
    "luoyang",
    "pingdingshan",
    "anyang",
    "hebi",
    "xinxiang",
    "jiaozuo",
    "puyang",
    "xuchang",
    "luohe",
    "sanmenxia",
    "nanyang",
    "shangqiu",
    "xinyang",
    "zhoukou",
    "zhumadian",
    "jiyuan",
]
STATIONS_PER_CITY = 10
MONTH = 202209
FLOOR_SQL = (
    "SELECT courier_id, count(*) FROM payroll_delivery WHERE month = 202209 GROUP BY courier_id"
)


def make_app(db_url: str, fresh: bool = True) -> Any:
    import postalops_payroll.plugin as plugin
    from postalops.app import create_app
    from postalops.config import Settings
    from postalops.testing import create_schema, import_all_models

    instance = Path(tempfile.mkdtemp(prefix="bench-payroll-"))
    settings = Settings.from_env(instance_path=instance, database_url=db_url)
    app = create_app(settings, extra_plugins=(plugin,), entry_points=False)
    import_all_models(app)
    if fresh:
        create_schema(app.extensions["postalops.db"])
    return app


def build_roster(app: Any, couriers: int) -> None:
    """Org tree, one provincial rate card, contractors, terms and couriers, via the services."""
    from postalops import context
    from postalops.testing import build_tree, system_context
    from postalops_payroll.demo import demo_card
    from postalops_payroll.rate_card_store import publish_rate_card
    from postalops_payroll.roster import import_contract_terms, import_contractors, import_couriers

    tree = [("cn", None, "集团", "Group", "group"), ("cn.henan", "cn", "河南", "Henan", "province")]
    for city in CITIES:
        tree.append((f"cn.henan.{city}", "cn.henan", city, city, "city"))
        for n in range(STATIONS_PER_CITY):
            code = f"cn.henan.{city}.s{n:02d}"
            tree.append((code, f"cn.henan.{city}", code, code, "station"))
    build_tree(app, tree, enable_all=True)
    stations = [t[0] for t in tree if t[4] == "station"]
    outsourced = couriers // 10
    with context.activate(system_context(app)) as ctx:
        s = ctx.session
        publish_rate_card(s, "cn.henan", demo_card("2022-01-01"), "bench")
        import_contractors(
            s,
            [
                (i, {"code": f"WB{i:02d}", "name": f"wb{i}", "unit": f"cn.henan.{c}"})
                for i, c in enumerate(CITIES)
            ],
        )
        import_contract_terms(
            s,
            [
                (
                    i,
                    {
                        "code": f"WB{i:02d}-2022-09",
                        "contractor": f"WB{i:02d}",
                        "start": "2022-09-01",
                        "end": "2022-09-30",
                        "unit_price": "1.08",
                    },
                )
                for i in range(len(CITIES))
            ],
        )
        rows = []
        for i in range(couriers):
            station = stations[i % len(stations)]
            if i < outsourced:
                city = CITIES.index(station.split(".")[2])
                rows.append(
                    (
                        i,
                        {
                            "code": f"B{i:05d}",
                            "name": "x",
                            "kind": "outsourced",
                            "station": station,
                            "contractor": f"WB{city:02d}",
                        },
                    )
                )
            else:
                rows.append(
                    (
                        i,
                        {
                            "code": f"B{i:05d}",
                            "name": "x",
                            "kind": "own",
                            "station": station,
                            "grade": "A",
                            "base_pay": "1500.00",
                        },
                    )
                )
        import_couriers(s, rows)
        s.commit()


def load_events(app: Any, deliveries: int, collections: int) -> float:
    """Generate the month's events inside the database (not timed as part of the run).

    Events are spread evenly over couriers, days, categories and modes; the difficulty tier is
    the courier's route (a courier delivers one tier), so a courier has about 20 cells.
    """
    db = app.extensions["postalops.db"]
    started = time.perf_counter()
    with db.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM payroll_delivery"))
        conn.execute(sa.text("DELETE FROM payroll_collection"))
        if db.is_postgres:
            # Secondary indexes are not used by the run or the floor (both scan the month);
            # dropping them keeps the 30 M-row load short. The table itself is unchanged.
            for index in ("uq_payroll_delivery_key", "uq_payroll_collection_key"):
                table = index.replace("uq_", "").replace("_key", "")
                conn.exec_driver_sql(f'ALTER TABLE "{table}" DROP CONSTRAINT IF EXISTS {index}')
            for index in (
                "ix_payroll_delivery_month_courier",
                "ix_payroll_collection_month_courier",
                "ix_payroll_delivery_tenant_code",
                "ix_payroll_collection_tenant_code",
            ):
                conn.exec_driver_sql(f"DROP INDEX IF EXISTS {index}")
            conn.exec_driver_sql(
                "CREATE TEMP TABLE bench_c AS SELECT row_number() OVER (ORDER BY id) - 1 AS n, id, "
                "tenant_code FROM payroll_courier"
            )
            conn.exec_driver_sql(f"""
                INSERT INTO payroll_delivery
                  (tenant_code, waybill, courier_id, scanned_at, month, category, mode, tier, pickup_point)
                SELECT c.tenant_code, 'W' || g, c.id,
                       timestamptz '2022-09-01 00:00+08' + (g %% 2591999) * interval '1 second', {MONTH},
                       (ARRAY['letter','registered','parcel','express','gov_mail'])[1 + (g * 7) %% 5],
                       m.mode, (ARRAY['urban','suburban','rural','mountain'])[1 + c.n %% 4],
                       CASE WHEN m.mode = 'pickup_point' THEN 'pp' || (g %% 97) END
                FROM generate_series(1, {deliveries}) g
                JOIN bench_c c ON c.n = g %% (SELECT count(*) FROM bench_c)
                CROSS JOIN LATERAL (SELECT (ARRAY['door','door','door','pickup_point','locker',
                                                  'counter'])[1 + (g * 11) %% 6] AS mode) m""")
            conn.exec_driver_sql(f"""
                INSERT INTO payroll_collection
                  (tenant_code, waybill, courier_id, collected_at, month, category, postage)
                SELECT c.tenant_code, 'C' || g, c.id,
                       timestamptz '2022-09-01 00:00+08' + (g %% 2591999) * interval '1 second', {MONTH},
                       (ARRAY['parcel','express','registered'])[1 + (g * 7) %% 3], 6 + (g %% 900) / 100.0
                FROM generate_series(1, {collections}) g
                JOIN bench_c c ON c.n = g %% (SELECT count(*) FROM bench_c)""")
        else:
            conn.exec_driver_sql(
                "CREATE TEMP TABLE bench_c AS SELECT row_number() OVER (ORDER BY id) - 1 AS n, id, "
                "tenant_code FROM payroll_courier"
            )
            conn.exec_driver_sql("CREATE UNIQUE INDEX bench_c_n ON bench_c (n)")
            total = conn.exec_driver_sql("SELECT count(*) FROM bench_c").scalar_one()
            conn.exec_driver_sql(f"""
                WITH RECURSIVE g(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM g WHERE x < {deliveries})
                INSERT INTO payroll_delivery
                  (tenant_code, waybill, courier_id, scanned_at, month, category, mode, tier, pickup_point)
                SELECT c.tenant_code, 'W' || x, c.id,
                       datetime('2022-08-31 16:00:00', '+' || (x % 2591999) || ' seconds'), {MONTH},
                       CASE (x * 7) % 5 WHEN 0 THEN 'letter' WHEN 1 THEN 'registered'
                            WHEN 2 THEN 'parcel' WHEN 3 THEN 'express' ELSE 'gov_mail' END,
                       CASE (x * 11) % 6 WHEN 3 THEN 'pickup_point' WHEN 4 THEN 'locker'
                            WHEN 5 THEN 'counter' ELSE 'door' END,
                       CASE c.n % 4 WHEN 0 THEN 'urban' WHEN 1 THEN 'suburban'
                            WHEN 2 THEN 'rural' ELSE 'mountain' END,
                       CASE WHEN (x * 11) % 6 = 3 THEN 'pp' || (x % 97) END
                FROM g JOIN bench_c c ON c.n = x % {total}""")
            conn.exec_driver_sql(f"""
                WITH RECURSIVE g(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM g WHERE x < {collections})
                INSERT INTO payroll_collection
                  (tenant_code, waybill, courier_id, collected_at, month, category, postage)
                SELECT c.tenant_code, 'C' || x, c.id,
                       datetime('2022-08-31 16:00:00', '+' || (x % 2591999) || ' seconds'), {MONTH},
                       CASE (x * 7) % 3 WHEN 0 THEN 'parcel' WHEN 1 THEN 'express' ELSE 'registered' END,
                       printf('%.2f', 6 + (x % 900) / 100.0)
                FROM g JOIN bench_c c ON c.n = x % {total}""")
    settle(app)
    return time.perf_counter() - started


def settle(app: Any) -> None:
    """VACUUM ANALYZE (PostgreSQL) / ANALYZE (SQLite), so neither contender pays for hint bits."""
    db = app.extensions["postalops.db"]
    with db.engine.connect() as conn:
        if db.is_postgres:
            auto = conn.execution_options(isolation_level="AUTOCOMMIT")
            auto.exec_driver_sql("VACUUM ANALYZE payroll_delivery")
            auto.exec_driver_sql("VACUUM ANALYZE payroll_collection")
        else:
            conn.exec_driver_sql("ANALYZE")


def floor(app: Any) -> tuple[float, int]:
    """The hand-written GROUP BY: per-courier delivery counts for the month, all rows fetched."""
    db = app.extensions["postalops.db"]
    with db.engine.connect() as conn:
        started = time.perf_counter()
        rows = conn.exec_driver_sql(FLOOR_SQL).fetchall()
        return time.perf_counter() - started, len(rows)


def run(app: Any, memory: bool, owner: bool = False) -> tuple[float, Any, int]:
    """``run_payroll`` for cn.henan as a province user (tenant scope + RLS), committed.

    ``owner=True`` runs it with system scope on the owner connection (no row-level security),
    which separates the plugin's own cost from the core's RLS policy cost.
    """
    from postalops import context
    from postalops.context import CallContext, Principal
    from postalops.tenancy import Scope
    from postalops_payroll.payroll_run import run_payroll
    from postalops_payroll.period import Month

    db = app.extensions["postalops.db"]
    who = Principal(
        kind="user", name="user:bench", home_unit="cn.henan", permissions=frozenset({"*"})
    )
    scope = Scope.system_scope() if owner else Scope.unit("cn.henan")
    call = CallContext(db=db, scope=scope, principal=who, unit="cn.henan")
    if owner:
        call._session = db.session(scope, owner=True)
    if memory:
        tracemalloc.start()
    with context.activate(call) as ctx:
        started = time.perf_counter()
        result = run_payroll(ctx.session, "cn.henan", Month(2022, 9), "bench")
        ctx.session.commit()
        elapsed = time.perf_counter() - started
        summary = {
            "couriers": result.couriers,
            "own_items": result.own_items,
            "outsourced_items": result.outsourced_items,
            "payroll_total": str(result.payroll_total),
        }
    peak = 0
    if memory:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return elapsed, summary, peak


def stored(app: Any) -> tuple[int, int]:
    with app.extensions["postalops.db"].engine.connect() as conn:
        return (
            conn.exec_driver_sql("SELECT count(*) FROM payroll_delivery").scalar_one(),
            conn.exec_driver_sql("SELECT count(*) FROM payroll_collection").scalar_one(),
        )


def measure(
    app: Any, deliveries: int, collections: int, memory: bool, reuse: bool = False
) -> dict[str, Any]:
    if reuse and stored(app) == (deliveries, collections):
        load = 0.0  # the events of a previous run of this benchmark are still there
        settle(app)
    else:
        load = load_events(app, deliveries, collections)
    floor(app)  # warm the cache for both contenders alike
    floor_first, groups = floor(app)
    run_time, summary, _ = run(app, memory=False)
    floor_second, _ = floor(app)
    owner_time = None
    if app.extensions["postalops.db"].is_postgres:
        owner_time, _, _ = run(app, memory=False, owner=True)
    out: dict[str, Any] = {
        "deliveries": deliveries,
        "collections": collections,
        "load_seconds": round(load, 1),
        "floor_seconds": round(min(floor_first, floor_second), 2),
        "floor_runs": [round(floor_first, 2), round(floor_second, 2)],
        "floor_groups": groups,
        "run_seconds": round(run_time, 2),
        "run": summary,
    }
    out["ratio"] = round(run_time / out["floor_seconds"], 2)
    if owner_time is not None:
        out["run_owner_no_rls_seconds"] = round(owner_time, 2)
        out["ratio_owner_no_rls"] = round(owner_time / out["floor_seconds"], 2)
    if memory:
        again, _, peak = run(app, memory=True)  # re-run of the draft, traced
        out["traced_run_seconds"] = round(again, 2)
        out["run_peak_python_mib"] = round(peak / 2**20, 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--db", required=True, help="SQLAlchemy URL of a database used only by this benchmark"
    )
    parser.add_argument("--couriers", type=int, default=20_000)
    parser.add_argument("--deliveries", type=int, default=25_000_000)
    parser.add_argument("--collections", type=int, default=5_000_000)
    parser.add_argument(
        "--memory-check",
        action="store_true",
        help="also trace memory, at full size and at a fifth of the events",
    )
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep the schema, roster and events left by a previous run of the same size",
    )
    args = parser.parse_args()
    random.seed(7)
    app = make_app(args.db, fresh=not args.reuse)
    if not args.reuse:
        build_roster(app, args.couriers)
    backend = app.extensions["postalops.db"].engine.dialect.name
    results = {"backend": backend, "couriers": args.couriers}
    if args.memory_check:
        results["small"] = measure(app, args.deliveries // 5, args.collections // 5, memory=True)
    results["full"] = measure(
        app, args.deliveries, args.collections, memory=args.memory_check, reuse=args.reuse
    )
    if args.json:
        print(json.dumps(results, indent=1))
        return
    for label in ("small", "full"):
        if label not in results:
            continue
        r = results[label]
        print(
            f"{backend} {label}: {r['deliveries']:,} deliveries + {r['collections']:,} collections, "
            f"{args.couriers:,} couriers (load {r['load_seconds']} s)"
        )
        print(
            f"  floor  (hand-written GROUP BY, {r['floor_groups']:,} groups): {r['floor_seconds']} s "
            f"{r['floor_runs']}"
        )
        print(
            f"  payroll run (scoped, priced, written): {r['run_seconds']} s  = {r['ratio']}x floor "
            f"(target <= 2x)  {r['run']}"
        )
        if "run_owner_no_rls_seconds" in r:
            print(
                f"  same run, system scope on the owner connection (no RLS): "
                f"{r['run_owner_no_rls_seconds']} s = {r['ratio_owner_no_rls']}x floor"
            )
        if "run_peak_python_mib" in r:
            print(
                f"  run peak Python memory: {r['run_peak_python_mib']} MiB "
                f"(traced re-run {r['traced_run_seconds']} s)"
            )


if __name__ == "__main__":
    main()
