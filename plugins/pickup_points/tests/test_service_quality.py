"""Service quality (两确保) on a known calendar with closed days."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from postalops.errors import ValidationError
from postalops_pickup_points.opening_hours import parse_opening_hours
from postalops_pickup_points.service_quality import (
    ItemFlow,
    QualityFigure,
    QualityRules,
    deadlines,
    feedback_compliant,
    figures,
    nth_counted_day,
    rollup_by_unit,
)

SH = ZoneInfo("Asia/Shanghai")
D = dt.date

# October 2022: Mon 3, Tue 4, Wed 5, Thu 6, Fri 7, Sat 8, Sun 9, Mon 10 ... Mon 17.
# The point opens Mon-Sat, closes on Sundays, and also closed on Wed 5 Oct (holiday).
HOURS = parse_opening_hours(
    {
        "mon": "08:00-20:00",
        "tue": "08:00-20:00",
        "wed": "08:00-20:00",
        "thu": "08:00-20:00",
        "fri": "08:00-20:00",
        "sat": "09:00-17:00",
        "sun": None,
        "closed_dates": ["2022-10-05"],
    }
)


def at(day, hour, minute=0):
    return dt.datetime(2022, 10, day, hour, minute, tzinfo=SH)


@pytest.mark.parametrize(
    ("start", "n", "basis", "expected"),
    [
        # Calendar days ignore the timetable: 4 Oct + 3 = 7 Oct.
        (D(2022, 10, 4), 3, "calendar", D(2022, 10, 7)),
        # Working: Wed 5 closed -> Thu 6 (1), Fri 7 (2), Sat 8 (3).
        (D(2022, 10, 4), 3, "working", D(2022, 10, 8)),
        # Working from Sat 8: Sun 9 closed -> Mon 10 (1), Tue 11 (2), Wed 12 (3).
        (D(2022, 10, 8), 3, "working", D(2022, 10, 12)),
        # Seven working days from Sat 8: 10,11,12,13,14,15, Sun 16 closed, Mon 17 (7).
        (D(2022, 10, 8), 7, "working", D(2022, 10, 17)),
    ],
)
def test_counted_days_skip_closed_days_only_on_working_basis(start, n, basis, expected):
    assert nth_counted_day(start, n, basis, HOURS) == expected


# Four items at point P, judged at the end of 31 Oct, N = 3 days, M = 7 days:
#   A arrives Tue 4 09:00, picked up Sat 8      calendar deadline 7 -> late; working 8 -> on time
#   B arrives Sat 8 10:00, picked up Wed 12     calendar deadline 11 -> late; working 12 -> on time
#   C arrives Sat 8 11:00, never picked up, returned Thu 20 -> uncollected on both bases;
#     return day: calendar 15, working 17 -> returned after it: overdue for return
#   D arrives Mon 10 08:00, picked up Tue 11    on time on both bases
ITEMS = [
    ItemFlow("P", at(4, 9), picked_up_at=at(8, 15)),
    ItemFlow("P", at(8, 10), picked_up_at=at(12, 18)),
    ItemFlow("P", at(8, 11), returned_at=at(20, 10)),
    ItemFlow("P", at(10, 8), picked_up_at=at(11, 9)),
]
OCTOBER = (D(2022, 10, 1), D(2022, 10, 31))


@pytest.mark.parametrize(
    ("basis", "uncollected", "rate"),
    [("calendar", 3, "0.7500"), ("working", 1, "0.2500")],
)
def test_uncollected_counts_on_a_known_calendar(basis, uncollected, rate):
    rules = QualityRules(uncollected_days=3, return_days=7, day_basis=basis)
    fig = figures(ITEMS, rules, {"P": HOURS}, OCTOBER, as_of=D(2022, 10, 31))["P"]
    assert (fig.arrivals, fig.judged, fig.uncollected) == (4, 4, uncollected)
    assert str(fig.uncollected_rate) == rate
    assert (fig.picked_up, fig.returned, fig.overdue_return) == (3, 1, 1)


def test_items_are_judged_only_after_their_deadline():
    # As of Tue 11 (working basis): A's deadline 8 and C's... C's deadline is 12, not yet passed.
    rules = QualityRules(uncollected_days=3, return_days=7, day_basis="working")
    fig = figures(ITEMS, rules, {"P": HOURS}, OCTOBER, as_of=D(2022, 10, 11))["P"]
    assert (fig.judged, fig.uncollected) == (1, 0)  # only A is judged, and it was on time


def test_arrival_date_is_the_shanghai_date():
    # 17:30 UTC on 7 Oct is 01:30 on Sat 8 Oct in Shanghai: working deadline Wed 12.
    utc = dt.datetime(2022, 10, 7, 17, 30, tzinfo=dt.UTC)
    rules = QualityRules(uncollected_days=3, return_days=7, day_basis="working")
    assert deadlines(utc, rules, HOURS).uncollected_after == D(2022, 10, 12)


def test_naive_timestamps_are_refused():
    with pytest.raises(ValidationError):
        deadlines(dt.datetime(2022, 10, 8, 10), QualityRules(), HOURS)


@pytest.mark.parametrize(
    ("notified", "fed_back", "compliant"),
    [
        (at(8, 10, 59), at(8, 11, 0), True),  # both within 2 h (11:00 is exactly 2 h)
        (at(8, 11, 1), at(8, 10, 0), False),  # notice 2 h 1 min after arrival
        (at(8, 9, 30), None, False),  # status never fed back to the network
        (None, at(8, 9, 30), False),  # customer never told
    ],
)
def test_feedback_within_two_hours_of_arrival(notified, fed_back, compliant):
    rules = QualityRules(feedback_hours=2)
    assert feedback_compliant(at(8, 9), notified, fed_back, rules) is compliant


def test_feedback_compliance_rate_and_complaints():
    rules = QualityRules(feedback_hours=2)
    items = [
        ItemFlow("P", at(8, 9), at(8, 9, 5), at(8, 9, 6)),
        ItemFlow("P", at(8, 9), at(8, 12), at(8, 12)),
        ItemFlow("P", at(8, 9)),
    ]
    fig = figures(items, rules, {}, OCTOBER, D(2022, 10, 31), complaints={"P": 2})["P"]
    # 1 compliant of 3 arrivals = 0.3333
    assert (fig.notified, fig.feedback_compliant, fig.complaints) == (2, 1, 2)
    assert str(fig.feedback_compliance) == "0.3333"


def test_items_outside_the_period_do_not_count():
    fig = figures(ITEMS, QualityRules(), {}, (D(2022, 10, 9), D(2022, 10, 31)), D(2022, 10, 31))
    assert fig["P"].arrivals == 1  # only D (10 Oct)


def test_point_figures_roll_up_the_tree():
    per_point = {
        "p1": QualityFigure(arrivals=10, uncollected=1, judged=10),
        "p2": QualityFigure(arrivals=30, uncollected=2, judged=30),
        "p3": QualityFigure(arrivals=5, judged=5),
    }
    units = {
        "p1": "cn.henan.zhengzhou.jinshui",
        "p2": "cn.henan.zhengzhou.erqi",
        "p3": "cn.henan.kaifeng.gulou",
    }
    up = rollup_by_unit(per_point, units)
    assert up["cn.henan.zhengzhou"].arrivals == 40
    assert str(up["cn.henan.zhengzhou"].uncollected_rate) == "0.0750"  # 3 / 40
    assert up["cn.henan"].arrivals == 45
    assert up["cn.henan.kaifeng"].uncollected == 0


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"uncollected_days": 0}, "uncollected_days"),
        ({"return_days": 2, "uncollected_days": 3}, "return_days"),
        ({"day_basis": "lunar"}, "day_basis"),
        ({"feedback_hours": 0}, "feedback_hours"),
    ],
)
def test_bad_rules_name_the_field(kwargs, field):
    with pytest.raises(ValidationError) as err:
        QualityRules(**kwargs)
    assert [d["field"] for d in err.value.details] == [field]


def test_opening_hours_errors_name_the_weekday():
    with pytest.raises(ValidationError) as err:
        parse_opening_hours({"mon": "20:00-08:00", "tue": "8am", "closed_dates": ["tomorrow"]})
    assert {d["field"] for d in err.value.details} == {
        "opening_hours.mon",
        "opening_hours.tue",
        "opening_hours.closed_dates[0]",
    }


def test_opening_hours_round_trip():
    assert parse_opening_hours(HOURS.to_json()) == HOURS
