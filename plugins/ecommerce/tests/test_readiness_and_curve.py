from datetime import date
from decimal import Decimal

from postalops_ecommerce.plan_curve import cumulative, plan_line
from postalops_ecommerce.readiness import three_has


def test_a_city_is_ready_only_with_products_operations_and_sales():
    assert three_has(160, 2, Decimal("10.00")).ready
    not_ready = three_has(160, 0, Decimal("0.00"))
    assert not not_ready.ready
    assert not_ready.missing == ["operations", "sales"]
    # Sales fully refunded away do not count as sales.
    assert three_has(1, 1, Decimal("0.00")).missing == ["sales"]


def test_the_plan_line_rises_evenly_and_ends_on_the_plan():
    # 100.00 over 3 days: 33.33, 66.67, 100.00
    line = plan_line(Decimal("100.00"), date(2022, 9, 1), date(2022, 9, 3))
    assert [v for _, v in line] == [Decimal("33.33"), Decimal("66.67"), Decimal("100.00")]


def test_the_cumulative_curve_carries_days_without_sales():
    daily = {date(2022, 9, 1): Decimal("5.00"), date(2022, 9, 3): Decimal("2.50")}
    curve = cumulative(daily, date(2022, 9, 1), date(2022, 9, 3))
    assert [v for _, v in curve] == [Decimal("5.00"), Decimal("5.00"), Decimal("7.50")]
