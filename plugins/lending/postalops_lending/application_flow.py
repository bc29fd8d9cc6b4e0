"""The loan application's life: states, allowed steps, and the maker-checker rule.

    submitted --precheck--> prechecked --review--> reviewed --approve--> approved
        |                       |                     |                      |
        +-> declined            +-> rejected          +-> rejected           +--contract--> contracted
                                                                                  --disburse--> disbursed

Each step is stamped with its time; the report of hours from application to disbursement is
``hours_between(submitted_at, disbursed_at)``. Nobody approves a case they prepared: the
approver must hold ``lending.approve`` and must be neither the user who entered the application
nor the customer manager who reviewed it. Relief requests use the same rule.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from postalops.errors import Conflict, Forbidden, ValidationError

APPROVE_PERMISSION = "lending.approve"


class Status(StrEnum):
    SUBMITTED = "submitted"
    PRECHECKED = "prechecked"
    DECLINED = "declined"  # by the automated pre-check
    REVIEWED = "reviewed"
    REJECTED = "rejected"  # by the customer manager or the approver
    APPROVED = "approved"
    CONTRACTED = "contracted"
    DISBURSED = "disbursed"


# action -> (statuses it may start from, status it leads to)
STEPS: dict[str, tuple[frozenset[Status], Status]] = {
    "precheck_pass": (frozenset({Status.SUBMITTED}), Status.PRECHECKED),
    "precheck_decline": (frozenset({Status.SUBMITTED}), Status.DECLINED),
    "review": (frozenset({Status.PRECHECKED}), Status.REVIEWED),
    "reject": (frozenset({Status.PRECHECKED, Status.REVIEWED}), Status.REJECTED),
    "approve": (frozenset({Status.REVIEWED}), Status.APPROVED),
    "contract": (frozenset({Status.APPROVED}), Status.CONTRACTED),
    "disburse": (frozenset({Status.CONTRACTED}), Status.DISBURSED),
}

# which timestamp column each step sets
STAMP = {
    "precheck_pass": "prechecked_at",
    "precheck_decline": "prechecked_at",
    "review": "reviewed_at",
    "reject": "decided_at",
    "approve": "decided_at",
    "contract": "contracted_at",
    "disburse": "disbursed_at",
}


def next_status(current: str, action: str) -> Status:
    """The status ``action`` leads to from ``current``; Conflict if the step is out of order."""
    if action not in STEPS:
        raise ValidationError(
            f"unknown action {action!r}",
            code="unknown_action",
            details=[{"field": "action", "message": f"one of {sorted(STEPS)}"}],
        )
    allowed, target = STEPS[action]
    if Status(current) not in allowed:
        raise Conflict(
            f"cannot {action} an application that is {current}",
            code="invalid_transition",
            details=[{"field": "status", "message": f"{action} needs one of {sorted(allowed)}"}],
        )
    return target


def check_maker_checker(
    checker_id: int,
    checker_permissions: Iterable[str],
    makers: Iterable[int | None],
    permission: str = APPROVE_PERMISSION,
) -> None:
    """Refuse (403) an approval by someone without ``permission`` or who prepared the case."""
    if permission not in set(checker_permissions):
        raise Forbidden(
            f"approving needs the {permission} permission",
            code="missing_permission",
            details=[{"field": "approver", "message": f"lacks {permission}"}],
        )
    if checker_id in {m for m in makers if m is not None}:
        raise Forbidden(
            "nobody approves a case they prepared (maker-checker)",
            code="maker_cannot_check",
            details=[{"field": "approver", "message": "approver prepared or reviewed this case"}],
        )


def hours_between(start: datetime, end: datetime) -> Decimal:
    """Elapsed hours, to 0.01 h, between two timezone-aware instants."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    seconds = Decimal(int((end - start).total_seconds()))
    return (seconds / 3600).quantize(Decimal("0.01"))
