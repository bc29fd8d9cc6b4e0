from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from postalops.errors import ValidationError
from postalops_ecommerce.targets import (
    TargetVersion,
    check_distribution,
    parse_target_value,
    plan_for_unit,
    target_in_force,
)


def test_children_that_add_up_to_the_parent_are_accepted():
    # 18,000,000.00 = 1,636,363.64 × 10 + 1,636,363.60 (hand split of Hebei's plan over 11 cities)
    children = {f"cn.hebei.c{i}": Decimal("1636363.64") for i in range(10)}
    children["cn.hebei.c10"] = Decimal("1636363.60")
    check_distribution("retail_turnover", Decimal("18000000.00"), children)


def test_children_one_fen_short_are_refused_naming_the_difference():
    children = {"cn.hebei.a": Decimal("9000000.00"), "cn.hebei.b": Decimal("8999999.99")}
    with pytest.raises(ValidationError) as err:
        check_distribution("retail_turnover", Decimal("18000000.00"), children)
    assert err.value.code == "distribution_mismatch"
    assert err.value.details[0]["difference"] == "0.01"
    assert err.value.details[0]["field"] == "children"


def test_session_counts_must_add_up_exactly():
    # 2,978 valid sessions over three cities: 1,000 + 1,000 + 977 = 2,977 ≠ 2,978
    with pytest.raises(ValidationError):
        check_distribution("valid_sessions", 2978, {"a": 1000, "b": 1000, "c": 977})
    check_distribution("valid_sessions", 2978, {"a": 1000, "b": 1000, "c": 978})


def test_an_empty_distribution_is_refused():
    with pytest.raises(ValidationError):
        check_distribution("orders", 10, {})


@given(st.integers(min_value=0, max_value=10**9), st.integers(min_value=1, max_value=40))
def test_an_even_split_with_the_remainder_handed_out_always_passes(total_fen, parts):
    base, extra = divmod(total_fen, parts)
    shares = {str(i): Decimal(base + (1 if i < extra else 0)) / 100 for i in range(parts)}
    check_distribution("groupbuy_turnover", Decimal(total_fen) / 100, shares)


def test_target_values_are_decimal_for_money_and_whole_for_counts():
    assert parse_target_value("retail_turnover", "18000000") == Decimal("18000000.00")
    assert parse_target_value("valid_sessions", "2978") == 2978
    for kind, raw in [
        ("valid_sessions", "12.5"),
        ("retail_turnover", 1.5),
        ("orders", -1),
        ("nonsense", 1),
    ]:
        with pytest.raises(ValidationError):
            parse_target_value(kind, raw)


def test_the_version_in_force_is_the_latest_already_effective():
    # Retail plan set at 17 M on 25 Jul, raised to 18 M on 10 Aug.
    v1 = TargetVersion(
        "cn.hebei", "retail_turnover", Decimal("17000000"), datetime(2022, 7, 25, tzinfo=UTC), seq=1
    )
    v2 = TargetVersion(
        "cn.hebei", "retail_turnover", Decimal("18000000"), datetime(2022, 8, 10, tzinfo=UTC), seq=2
    )
    assert target_in_force([v1, v2], datetime(2022, 7, 1, tzinfo=UTC)) is None
    assert target_in_force([v2, v1], datetime(2022, 8, 9, tzinfo=UTC)) == Decimal("17000000")
    assert target_in_force([v1, v2], datetime(2022, 8, 10, tzinfo=UTC)) == Decimal("18000000")
    # Two changes effective at the same moment: the one recorded later wins.
    v3 = TargetVersion(
        "cn.hebei", "retail_turnover", Decimal("19000000"), datetime(2022, 8, 10, tzinfo=UTC), seq=3
    )
    assert target_in_force([v3, v2, v1], datetime(2022, 9, 6, tzinfo=UTC)) == Decimal("19000000")


def test_a_unit_without_its_own_target_sums_its_children():
    children_of = {"cn.hebei": ["cn.hebei.sjz", "cn.hebei.ts"], "cn.hebei.sjz": ["cn.hebei.sjz.b1"]}
    own = {"cn.hebei.sjz.b1": 40, "cn.hebei.ts": 60}
    assert plan_for_unit("cn.hebei", own, children_of) == 100  # 40 (via sjz) + 60
    assert plan_for_unit("cn.hebei", {**own, "cn.hebei": 120}, children_of) == 120
    assert plan_for_unit("cn.hebei.sjz.b2", own, children_of) is None
