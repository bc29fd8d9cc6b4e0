"""An order's life after payment: refunds and cancellation, and what each change does to the figures.

Figures are kept as running sums (turnover, order count per day, leader, session and pickup point).
Each event is turned into a *contribution delta* here, so the rollups only ever add numbers and a
refresh never has to rescan old orders.

Rules:
- a paid order contributes its amount and counts as one order;
- a refund (退款) lowers the contribution by the refunded amount; refunds may be partial, in several
  parts, but never more than what is left;
- an order refunded in full, or cancelled (取消), contributes nothing and no longer counts;
- cancelling an already cancelled order is a no-op (the e-shop retries); refunding a cancelled one
  is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from postalops.errors import Conflict, ValidationError
from postalops.money import ZERO


@dataclass(frozen=True)
class OrderState:
    """The money state of one order: what was paid, what has been refunded, whether cancelled."""

    amount: Decimal
    refunded: Decimal = ZERO
    cancelled: bool = False

    @property
    def net(self) -> Decimal:
        """What the order still contributes to turnover."""
        return ZERO if self.cancelled else self.amount - self.refunded

    @property
    def counts(self) -> bool:
        """A paid order counts while it is neither cancelled nor refunded in full."""
        return self.net > 0


@dataclass(frozen=True)
class Contribution:
    """What an order adds to the running sums: turnover and order count (may be negative as a delta)."""

    amount: Decimal
    orders: int

    def __sub__(self, other: Contribution) -> Contribution:
        return Contribution(self.amount - other.amount, self.orders - other.orders)

    @property
    def is_zero(self) -> bool:
        return self.amount == 0 and self.orders == 0


def contribution(state: OrderState | None) -> Contribution:
    """The contribution of an order in ``state`` (None: the order does not exist yet)."""
    if state is None:
        return Contribution(ZERO, 0)
    return Contribution(state.net, 1 if state.counts else 0)


def apply_refund(state: OrderState, amount: Decimal, *, order_no: str = "") -> OrderState:
    """Record a refund of ``amount``; refused when cancelled, non-positive or above what is left."""
    if state.cancelled:
        raise Conflict(
            f"order {order_no} is cancelled; it cannot be refunded",
            code="order_cancelled",
            details=[{"field": "order_no", "value": order_no}],
        )
    if amount <= 0:
        raise ValidationError(
            "refund amount must be positive",
            code="refund_not_positive",
            details=[{"field": "amount", "value": str(amount)}],
        )
    left = state.amount - state.refunded
    if amount > left:
        raise ValidationError(
            f"refund {amount} exceeds what is left on order {order_no} ({left})",
            code="refund_exceeds_order",
            details=[{"field": "amount", "value": str(amount), "left": str(left)}],
        )
    return replace(state, refunded=state.refunded + amount)


def apply_cancel(state: OrderState) -> OrderState:
    """Cancel the order (idempotent)."""
    return state if state.cancelled else replace(state, cancelled=True)


def delta(before: OrderState | None, after: OrderState) -> Contribution:
    """How the running sums move when an order goes from ``before`` to ``after``."""
    return contribution(after) - contribution(before)
