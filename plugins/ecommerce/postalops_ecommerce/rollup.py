"""Keeping the figures current: fold pending deltas into the rollup, or rebuild it from orders.

``refresh`` is the incremental path the jobs run: it claims the pending deltas of the caller's
scope, adds them to the rollup rows with one upsert, and deletes them — work proportional to what
changed since the last refresh. ``recompute`` rebuilds the scope's rollup from the orders
themselves (the reference, and the repair tool). Both leave the same figures.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from postalops.db import in_scope_clause
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from . import board_cache
from .models import ROLLUP_KEY, Order, PendingDelta, Rollup

_GROUP = (*ROLLUP_KEY, "province_code", "city_code")


def _upsert(session: Session):
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(Rollup.__table__)
    return stmt.on_conflict_do_update(
        index_elements=list(ROLLUP_KEY),
        set_={
            "amount_fen": Rollup.__table__.c.amount_fen + stmt.excluded.amount_fen,
            "orders": Rollup.__table__.c.orders + stmt.excluded.orders,
        },
    )


def refresh(session: Session, scope_code: str) -> dict:
    """Fold every pending delta under ``scope_code`` into the rollup; return what was done.

    The claim (an UPDATE stamping a token) makes two refreshes running at once take disjoint
    deltas, so none is added twice. The caller commits.
    """
    token = str(uuid.uuid4())
    pending = PendingDelta.__table__
    claimed = session.execute(
        sa.update(pending)
        .where(pending.c.claim.is_(None), in_scope_clause(pending.c.tenant_code, scope_code))
        .values(claim=token)
    ).rowcount
    if not claimed:
        return {"deltas": 0, "rows": 0}
    cols = [pending.c[name] for name in _GROUP]
    grouped = (
        session.execute(
            sa.select(
                *cols,
                sa.func.sum(pending.c.amount_fen).label("amount_fen"),
                sa.func.sum(pending.c.orders).label("orders"),
            )
            .where(pending.c.claim == token)
            .group_by(*cols)
        )
        .mappings()
        .all()
    )
    rows = [dict(r) for r in grouped]
    if rows:
        session.execute(_upsert(session), rows)
    session.execute(sa.delete(pending).where(pending.c.claim == token))
    board_cache.bump(session, "refresh")
    return {"deltas": claimed, "rows": len(rows)}


def recompute(session: Session, scope_code: str) -> dict:
    """Rebuild the rollup of ``scope_code`` from its orders (pending deltas are then redundant).

    The caller commits.
    """
    rollup, pending, orders = Rollup.__table__, PendingDelta.__table__, Order.__table__
    session.execute(sa.delete(pending).where(in_scope_clause(pending.c.tenant_code, scope_code)))
    session.execute(sa.delete(rollup).where(in_scope_clause(rollup.c.tenant_code, scope_code)))
    cols = [orders.c[name] for name in _GROUP]
    source = (
        sa.select(
            *cols,
            sa.func.sum(orders.c.net_fen).label("amount_fen"),
            sa.func.count().label("orders"),
        )
        .where(in_scope_clause(orders.c.tenant_code, scope_code), orders.c.net_fen > 0)
        .group_by(*cols)
    )
    rows = [dict(r) for r in session.execute(source).mappings()]
    # Inserted as parameter rows (not INSERT … FROM SELECT) so the core's insert guard sees the
    # tenant of every row it writes.
    for start in range(0, len(rows), 5_000):
        session.execute(rollup.insert(), rows[start : start + 5_000])
    board_cache.bump(session, "recompute")
    return {"rows": len(rows)}
