"""OEE, MTBF and MTTR against a hand-computed timeline that crosses bucket edges.

Device rated 3,600 items/h, observed 10:00-12:00 local (Asia/Shanghai) on 5 Oct 2020.

    09:58:00  running        (before the window: carried into 10:00 as the prior state)
    10:20:00  jammed         jam 1
    10:26:00  running
    10:59:30  fault          fault 1, crosses the 11:00 edge
    11:01:30  running
    11:30:00  planned_stop   not a loss
    11:45:00  running        until the 12:00 horizon

Items, 10:xx: 2,000 sorted, 20 rejected, 30 no-read, 50 recirculated
       11:xx: 1,620 sorted, 10 rejected, 10 no-read,  5 recirculated
"""

from datetime import datetime, timedelta
from decimal import Decimal

from postalops_sorter.events import Event, Kind, Result, State
from postalops_sorter.oee import Totals, kpis, total
from postalops_sorter.rollup import rollup_events, window_totals
from postalops_sorter.timeline import LOCAL_TZ, Grain, to_ms

MIN = 60_000


def at(hh, mm, ss=0):
    return datetime(2020, 10, 5, hh, mm, ss, tzinfo=LOCAL_TZ)


def timeline():
    seq = iter(range(100_000))
    states = [
        (at(9, 58), State.RUNNING),
        (at(10, 20), State.JAMMED),
        (at(10, 26), State.RUNNING),
        (at(10, 59, 30), State.FAULT),
        (at(11, 1, 30), State.RUNNING),
        (at(11, 30), State.PLANNED_STOP),
        (at(11, 45), State.RUNNING),
    ]
    events = [Event(next(seq), t, Kind.STATE, state=s) for t, s in states]
    for hour, mix in ((10, [2000, 20, 30, 50]), (11, [1620, 10, 10, 5])):
        results = [r for r, n in zip(Result, mix, strict=True) for _ in range(n)]
        step = timedelta(hours=1) / len(results)
        events += [
            Event(next(seq), at(hour, 0) + i * step, Kind.ITEM, barcode=f"b{i}", chute=1, result=r)
            for i, r in enumerate(results)
        ]
    return events


def roll(grain, events=None):
    return rollup_events(
        events if events is not None else timeline(),
        prior=None,
        start=to_ms(at(10, 0)),
        end=to_ms(at(12, 0)),
        grain=grain,
        rated_per_hour=3600,
    )


def test_hour_ten_by_hand():
    t = roll(Grain.HOUR)[to_ms(at(10, 0))]
    # running 10:00-10:20 + 10:26-10:59:30 = 20 + 33.5 = 53.5 min; jammed 6 min; fault 0.5 min
    assert (t.running_ms, t.jammed_ms, t.fault_ms) == (53.5 * MIN, 6 * MIN, 0.5 * MIN)
    assert (t.jams, t.faults) == (1, 1)
    k = kpis(t)
    assert k["availability"] == Decimal("0.8917")  # 53.5 / 60
    assert k["performance"] == Decimal("0.6386")  # 2050 / (3600 × 53.5/60 = 3210)
    assert k["quality"] == Decimal("0.9756")  # 2000 / 2050
    assert k["oee"] == Decimal("0.5556")  # A×P×Q = 2000 / (3600 × 1 h planned)
    assert k["mtbf_minutes"] == Decimal("26.8")  # 53.5 / 2 failures = 26.75
    assert k["mttr_minutes"] == Decimal("3.3")  # (6 + 0.5) / 2 = 3.25
    assert k["jams"] == 1


def test_hour_eleven_inherits_the_fault_and_skips_the_planned_stop():
    t = roll(Grain.HOUR)[to_ms(at(11, 0))]
    # fault 11:00-11:01:30 (carried over the edge) = 1.5 min; planned stop 15 min;
    # running 28.5 + 15 = 43.5 min; planned time 43.5 + 1.5 = 45 min
    assert (t.fault_ms, t.planned_stop_ms, t.running_ms) == (1.5 * MIN, 15 * MIN, 43.5 * MIN)
    assert (t.jams, t.faults) == (0, 0)  # the fault was entered in hour 10
    k = kpis(t)
    assert k["availability"] == Decimal("0.9667")  # 43.5 / 45
    assert k["performance"] == Decimal("0.6284")  # 1640 / 2610
    assert k["quality"] == Decimal("0.9878")  # 1620 / 1640
    assert k["oee"] == Decimal("0.6000")  # 1620 / (3600 × 0.75 h)
    assert k["mtbf_minutes"] is None and k["mttr_minutes"] is None  # no failure: no figure, not 0


def test_two_hours_come_from_summed_times_not_averaged_oee():
    hours = roll(Grain.HOUR)
    k = kpis(total(list(hours.values())))
    assert k["availability"] == Decimal("0.9238")  # 97 / 105
    assert k["performance"] == Decimal("0.6340")  # 3690 / 5820
    assert k["quality"] == Decimal("0.9810")  # 3620 / 3690
    assert k["oee"] == Decimal("0.5746")  # 3620 / (3600 × 1.75); the mean of hours would be 0.5778
    assert k["mtbf_minutes"] == Decimal("48.5")  # 97 / 2
    assert k["mttr_minutes"] == Decimal("4.0")  # (6 + 2) / 2
    assert k["items_per_running_hour"] == Decimal("2282.5")  # 3690 × 60 / 97 = 2282.47
    assert k["reject_rate"] == Decimal("0.0081")  # 30 / 3690
    assert k["no_read_rate"] == Decimal("0.0108")  # 40 / 3690


def test_minute_buckets_split_the_fault_at_the_edges():
    minutes = roll(Grain.MINUTE)
    m1059, m1100, m1101 = (minutes[to_ms(t)] for t in (at(10, 59), at(11, 0), at(11, 1)))
    assert (m1059.running_ms, m1059.fault_ms) == (30_000, 30_000)
    assert (m1100.running_ms, m1100.fault_ms) == (0, 60_000)
    assert (m1101.running_ms, m1101.fault_ms) == (30_000, 30_000)
    assert len(minutes) == 120


def test_minutes_hours_and_the_day_bucket_add_up_to_the_same_totals():
    by_minute = total(list(roll(Grain.MINUTE).values()))
    by_hour = total(list(roll(Grain.HOUR).values()))
    by_day = total(list(roll(Grain.DAY).values()))
    assert by_minute == by_hour == by_day
    assert by_day.running_ms == 97 * MIN and by_day.inducted == 3690 and by_day.recirculated == 55


def test_out_of_order_events_give_the_same_rollup():
    events = timeline()
    assert roll(Grain.MINUTE, list(reversed(events))) == roll(Grain.MINUTE, events)


def test_a_wave_window_gets_its_own_totals():
    # wave 10:15-10:30: running 5 min, jammed 6 min, running 4 min; one jam
    ev = timeline()
    changes = [(to_ms(e.at), e.state) for e in ev if e.kind is Kind.STATE]
    t = window_totals(changes, None, to_ms(at(10, 15)), to_ms(at(10, 30)), 3600, {"sorted": 100})
    assert t == Totals(
        running_ms=9 * MIN, jammed_ms=6 * MIN, capacity_item_ms=9 * MIN * 3600, sorted=100, jams=1
    )


def test_repeating_the_jammed_state_is_still_one_jam():
    ev = timeline() + [Event(999_999, at(10, 21), Kind.STATE, state=State.JAMMED)]
    assert total(list(roll(Grain.HOUR, ev).values())).jams == 1


def test_totals_add_field_by_field():
    # every field must take part in +, or sums would silently drop a count
    one = Totals(*range(1, 14))
    assert one + one == Totals(*(2 * i for i in range(1, 14)))


def test_minute_split_skips_whole_minutes_of_a_planned_stop_but_keeps_its_edges():
    from postalops_sorter.timeline import Segment, split_by_bucket

    # planned stop 10:00:30-12:00:30: only the two partial minutes are kept (30 s each)
    seg = Segment(State.PLANNED_STOP, to_ms(at(10, 0, 30)), to_ms(at(12, 0, 30)))
    kept = split_by_bucket([seg], Grain.MINUTE, skip_full=frozenset({State.PLANNED_STOP}))
    assert kept == {
        to_ms(at(10, 0)): {State.PLANNED_STOP: 30_000},
        to_ms(at(12, 0)): {State.PLANNED_STOP: 30_000},
    }
    # without skipping, every minute is there and the total is the whole 2 h
    full = split_by_bucket([seg], Grain.MINUTE)
    assert len(full) == 121 and sum(v[State.PLANNED_STOP] for v in full.values()) == 120 * MIN
