"""Outcall's tracked jobs: portal imports and the periodic sweep. The government platform is
told through the core's webhooks (``service.ISSUING_METHOD_CHANGED``), not by a job here."""

from __future__ import annotations

from typing import Any

from postalops.errors import PostalOpsError, ValidationError
from postalops.jobs import JobContext, job

from . import service

IMPORT = "outcall.import_cases"
SWEEP = "outcall.sweep"


@job(
    IMPORT,
    max_retries=0,
    label_zh="导入办件",
    label_en="Import cases",
    result_url="/p/outcall/cases",
)
def import_cases(ctx: JobContext, rows: list[list[Any]]) -> dict[str, Any]:
    """A portal upload: ``rows`` are ``[row_number, {column: value}]`` pairs.

    All or nothing like the API: a bad row fails the job with every bad row in its error and
    nothing written. Re-running it changes nothing (intake is idempotent on the case number).
    """
    ctx.progress(0, len(rows), "validating")
    try:
        report = service.intake_cases(ctx.session, ctx.tenant, [(int(n), r) for n, r in rows])
    except PostalOpsError as exc:
        # The job record keeps only the message: put every bad row and field into it.
        where = "; ".join(
            f"row {d.get('row', '?')}: {e.get('field', '')} {e.get('message', '')}".strip()
            for d in exc.details
            if isinstance(d, dict)
            for e in (d.get("errors") or [d])  # a batch names each row's every error
        )
        raise ValidationError(
            f"{exc.message} — {where}", code=exc.code, details=exc.details
        ) from exc
    ctx.session.commit()  # before progress: SQLite allows one writer at a time
    ctx.progress(len(rows), len(rows), "imported")
    return {"summary": report["summary"], "rows": report["rows"][:1000]}


@job(SWEEP, max_retries=1, label_zh="外呼队列整理", label_en="Outcall sweep")
def sweep(ctx: JobContext) -> dict[str, Any]:
    """Periodic: expire overdue cases."""
    expired = service.expire_due(ctx.session, ctx.tenant)
    ctx.session.commit()
    return {"expired": expired}


ACTORS = [import_cases, sweep]
