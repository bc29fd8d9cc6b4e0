"""Domain errors shared by the core and plugins.

Pure domain modules raise these; the API layer turns them into the JSON error format
``{"error": {"code", "message", "details"}}`` with the error's HTTP status. Nothing here
imports Flask, so rule modules stay framework-free.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "PostalOpsError",
    "ValidationError",
    "BadRequest",
    "NotFound",
    "Conflict",
    "Forbidden",
    "ScopeError",
]


class PostalOpsError(Exception):
    """Base error with a machine-readable ``code``, a human ``message`` and ``details``.

    ``details`` names the offending field(s) or row(s), e.g.
    ``[{"field": "rates.parcel.rural", "message": "..."}]`` or ``[{"row": 3, "errors": {...}}]``.
    """

    status = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: Any = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.details = details if details is not None else []

    def to_dict(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class ValidationError(PostalOpsError):
    """Input is well-formed but breaks a rule (HTTP 422)."""

    status = 422
    code = "validation_error"


class BadRequest(PostalOpsError):
    """Input cannot be parsed at all (HTTP 400)."""

    status = 400
    code = "bad_request"


class NotFound(PostalOpsError):
    status = 404
    code = "not_found"


class Conflict(PostalOpsError):
    """The request clashes with current state, e.g. a plugin requirement (HTTP 409)."""

    status = 409
    code = "conflict"


class Forbidden(PostalOpsError):
    status = 403
    code = "forbidden"


class Unauthorized(PostalOpsError):
    status = 401
    code = "unauthorized"


class ScopeError(Forbidden):
    """A read or write outside the caller's tenant scope was attempted."""

    code = "out_of_scope"


DomainError = ValidationError
"""Alias used by rule modules: a business rule was broken (HTTP 422)."""
