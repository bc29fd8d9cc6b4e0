"""Invariants of rollups on random event streams (hypothesis)."""

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from postalops_sorter.events import Event, Kind, Result, State
from postalops_sorter.oee import total
from postalops_sorter.rollup import rollup_events
from postalops_sorter.timeline import Grain, to_ms

T0 = datetime(2020, 10, 4, 15, 30, tzinfo=UTC)  # 23:30 local: streams cross midnight and hours
SPAN_MS = 3 * 3_600_000


@st.composite
def streams(draw):
    n = draw(st.integers(0, 60))
    events = []
    for seq in range(n):
        at = T0 + timedelta(milliseconds=draw(st.integers(0, SPAN_MS - 1)))
        kind = draw(st.sampled_from([Kind.ITEM, Kind.STATE, Kind.HEARTBEAT]))
        if kind is Kind.ITEM:
            events.append(
                Event(
                    seq, at, kind, barcode="b", chute=1, result=draw(st.sampled_from(list(Result)))
                )
            )
        elif kind is Kind.STATE:
            events.append(Event(seq, at, kind, state=draw(st.sampled_from(list(State)))))
        else:
            events.append(Event(seq, at, kind))
    prior = draw(st.none() | st.sampled_from(list(State)))
    return events, prior


def roll(events, prior, grain):
    return rollup_events(
        events,
        prior=prior,
        start=to_ms(T0),
        end=to_ms(T0) + SPAN_MS,
        grain=grain,
        rated_per_hour=3200,
    )


@settings(max_examples=200, deadline=None)
@given(streams())
def test_every_grain_sums_to_the_same_totals(stream):
    events, prior = stream
    sums = [total(list(roll(events, prior, g).values())) for g in Grain]
    assert sums[0] == sums[1] == sums[2]


@settings(max_examples=200, deadline=None)
@given(streams(), st.randoms(use_true_random=False))
def test_arrival_order_does_not_matter(stream, rnd):
    events, prior = stream
    shuffled = list(events)
    rnd.shuffle(shuffled)
    assert roll(shuffled, prior, Grain.MINUTE) == roll(events, prior, Grain.MINUTE)


@settings(max_examples=200, deadline=None)
@given(streams())
def test_known_time_is_the_whole_window_once_a_state_is_known(stream):
    events, prior = stream
    t = total(list(roll(events, prior, Grain.MINUTE).values()))
    known = t.running_ms + t.idle_ms + t.jammed_ms + t.fault_ms + t.estop_ms + t.planned_stop_ms
    states = sorted((e.at, e.seq) for e in events if e.kind is Kind.STATE)
    if prior is not None:
        assert known == SPAN_MS
    elif states:
        assert known == to_ms(T0) + SPAN_MS - to_ms(states[0][0])
    else:
        assert known == 0
    assert t.inducted + t.recirculated == sum(e.kind is Kind.ITEM for e in events)
