"""Plan targets (计划): kinds, top-down distribution check, and the version in force.

A target belongs to a campaign, an org unit and a kind. Changes never overwrite: each change is a
new version with the moment it takes effect, and attainment reads the version in force.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from postalops.errors import ValidationError
from postalops.money import parse_amount

from .order_rows import AMOUNT_RULES

MONEY_KINDS = ("retail_turnover", "groupbuy_turnover")
COUNT_KINDS = ("valid_sessions", "active_leaders", "orders")
KINDS = MONEY_KINDS + COUNT_KINDS

Value = Decimal | int


def parse_target_value(kind: str, raw: object, *, field: str = "value") -> Value:
    """Turn a submitted target into a Decimal (money kinds) or an int (count kinds), never negative."""
    if kind not in KINDS:
        raise ValidationError(
            f"unknown target kind {kind!r}",
            code="target_kind_unknown",
            details=[{"field": "kind", "message": f"one of {', '.join(KINDS)}"}],
        )
    if kind in MONEY_KINDS:
        value: Value = parse_amount(raw, field, **AMOUNT_RULES)
    else:
        if isinstance(raw, bool) or not (
            isinstance(raw, int) or (isinstance(raw, str) and raw.strip().isdigit())
        ):
            raise ValidationError(
                f"{field} must be a whole number for {kind}",
                code="target_not_integer",
                details=[{"field": field, "message": "a whole number"}],
            )
        value = int(raw)
    if value < 0:
        raise ValidationError(
            f"{field} cannot be negative", code="target_negative", details=[{"field": field}]
        )
    return value


def check_distribution(kind: str, parent_value: Value, children: Mapping[str, Value]) -> None:
    """Refuse a distribution whose children do not add up exactly to the parent's target.

    ``children`` maps a child unit code to its share. Exact equality is required: a plan that
    loses a fen or a session on the way down is not the plan that was set.
    """
    if not children:
        raise ValidationError(
            "a distribution needs at least one child unit",
            code="distribution_empty",
            details=[{"field": "children", "message": "empty"}],
        )
    total = sum(children.values(), Decimal("0.00") if kind in MONEY_KINDS else 0)
    if total != parent_value:
        raise ValidationError(
            f"children's {kind} targets sum to {total}, parent target is {parent_value}",
            code="distribution_mismatch",
            details=[
                {
                    "field": "children",
                    "kind": kind,
                    "parent": str(parent_value),
                    "sum": str(total),
                    "difference": str(parent_value - total),
                }
            ],
        )


def check_within_parent(
    kind: str, parent_code: str, parent_value: Value, children: Mapping[str, Value], *, code: str
) -> None:
    """Refuse children's targets that together exceed their parent's (a partial plan may sum to
    less: the rest is not handed down yet). ``code`` says which side moved:
    ``exceeds_parent_target`` (a child was raised) or ``below_children_targets`` (the parent was
    cut)."""
    total = sum(children.values(), Decimal("0.00") if kind in MONEY_KINDS else 0)
    if total <= parent_value:
        return
    raise ValidationError(
        f"children of {parent_code} would sum to {total}, above its {kind} target {parent_value}",
        code=code,
        details=[
            {
                "field": "value",
                "message": f"children of {parent_code} would sum to {total}, "
                f"above its target {parent_value}",
                "parent": parent_code,
                "parent_target": str(parent_value),
                "children_sum": str(total),
            }
        ],
    )


@dataclass(frozen=True)
class TargetVersion:
    """One recorded value of a target, effective from ``effective_from`` (aware datetime)."""

    unit_code: str
    kind: str
    value: Value
    effective_from: datetime
    seq: int = 0  # order of recording; breaks ties between versions with the same start


def target_in_force(versions: Iterable[TargetVersion], as_of: datetime) -> Value | None:
    """The value of the latest version already effective at ``as_of``; None when none is."""
    best: TargetVersion | None = None
    for version in versions:
        if version.effective_from > as_of:
            continue
        if best is None or (version.effective_from, version.seq) > (best.effective_from, best.seq):
            best = version
    return None if best is None else best.value


def plan_for_unit(
    unit_code: str,
    own_targets: Mapping[str, Value],
    children_of: Mapping[str, list[str]],
) -> Value | None:
    """The plan of a unit: its own target if one is set, otherwise the sum of its children's plans.

    Lets a city without its own target still be compared when its branches carry targets, and a
    branch with no target anywhere above or below it has no plan (attainment is then undefined).
    """
    if unit_code in own_targets:
        return own_targets[unit_code]
    plans = [
        p
        for child in children_of.get(unit_code, [])
        if (p := plan_for_unit(child, own_targets, children_of)) is not None
    ]
    if not plans:
        return None
    return sum(plans[1:], plans[0])
