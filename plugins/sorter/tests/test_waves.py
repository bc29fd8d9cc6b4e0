"""Waves (频次) and how much earlier couriers leave once the sorter is in."""

from datetime import UTC, date, datetime, time
from decimal import Decimal

import pytest
from postalops.errors import ValidationError
from postalops_sorter.timeline import LOCAL_TZ, to_ms
from postalops_sorter.waves import (
    Wave,
    advance_minutes,
    baseline_minute,
    check_waves,
    departure_ms,
    mean_advance,
    wave_of,
)

DAY = date(2020, 10, 5)
WAVES = [
    Wave(1, time(6, 30), time(9, 30)),
    Wave(2, time(10, 30), time(12, 30)),
    Wave(3, time(14), time(16)),
]


def local(d, hh, mm, ss=0):
    return to_ms(datetime(d.year, d.month, d.day, hh, mm, ss, tzinfo=LOCAL_TZ))


def test_an_instant_falls_in_its_wave_or_between_waves():
    assert wave_of(local(DAY, 6, 30), WAVES) == (DAY, 1)
    assert wave_of(local(DAY, 9, 29, 59), WAVES) == (DAY, 1)
    assert wave_of(local(DAY, 9, 30), WAVES) is None  # the end is exclusive
    assert wave_of(local(DAY, 11, 0), WAVES) == (DAY, 2)


def test_wave_window_is_local_time():
    start, end = WAVES[0].window(DAY)
    # 06:30 +08:00 = 22:30 UTC the day before
    assert start == to_ms(datetime(2020, 10, 4, 22, 30, tzinfo=UTC))
    assert end - start == 3 * 3_600_000


def test_departure_is_the_last_sorted_item_of_the_wave():
    assert departure_ms([local(DAY, 8, 1), local(DAY, 8, 31), local(DAY, 8, 12)]) == local(
        DAY, 8, 31
    )
    assert departure_ms([]) is None


def test_departure_advance_by_hand():
    # Before commissioning (manual log), wave 1 left at 09:20, 09:30, 09:40: mean 09:30 = 570 min.
    before = [local(date(2020, 3, d), 9, m) for d, m in ((2, 20), (3, 30), (4, 40))]
    base = baseline_minute(before)
    assert base == 570
    # After: 08:31:00 -> 59.00, 08:25:30 -> 64.50, 08:40:15 -> 49.75
    after = [local(DAY, 8, 31), local(DAY, 8, 25, 30), local(DAY, 8, 40, 15)]
    advances = [advance_minutes(base, d) for d in after]
    assert advances == [Decimal("59.00"), Decimal("64.50"), Decimal("49.75")]
    # mean of the rounded lines: 173.25 / 3 = 57.75 -> 57.8
    assert mean_advance(advances) == Decimal("57.8")


def test_leaving_later_than_before_is_a_negative_advance():
    assert advance_minutes(baseline_minute([local(DAY, 9, 0)]), local(DAY, 9, 10)) == Decimal(
        "-10.00"
    )


def test_no_departures_no_figure():
    assert baseline_minute([]) is None and mean_advance([]) is None


def test_bad_wave_windows_are_named_row_by_row():
    with pytest.raises(ValidationError) as err:
        check_waves(
            [Wave(1, time(7), time(6)), Wave(1, time(8), time(10)), Wave(2, time(9), time(11))]
        )
    fields = [(d["row"], d["field"]) for d in err.value.details]
    assert (0, "end") in fields and (1, "number") in fields and (2, "start") in fields


def test_good_waves_come_back_in_time_order():
    assert [w.number for w in check_waves(list(reversed(WAVES)))] == [1, 2, 3]
