"""A city's "三有" readiness: has products (有产品), has operations (有运营), has sales (有销售)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class Readiness:
    has_products: bool
    has_operations: bool
    has_sales: bool

    @property
    def ready(self) -> bool:
        return self.has_products and self.has_operations and self.has_sales

    @property
    def missing(self) -> list[str]:
        """The 三有 items still missing, by key, for display and the API."""
        return [
            name
            for name, ok in (
                ("products", self.has_products),
                ("operations", self.has_operations),
                ("sales", self.has_sales),
            )
            if not ok
        ]


def three_has(listed_products: int, operations_staff: int, net_turnover: Decimal) -> Readiness:
    """Check a city pavilion: at least one listed product, one operations staff member, and
    positive net turnover (refunds already deducted) in the period."""
    return Readiness(listed_products > 0, operations_staff > 0, net_turnover > 0)
