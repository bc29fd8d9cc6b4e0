"""The simulated sorter: deterministic, at its nominal rate, and readable by the real parser."""

from datetime import UTC, datetime

from postalops_sorter.events import parse_batch
from postalops_sorter.oee import kpis, total
from postalops_sorter.rollup import rollup_events
from postalops_sorter.simulation import Run, simulate_run
from postalops_sorter.timeline import Grain, to_ms

RUN = Run(start=datetime(2020, 10, 5, 0, 10, tzinfo=UTC), items=1500, rate_per_hour=3300, jams=2)


def test_same_seed_same_events():
    assert simulate_run(RUN, seed="cn.henan.zhengzhou.s01") == simulate_run(
        RUN, seed="cn.henan.zhengzhou.s01"
    )
    assert simulate_run(RUN, seed="a") != simulate_run(RUN, seed="b")


def test_simulated_run_parses_cleanly_and_sorts_near_its_rate():
    raw = simulate_run(RUN, seed="s", first_seq=100)
    batch = parse_batch(raw, now=datetime(2020, 10, 6, tzinfo=UTC), chutes=24)
    assert batch.rejected == [] and batch.duplicates == 0
    assert batch.events[0].seq == 100
    end = max(to_ms(e.at) for e in batch.events) + 1
    t = total(
        list(
            rollup_events(
                batch.events,
                prior=None,
                start=to_ms(RUN.start),
                end=end,
                grain=Grain.HOUR,
                rated_per_hour=3500,
            ).values()
        )
    )
    k = kpis(t)
    assert t.inducted == 1500 and t.jams == 2
    # nominal 3,300/h; recirculated items take an extra slot, so a little under
    assert 3150 <= k["items_per_running_hour"] <= 3350
