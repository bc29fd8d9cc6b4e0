"""Database refusals turned into the API's error format, in one place for every plugin.

A constraint the database enforces (a unique code, a NOT NULL column, a foreign key) or a value
it cannot hold (an integer past the column, a decimal past its precision) is the client's
mistake, not the server's: the app factory maps these exceptions to 409 or 422 naming the
column, after the request's transaction has been rolled back, so nothing is written.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from sqlmodel import SQLModel

from .errors import Conflict, PostalOpsError, ValidationError

_SQLITE_COLUMNS = re.compile(r"constraint failed: (.+)$")
_PG_KEY = re.compile(r"Key \((.+?)\)=")
_HIDDEN = {"tenant_code"}  # the caller's own unit: not a field they sent


def _table(name: str | None) -> sa.Table | None:
    return SQLModel.metadata.tables.get(name or "")


def _constraint_columns(table: str | None, constraint: str | None) -> list[str]:
    """Columns of the unique constraint or index PostgreSQL names in its error (its DETAIL,
    which would name them, is withheld from a role under row-level security)."""
    t = _table(table)
    if t is None or not constraint:
        return []
    candidates: list[Any] = [c for c in t.constraints if isinstance(c, sa.UniqueConstraint)]
    candidates += [ix for ix in t.indexes if ix.unique]
    for c in candidates:
        columns = [col.name for col in c.columns]
        # an unnamed constraint gets PostgreSQL's default name, <table>_<columns>_key
        default = f"{t.name}_{'_'.join(columns)}_key"[:63]
        if constraint in (c.name, default):
            return columns
    return []


def _fields(columns: list[str]) -> list[str]:
    shown = [c for c in columns if c not in _HIDDEN]
    return shown or columns


def _integrity(exc: sa.exc.IntegrityError) -> PostalOpsError:
    orig = exc.orig
    message = str(orig).strip().splitlines()[0] if orig is not None else str(exc)
    sqlstate = getattr(orig, "sqlstate", None)
    diag = getattr(orig, "diag", None)
    if sqlstate == "23505" or message.startswith("UNIQUE constraint failed"):
        if sqlstate:
            columns = _constraint_columns(
                getattr(diag, "table_name", None), getattr(diag, "constraint_name", None)
            )
            if not columns:
                m = _PG_KEY.search(getattr(diag, "message_detail", "") or "")
                columns = [c.strip() for c in m.group(1).split(",")] if m else []
        else:
            m = _SQLITE_COLUMNS.search(message)
            columns = [c.strip().split(".")[-1] for c in m.group(1).split(",")] if m else []
        fields = _fields(columns) or ["body"]
        return Conflict(
            f"{', '.join(fields)} already exists",
            code="duplicate",
            details=[{"field": f, "message": "already exists"} for f in fields],
        )
    if sqlstate == "23502" or message.startswith("NOT NULL constraint failed"):
        if sqlstate:
            column = getattr(diag, "column_name", None) or "body"
        else:
            m = _SQLITE_COLUMNS.search(message)
            column = m.group(1).split(".")[-1] if m else "body"
        return ValidationError(
            f"{column} is required",
            code="required",
            details=[{"field": column, "message": "required"}],
        )
    if sqlstate == "23503" or message.startswith("FOREIGN KEY constraint failed"):
        return ValidationError(
            "refers to a record that does not exist",
            code="unknown_reference",
            details=[{"field": getattr(diag, "column_name", None) or "body", "message": message}],
        )
    return ValidationError(
        "the data breaks a rule of the database",
        code="constraint",
        details=[{"field": getattr(diag, "column_name", None) or "body", "message": message}],
    )


def as_api_error(exc: BaseException) -> PostalOpsError:
    """The 4xx error for a database refusal (IntegrityError, DataError) or a number the
    database driver could not bind (OverflowError, decimal.InvalidOperation)."""
    if isinstance(exc, sa.exc.IntegrityError):
        return _integrity(exc)
    if isinstance(exc, sa.exc.DataError):
        orig: Any = exc.orig
        message = str(orig).strip().splitlines()[0] if orig is not None else str(exc)
        return ValidationError(
            "a value does not fit its column",
            code="out_of_range",
            details=[{"field": "body", "message": message}],
        )
    return ValidationError(
        "a number is out of range",
        code="out_of_range",
        details=[{"field": "body", "message": str(exc) or exc.__class__.__name__}],
    )
