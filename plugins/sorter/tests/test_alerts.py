"""Alerts: raised when a rule holds, acknowledged by people, resolved by hand or when it clears."""

import pytest
from postalops.errors import Conflict, ValidationError
from postalops_sorter.alerts import (
    AlertKind,
    AlertRules,
    AlertStatus,
    MinuteSample,
    evaluate,
    reconcile,
    transition,
)

MIN = 60_000
NOW = 1_000 * MIN + 20_000  # 20 s into minute 1000
RULES = AlertRules(
    min_items_per_hour=2000, low_minutes=3, silent_minutes=5, jam_window_minutes=15, jam_max=3
)


def minutes(rates, jams=None):
    """Samples for minutes 997, 998, 999 (the last three whole minutes), fully running."""
    jams = jams or [0] * len(rates)
    start = 1000 - len(rates)
    # items/h = inducted × 60 when running the whole minute
    return [
        MinuteSample((start + i) * MIN, MIN, r // 60, j)
        for i, (r, j) in enumerate(zip(rates, jams, strict=True))
    ]


def test_throughput_under_threshold_for_n_running_minutes_raises():
    # 1,980 items/h = 33 items a minute, three minutes running: under 2,000 throughout
    assert AlertKind.LOW_THROUGHPUT in evaluate(
        RULES, minutes([1980, 1980, 1980]), now=NOW, last_seen=NOW
    )


def test_one_good_minute_in_the_window_keeps_it_quiet():
    assert AlertKind.LOW_THROUGHPUT not in evaluate(
        RULES, minutes([1980, 3000, 1980]), now=NOW, last_seen=NOW
    )


def test_a_stopped_machine_is_not_slow():
    idle = [MinuteSample(m * MIN, 0, 0) for m in (997, 998, 999)]
    assert AlertKind.LOW_THROUGHPUT not in evaluate(RULES, idle, now=NOW, last_seen=NOW)


def test_silence_for_m_minutes_raises():
    assert AlertKind.SILENT in evaluate(RULES, [], now=NOW, last_seen=NOW - 5 * MIN)
    assert AlertKind.SILENT not in evaluate(RULES, [], now=NOW, last_seen=NOW - 5 * MIN + 1)
    assert AlertKind.SILENT in evaluate(RULES, [], now=NOW, last_seen=None)


def test_three_jams_in_fifteen_minutes_is_a_spike():
    held = evaluate(RULES, minutes([3000, 3000, 3000], [1, 1, 1]), now=NOW, last_seen=NOW)
    assert held[AlertKind.JAM_SPIKE] == "3 jams in 15 minutes"
    assert AlertKind.JAM_SPIKE not in evaluate(
        RULES, minutes([3000, 3000, 3000], [1, 0, 1]), now=NOW, last_seen=NOW
    )


def test_reconcile_raises_new_conditions_once_and_resolves_cleared_ones():
    held = {AlertKind.SILENT: "quiet", AlertKind.JAM_SPIKE: "jams"}
    actions = reconcile(held, [AlertKind.JAM_SPIKE, AlertKind.LOW_THROUGHPUT])
    assert actions.raise_ == {AlertKind.SILENT: "quiet"}  # the jam spike is already open
    assert actions.resolve == [AlertKind.LOW_THROUGHPUT]


def test_life_cycle_raise_acknowledge_resolve():
    s = AlertStatus.RAISED
    s = transition(s, AlertStatus.ACKNOWLEDGED)
    s = transition(s, AlertStatus.RESOLVED)
    assert s is AlertStatus.RESOLVED
    with pytest.raises(Conflict):
        transition(s, AlertStatus.ACKNOWLEDGED)
    with pytest.raises(Conflict):
        transition(AlertStatus.ACKNOWLEDGED, AlertStatus.RAISED)




def test_rules_must_be_positive():
    with pytest.raises(ValidationError) as err:
        AlertRules(low_minutes=0, jam_max=-1).check()
    assert {d["field"] for d in err.value.details} == {"low_minutes", "jam_max"}


def test_a_machine_switched_off_by_plan_is_not_silent():
    # last heard 10 minutes ago, but its last state was a planned stop: expected silence
    held = evaluate(RULES, [], now=NOW, last_seen=NOW - 10 * MIN, switched_off=True)
    assert AlertKind.SILENT not in held
    assert AlertKind.SILENT in evaluate(
        RULES, [], now=NOW, last_seen=NOW - 10 * MIN, switched_off=False
    )
