"""The call queue's timing rules, driven by an explicit clock (Asia/Shanghai = UTC+8)."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from postalops.errors import ValidationError
from postalops_outcall.call_policy import (
    FINAL_OUTCOMES,
    CallingHours,
    CallPolicy,
    CaseStatus,
    Outcome,
    QueueState,
    after_outcome,
    claimable,
    enqueue,
    expire_if_due,
    leave_on_collection,
    queue_order_key,
)

SH = ZoneInfo("Asia/Shanghai")
POLICY = CallPolicy(
    retry_delay=dt.timedelta(hours=2),
    max_attempts=3,
    claim_ttl=dt.timedelta(minutes=10),
    calling_hours=CallingHours(dt.time(9), dt.time(20)),
    queue_days=7,
    callback_hold=dt.timedelta(minutes=30),
)


def sh(day: int, hour: int, minute: int = 0) -> dt.datetime:
    """A wall-clock time in Guangzhou in August 2022."""
    return dt.datetime(2022, 8, day, hour, minute, tzinfo=SH)


def queued(at: dt.datetime, attempts: int = 0) -> QueueState:
    return QueueState(
        CaseStatus.QUEUED, attempts=attempts, next_call_at=at, deadline=at + dt.timedelta(days=7)
    )


@pytest.mark.parametrize(
    ("local", "inside"),
    [
        ((17, 8, 59), False),
        ((17, 9, 0), True),
        ((17, 19, 59), True),
        ((17, 20, 0), False),
        ((17, 3, 0), False),
    ],
)
def test_calling_hours_are_nine_inclusive_to_eight_exclusive(local, inside):
    assert POLICY.calling_hours.contains(sh(*local)) is inside


@pytest.mark.parametrize(
    ("at", "opens"),
    [
        (sh(17, 7, 30), sh(17, 9, 0)),  # before opening: same morning
        (sh(17, 13, 15), sh(17, 13, 15)),  # inside: now
        (sh(17, 20, 0), sh(18, 9, 0)),  # at closing: next morning
        (sh(17, 23, 50), sh(18, 9, 0)),
    ],
)
def test_next_calling_instant(at, opens):
    assert POLICY.calling_hours.next_open(at) == opens


def test_a_new_case_is_callable_from_the_next_calling_instant_and_expires_after_seven_days():
    state = enqueue(sh(17, 21, 10), POLICY)  # ready at 21:10, after hours
    assert state.next_call_at == sh(18, 9, 0)
    assert state.deadline == sh(24, 21, 10)


@pytest.mark.parametrize("outcome", [Outcome.NO_ANSWER, Outcome.BUSY])
def test_unanswered_calls_come_back_after_two_hours(outcome):
    state = after_outcome(queued(sh(17, 9)), outcome, at=sh(17, 10, 5), agent="a1", policy=POLICY)
    assert state.status == CaseStatus.QUEUED
    assert state.attempts == 1
    assert state.next_call_at == sh(17, 12, 5)  # 10:05 + 2 h
    assert state.reserved_agent is None  # any agent may retry


def test_a_retry_falling_after_hours_moves_to_the_next_morning():
    state = after_outcome(
        queued(sh(17, 9)), Outcome.NO_ANSWER, at=sh(17, 18, 30), agent="a1", policy=POLICY
    )
    assert state.next_call_at == sh(18, 9, 0)  # 18:30 + 2 h = 20:30, closed → 09:00 next day


def test_the_third_unanswered_attempt_exhausts_the_case():
    state = queued(sh(17, 9))
    for at, expected in [
        (sh(17, 9), CaseStatus.QUEUED),
        (sh(17, 11), CaseStatus.QUEUED),
        (sh(17, 13), CaseStatus.EXHAUSTED),
    ]:
        state = after_outcome(state, Outcome.BUSY, at=at, agent="a1", policy=POLICY)
        assert state.status == expected
    assert state.attempts == 3 and state.next_call_at is None


@pytest.mark.parametrize(
    ("outcome", "status"),
    [
        (Outcome.ACCEPTED, CaseStatus.CONVERTED),
        (Outcome.DECLINED, CaseStatus.DECLINED),
        (Outcome.WRONG_NUMBER, CaseStatus.WRONG_NUMBER),
    ],
)
def test_final_outcomes_are_never_retried(outcome, status):
    state = after_outcome(queued(sh(17, 9)), outcome, at=sh(17, 9, 5), agent="a1", policy=POLICY)
    assert state.status == status
    assert state.next_call_at is None
    assert not claimable(state, agent="a1", now=sh(18, 10), policy=POLICY)


def test_a_callback_comes_back_at_its_time_to_the_same_agent_first():
    state = after_outcome(
        queued(sh(17, 9)),
        Outcome.CALLBACK,
        at=sh(17, 10),
        agent="a1",
        policy=POLICY,
        callback_at=sh(17, 15),
    )
    assert (state.next_call_at, state.reserved_agent, state.reserved_until) == (
        sh(17, 15),
        "a1",
        sh(17, 15, 30),
    )
    assert not claimable(
        state, agent="a1", now=sh(17, 14, 59), policy=POLICY
    )  # not before its time
    assert claimable(state, agent="a1", now=sh(17, 15), policy=POLICY)
    assert not claimable(state, agent="a2", now=sh(17, 15, 10), policy=POLICY)  # held for a1
    assert claimable(state, agent="a2", now=sh(17, 15, 30), policy=POLICY)  # hold over: anyone


def test_a_callback_asked_for_tonight_is_made_next_morning():
    state = after_outcome(
        queued(sh(17, 9)),
        Outcome.CALLBACK,
        at=sh(17, 19),
        agent="a1",
        policy=POLICY,
        callback_at=sh(17, 21),
    )
    assert state.next_call_at == sh(18, 9)
    assert state.reserved_until == sh(18, 9, 30)


def test_a_callback_is_honoured_even_after_the_attempt_limit():
    state = queued(sh(17, 9), attempts=3)
    state = after_outcome(
        state, Outcome.CALLBACK, at=sh(17, 10), agent="a1", policy=POLICY, callback_at=sh(17, 11)
    )
    assert state.status == CaseStatus.QUEUED and state.attempts == 4


@pytest.mark.parametrize("callback_at", [None, sh(17, 9, 59), sh(17, 10)])
def test_a_callback_needs_a_future_time(callback_at):
    with pytest.raises(ValidationError) as err:
        after_outcome(
            queued(sh(17, 9)),
            Outcome.CALLBACK,
            at=sh(17, 10),
            agent="a1",
            policy=POLICY,
            callback_at=callback_at,
        )
    assert err.value.details[0]["field"] == "callback_at"


def test_nothing_is_claimable_outside_calling_hours():
    state = queued(sh(17, 9))
    assert claimable(state, agent="a1", now=sh(17, 19, 59), policy=POLICY)
    assert not claimable(state, agent="a1", now=sh(17, 20, 0), policy=POLICY)


def test_a_retry_that_would_fall_after_the_deadline_expires_the_case():
    state = QueueState(CaseStatus.QUEUED, next_call_at=sh(24, 9), deadline=sh(24, 10))
    state = after_outcome(state, Outcome.NO_ANSWER, at=sh(24, 9, 5), agent="a1", policy=POLICY)
    assert state.status == CaseStatus.EXPIRED


def test_cases_leave_the_queue_after_their_deadline_or_on_collection():
    state = enqueue(sh(17, 10), POLICY)
    assert expire_if_due(state, sh(24, 9, 59)).status == CaseStatus.QUEUED
    assert expire_if_due(state, sh(24, 10)).status == CaseStatus.EXPIRED
    assert not claimable(state, agent="a1", now=sh(24, 10), policy=POLICY)
    assert leave_on_collection(state).status == CaseStatus.COLLECTED


def test_the_queue_serves_the_agents_own_callbacks_before_older_cases():
    mine = QueueState(CaseStatus.QUEUED, next_call_at=sh(17, 15), reserved_agent="a1")
    older = QueueState(CaseStatus.QUEUED, next_call_at=sh(17, 9))
    keys = sorted(
        [
            (queue_order_key(older, agent="a1", case_id=1), "older"),
            (queue_order_key(mine, agent="a1", case_id=2), "mine"),
        ]
    )
    assert [name for _, name in keys] == ["mine", "older"]
    keys = sorted(
        [
            (queue_order_key(older, agent="a2", case_id=1), "older"),
            (queue_order_key(mine, agent="a2", case_id=2), "mine"),
        ]
    )
    assert [name for _, name in keys] == ["older", "mine"]


def test_invalid_policies_name_their_fields():
    with pytest.raises(ValidationError) as err:
        CallPolicy(max_attempts=0, queue_days=0)
    assert {d["field"] for d in err.value.details} == {"max_attempts", "queue_days"}
    with pytest.raises(ValidationError):
        CallingHours(dt.time(20), dt.time(9))


outcomes = st.sampled_from(list(Outcome))
minutes = st.integers(0, 3 * 24 * 60)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])  # shared, loaded CI box
@given(st.lists(st.tuples(outcomes, minutes, st.integers(1, 600)), min_size=1, max_size=8))
def test_a_queued_case_is_always_next_called_inside_calling_hours_and_never_earlier(steps):
    state = enqueue(sh(17, 8), POLICY)
    now = sh(17, 9)
    for outcome, gap, callback_in in steps:
        if state.status != CaseStatus.QUEUED:
            break
        now = max(now, state.next_call_at) + dt.timedelta(minutes=gap % 30)
        before = state
        state = after_outcome(
            state,
            outcome,
            at=now,
            agent="a1",
            policy=POLICY,
            callback_at=now + dt.timedelta(minutes=callback_in),
        )
        assert state.attempts == before.attempts + 1
        if outcome in FINAL_OUTCOMES:
            assert state.status != CaseStatus.QUEUED
        if state.status == CaseStatus.QUEUED:
            assert state.next_call_at > now
            assert POLICY.calling_hours.contains(state.next_call_at)
            assert state.next_call_at < state.deadline
        if outcome in (Outcome.NO_ANSWER, Outcome.BUSY) and state.attempts >= POLICY.max_attempts:
            assert state.status == CaseStatus.EXHAUSTED
