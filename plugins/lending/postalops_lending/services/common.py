"""Small shared pieces of the lending services: loading rows in scope, actor names."""

from __future__ import annotations

import datetime as dt
from typing import Any, TypeVar

from postalops import clock
from postalops.context import Principal
from postalops.errors import NotFound
from sqlmodel import Session, select

T = TypeVar("T")


def get_or_404(
    session: Session, model: type[T], row_id: int, field: str, *, for_update: bool = False
) -> T:
    """Load ``model`` by id through the scoped session: a row outside scope is simply absent."""
    stmt = select(model).where(model.id == row_id)  # type: ignore[attr-defined]
    if for_update:
        stmt = stmt.with_for_update()
    row = session.exec(stmt).first()
    if row is None:
        raise NotFound(
            f"no {model.__name__.lower()} {row_id}",
            details=[{"field": field, "message": f"{row_id} not found"}],
        )
    return row


def utcnow() -> dt.datetime:
    """Now in UTC from the network's clock (``postalops.clock``, which tests can freeze): a
    step stamped without an explicit time is stamped on the same day ``clock.today()`` sees."""
    return clock.now().astimezone(dt.UTC)


def actor_name(actor: Principal) -> str:
    return actor.name


def snapshot(row: Any, *fields: str) -> dict[str, Any]:
    """The named fields of ``row`` for an audit before/after."""
    return {f: getattr(row, f) for f in fields}
