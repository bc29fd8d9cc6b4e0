"""Tracked jobs: incremental refresh, full recompute, and large order imports."""

from __future__ import annotations

from postalops.jobs import JobContext, job

from . import rollup
from .ingest import ingest_orders
from .order_rows import parse_batch, parse_order


@job(
    "ecommerce.refresh",
    label_zh="刷新电商节排行",
    label_en="Refresh festival leaderboard",
    result_url="/p/ecommerce/",
)
def refresh(ctx: JobContext) -> dict:
    """Fold pending order/refund deltas of the job's unit into the rollup (incremental)."""
    ctx.progress(0, 1, "refreshing")
    result = rollup.refresh(ctx.session, ctx.tenant)
    ctx.session.commit()
    ctx.progress(1, 1, f"{result['deltas']} changes applied")
    return result


@job(
    "ecommerce.recompute",
    label_zh="重算电商节排行",
    label_en="Recompute festival leaderboard",
    result_url="/p/ecommerce/",
)
def recompute(ctx: JobContext) -> dict:
    """Rebuild the rollup of the job's unit from its orders (repair; the reference path)."""
    ctx.progress(0, 1, "recomputing")
    result = rollup.recompute(ctx.session, ctx.tenant)
    ctx.session.commit()
    ctx.progress(1, 1, "done")
    return result


@job(
    "ecommerce.import_orders",
    label_zh="导入订单",
    label_en="Import orders",
    max_retries=1,
    result_url="/p/ecommerce/",
)
def import_orders(ctx: JobContext, orders: list[dict], first_row: int = 2) -> dict:
    """Import order objects (grouped from a CSV/XLSX upload), all-or-nothing, idempotent on the
    order number: a re-run reports every order as ``duplicate`` and writes nothing new."""
    valid, errors = parse_batch(orders, parse_order, first_row=first_row)
    if errors:
        return {"status": "rejected", "errors": errors}
    total = len(valid)
    step = 2_000
    # First every chunk is checked (nothing written: a bad row anywhere rejects the file), then
    # written chunk by chunk, committing each so progress can be recorded (SQLite has a single
    # writer). A re-run after a crash skips what was written: ingest is idempotent on order_no.
    for start in range(0, total, step):
        ingest_orders(ctx.session, valid[start : start + step], write=False)
        ctx.progress(min(start + step, total), 2 * total, "checking")
    report = []
    for start in range(0, total, step):
        report += ingest_orders(ctx.session, valid[start : start + step])
        ctx.session.commit()
        ctx.progress(total + min(start + step, total), 2 * total, "writing")
    rollup.refresh(ctx.session, ctx.tenant)
    ctx.session.commit()
    created = sum(1 for r in report if r["status"] == "created")
    return {
        "status": "imported",
        "created": created,
        "duplicate": total - created,
        "rows": report[:1000],
    }


@job(
    "ecommerce.close_sessions",
    label_zh="团购场次成团检查",
    label_en="Close ended group-buy sessions",
    result_url="/p/ecommerce/groupbuy",
)
def close_sessions(ctx: JobContext) -> dict:
    """Close the ended sessions of the job's unit that set a minimum (成团): below it a session
    is cancelled and its orders refunded (idempotent: a closed session is left as it is)."""
    from . import settlement

    closed = settlement.close_due_sessions(ctx.session)
    if closed:
        rollup.refresh(ctx.session, ctx.tenant)
    ctx.session.commit()
    return {
        "closed": sum(1 for c in closed if c["state"] == "closed"),
        "cancelled": sum(1 for c in closed if c["state"] == "cancelled"),
        "refunded": sum(c["refunded"] for c in closed),
    }
