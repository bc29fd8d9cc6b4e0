"""A per-app cache of computed leaderboards, valid until the figures change.

The leaderboard is a pure function of its parameters and the figures; the figures change only
when a refresh folds deltas in, a recompute runs, or a target or campaign changes — each of which
records a new ``FiguresVersion``. A cached board is served while the version it was computed at
is still the newest, so every process (gunicorn workers on several hosts) stays correct without
talking to the others. Entries are keyed by the caller's tenant, so scopes never mix.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from .models import FiguresVersion

MAX_ENTRIES = 256


def bump(session: Session, reason: str) -> None:
    """Record that the figures changed (in the caller's transaction)."""
    session.execute(
        sa.insert(FiguresVersion.__table__).values(
            reason=reason[:40], at=sa.func.current_timestamp()
        )
    )


def current(session: Session) -> int:
    t = FiguresVersion.__table__
    return session.execute(sa.select(sa.func.max(t.c.id))).scalar() or 0


class BoardCache:
    """Least-recently-used boards of one app (``app.extensions["ecommerce.board_cache"]``)."""

    def __init__(self, size: int = MAX_ENTRIES) -> None:
        self.size = size
        self._entries: OrderedDict[tuple, tuple[int, Any]] = OrderedDict()

    def get(self, key: tuple, version: int) -> Any | None:
        hit = self._entries.get(key)
        if hit is None or hit[0] != version:
            return None
        self._entries.move_to_end(key)
        return hit[1]

    def put(self, key: tuple, version: int, value: Any) -> None:
        self._entries[key] = (version, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)


def for_app(app: Any) -> BoardCache:
    return app.extensions.setdefault("ecommerce.board_cache", BoardCache())
