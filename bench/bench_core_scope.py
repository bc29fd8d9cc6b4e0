"""Cost of central tenant scoping (core): listing one city's rows through the scoped ORM session,
next to the same rows fetched by raw SQL with an explicit WHERE, on the same data in the same run.

    .venv/bin/python bench/bench_core_scope.py [--rows 20000] [--repeat 20] [--rounds 3] [--json]

Uses POSTALOPS_DATABASE_URL when set (PostgreSQL: the raw SQL runs as the table owner, so it
shows the cost of the ORM criteria plus row-level security against neither), else a temporary
SQLite file.

Also the same city's rows reached from its province by a plugin that is off in the province's
other city (``Scope.for_plugin``: the ORM's ``NOT (...)`` criterion and, on PostgreSQL, the
policy's regular expression on every row), next to the city scope returning the same rows.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time

import sqlalchemy as sa
from benchkit import alternate, best
from postalops.builtin.probe import JobProbe
from postalops.db import Database, ensure_row_level_security
from postalops.tenancy import Scope
from sqlmodel import SQLModel, select

UNITS = ["cn.henan.zhengzhou", "cn.henan.kaifeng", "cn.hebei.shijiazhuang"]


def timed(fn, repeat: int) -> tuple[float, int]:
    times, n = [], 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        n = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=20000, help="rows per unit")
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp()
    url = os.environ.get("POSTALOPS_DATABASE_URL") or f"sqlite:///{tmp}/bench.sqlite"
    db = Database(url, runtime_role="postalops_runtime")
    table = JobProbe.__table__
    with db.engine.begin() as conn:
        table.drop(conn, checkfirst=True)
        table.create(conn)
        ensure_row_level_security(conn, db.runtime_role)
    rows = [
        {"job_id": f"bench-{u}", "step": i, "tenant_code": u}
        for u in UNITS
        for i in range(args.rows)
    ]
    with db.session(Scope.system_scope()) as s:
        s.execute(sa.insert(JobProbe), rows)
        s.commit()
    city = "cn.henan.zhengzhou"

    def orm() -> int:
        with db.session(Scope.unit(city)) as s:
            return len(s.exec(select(JobProbe)).all())

    def orm_explicit() -> int:
        with db.session(Scope.system_scope()) as s:
            return len(
                s.exec(
                    select(JobProbe).where(
                        sa.or_(JobProbe.tenant_code == city, JobProbe.tenant_code.like(city + ".%"))
                    )
                ).all()
            )

    def raw() -> int:
        with db.engine.connect() as conn:
            return len(
                conn.execute(
                    sa.text(
                        "SELECT id, job_id, step, tenant_code FROM core_job_probe "
                        "WHERE tenant_code = :c OR tenant_code LIKE :p"
                    ),
                    {"c": city, "p": city + ".%"},
                ).all()
            )

    cut = Scope.unit("cn.henan").for_plugin("bench", off=("cn.henan.kaifeng",))

    def orm_cut() -> int:
        with db.session(cut) as s:
            return len(s.exec(select(JobProbe)).all())

    def raw_as(scope: Scope) -> int:
        # raw SQL in a scoped session: on PostgreSQL as the runtime role, under the policy alone
        with db.session(scope) as s:
            q = "SELECT id, job_id, step, tenant_code FROM core_job_probe"
            return len(s.execute(sa.text(q)).all())

    figures = {
        "orm_scoped": orm,
        "orm_explicit_where": orm_explicit,
        "raw_sql": raw,
        "orm_province_cut": orm_cut,
    }
    if db.is_postgres:
        figures["raw_runtime_role_city"] = lambda: raw_as(Scope.unit(city))
        figures["raw_runtime_role_province_cut"] = lambda: raw_as(cut)

    def run(name: str, _round: int) -> dict:
        seconds, n = timed(figures[name], args.repeat)
        assert n == args.rows, (name, n)
        return {"s": seconds}

    # the figures alternate round by round (bench/benchkit.py); each is the best of the rounds
    rounds = alternate(args.rounds, list(figures), run)
    ms = {name: best(rounds[name], "s") * 1000 for name in figures}
    result = {
        "backend": db.engine.dialect.name,
        "rows_returned": args.rows,
        "total_rows": len(rows),
        "rounds": args.rounds,
        "orm_scoped_ms": round(ms["orm_scoped"], 2),
        "orm_explicit_where_ms": round(ms["orm_explicit_where"], 2),
        "raw_sql_ms": round(ms["raw_sql"], 2),
        "scoping_overhead": round(ms["orm_scoped"] / ms["orm_explicit_where"] - 1, 3),
        "orm_province_cut_ms": round(ms["orm_province_cut"], 2),
        "cut_overhead_vs_city": round(ms["orm_province_cut"] / ms["orm_scoped"] - 1, 3),
    }
    if db.is_postgres:
        city_ms, cut_ms = ms["raw_runtime_role_city"], ms["raw_runtime_role_province_cut"]
        result["raw_runtime_role_city_ms"] = round(city_ms, 2)
        result["raw_runtime_role_province_cut_ms"] = round(cut_ms, 2)
        result["policy_cut_overhead_vs_city"] = round(cut_ms / city_ms - 1, 3)
    with db.engine.begin() as conn:
        table.drop(conn)
    db.dispose()
    SQLModel.metadata  # noqa: B018 - the model's metadata stays registered for other users
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"{result['backend']}: list {args.rows} of {len(rows)} rows: scoped ORM "
            f"{result['orm_scoped_ms']} ms, ORM with hand-written WHERE "
            f"{result['orm_explicit_where_ms']} ms (scoping overhead "
            f"{result['scoping_overhead']:+.1%}), raw SQL {result['raw_sql_ms']} ms"
        )
        print(
            f"  the same rows from the province, its other city cut out for a plugin: "
            f"{result['orm_province_cut_ms']} ms ({result['cut_overhead_vs_city']:+.1%} on the "
            f"city scope)"
        )
        if db.is_postgres:
            print(
                f"  raw SQL as the runtime role (the policy alone): city scope "
                f"{result['raw_runtime_role_city_ms']} ms, province with the cut "
                f"{result['raw_runtime_role_province_cut_ms']} ms "
                f"({result['policy_cut_overhead_vs_city']:+.1%})"
            )


if __name__ == "__main__":
    main()
