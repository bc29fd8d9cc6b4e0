"""Group-buy thresholds (团购): valid sessions (团购场次) and ten-thousand-order groups (万单团).

Both thresholds are per campaign and configurable; both count *paid* orders as defined in
``order_events`` (not cancelled, not refunded in full).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from postalops.errors import ValidationError

DEFAULT_MIN_SESSION_ORDERS = 10
DEFAULT_TEN_THOUSAND_THRESHOLD = 10_000


@dataclass(frozen=True)
class GroupBuyRules:
    """A campaign's group-buy thresholds."""

    min_session_orders: int = DEFAULT_MIN_SESSION_ORDERS
    ten_thousand_threshold: int = DEFAULT_TEN_THOUSAND_THRESHOLD

    def __post_init__(self) -> None:
        for field in ("min_session_orders", "ten_thousand_threshold"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValidationError(
                    f"{field} must be a whole number of at least 1",
                    code="threshold_invalid",
                    details=[{"field": field, "value": value}],
                )

    def session_is_valid(self, paid_orders: int) -> bool:
        """A session is valid once it reaches the minimum number of paid orders."""
        return paid_orders >= self.min_session_orders

    def is_ten_thousand_group(self, paid_orders: int) -> bool:
        """A leader's group is a 万单团 once it reaches the threshold of paid orders."""
        return paid_orders >= self.ten_thousand_threshold

    def count_valid_sessions(self, paid_orders_by_session: Iterable[int]) -> int:
        return sum(1 for n in paid_orders_by_session if self.session_is_valid(n))

    def count_ten_thousand_groups(self, paid_orders_by_leader: Iterable[int]) -> int:
        return sum(1 for n in paid_orders_by_leader if self.is_ten_thousand_group(n))


def count_active(paid_orders_by_key: Iterable[int]) -> int:
    """Active leaders / pickup points: those with at least one paid order."""
    return sum(1 for n in paid_orders_by_key if n >= 1)
