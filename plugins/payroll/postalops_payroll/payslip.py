"""Payslips: pricing one courier's month of work against the rate card in force.

Own staff (自有揽投员) earn base pay + delivery piece pay x quota multiplier + progressive
volume uplift x quota multiplier + collection commission - pickup-point agent fees +/- manual
adjustments. Outsourced couriers (外包) are paid nothing directly: each item is charged at their
contractor's unit price for the contract term the item was delivered in.

Every line is rounded half-up to the fen on its own, and a slip's total is the exact sum of its
rounded lines, so what a courier reads on the slip always adds up.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple

from postalops.errors import ValidationError
from postalops.money import to_fen

from .dimensions import Category, Mode, Tier
from .rate_card import Cell, RateCard

# An exact zero starts the sums: an empty one reads 0, as the API and KPIs have always shown
# it (the core's ZERO is 0.00).
NIL = Decimal(0)

OWN = "own"
OUTSOURCED = "outsourced"


@dataclass(frozen=True)
class Adjustment:
    """A manual line (补扣款): signed amount in yuan, with the reason and who entered it."""

    amount: Decimal
    reason: str
    author: str

    def __post_init__(self) -> None:
        problems = []
        if not self.reason.strip():
            problems.append({"field": "reason", "message": "an adjustment needs a reason"})
        if not self.author.strip():
            problems.append({"field": "author", "message": "an adjustment needs an author"})
        if to_fen(self.amount) != self.amount:
            problems.append({"field": "amount", "message": "whole fen only (two decimals)"})
        if problems:
            raise ValidationError("invalid adjustment", code="invalid_adjustment", details=problems)


@dataclass(frozen=True)
class CourierMonth:
    """Everything about one own-staff courier's month that pay depends on."""

    courier_code: str
    grade: str
    base_pay: Decimal
    deliveries: Mapping[Cell, int]
    postage: Mapping[Category, Decimal] = field(default_factory=dict)
    adjustments: Sequence[Adjustment] = ()


class PayLine(NamedTuple):
    """One line of a slip. ``unit_rate`` keeps full precision; ``amount`` is rounded to the fen.

    A NamedTuple rather than a frozen dataclass: a province run builds hundreds of thousands of
    lines, and a tuple is several times cheaper to create while staying immutable.
    """

    kind: str  # base | delivery | volume_tier | commission | agent_fee | adjustment | outsourced
    quantity: Decimal
    unit_rate: Decimal
    amount: Decimal
    rate_card_version: int | None = None
    category: str | None = None
    mode: str | None = None
    tier: str | None = None
    volume_tier: int | None = None
    contract_term: str | None = None
    reason: str | None = None
    author: str | None = None


@dataclass(frozen=True)
class Payslip:
    courier_code: str
    kind: str  # own | outsourced
    lines: tuple[PayLine, ...]
    delivered_items: int
    pickup_point_items: int
    quota: Decimal | None = None
    collected_postage: Decimal | None = None
    quota_completion: Decimal | None = None
    quota_band: str | None = None
    quota_multiplier: Decimal | None = None
    rate_card_version: int | None = None

    @property
    def total(self) -> Decimal:
        """What the courier (or, for outsourced work, the contractor) is owed: sum of lines."""
        return sum((line.amount for line in self.lines), NIL)

    @property
    def agent_fees(self) -> Decimal:
        """Agent fees the company pays pickup points on this courier's behalf (positive)."""
        return -sum((line.amount for line in self.lines if line.kind == "agent_fee"), NIL)

    @property
    def company_cost(self) -> Decimal:
        """Total + agent fees: what the company spends to deliver this courier's items."""
        return self.total + self.agent_fees


def quota_completion(collected: Decimal, quota: Decimal) -> Decimal:
    """Collected postage / monthly quota, exact (no rounding before the band is chosen)."""
    return collected / quota


def price_own_courier(work: CourierMonth, card: RateCard) -> Payslip:
    """Price one own-staff courier's month against ``card``. Deterministic in its inputs.

    The steps, each a function below: the quota band the month's collected postage reaches
    (its multiplier scales delivery and volume pay), then the lines in slip order: base pay,
    delivery piece pay per cell, volume-tier uplift, collection commission, pickup-point agent
    fees (negative), manual adjustments.
    """
    quota = card.quota_for(work.grade)
    collected = sum(work.postage.values(), NIL)
    completion = quota_completion(collected, quota)
    band = card.band_for(completion)
    multiplier = band.multiplier
    delivery, delivered, pickup_items = _delivery_lines(work, card, multiplier)
    lines = (
        _base_line(work, card),
        *delivery,
        *_volume_tier_lines(card, delivered, multiplier),
        *_commission_lines(work, card),
        *_agent_fee_lines(card, pickup_items),
        *_adjustment_lines(work),
    )
    return Payslip(
        courier_code=work.courier_code,
        kind=OWN,
        lines=lines,
        delivered_items=delivered,
        pickup_point_items=sum(pickup_items.values()),
        quota=quota,
        collected_postage=collected,
        quota_completion=completion,
        quota_band=band.label,
        quota_multiplier=multiplier,
        rate_card_version=card.version,
    )


def _base_line(work: CourierMonth, card: RateCard) -> PayLine:
    return PayLine("base", Decimal(1), work.base_pay, to_fen(work.base_pay), card.version)


def _delivery_lines(
    work: CourierMonth, card: RateCard, multiplier: Decimal
) -> tuple[list[PayLine], int, dict[Category, int]]:
    """One line per delivered cell (rate x quota multiplier), the items delivered, and the
    items handed to pickup points per category (their agent fees)."""
    lines: list[PayLine] = []
    delivered = 0
    pickup_items: dict[Category, int] = {}
    for cell in sorted(work.deliveries):
        count = work.deliveries[cell]
        if count <= 0:
            continue
        category, mode, tier = cell
        unit_rate = card.rate(category, mode, tier) * multiplier
        lines.append(
            PayLine(
                "delivery",
                Decimal(count),
                unit_rate,
                to_fen(count * unit_rate),
                card.version,
                category=str(category),
                mode=str(mode),
                tier=str(tier),
                volume_tier=0,
            )
        )
        delivered += count
        if mode is Mode.PICKUP_POINT:
            pickup_items[category] = pickup_items.get(category, 0) + count
    return lines, delivered, pickup_items


def _volume_tier_lines(card: RateCard, delivered: int, multiplier: Decimal) -> list[PayLine]:
    """The progressive uplift for the items above each volume tier's threshold."""
    lines = []
    for index, (count, volume_tier) in enumerate(card.volume_split(delivered), start=1):
        unit_rate = volume_tier.uplift * multiplier
        lines.append(
            PayLine(
                "volume_tier",
                Decimal(count),
                unit_rate,
                to_fen(count * unit_rate),
                card.version,
                volume_tier=index,
            )
        )
    return lines


def _commission_lines(work: CourierMonth, card: RateCard) -> list[PayLine]:
    """The commission on collected postage, per category."""
    lines = []
    for category in sorted(work.postage):
        postage = work.postage[category]
        if postage == NIL:
            continue
        share = card.commission_rates[category]
        lines.append(
            PayLine(
                "commission",
                postage,
                share,
                to_fen(postage * share),
                card.version,
                category=str(category),
            )
        )
    return lines


def _agent_fee_lines(card: RateCard, pickup_items: Mapping[Category, int]) -> list[PayLine]:
    """The pickup-point agent fees, deducted from the courier (negative lines)."""
    lines = []
    for category in sorted(pickup_items):
        fee = card.agent_fees[category]
        count = pickup_items[category]
        lines.append(
            PayLine(
                "agent_fee",
                Decimal(count),
                -fee,
                -to_fen(count * fee),
                card.version,
                category=str(category),
                mode=str(Mode.PICKUP_POINT),
            )
        )
    return lines


def _adjustment_lines(work: CourierMonth) -> list[PayLine]:
    """The manual adjustments (补扣款), each with its reason and author."""
    return [
        PayLine(
            "adjustment",
            Decimal(1),
            adjustment.amount,
            to_fen(adjustment.amount),
            reason=adjustment.reason,
            author=adjustment.author,
        )
        for adjustment in work.adjustments
    ]


@dataclass(frozen=True)
class TermCount:
    """Items an outsourced courier delivered under one contract term (and how many to pickup points)."""

    term_code: str
    unit_price: Decimal
    items: int
    pickup_point_items: int = 0


def price_outsourced_courier(
    courier_code: str, counts: Sequence[TermCount], adjustments: Sequence[Adjustment] = ()
) -> Payslip:
    """Charge an outsourced courier's items at their contractor's all-in unit price per term."""
    lines = [
        PayLine(
            "outsourced",
            Decimal(tc.items),
            tc.unit_price,
            to_fen(tc.items * tc.unit_price),
            contract_term=tc.term_code,
        )
        for tc in sorted(counts, key=lambda tc: tc.term_code)
        if tc.items > 0
    ]
    lines.extend(
        PayLine(
            "adjustment", Decimal(1), a.amount, to_fen(a.amount), reason=a.reason, author=a.author
        )
        for a in adjustments
    )
    return Payslip(
        courier_code=courier_code,
        kind=OUTSOURCED,
        lines=tuple(lines),
        delivered_items=sum(tc.items for tc in counts),
        pickup_point_items=sum(tc.pickup_point_items for tc in counts),
    )


_CELLS: dict[tuple[str, str, str], Cell] = {
    (c.value, m.value, t.value): (c, m, t) for c in Category for m in Mode for t in Tier
}


def cell_of(category: str, mode: str, tier: str) -> Cell:
    """Rebuild a rate-card cell from stored strings (a dict lookup: called per aggregate row)."""
    try:
        return _CELLS[(category, mode, tier)]
    except KeyError:
        return (Category(category), Mode(mode), Tier(tier))


# --- where a line sits on its slip ----------------------------------------------------------------
#
# A line's position is a function of what it is, not of which other lines the slip has: the same
# cell has the same position every month and on every re-run, and the database can number the
# lines of a province run without sorting them. Slips store their lines by position (numbers
# only, see ``PayrollPayslip.lines``), so a position must mean the same thing forever: the code
# lists below are append-only. A new category, mode or tier goes at the end of its list, never
# in between, or stored slips would be read back as the wrong cells.

CATEGORY_CODES = ("express", "gov_mail", "letter", "parcel", "registered")
MODE_CODES = ("counter", "door", "locker", "pickup_point")
TIER_CODES = ("mountain", "rural", "suburban", "urban")
BLOCK = 1000  # first position of each kind's block, in slip order
FIRST = {
    "base": 0,
    "delivery": 1,
    "outsourced": 1,
    "volume_tier": BLOCK,
    "commission": 2 * BLOCK,
    "agent_fee": 3 * BLOCK,
    "adjustment": 4 * BLOCK,
}
# Every cell's position stays inside the delivery block.
assert FIRST["delivery"] + len(CATEGORY_CODES) * len(MODE_CODES) * len(TIER_CODES) <= BLOCK


def cell_position(category: str, mode: str, tier: str) -> int:
    """The position of a delivery line of this cell."""
    ordinal = CATEGORY_CODES.index(category) * len(MODE_CODES) + MODE_CODES.index(mode)
    return FIRST["delivery"] + ordinal * len(TIER_CODES) + TIER_CODES.index(tier)


def line_positions(lines: Sequence[PayLine]) -> list[int]:
    """The stored position of each line of a slip, in the order ``price_*`` produced them."""
    positions = []
    ordinal = {"outsourced": 0, "adjustment": 0}
    for line in lines:
        first = FIRST[line.kind]
        if line.kind == "delivery":
            positions.append(cell_position(line.category or "", line.mode or "", line.tier or ""))
        elif line.kind == "volume_tier":
            positions.append(first + (line.volume_tier or 0))
        elif line.kind in ("commission", "agent_fee"):
            positions.append(first + CATEGORY_CODES.index(line.category or ""))
        elif line.kind in ordinal:
            positions.append(first + ordinal[line.kind])
            ordinal[line.kind] += 1
        else:
            positions.append(first)
    return positions


class LineIdentity(NamedTuple):
    """What a stored position says a line is (the inverse of ``line_positions``)."""

    kind: str
    category: str | None = None
    mode: str | None = None
    tier: str | None = None
    volume_tier: int | None = None


def line_identity(position: int, slip_kind: str) -> LineIdentity:
    """Read a stored position back: which kind of line, and for which cell or category."""
    block, offset = divmod(position, BLOCK)
    if block >= 4:
        return LineIdentity("adjustment")
    if block == 3:
        return LineIdentity("agent_fee", CATEGORY_CODES[offset], "pickup_point")
    if block == 2:
        return LineIdentity("commission", CATEGORY_CODES[offset])
    if block == 1:
        return LineIdentity("volume_tier", volume_tier=offset)
    if offset == 0:
        return LineIdentity("base")
    if slip_kind == OUTSOURCED:
        return LineIdentity("outsourced")
    rest, tier = divmod(offset - FIRST["delivery"], len(TIER_CODES))
    category, mode = divmod(rest, len(MODE_CODES))
    return LineIdentity(
        "delivery", CATEGORY_CODES[category], MODE_CODES[mode], TIER_CODES[tier], volume_tier=0
    )
