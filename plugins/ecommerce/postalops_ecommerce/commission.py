"""Leader commission (团长佣金), pickup codes and statements: pure rules over plain values, no
database (issue 19 §3). The service (settlement.py) feeds them and stores the results.

- A rate is set for a product (SKU) or a category, effective from a local day. For an order
  line, a product's rate beats its category's; among those, the one set nearest the order's
  branch, then the latest in force on the day the order was picked up.
- An order's commission is the sum of its lines' ``amount × rate``, each rounded to the fen.
- What an order has earned is that commission in proportion to what is left of the order after
  refunds (nothing once cancelled): ``to_fen(commission × net / amount)``.
- A statement for a leader and a month takes, for every order picked up by the month's end,
  what it has earned now minus what earlier statements already settled: positive for orders
  not settled yet (earned), negative for orders refunded after settlement (clawed back).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from postalops.money import ZERO, to_fen
from postalops.tenancy import ancestors


@dataclass(frozen=True)
class Rate:
    """One commission rate row: for ``sku`` or ``category`` (the other empty), at ``unit``."""

    unit: str
    sku: str
    category: str
    rate: Decimal
    effective_from: dt.date


@dataclass(frozen=True)
class Line:
    sku: str
    category: str
    amount: Decimal


def rate_for(rates: Iterable[Rate], branch: str, sku: str, category: str, day: dt.date) -> Decimal:
    """The rate in force for a line of ``sku`` (in ``category``) sold at ``branch``, on ``day``;
    zero when none applies."""
    depth = {code: len(code.split(".")) for code in ancestors(branch)}
    best: tuple | None = None
    for r in rates:
        if r.unit not in depth or r.effective_from > day:
            continue
        if r.sku:
            if r.sku != sku:
                continue
        elif not r.category or r.category != category:
            continue
        key = (bool(r.sku), depth[r.unit], r.effective_from)
        if best is None or key > best[0]:
            best = (key, r.rate)
    return best[1] if best else ZERO


def order_commission(
    rates: Iterable[Rate], branch: str, lines: Iterable[Line], day: dt.date
) -> Decimal:
    """The commission of an order picked up on ``day``: each line's amount × its rate, rounded
    to the fen, summed."""
    rates = list(rates)
    return sum(
        (
            to_fen(line.amount * rate_for(rates, branch, line.sku, line.category, day))
            for line in lines
        ),
        ZERO,
    )


def earned(commission: Decimal, amount: Decimal, net: Decimal) -> Decimal:
    """What an order of ``amount`` with ``net`` left after refunds has earned of its
    ``commission`` (all of it unrefunded, none once refunded in full or cancelled)."""
    if amount <= 0 or net <= 0:
        return ZERO
    if net >= amount:
        return commission
    return to_fen(commission * net / amount)


@dataclass(frozen=True)
class Due:
    """One order's commission position when a statement is drawn up."""

    order_id: int
    order_no: str
    picked_up_on: dt.date
    net: Decimal
    earned_now: Decimal
    settled: Decimal  # what earlier (not rejected) statements already gave it


@dataclass(frozen=True)
class StatementLineOut:
    order_id: int
    order_no: str
    kind: str  # earned | clawback
    base: Decimal
    commission: Decimal
    picked_up_on: dt.date


def statement_lines(dues: Iterable[Due]) -> list[StatementLineOut]:
    """The lines of a statement: each order's earned-now minus settled, where it is not zero."""
    out = []
    for d in sorted(dues, key=lambda d: (d.picked_up_on, d.order_no)):
        diff = d.earned_now - d.settled
        if diff == 0:
            continue
        kind = "earned" if diff > 0 else "clawback"
        out.append(StatementLineOut(d.order_id, d.order_no, kind, d.net, diff, d.picked_up_on))
    return out


def totals(lines: Sequence[StatementLineOut], carried: Decimal = ZERO) -> dict[str, Decimal]:
    """``earned`` (≥ 0), ``clawback`` (≤ 0), ``carried`` (≤ 0) and ``payable``, their sum."""
    plus = sum((ln.commission for ln in lines if ln.commission > 0), ZERO)
    minus = sum((ln.commission for ln in lines if ln.commission < 0), ZERO)
    carried = min(carried, ZERO)
    return {
        "earned": plus,
        "clawback": minus,
        "carried": carried,
        "payable": plus + minus + carried,
    }


def month_bounds(period: str) -> tuple[dt.date, dt.date]:
    """``"2022-09"`` -> (2022-09-01, 2022-09-30); ValueError when not YYYY-MM."""
    if len(period) != 7 or period[4] != "-":
        raise ValueError(period)
    first = dt.date(int(period[:4]), int(period[5:]), 1)
    nxt = dt.date(first.year + (first.month == 12), first.month % 12 + 1, 1)
    return first, nxt - dt.timedelta(days=1)


# --- pickup codes ---------------------------------------------------------------------------

CHECK_DIGITS = 6


def pickup_code(secret: str, order_id: int, order_no: str) -> str:
    """The order's pickup code (提货码): its id, a dash and six digits from an HMAC of the id and
    order number under the app's secret, so a code cannot be guessed from another, and needs
    no table to issue."""
    digest = hmac.new(secret.encode(), f"pickup:{order_id}:{order_no}".encode(), hashlib.sha256)
    check = int.from_bytes(digest.digest()[:8], "big") % 10**CHECK_DIGITS
    return f"{order_id}-{check:0{CHECK_DIGITS}d}"


def code_order_id(code: str) -> int | None:
    """The order id a typed code names (spaces ignored, the dash optional), or None when it is
    not shaped like a code."""
    raw = "".join(code.split()).replace("-", "")
    if not raw.isdigit() or len(raw) <= CHECK_DIGITS:
        return None
    return int(raw[:-CHECK_DIGITS])


def code_matches(secret: str, code: str, order_id: int, order_no: str) -> bool:
    expected = pickup_code(secret, order_id, order_no).replace("-", "")
    return hmac.compare_digest("".join(code.split()).replace("-", ""), expected)
