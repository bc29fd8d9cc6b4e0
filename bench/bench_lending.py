"""Benchmark: the lending nightly close of business for 100,000 active loans (issue 9).

100,000 active loans (1,200,000 instalment lines, one loan in twenty in arrears) spread over
100 branches of Ili, generated inside PostgreSQL. Measures the tracked job
``lending.close_of_business`` for ``cn.xinjiang.ili`` end to end (submitted in a unit scope,
run by an in-process worker under tenant scope and row-level security: days past due, the
five-category classification and the portfolio snapshot, committed), next to the floor: one
hand-written SQL pass over the same tables in the same run (per-loan oldest unpaid due date,
days past due and category, all rows fetched, as the table owner). A second run of the job
checks idempotency (same snapshot). Target: the job under 60 s.

    createdb -h 127.0.0.1 -U postgres bench_lending
    .venv/bin/python bench/bench_lending.py \\
        --db postgresql+psycopg://postgres@127.0.0.1:5432/bench_lending [--loans 100000] [--json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

AS_OF = "2026-06-30"
UNIT = "cn.xinjiang.ili"
TARGET_S = 60.0


def make_app(db_url: str) -> Any:
    import postalops_lending.plugin as plugin
    from postalops.app import create_app
    from postalops.config import Settings
    from postalops.testing import create_schema, import_all_models

    instance = Path(tempfile.mkdtemp(prefix="bench-lending-"))
    settings = Settings.from_env(instance_path=instance, database_url=db_url)
    app = create_app(settings, extra_plugins=(plugin,), entry_points=False)
    import_all_models(app)
    create_schema(app.extensions["postalops.db"])
    return app


def load(app: Any, loans: int) -> float:
    """Org units, one product, 1,000 borrowers, ``loans`` loans and 12 lines each, in SQL."""
    db = app.extensions["postalops.db"]
    started = time.perf_counter()
    with db.engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO core_org_unit (code, parent_code, name_zh, name_en, level, depth) VALUES "
            "('cn', NULL, '集团', 'Group', 'group', 0), "
            "('cn.xinjiang', 'cn', '新疆', 'Xinjiang', 'province', 1), "
            "('cn.xinjiang.ili', 'cn.xinjiang', '伊犁', 'Ili', 'city', 2)"
        )
        conn.exec_driver_sql(
            "INSERT INTO core_org_unit (code, parent_code, name_zh, name_en, level, depth) "
            "SELECT 'cn.xinjiang.ili.b' || g, 'cn.xinjiang.ili', '支行' || g, 'Branch ' || g, "
            "'branch', 3 FROM generate_series(0, 99) g"
        )
        conn.exec_driver_sql(
            "INSERT INTO core_plugin_enablement (unit_code, plugin_key, enabled, changed_by, "
            "changed_at) VALUES ('cn', 'lending', true, 'bench', now())"
        )
        conn.exec_driver_sql(
            "INSERT INTO lending_product (tenant_code, code, name_zh, name_en, mode, annual_rate,"
            " term_months, day_count, method, allow_prepayment, policy, active) VALUES "
            "('cn.xinjiang.ili', 'BENCH', '基准', 'Bench', 'tax', 0.0435, 12, 'ACT/360', "
            "'interest_only_bullet', false, '{}', true)"
        )
        conn.exec_driver_sql(
            "INSERT INTO lending_borrower (tenant_code, name, credit_code, legal_rep_name, "
            "legal_rep_id_number, industry, established_on, customer_manager, phone, operating,"
            " created_at) SELECT 'cn.xinjiang.ili.b' || mod(g, 100), 'B' || g, "
            "lpad(g::text, 18, '0'), 'R', '650100198001011231', '商贸', DATE '2015-01-01', 'cm',"
            " '', true, now() FROM generate_series(1, 1000) g"
        )
        # loans disbursed over 2025-07-01 .. 2025-07-28; principal at maturity (12 months)
        conn.exec_driver_sql(
            "INSERT INTO lending_loan (tenant_code, loan_no, borrower_id, product_id, origin, "
            "principal, annual_rate, term_months, day_count, method, allow_prepayment, "
            "disbursed_on, disbursed_at, maturity_date, anchor_day, status, schedule_version, "
            "outstanding_principal, days_past_due, category) "
            "SELECT 'cn.xinjiang.ili.b' || mod(g, 100), 'BENCH' || g, 1 + mod(g, 1000), 1, "
            "'application', 100000.00, 0.0435, 12, 'ACT/360', 'interest_only_bullet', false, "
            "DATE '2025-07-01' + mod(g, 28), now(), DATE '2026-07-01' + mod(g, 28), 1 + mod(g, 28), "
            "'active', 1, 100000.00, 0, 'normal' "
            f"FROM generate_series(1, {loans}) g"
        )
        # twelve monthly lines; lines due before the close-of-business date are paid, except
        # that one loan in twenty stopped paying after its third instalment (doubtful by now)
        # and another one in twenty missed only its latest instalment (special mention)
        conn.exec_driver_sql(
            "INSERT INTO lending_instalment (tenant_code, loan_id, version, active, number, "
            "period_start, due_date, days, opening_principal, principal, interest, "
            "principal_paid, interest_paid, paid_off) "
            "SELECT l.tenant_code, l.id, 1, true, k, "
            "(l.disbursed_on + make_interval(months => k - 1))::date, "
            "(l.disbursed_on + make_interval(months => k))::date, 30, 100000.00, "
            "CASE WHEN k = 12 THEN 100000.00 ELSE 0 END, 362.50, 0, "
            "CASE WHEN paid THEN 362.50 ELSE 0 END, paid "
            "FROM lending_loan l CROSS JOIN generate_series(1, 12) k "
            "CROSS JOIN LATERAL (SELECT (l.disbursed_on + make_interval(months => k))::date "
            f"< DATE '{AS_OF}' AND NOT (mod(l.id, 20) = 0 AND k > 3) "
            "AND NOT (mod(l.id, 20) = 1 AND k = 11) AS paid) p"
        )
        conn.exec_driver_sql("ANALYZE lending_loan")
        conn.exec_driver_sql("ANALYZE lending_instalment")
    return time.perf_counter() - started


FLOOR_SQL = f"""
SELECT l.id, COALESCE(DATE '{AS_OF}' - o.oldest, 0) AS dpd,
       CASE WHEN DATE '{AS_OF}' - o.oldest >= 361 THEN 'loss'
            WHEN DATE '{AS_OF}' - o.oldest >= 181 THEN 'doubtful'
            WHEN DATE '{AS_OF}' - o.oldest >= 91 THEN 'substandard'
            WHEN DATE '{AS_OF}' - o.oldest >= 1 THEN 'special_mention'
            ELSE 'normal' END AS category
FROM lending_loan l
LEFT JOIN (SELECT loan_id, MIN(due_date) AS oldest FROM lending_instalment
           WHERE active AND NOT paid_off AND due_date < DATE '{AS_OF}' GROUP BY loan_id) o
  ON o.loan_id = l.id
WHERE l.status = 'active'
"""


def floor(app: Any) -> tuple[float, dict[str, int]]:
    """The plain SQL pass: every active loan's days past due and category, fetched."""
    db = app.extensions["postalops.db"]
    with db.engine.connect() as conn:
        started = time.perf_counter()
        rows = conn.exec_driver_sql(FLOOR_SQL).fetchall()
        elapsed = time.perf_counter() - started
    counts: dict[str, int] = {}
    for _, _, category in rows:
        counts[category] = counts.get(category, 0) + 1
    return elapsed, counts


def run_job(app: Any) -> tuple[float, dict[str, Any]]:
    """Submit the tracked job as an Ili user and wait until a worker has finished it."""
    from postalops import context
    from postalops.context import CallContext, Principal
    from postalops.jobs import wait_for
    from postalops.tenancy import Scope

    db = app.extensions["postalops.db"]
    jobs = app.extensions["postalops.jobs"]
    who = Principal(kind="user", name="user:bench", home_unit=UNIT, permissions=frozenset({"*"}))
    call = CallContext(db=db, scope=Scope.unit(UNIT), principal=who, unit=UNIT)
    with app.app_context(), context.activate(call):
        started = time.perf_counter()
        job = jobs.submit("lending.close_of_business", {"as_of": AS_OF})
        done = wait_for(db, job.id, timeout=600)
        elapsed = time.perf_counter() - started
    if done.status != "succeeded":
        raise SystemExit(f"job {done.id} {done.status}: {done.error}")
    return elapsed, done.result


def snapshot(app: Any) -> list[tuple[Any, ...]]:
    db = app.extensions["postalops.db"]
    with db.engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                sa.text(
                    "SELECT tenant_code, as_of, category, loans, outstanding "
                    "FROM lending_portfolio_snapshot ORDER BY 1, 2, 3"
                )
            ).all()
        ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True, help="PostgreSQL URL (a database of its own)")
    parser.add_argument("--loans", type=int, default=100_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not args.db.startswith("postgresql"):
        raise SystemExit(
            "this benchmark generates its data in PostgreSQL: pass --db postgresql+..."
        )

    app = make_app(args.db)
    load_s = load(app, args.loans)
    jobs = app.extensions["postalops.jobs"]
    jobs.start_workers(1)
    try:
        floor_s, floor_counts = floor(app)
        job_s, result = run_job(app)
        first = snapshot(app)
        job2_s, _ = run_job(app)
        again = snapshot(app)
    finally:
        jobs.stop_workers()
        app.extensions["postalops.db"].dispose()

    job_counts = {k: int(v) for k, v in result["categories"].items()}
    report = {
        "loans": args.loans,
        "instalments": args.loans * 12,
        "load_s": round(load_s, 2),
        "job_s": round(job_s, 2),
        "job_second_run_s": round(job2_s, 2),
        "plain_sql_s": round(floor_s, 2),
        "ratio_job_to_plain_sql": round(job_s / floor_s, 2) if floor_s else None,
        "target_s": TARGET_S,
        "within_target": job_s < TARGET_S,
        "categories_job": job_counts,
        "categories_plain_sql": floor_counts,
        "same_categories": job_counts == floor_counts,
        "idempotent": first == again,
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(
        f"lending close of business, {args.loans:,} active loans "
        f"({args.loans * 12:,} instalment lines), PostgreSQL"
    )
    print(f"  data load (SQL, not measured)      {load_s:8.2f} s")
    print(f"  tracked job (scope + RLS, commit)  {job_s:8.2f} s   target < {TARGET_S:.0f} s")
    print(f"  second run (idempotent: {first == again})   {job2_s:8.2f} s")
    print(
        f"  plain SQL pass (reference)         {floor_s:8.2f} s   ratio {report['ratio_job_to_plain_sql']}x"
    )
    print(f"  categories job       {job_counts}")
    print(f"  categories plain SQL {floor_counts}  same: {job_counts == floor_counts}")


if __name__ == "__main__":
    main()
