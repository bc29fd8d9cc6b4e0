"""Simulated call agents working a queue through a day, for the demo and for tuning it.

The simulator only talks to a ``QueuePort``: the demo passes one backed by the plugin's real
services and database, tests pass ``MemoryQueue`` (the same pure rules, in memory). Either way
every attempt goes through claim → outcome → retry/callback logic; nothing is tallied directly.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Protocol
from zoneinfo import ZoneInfo

from .call_policy import (
    CallPolicy,
    CaseStatus,
    Outcome,
    QueueState,
    after_outcome,
    claimable,
    enqueue,
    queue_order_key,
)
from .demo_plan import OutcomeSequence, demo_address
from .eligibility import Catalogue, evaluate
from .intake import CaseRecord

LOCAL_TZ = ZoneInfo("Asia/Shanghai")


class QueuePort(Protocol):
    def claim_next(self, agent: str, now: dt.datetime) -> str | None:
        """Claim the next case for ``agent`` and return its case number, or None."""

    def record(
        self,
        case_no: str,
        agent: str,
        outcome: Outcome,
        now: dt.datetime,
        *,
        callback_at: dt.datetime | None = None,
        address: dict | None = None,
    ) -> None:
        """Record the outcome of the agent's call on a claimed case."""

    def contact(self, case_no: str, agent: str) -> tuple[str, str]:
        """Applicant name and full phone, as shown to the agent on the active call."""

    def next_due(self, agent: str, now: dt.datetime) -> dt.datetime | None:
        """Earliest time ``agent`` could claim a case still in the queue at ``now`` (its call
        time, or the end of another agent's callback hold), or None when there is none."""


@dataclass(frozen=True)
class Shift:
    start: dt.time = dt.time(9, 0)
    end: dt.time = dt.time(18, 0)
    handle_minutes: tuple[int, int] = (3, 7)  # dial + talk + wrap-up


@dataclass
class Simulator:
    """Drives ``agents`` through a working day, each claiming and calling until the shift ends."""

    agents: tuple[str, ...]
    shift: Shift = Shift()
    outcomes: OutcomeSequence = field(default_factory=OutcomeSequence)
    rng: random.Random = field(default_factory=lambda: random.Random(96185))

    def run_day(self, port: QueuePort, day: dt.date) -> int:
        """Work ``day``; return the number of attempts made."""
        start = dt.datetime.combine(day, self.shift.start, LOCAL_TZ).astimezone(dt.UTC)
        end = dt.datetime.combine(day, self.shift.end, LOCAL_TZ).astimezone(dt.UTC)
        free_at = {a: start for a in self.agents}
        attempts = 0
        while free_at:
            agent = min(free_at, key=lambda a: (free_at[a], a))
            now = free_at[agent]
            if now >= end:
                del free_at[agent]
                continue
            case_no = port.claim_next(agent, now)
            if case_no is None:
                due = port.next_due(agent, now)
                if due is None:
                    free_at[agent] = end  # nothing queued at all: the agent's day is over
                elif due > now:
                    free_at[agent] = due  # wait for the next case to fall due
                else:
                    # Due but held for another agent's callback, or claimed: look again later.
                    free_at[agent] = now + dt.timedelta(minutes=5)
                continue
            handle = dt.timedelta(minutes=self.rng.randint(*self.shift.handle_minutes))
            at = now + handle / 2
            outcome = self.outcomes.next()
            callback_at = None
            address = None
            if outcome == Outcome.CALLBACK:
                callback_at = at + dt.timedelta(minutes=self.rng.choice((60, 120, 180, 24 * 60)))
            elif outcome == Outcome.ACCEPTED:
                name, phone = port.contact(case_no, agent)
                address = demo_address(self.rng, name, phone)
            port.record(case_no, agent, outcome, at, callback_at=callback_at, address=address)
            attempts += 1
            free_at[agent] = now + handle
        return attempts


@dataclass
class MemoryQueue:
    """An in-memory ``QueuePort`` applying the pure queue rules (tests and demo tuning)."""

    catalogue: Catalogue
    policy: CallPolicy = CallPolicy()
    cases: dict[str, CaseRecord] = field(default_factory=dict)
    states: dict[str, QueueState] = field(default_factory=dict)
    claims: dict[str, tuple[str, dt.datetime]] = field(default_factory=dict)
    queued: dict[str, int] = field(default_factory=dict)  # case number → arrival order
    attempts: list[tuple[str, str, Outcome, dt.datetime]] = field(default_factory=list)

    def intake(self, record: CaseRecord) -> None:
        self.cases[record.case_no] = record
        if evaluate(record.facts(), self.catalogue).eligible:
            self.states[record.case_no] = enqueue(record.callable_from, self.policy)
            self.queued[record.case_no] = len(self.cases)
        else:
            self.states[record.case_no] = QueueState(status=CaseStatus.INELIGIBLE)

    def claim_next(self, agent: str, now: dt.datetime) -> str | None:
        free = [
            (queue_order_key(s, agent=agent, case_id=i), no)
            for no, i in self.queued.items()
            if claimable(s := self.states[no], agent=agent, now=now, policy=self.policy)
            and (no not in self.claims or self.claims[no][1] <= now)
        ]
        if not free:
            return None
        _, case_no = min(free)
        self.claims[case_no] = (agent, now + self.policy.claim_ttl)
        return case_no

    def record(self, case_no, agent, outcome, now, *, callback_at=None, address=None) -> None:
        holder = self.claims.pop(case_no, None)
        assert holder and holder[0] == agent and holder[1] > now, "outcome on an unclaimed case"
        self.states[case_no] = after_outcome(
            self.states[case_no],
            outcome,
            at=now,
            agent=agent,
            policy=self.policy,
            callback_at=callback_at,
        )
        if self.states[case_no].status != CaseStatus.QUEUED:
            del self.queued[case_no]
        self.attempts.append((case_no, agent, Outcome(outcome), now))

    def contact(self, case_no: str, agent: str) -> tuple[str, str]:
        record = self.cases[case_no]
        return record.applicant_name, record.phone

    def next_due(self, agent: str, now: dt.datetime) -> dt.datetime | None:
        due = [
            _available_to(s, agent)
            for no in self.queued
            if (s := self.states[no]).deadline is None or s.deadline > now
        ]
        return min(due) if due else None


def _available_to(state: QueueState, agent: str) -> dt.datetime:
    """When ``agent`` may take a queued case: its call time, or the end of another agent's hold."""
    held_for_other = state.reserved_agent not in (None, agent) and state.reserved_until is not None
    if held_for_other and state.reserved_until > state.next_call_at:
        return state.reserved_until
    return state.next_call_at
