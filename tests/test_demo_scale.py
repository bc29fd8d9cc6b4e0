"""``postalops demo --scale N``: N times the rolling present's volume, the article untouched."""

from __future__ import annotations

import datetime as dt

from click.testing import CliRunner
from postalops import cli, demo
from postalops_outcall import demo_present as outcall_present
from postalops_pickup_points import demo_present as pickup_present


def test_scale_is_one_outside_a_build_and_multiplies_inside() -> None:
    assert demo.scale() == 1
    token = demo._SCALE.set(10)
    try:
        assert demo.scale() == 10
        assert demo.scaled(4) == 40
    finally:
        demo._SCALE.reset(token)
    assert demo.scale() == 1


def test_a_present_day_holds_n_times_the_rows() -> None:
    day = dt.date(2026, 11, 3)  # a Tuesday of the rolling present
    one = len(outcall_present.day_cases(day))
    token = demo._SCALE.set(10)
    try:
        ten = len(outcall_present.day_cases(day))
    finally:
        demo._SCALE.reset(token)
    assert 9 * one <= ten <= 11 * one


def test_pickup_point_volume_scales_but_keeps_the_roles_thresholds() -> None:
    class Point:
        tenant_code, code = "cn.henan.zhengzhou.jinshui", "P1"

    day = dt.date(2026, 11, 3)
    base, _ = pickup_present.inbound_on(Point, "counter", day)
    capped, _ = pickup_present.inbound_on(Point, "other", day)
    token = demo._SCALE.set(10)
    try:
        big, _ = pickup_present.inbound_on(Point, "counter", day)
        still_capped, _ = pickup_present.inbound_on(Point, "other", day)
    finally:
        demo._SCALE.reset(token)
    assert 9 * base <= big <= 11 * base
    assert capped <= 39 and still_capped <= 39  # an "other" point stays under the threshold


def test_cli_refuses_a_scale_below_one() -> None:
    result = CliRunner().invoke(cli.main, ["demo", "--scale", "0"])
    assert result.exit_code != 0
    assert "--scale" in result.output
