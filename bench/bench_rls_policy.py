"""Benchmark: the cost of the core's row-level-security policy on a large scan (PostgreSQL).

Builds a table of ``--rows`` tenant rows (18 cities x 10 stations of one province), puts the
core's ``tenant_scope`` policy on it (``postalops.db.RLS_POLICY``, the policy ``postalops db
upgrade`` installs), and times one ``GROUP BY`` over it:

* as the superuser that owns it, to which no policy applies (the reference);
* as the runtime role with a province scope, under the core's policy;
* the same, with one of the 18 cities cut out for a plugin that is off there
  (``Scope.for_plugin``: ``postalops.off`` / ``postalops.off_like``), the scope a province-wide
  job of that plugin runs in;
* the same, under a policy that calls ``postalops_in_scope(tenant_code)`` per row (the form
  the core used before; kept as the function for ad-hoc SQL).

Best of three runs each, warm cache.

    .venv/bin/python bench/bench_rls_policy.py \\
        [--db postgresql://postgres@127.0.0.1:5432/bench_rls] [--rows 25000000]

The database named in ``--db`` is dropped and recreated.
"""

from __future__ import annotations

import argparse
import time

import psycopg
import sqlalchemy as sa
from postalops.db import RLS_POLICY, ensure_row_level_security
from postalops.tenancy import Scope

QUERY = "SELECT courier_id, count(*) FROM rls_bench WHERE month = 202209 GROUP BY courier_id"


def best(conn: psycopg.Connection, setup: list[str], runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        with conn.transaction():
            for statement in setup:
                conn.execute(statement)
            started = time.perf_counter()
            conn.execute(QUERY).fetchall()
            times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", default="postgresql://postgres@127.0.0.1:5432/bench_rls")
    parser.add_argument("--rows", type=int, default=25_000_000)
    args = parser.parse_args()
    admin, name = args.db.rsplit("/", 1)
    with psycopg.connect(admin + "/postgres", autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        c.execute(f'CREATE DATABASE "{name}"')
    engine = sa.create_engine(args.db.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE rls_bench (tenant_code varchar(200), courier_id int, month int)"
        )
        conn.exec_driver_sql(
            "INSERT INTO rls_bench SELECT 'cn.henan.c' || (g %% 18) || '.s' || (g %% 10), "
            f"g %% 20000, 202209 FROM generate_series(1, {args.rows}) g"
        )
        ensure_row_level_security(conn, "postalops_runtime")
    engine.dispose()
    with psycopg.connect(args.db, autocommit=True) as c:
        c.execute("VACUUM ANALYZE rls_bench")
    as_province = [
        "SET LOCAL ROLE postalops_runtime",
        "SELECT set_config('postalops.scope', 'cn.henan', true)",
    ]
    cut = Scope.unit("cn.henan").for_plugin("bench", off=("cn.henan.c3",))
    as_province_cut = [
        *as_province,
        f"SELECT set_config('postalops.off', '{cut.pg_off}', true)",
        f"SELECT set_config('postalops.off_like', '{cut.pg_off_like}', true)",
    ]
    with psycopg.connect(args.db) as conn:
        owner = best(conn, [])  # the benchmark connects as a superuser: no policy applies
        policy = best(conn, as_province)
        policy_cut = best(conn, as_province_cut)
        policy = min(policy, best(conn, as_province))  # again after the cut: alternating
        conn.execute("DROP POLICY tenant_scope ON rls_bench")
        conn.execute(
            "CREATE POLICY tenant_scope ON rls_bench USING (postalops_in_scope(tenant_code))"
        )
        conn.commit()
        per_row = best(conn, as_province)
        conn.execute("DROP POLICY tenant_scope ON rls_bench")
        conn.execute(f"CREATE POLICY tenant_scope ON rls_bench USING ({RLS_POLICY})")
        conn.commit()
    print(f"{args.rows:,} rows, GROUP BY courier_id, best of 3")
    print(f"  owner, no policy (reference):            {owner:.2f} s")
    print(f"  province scope, core policy:             {policy:.2f} s = {policy / owner:.2f}x")
    print(
        f"  the same, one city cut out for a plugin: {policy_cut:.2f} s = {policy_cut / owner:.2f}x"
    )
    print(f"  province scope, per-row function policy: {per_row:.2f} s = {per_row / owner:.2f}x")


if __name__ == "__main__":
    main()
