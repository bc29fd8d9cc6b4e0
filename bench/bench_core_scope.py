"""Cost of central tenant scoping (core): listing one city's rows through the scoped ORM session,
next to the same rows fetched by raw SQL with an explicit WHERE, on the same data in the same run.

    .venv/bin/python bench/bench_core_scope.py [--rows 20000] [--repeat 20] [--json]

Uses POSTALOPS_DATABASE_URL when set (PostgreSQL: the raw SQL runs as the table owner, so it
shows the cost of the ORM criteria plus row-level security against neither), else a temporary
SQLite file.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time

import sqlalchemy as sa
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

    orm_s, n1 = timed(orm, args.repeat)
    explicit_s, n3 = timed(orm_explicit, args.repeat)
    raw_s, n2 = timed(raw, args.repeat)
    assert n1 == n2 == n3 == args.rows
    result = {
        "backend": db.engine.dialect.name,
        "rows_returned": n1,
        "total_rows": len(rows),
        "orm_scoped_ms": round(orm_s * 1000, 2),
        "orm_explicit_where_ms": round(explicit_s * 1000, 2),
        "raw_sql_ms": round(raw_s * 1000, 2),
        "scoping_overhead": round(orm_s / explicit_s - 1, 3),
    }
    with db.engine.begin() as conn:
        table.drop(conn)
    db.dispose()
    SQLModel.metadata  # noqa: B018 - the model's metadata stays registered for other users
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"{result['backend']}: list {n1} of {len(rows)} rows: scoped ORM "
            f"{result['orm_scoped_ms']} ms, ORM with hand-written WHERE "
            f"{result['orm_explicit_where_ms']} ms (scoping overhead "
            f"{result['scoping_overhead']:+.1%}), raw SQL {result['raw_sql_ms']} ms"
        )


if __name__ == "__main__":
    main()
