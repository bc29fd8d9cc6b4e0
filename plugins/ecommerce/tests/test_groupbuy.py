import pytest
from postalops.errors import ValidationError
from postalops_ecommerce.groupbuy import GroupBuyRules, count_active


def test_a_session_becomes_valid_exactly_at_the_minimum():
    rules = GroupBuyRules(min_session_orders=10)
    assert not rules.session_is_valid(9)
    assert rules.session_is_valid(10)
    assert rules.count_valid_sessions([9, 10, 11, 0]) == 2


def test_a_ten_thousand_order_group_starts_at_ten_thousand():
    rules = GroupBuyRules()
    assert not rules.is_ten_thousand_group(9_999)
    assert rules.is_ten_thousand_group(10_000)
    assert rules.count_ten_thousand_groups([9_999, 10_000, 25_000]) == 2


def test_thresholds_are_configurable():
    rules = GroupBuyRules(min_session_orders=3, ten_thousand_threshold=500)
    assert rules.count_valid_sessions([2, 3]) == 1
    assert rules.count_ten_thousand_groups([499, 500]) == 1


@pytest.mark.parametrize("field", ["min_session_orders", "ten_thousand_threshold"])
@pytest.mark.parametrize("bad", [0, -1, True, "10"])
def test_a_threshold_below_one_or_not_whole_is_refused(field, bad):
    with pytest.raises(ValidationError) as err:
        GroupBuyRules(**{field: bad})
    assert err.value.details[0]["field"] == field


def test_active_means_at_least_one_paid_order():
    assert count_active([0, 1, 5, 0]) == 2
