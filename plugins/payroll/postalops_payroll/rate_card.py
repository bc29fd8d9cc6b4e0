"""Rate cards (计件标准): what a courier earns per item, per collected yuan, per quota band.

A rate card is effective-dated and versioned per unit. It holds:

* delivery piece rates by mail category x delivery mode x difficulty tier (a full grid);
* progressive volume tiers: each item beyond a monthly count earns an extra ``uplift``;
* collection commission: a fraction of collected postage, per category;
* quota linkage: bands of monthly collection-quota completion -> multiplier on delivery pay;
* the pickup-point agent fee per item, per category (deducted from the courier);
* monthly collection quotas per courier grade;
* market reference rates (通达系) per category.

The DOMAIN.md rule is checked at save time: for each category and tier, the agent fee plus the
courier's pickup-point rate must not exceed the door rate, so handing an item to a pickup point
never costs the company more than delivering it to the door.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from postalops.errors import PostalOpsError, ValidationError
from postalops.money import ZERO, parse_decimal
from pydantic import BaseModel, BeforeValidator, ConfigDict
from pydantic import ValidationError as PydanticValidationError
from pydantic_core import PydanticCustomError

from .dimensions import Category, Mode, Tier
from .period import Month

Cell = tuple[Category, Mode, Tier]


@dataclass(frozen=True)
class QuotaBand:
    """A band of quota completion (a fraction, 0.8 = 80%) and its delivery-pay multiplier.

    ``upper=None`` means unbounded. Edges say whether they are closed (included) or open.
    """

    lower: Decimal
    upper: Decimal | None
    multiplier: Decimal
    lower_closed: bool = True
    upper_closed: bool = False

    def contains(self, completion: Decimal) -> bool:
        above = completion >= self.lower if self.lower_closed else completion > self.lower
        if self.upper is None:
            return above
        below = completion <= self.upper if self.upper_closed else completion < self.upper
        return above and below

    @property
    def label(self) -> str:
        """Interval notation, e.g. ``[0.8, 1.0)``."""
        left = "[" if self.lower_closed else "("
        right = "]" if self.upper_closed and self.upper is not None else ")"
        upper = "∞" if self.upper is None else str(self.upper)
        return f"{left}{self.lower}, {upper}{right}"


@dataclass(frozen=True)
class VolumeTier:
    """Progressive tier: each delivered item beyond ``above`` in the month earns ``uplift`` more.

    Tiers stack like tax brackets: with tiers above 2000 (+0.05) and above 3000 (+0.10), item 2500
    earns base + 0.05 and item 3500 base + 0.10. The uplift is per item and independent of the
    item's category, so the split needs only the courier's monthly count, not the order of scans,
    and identical input always gives an identical slip.
    """

    above: int
    uplift: Decimal


@dataclass(frozen=True)
class RateCard:
    """One version of a unit's rate card. Build from JSON with :func:`rate_card_from_dict`."""

    effective_from: date
    delivery_rates: Mapping[Cell, Decimal]
    commission_rates: Mapping[Category, Decimal]
    quota_bands: tuple[QuotaBand, ...]
    agent_fees: Mapping[Category, Decimal]
    quotas_by_grade: Mapping[str, Decimal]
    volume_tiers: tuple[VolumeTier, ...] = ()
    market_rates: Mapping[Category, Decimal] = field(default_factory=dict)
    version: int = 0
    unit_code: str = ""

    def rate(self, category: Category, mode: Mode, tier: Tier) -> Decimal:
        return self.delivery_rates[(category, mode, tier)]

    def band_for(self, completion: Decimal) -> QuotaBand:
        """The quota band containing ``completion``; bands are validated to cover [0, inf)."""
        for band in self.quota_bands:
            if band.contains(completion):
                return band
        raise ValidationError(
            f"no quota band contains completion {completion}",
            code="no_quota_band",
            details=[{"field": "quota_bands", "message": f"gap at {completion}"}],
        )

    def quota_for(self, grade: str) -> Decimal:
        try:
            return self.quotas_by_grade[grade]
        except KeyError:
            raise ValidationError(
                f"rate card v{self.version} has no collection quota for grade {grade!r}",
                code="unknown_grade",
                details=[{"field": "grade", "message": "no quota for this grade", "value": grade}],
            ) from None

    def volume_split(self, delivered: int) -> list[tuple[int, VolumeTier]]:
        """How many of ``delivered`` items fall in each volume tier (tiers with items only)."""
        tiers = sorted(self.volume_tiers, key=lambda t: t.above)
        split = []
        for index, tier in enumerate(tiers):
            ceiling = tiers[index + 1].above if index + 1 < len(tiers) else None
            top = delivered if ceiling is None else min(delivered, ceiling)
            count = top - tier.above
            if count > 0:
                split.append((count, tier))
        return split


def validate_rate_card(card: RateCard) -> None:
    """Check a card before it is saved; raise one ``ValidationError`` naming every bad cell."""
    problems = rate_card_problems(card)
    if problems:
        raise ValidationError(
            f"rate card has {len(problems)} problem(s)", code="invalid_rate_card", details=problems
        )


def rate_card_problems(card: RateCard) -> list[dict[str, Any]]:
    """Every rule a card breaks, each naming its field (empty when the card is valid)."""
    problems: list[dict[str, Any]] = []
    if card.effective_from.day != 1:
        problems.append(
            {"field": "effective_from", "message": "a version takes effect on the 1st of a month"}
        )
    for category in Category:
        for mode in Mode:
            for tier in Tier:
                name = f"delivery_rates.{category}.{mode}.{tier}"
                rate = card.delivery_rates.get((category, mode, tier))
                if rate is None:
                    problems.append({"field": name, "message": "missing"})
                elif rate < ZERO:
                    problems.append({"field": name, "message": "must be >= 0"})
    for category in Category:
        if category not in card.agent_fees:
            problems.append({"field": f"agent_fees.{category}", "message": "missing"})
        if category not in card.commission_rates:
            problems.append({"field": f"commission_rates.{category}", "message": "missing"})
        elif not ZERO <= card.commission_rates[category] <= 1:
            problems.append(
                {"field": f"commission_rates.{category}", "message": "a fraction between 0 and 1"}
            )
    problems.extend(agent_fee_violations(card))
    problems.extend(_band_problems(card.quota_bands))
    problems.extend(_volume_tier_problems(card.volume_tiers))
    if not card.quotas_by_grade:
        problems.append({"field": "quotas_by_grade", "message": "at least one grade"})
    for grade, quota in card.quotas_by_grade.items():
        if quota <= ZERO:
            problems.append({"field": f"quotas_by_grade.{grade}", "message": "must be > 0"})
    return problems


def agent_fee_violations(card: RateCard) -> list[dict[str, Any]]:
    """Every (category, tier) where agent fee + pickup-point rate exceeds the door rate."""
    violations = []
    for category in Category:
        fee = card.agent_fees.get(category)
        for tier in Tier:
            door = card.delivery_rates.get((category, Mode.DOOR, tier))
            pickup = card.delivery_rates.get((category, Mode.PICKUP_POINT, tier))
            if fee is None or door is None or pickup is None:
                continue
            if fee + pickup > door:
                violations.append(
                    {
                        "field": f"delivery_rates.{category}.pickup_point.{tier}",
                        "code": "agent_fee_exceeds_door_rate",
                        "message": (
                            f"agent fee {fee} + pickup-point rate {pickup} = {fee + pickup} "
                            f"exceeds door rate {door}"
                        ),
                        "category": str(category),
                        "tier": str(tier),
                        "agent_fee": str(fee),
                        "pickup_point_rate": str(pickup),
                        "door_rate": str(door),
                    }
                )
    return violations


def _band_problems(bands: tuple[QuotaBand, ...]) -> list[dict[str, Any]]:
    """Bands must tile [0, inf) exactly: no gap, no overlap, each edge owned by one band."""
    if not bands:
        return [{"field": "quota_bands", "message": "at least one band"}]
    problems = []
    ordered = sorted(bands, key=lambda b: b.lower)
    for index, band in enumerate(ordered):
        name = f"quota_bands[{index}]"
        if band.multiplier <= ZERO:
            problems.append({"field": f"{name}.multiplier", "message": "must be > 0"})
        if band.upper is not None and (
            band.upper < band.lower
            or (band.upper == band.lower and not (band.lower_closed and band.upper_closed))
        ):
            problems.append({"field": name, "message": f"empty interval {band.label}"})
    first = ordered[0]
    if first.lower != ZERO or not first.lower_closed:
        problems.append({"field": "quota_bands[0]", "message": "must start at [0"})
    for index, (left, right) in enumerate(zip(ordered, ordered[1:], strict=False)):
        name = f"quota_bands[{index + 1}]"
        if left.upper is None or left.upper != right.lower:
            problems.append(
                {"field": name, "message": f"{left.label} and {right.label} leave a gap or overlap"}
            )
        elif left.upper_closed == right.lower_closed:
            owner = "both" if left.upper_closed else "neither"
            problems.append(
                {"field": name, "message": f"edge {right.lower} is in {owner} of two bands"}
            )
    if ordered[-1].upper is not None:
        problems.append(
            {"field": f"quota_bands[{len(ordered) - 1}]", "message": "last band must be unbounded"}
        )
    return problems


def _volume_tier_problems(tiers: tuple[VolumeTier, ...]) -> list[dict[str, Any]]:
    problems = []
    thresholds = [t.above for t in tiers]
    if len(set(thresholds)) != len(thresholds):
        problems.append({"field": "volume_tiers", "message": "thresholds must differ"})
    for index, tier in enumerate(tiers):
        if tier.above < 0:
            problems.append({"field": f"volume_tiers[{index}].above", "message": "must be >= 0"})
        if tier.uplift < ZERO:
            problems.append({"field": f"volume_tiers[{index}].uplift", "message": "must be >= 0"})
    return problems


def market_gap_report(card: RateCard) -> list[dict[str, Any]]:
    """Our door rate minus the market (通达系) rate, per category and tier, where one is known."""
    rows = []
    for category in Category:
        market = card.market_rates.get(category)
        if market is None:
            continue
        for tier in Tier:
            ours = card.delivery_rates.get((category, Mode.DOOR, tier))
            if ours is None:
                continue
            rows.append(
                {
                    "category": str(category),
                    "tier": str(tier),
                    "our_rate": ours,
                    "market_rate": market,
                    "difference": ours - market,
                }
            )
    return rows


def select_version(cards: Iterable[RateCard], month: Month) -> RateCard:
    """The card in force for ``month``: latest ``effective_from`` on or before its first day.

    Two versions with the same date: the higher version number wins (a correction). Raises
    ``NotFound``-style 422 when nothing is in force yet.
    """
    candidates = [c for c in cards if c.effective_from <= month.first_day]
    if not candidates:
        raise ValidationError(
            f"no rate card in force for {month}",
            code="no_rate_card",
            details=[{"field": "month", "message": "no rate card in force", "value": str(month)}],
        )
    return max(candidates, key=lambda c: (c.effective_from, c.version))


# --- JSON shape ------------------------------------------------------------------------------


def _number(value: Any) -> Decimal:
    """A rate, fee or fraction (``parse_decimal``: >= 0); its refusal in parse_decimal's words."""
    try:
        parsed = parse_decimal(value, "value")
    except PostalOpsError as error:
        raise PydanticCustomError("rate_card_value", error.details[0]["message"]) from None
    assert parsed is not None
    return parsed


def _optional_number(value: Any) -> Decimal | None:
    return None if value is None else _number(value)


def _integer(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise PydanticCustomError("rate_card_integer", "an integer")
    return value


def _first_day(value: Any) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise PydanticCustomError("rate_card_date", "a date like 2022-01-01") from None


Number = Annotated[Decimal, BeforeValidator(_number)]
OptionalNumber = Annotated[Decimal | None, BeforeValidator(_optional_number)]


class _BandIn(BaseModel):
    model_config = ConfigDict(validate_default=True)
    lower: Number = "0"  # type: ignore[assignment]
    upper: OptionalNumber = None
    multiplier: Number = None  # type: ignore[assignment]
    lower_closed: Annotated[bool, BeforeValidator(bool)] = True
    upper_closed: Annotated[bool, BeforeValidator(bool)] = False


class _VolumeTierIn(BaseModel):
    model_config = ConfigDict(validate_default=True)
    above: Annotated[int, BeforeValidator(_integer)] = None  # type: ignore[assignment]
    uplift: Number = None  # type: ignore[assignment]


class RateCardIn(BaseModel):
    """The JSON shape of a rate card (README). Keys stay text here; which category, mode and
    tier they name is checked when the card is built, so an unknown one is named with its cell."""

    model_config = ConfigDict(validate_default=True)
    effective_from: Annotated[date, BeforeValidator(_first_day)] = ""  # type: ignore[assignment]
    delivery_rates: dict[str, dict[str, dict[str, Number]]] = None  # type: ignore[assignment]
    commission_rates: dict[str, Number] = {}
    agent_fees: dict[str, Number] = {}
    market_rates: dict[str, Number] = {}
    quotas_by_grade: dict[str, Number] = {}
    quota_bands: list[_BandIn] = None  # type: ignore[assignment]
    volume_tiers: Annotated[list[_VolumeTierIn], BeforeValidator(lambda v: v or [])] = []


# A refused value is replaced by one of these and the card read again, so the rule checks still
# run over everything else and one reply names every problem (as a hand-written reader would).
_STAND_IN = {
    "rate_card_value": "0",
    "rate_card_integer": 0,
    "rate_card_date": "1970-01-01",
    "dict_type": {},
    "model_type": {},
    "list_type": [],
}
_WORDS = {
    "dict_type": "must be an object",
    "model_type": "must be an object",
    "list_type": "must be a list",
}


def _path(loc: tuple[Any, ...]) -> str:
    """``("quota_bands", 0, "lower")`` -> ``quota_bands[0].lower``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _problem(error: Any) -> dict[str, Any]:
    problem = {"field": _path(error["loc"]), "message": _WORDS.get(error["type"], error["msg"])}
    if error["type"] == "rate_card_value" and error["msg"] != "required":
        problem["value"] = str(error["input"])
    return problem


def _read_shape(data: Mapping[str, Any]) -> tuple[RateCardIn | None, list[dict[str, Any]]]:
    """The card as read, with every refused value named; refused values read as stand-ins."""
    problems: list[dict[str, Any]] = []
    data = copy.deepcopy(dict(data))
    for _ in range(8):
        try:
            return RateCardIn.model_validate(data), problems
        except PydanticValidationError as exc:
            for error in exc.errors():
                problems.append(_problem(error))
                *parents, last = error["loc"]
                container: Any = data
                for key in parents:
                    container = container[key]
                container[last] = _STAND_IN.get(error["type"])
    return None, problems


def _replace(problems: list[dict[str, Any]], problem: dict[str, Any]) -> None:
    """``problem`` instead of any other about the same field."""
    problems[:] = [p for p in problems if p["field"] != problem["field"]] + [problem]


def _known_keys(
    values: Mapping[str, Decimal], key: str, problems: list[dict[str, Any]]
) -> dict[Category, Decimal]:
    result = {}
    for category_key, value in values.items():
        name = f"{key}.{category_key}"
        try:
            result[Category(category_key)] = value
        except ValueError:  # named as unknown, whatever its value
            _replace(problems, {"field": name, "message": "unknown category"})
    return result


def _known_cells(
    grid: Mapping[str, Mapping[str, Mapping[str, Decimal]]],
    problems: list[dict[str, Any]],
) -> dict[Cell, Decimal]:
    rates: dict[Cell, Decimal] = {}
    for category_key, by_mode in grid.items():
        for mode_key, by_tier in by_mode.items():
            for tier_key, value in by_tier.items():
                name = f"delivery_rates.{category_key}.{mode_key}.{tier_key}"
                try:
                    rates[(Category(category_key), Mode(mode_key), Tier(tier_key))] = value
                except ValueError:  # named as unknown, whatever its value
                    _replace(problems, {"field": name, "message": "unknown category, mode or tier"})
    return rates


def rate_card_from_dict(
    data: Mapping[str, Any], *, version: int = 0, unit_code: str = ""
) -> RateCard:
    """Parse the JSON shape (see README, :class:`RateCardIn`) and validate it; every problem is
    reported at once, each naming its cell or path."""
    shape, problems = _read_shape(data)
    if shape is None:
        raise ValidationError(
            f"rate card has {len(problems)} problem(s)", code="invalid_rate_card", details=problems
        )
    card = RateCard(
        effective_from=shape.effective_from,
        delivery_rates=_known_cells(shape.delivery_rates, problems),
        commission_rates=_known_keys(shape.commission_rates, "commission_rates", problems),
        quota_bands=tuple(QuotaBand(**band.model_dump()) for band in shape.quota_bands),
        agent_fees=_known_keys(shape.agent_fees, "agent_fees", problems),
        quotas_by_grade=dict(shape.quotas_by_grade),
        volume_tiers=tuple(VolumeTier(t.above, t.uplift) for t in shape.volume_tiers),
        market_rates=_known_keys(shape.market_rates, "market_rates", problems),
        version=version,
        unit_code=unit_code,
    )
    # Rule checks run even when some values did not parse, so one reply names every problem;
    # a field that failed to parse is not reported a second time by the rules.
    unparsed = {problem["field"] for problem in problems}
    problems.extend(p for p in rate_card_problems(card) if p["field"] not in unparsed)
    if problems:
        raise ValidationError(
            f"rate card has {len(problems)} problem(s)", code="invalid_rate_card", details=problems
        )
    return card


def rate_card_to_dict(card: RateCard) -> dict[str, Any]:
    """The JSON shape of a card: money and fractions as strings."""
    grid: dict[str, dict[str, dict[str, str]]] = {}
    for (category, mode, tier), rate in sorted(card.delivery_rates.items()):
        grid.setdefault(str(category), {}).setdefault(str(mode), {})[str(tier)] = str(rate)
    return {
        "effective_from": card.effective_from.isoformat(),
        "delivery_rates": grid,
        "volume_tiers": [
            {"above": t.above, "uplift": str(t.uplift)}
            for t in sorted(card.volume_tiers, key=lambda t: t.above)
        ],
        "commission_rates": {str(k): str(v) for k, v in card.commission_rates.items()},
        "quota_bands": [
            {
                "lower": str(b.lower),
                "upper": None if b.upper is None else str(b.upper),
                "lower_closed": b.lower_closed,
                "upper_closed": b.upper_closed,
                "multiplier": str(b.multiplier),
            }
            for b in sorted(card.quota_bands, key=lambda b: b.lower)
        ],
        "agent_fees": {str(k): str(v) for k, v in card.agent_fees.items()},
        "quotas_by_grade": {k: str(v) for k, v in card.quotas_by_grade.items()},
        "market_rates": {str(k): str(v) for k, v in card.market_rates.items()},
    }
