"""Who is calling and in which scope: one object per request or job, held in a contextvar.

Plugin code reads :func:`session`, :func:`principal` and :func:`tenant` the same way inside a
request and inside a job, so service functions never receive Flask objects.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import ScopeError, Unauthorized
from .tenancy import Scope

__all__ = [
    "session",
    "principal",
    "tenant",
    "Principal",
]


if TYPE_CHECKING:
    from sqlmodel import Session

    from .db import Database


@dataclass
class Principal:
    """An authenticated caller: a portal user or an API token."""

    kind: str  # "user" | "token" | "system"
    name: str  # what the audit log shows: "user:alice", "token:7 sorter-17"
    home_unit: str | None
    permissions: frozenset[str]
    user_id: int | None = None
    token_id: int | None = None
    subject: str | None = None  # a token's bound subject, e.g. "sorter:17"
    roles: tuple[str, ...] = ()

    def can(self, permission: str) -> bool:
        return "*" in self.permissions or permission in self.permissions

    @classmethod
    def system(cls, name: str = "system") -> Principal:
        return cls(kind="system", name=name, home_unit=None, permissions=frozenset({"*"}))


@dataclass
class CallContext:
    db: Database
    scope: Scope
    principal: Principal
    unit: str | None  # the active unit (tenant switcher); None for system
    _session: Session | None = field(default=None, repr=False)
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def session(self) -> Session:
        if self._session is None:
            self._session = self.db.session(self.scope)
        return self._session

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None


_current: ContextVar[CallContext | None] = ContextVar("postalops_call", default=None)


def current() -> CallContext:
    ctx = _current.get()
    if ctx is None:
        raise Unauthorized("not authenticated", code="unauthenticated")
    return ctx


def current_or_none() -> CallContext | None:
    return _current.get()


def session() -> Session:
    """The database session of the current request or job, scoped to the caller."""
    return current().session


def principal() -> Principal:
    return current().principal


def tenant() -> str:
    """The caller's active unit code; fails closed for an unscoped caller."""
    unit = current().unit
    if unit is None:
        raise ScopeError("no active unit for this caller", code="no_scope")
    return unit


def push(ctx: CallContext) -> Any:
    return _current.set(ctx)


def pop(token: Any) -> None:
    ctx = _current.get()
    if ctx is not None:
        ctx.close()
    _current.reset(token)


@contextlib.contextmanager
def activate(ctx: CallContext) -> Iterator[CallContext]:
    """Run a block as ``ctx`` (jobs, CLI, tests); the session is closed afterwards."""
    token = push(ctx)
    try:
        yield ctx
    finally:
        pop(token)
