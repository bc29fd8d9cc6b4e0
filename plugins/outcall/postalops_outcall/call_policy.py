"""The call work queue's rules: outcomes, retries, calling hours, callbacks, claims, expiry.

Pure functions over plain values and an explicit ``now``, so every timing rule can be tested
with a controllable clock. The database layer stores a ``QueueState`` per case and asks these
functions what happens next; it never decides timing itself.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from enum import StrEnum
from zoneinfo import ZoneInfo

from postalops.errors import ValidationError

UTC = dt.UTC


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    DECLINED = "declined"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    WRONG_NUMBER = "wrong_number"
    CALLBACK = "callback"


# Final outcomes close the case; retryable ones come back after the unit's delay.
FINAL_OUTCOMES = frozenset({Outcome.ACCEPTED, Outcome.DECLINED, Outcome.WRONG_NUMBER})
RETRYABLE_OUTCOMES = frozenset({Outcome.NO_ANSWER, Outcome.BUSY})
# The applicant personally answered (a wrong number reached somebody, but not the applicant).
REACHED_OUTCOMES = frozenset({Outcome.ACCEPTED, Outcome.DECLINED, Outcome.CALLBACK})


class CaseStatus(StrEnum):
    INELIGIBLE = "ineligible"  # failed a rule; never queued
    QUEUED = "queued"  # waiting for (another) call
    CONVERTED = "converted"  # accepted: a delivery order exists
    DECLINED = "declined"
    WRONG_NUMBER = "wrong_number"
    EXHAUSTED = "exhausted"  # retries used up without reaching the applicant
    COLLECTED = "collected"  # picked up at the window
    EXPIRED = "expired"  # left in the queue longer than the unit allows


OPEN_STATUSES = frozenset({CaseStatus.QUEUED})
STATUS_AFTER_FINAL = {
    Outcome.ACCEPTED: CaseStatus.CONVERTED,
    Outcome.DECLINED: CaseStatus.DECLINED,
    Outcome.WRONG_NUMBER: CaseStatus.WRONG_NUMBER,
}


@dataclass(frozen=True)
class CallingHours:
    """Daily window in which applicants may be phoned, in the unit's local time zone.

    ``start`` is inclusive and ``end`` exclusive; windows crossing midnight are not allowed.
    """

    start: dt.time = dt.time(9, 0)
    end: dt.time = dt.time(20, 0)
    tz: str = "Asia/Shanghai"

    def __post_init__(self) -> None:
        if not self.start < self.end:
            raise ValidationError(
                "外呼时段开始须早于结束 / calling hours must start before they end",
                code="invalid_calling_hours",
                details=[{"field": "calling_hours", "message": f"{self.start}–{self.end}"}],
            )

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    def contains(self, at: dt.datetime) -> bool:
        local = _aware(at).astimezone(self.zone).time()
        return self.start <= local < self.end

    def next_open(self, at: dt.datetime) -> dt.datetime:
        """The earliest instant ≥ ``at`` inside the window (returned in UTC)."""
        at = _aware(at)
        if self.contains(at):
            return at.astimezone(UTC)
        local = at.astimezone(self.zone)
        day = local.date() if local.time() < self.start else local.date() + dt.timedelta(days=1)
        return dt.datetime.combine(day, self.start, self.zone).astimezone(UTC)


@dataclass(frozen=True)
class CallPolicy:
    """A unit's queue settings (the supervisor edits them)."""

    retry_delay: dt.timedelta = dt.timedelta(hours=2)
    max_attempts: int = 3
    claim_ttl: dt.timedelta = dt.timedelta(minutes=10)
    calling_hours: CallingHours = CallingHours()
    queue_days: int = 7
    # A callback is held for the agent who promised it this long after its time, then anyone may take it.
    callback_hold: dt.timedelta = dt.timedelta(minutes=30)
    # Calls to one phone number per local day, across every case of the unit (issue 20).
    daily_calls_per_phone: int = 3

    def __post_init__(self) -> None:
        problems = []
        if self.max_attempts < 1:
            problems.append({"field": "max_attempts", "message": "at least 1"})
        if self.retry_delay < dt.timedelta(0):
            problems.append({"field": "retry_delay", "message": "not negative"})
        if self.claim_ttl <= dt.timedelta(0):
            problems.append({"field": "claim_ttl", "message": "positive"})
        if self.queue_days < 1:
            problems.append({"field": "queue_days", "message": "at least 1"})
        if problems:
            raise ValidationError(
                "外呼策略无效 / invalid call policy", code="invalid_policy", details=problems
            )


@dataclass(frozen=True)
class QueueState:
    """Where one case stands in the queue."""

    status: CaseStatus
    attempts: int = 0
    next_call_at: dt.datetime | None = None
    reserved_agent: str | None = None
    reserved_until: dt.datetime | None = None
    deadline: dt.datetime | None = None


def _aware(at: dt.datetime) -> dt.datetime:
    if at.tzinfo is None:
        raise ValueError("times must be timezone-aware")
    return at


def enqueue(ready_at: dt.datetime, policy: CallPolicy) -> QueueState:
    """State of a newly eligible case: first callable at the next calling-hours instant."""
    ready_at = _aware(ready_at).astimezone(UTC)
    return QueueState(
        status=CaseStatus.QUEUED,
        next_call_at=policy.calling_hours.next_open(ready_at),
        deadline=ready_at + dt.timedelta(days=policy.queue_days),
    )


def claimable(state: QueueState, *, agent: str, now: dt.datetime, policy: CallPolicy) -> bool:
    """May ``agent`` claim this case at ``now``? (Claims by others are checked by the store.)"""
    if state.status != CaseStatus.QUEUED or state.next_call_at is None:
        return False
    if not policy.calling_hours.contains(now):
        return False
    if state.next_call_at > now or (state.deadline is not None and now >= state.deadline):
        return False
    held_for_other = (
        state.reserved_agent is not None
        and state.reserved_agent != agent
        and state.reserved_until is not None
        and now < state.reserved_until
    )
    return not held_for_other


def queue_order_key(state: QueueState, *, agent: str, case_id: int) -> tuple[int, dt.datetime, int]:
    """Order of the queue: the agent's own callbacks first, then oldest due, then case id."""
    own = 0 if state.reserved_agent == agent else 1
    return (own, state.next_call_at or dt.datetime.max.replace(tzinfo=UTC), case_id)


def claim_expires_at(now: dt.datetime, policy: CallPolicy) -> dt.datetime:
    return _aware(now) + policy.claim_ttl


def after_outcome(
    state: QueueState,
    outcome: Outcome | str,
    *,
    at: dt.datetime,
    agent: str,
    policy: CallPolicy,
    callback_at: dt.datetime | None = None,
) -> QueueState:
    """The case's state after ``agent`` records ``outcome`` at ``at``.

    - accepted / declined / wrong number: final, the case leaves the queue;
    - no answer / busy: back after ``retry_delay`` (moved into calling hours) unless the case
      has now had ``max_attempts`` attempts in all, then exhausted;
    - callback: back at ``callback_at`` (moved into calling hours), held for the same agent for
      ``callback_hold``; the applicant asked for it, so it is honoured even past
      ``max_attempts`` (the attempt still counts towards the total);
    - anything that would come back after the case's deadline expires it instead.
    """
    outcome = Outcome(outcome)
    at = _aware(at)
    attempts = state.attempts + 1
    cleared = replace(
        state, attempts=attempts, next_call_at=None, reserved_agent=None, reserved_until=None
    )
    if outcome in FINAL_OUTCOMES:
        return replace(cleared, status=STATUS_AFTER_FINAL[outcome])
    if outcome in RETRYABLE_OUTCOMES:
        if attempts >= policy.max_attempts:
            return replace(cleared, status=CaseStatus.EXHAUSTED)
        return _requeue(
            cleared, policy.calling_hours.next_open(at + policy.retry_delay), None, policy
        )
    if callback_at is None or _aware(callback_at) <= at:
        raise ValidationError(
            "回拨时间须晚于当前 / a callback needs a time in the future",
            code="invalid_callback",
            details=[{"field": "callback_at", "message": "required, after now"}],
        )
    return _requeue(cleared, policy.calling_hours.next_open(callback_at), agent, policy)


def _requeue(
    state: QueueState, when: dt.datetime, agent: str | None, policy: CallPolicy
) -> QueueState:
    if state.deadline is not None and when >= state.deadline:
        return replace(state, status=CaseStatus.EXPIRED)
    return replace(
        state,
        status=CaseStatus.QUEUED,
        next_call_at=when,
        reserved_agent=agent,
        reserved_until=when + policy.callback_hold if agent else None,
    )


def leave_on_collection(state: QueueState) -> QueueState:
    """The applicant collected at the window: the case leaves the queue, whatever its state."""
    if state.status == CaseStatus.CONVERTED:
        # A converted case already has a delivery order; collection is a conflict the store reports.
        return state
    return replace(
        state,
        status=CaseStatus.COLLECTED,
        next_call_at=None,
        reserved_agent=None,
        reserved_until=None,
    )


def expire_if_due(state: QueueState, now: dt.datetime) -> QueueState:
    """Expire a queued case whose deadline has passed."""
    if (
        state.status == CaseStatus.QUEUED
        and state.deadline is not None
        and _aware(now) >= state.deadline
    ):
        return replace(
            state,
            status=CaseStatus.EXPIRED,
            next_call_at=None,
            reserved_agent=None,
            reserved_until=None,
        )
    return state
