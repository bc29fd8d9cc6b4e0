"""What a payroll run priced, recorded with the run, so a draft that changed since is known.

A run stores a summary of everything that decides its slips (``PayrollRun.inputs``): the
month's delivered items and collections (from the tallies), its manual adjustments, the
couriers of the unit's subtree (kind, station, grade, base pay, contractor, active), the
rate-card versions that may be in force for the month, and the contract terms covering it.
Events and adjustments are only ever added, so counts and sums move whenever they change; the
couriers, cards and terms are compared by digest.

The summary is taken *before* the run prices, so anything stored while it runs makes the
draft stale rather than slipping past unpriced. Approval recomputes it and refuses a draft
whose inputs differ (409 ``draft_stale``, naming each change); the API's run and adjustment
answers and the portal's run page show the same changes.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Any

from postalops.db import in_scope_clause
from postalops.errors import Conflict
from postalops.money import money_value, sum_money
from postalops.tenancy import ancestors
from sqlmodel import Session, func, select

from .models import (
    PayrollAdjustment,
    PayrollCollectionTally,
    PayrollContractTerm,
    PayrollDeliveryTally,
    PayrollRateCard,
    PayrollRun,
)
from .period import Month
from .rate_card_store import reading_above, split_by_scope

# The order changes are reported in, with what each counts.
PARTS = ("deliveries", "collections", "adjustments", "couriers", "rate_cards", "contract_terms")


def _digest(rows: Any) -> str:
    text = json.dumps([[str(v) for v in row] for row in rows], ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _int(value: Any) -> int:
    return int(value or 0)


def _above_and_below(session: Session, columns: list[Any], unit: str, where: Any) -> list[tuple]:
    """Rows (``columns`` of one table) at the unit, below it, and at its ancestors (a city's
    card or a province contractor's terms apply to its stations); ancestors above the
    caller's scope are read through the read-only ``reading_above`` view."""
    tenant = columns[0].class_.tenant_code
    statement = select(*columns).where(where)
    rows = [tuple(r) for r in session.exec(statement.where(in_scope_clause(tenant, unit)))]
    inside, above = split_by_scope(session, ancestors(unit)[1:])
    if inside:
        rows += [tuple(r) for r in session.exec(statement.where(tenant.in_(inside)))]
    if above:
        with reading_above(session) as reader:
            rows += [tuple(r) for r in reader.exec(statement.where(tenant.in_(above)))]
    return rows


def run_inputs(session: Session, unit: str, month: Month, couriers: Any) -> dict[str, Any]:
    """The summary of what a run of ``unit`` and ``month`` prices; ``couriers`` are the
    subtree's couriers as the run reads them (``payroll_run.CourierRow`` by id)."""
    key = month.year * 100 + month.month
    delivered = session.exec(
        select(func.coalesce(func.sum(PayrollDeliveryTally.items), 0)).where(
            PayrollDeliveryTally.month == key,
            in_scope_clause(PayrollDeliveryTally.tenant_code, unit),
        )
    ).one()
    collected, fen = session.exec(
        select(
            func.coalesce(func.sum(PayrollCollectionTally.items), 0),
            func.coalesce(func.sum(PayrollCollectionTally.postage_fen), 0),
        ).where(
            PayrollCollectionTally.month == key,
            in_scope_clause(PayrollCollectionTally.tenant_code, unit),
        )
    ).one()
    adjusted, total, last = session.exec(
        select(
            func.count(),
            sum_money(session, PayrollAdjustment.amount),
            func.max(PayrollAdjustment.id),
        ).where(
            PayrollAdjustment.month == key,
            in_scope_clause(PayrollAdjustment.tenant_code, unit),
        )
    ).one()
    card = PayrollRateCard
    cards = _above_and_below(
        session, [card.tenant_code, card.version], unit, card.effective_from <= month.first_day
    )
    term = PayrollContractTerm
    terms = _above_and_below(
        session,
        [term.code, term.contractor_id, term.start, term.end, term.unit_price],
        unit,
        (term.start <= month.last_day) & (term.end >= month.first_day),
    )
    return {
        "deliveries": {"items": _int(delivered)},
        "collections": {"items": _int(collected), "postage_fen": _int(fen)},
        "adjustments": {
            "count": _int(adjusted),
            "total": str(money_value(session, total)),
            "last_id": _int(last),
        },
        "couriers": {
            "count": len(couriers),
            "digest": _digest(tuple(couriers[cid]) for cid in sorted(couriers)),
        },
        "rate_cards": {
            "versions": sorted([code, version] for code, version in cards),
        },
        "contract_terms": {
            "count": len(terms),
            "digest": _digest(sorted(terms)),
        },
    }


def _yuan(fen: int) -> str:
    return str((Decimal(fen) / 100).quantize(Decimal("0.01")))


def _change(part: str, then: dict[str, Any], now: dict[str, Any]) -> dict[str, Any]:
    """One detail naming what changed in ``part``."""
    detail: dict[str, Any] = {"field": part, "at_run": then, "now": now}
    if part == "deliveries":
        message = f"{then['items']} delivered items at the run, {now['items']} now"
    elif part == "collections":
        message = (
            f"{then['items']} collections ({_yuan(then['postage_fen'])} postage) at the run, "
            f"{now['items']} ({_yuan(now['postage_fen'])}) now"
        )
    elif part == "adjustments":
        message = (
            f"{then['count']} adjustment(s) totalling {then['total']} at the run, "
            f"{now['count']} totalling {now['total']} now"
        )
    elif part == "rate_cards":
        fmt = ", ".join
        message = (
            f"rate-card versions in force: {fmt(f'{u} v{v}' for u, v in then['versions']) or 'none'} "
            f"at the run, {fmt(f'{u} v{v}' for u, v in now['versions']) or 'none'} now"
        )
    elif part == "couriers":
        message = (
            f"the couriers changed (kind, station, grade, base pay, contractor or active): "
            f"{then['count']} at the run, {now['count']} now"
        )
    else:
        message = "the contract terms covering the month changed"
    detail["message"] = message
    return detail


def changes_since_run(session: Session, run: PayrollRun) -> list[dict[str, Any]]:
    """What differs between the inputs ``run`` priced and the inputs now; empty when none.

    Only a draft can be stale: an approved month refuses changes until it is reopened.
    """
    if run.status != "draft":
        return []
    if not run.inputs:
        return [
            {
                "field": "run",
                "message": "the run predates the record of its inputs; run it again",
            }
        ]
    from .payroll_run import _couriers  # the run's own reading of the couriers

    assert run.tenant_code is not None
    month = Month(run.month // 100, run.month % 100)
    now = run_inputs(session, run.tenant_code, month, _couriers(session, run.tenant_code))
    return [
        _change(part, run.inputs[part], now[part])
        for part in PARTS
        if run.inputs.get(part) != now[part]
    ]


def ensure_not_stale(session: Session, run: PayrollRun) -> None:
    """Refuse (409 ``draft_stale``) to approve a draft whose inputs changed since its run."""
    changes = changes_since_run(session, run)
    if changes:
        month = Month(run.month // 100, run.month % 100)
        raise Conflict(
            f"the draft of {run.tenant_code} {month} changed since its run: "
            + "; ".join(c["message"] for c in changes)
            + "; run the month again before approving it",
            code="draft_stale",
            details=changes,
        )
