"""The rules a unit runs with (radii, feedback hours, N/M days, direct-delivery threshold).

The values are the core's plugin settings (schema :class:`.settings.PickupRules`): stored per
unit by the core, inherited down the tree, validated and audited there. This module turns them
into the pure rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from postalops import plugin_settings
from postalops.errors import ValidationError
from sqlmodel import Session

from .coverage import CoverageRules
from .direct_delivery import DirectDeliveryRules
from .points import AreaCategory
from .service_quality import QualityRules
from .settings import PickupRules

KEY = "pickup_points"
DEFAULTS: dict[str, Any] = PickupRules().model_dump(mode="json")


@dataclass(frozen=True)
class UnitRules:
    coverage: CoverageRules
    quality: QualityRules
    direct: DirectDeliveryRules
    values: dict[str, Any]


def _build(values: dict[str, Any]) -> UnitRules:
    errors = []
    for key in values:
        if key not in DEFAULTS:
            errors.append({"field": key, "message": "unknown setting"})
    if errors:
        raise ValidationError("unknown settings", code="invalid_rules", details=errors)
    v = {**DEFAULTS, **values}
    try:
        coverage = CoverageRules(
            {
                AreaCategory.URBAN_COMMUNITY: float(v["radius_urban_m"]),
                AreaCategory.VILLAGE: float(v["radius_village_m"]),
                AreaCategory.MAILROOM: float(v["radius_mailroom_m"]),
            }
        )
        quality = QualityRules(
            feedback_hours=Decimal(str(v["feedback_hours"])),
            uncollected_days=int(v["uncollected_days"]),
            return_days=int(v["return_days"]),
            day_basis=str(v["day_basis"]),
        )
        direct = DirectDeliveryRules(
            threshold_per_day=Decimal(str(v["direct_threshold_per_day"])),
            window_days=int(v["direct_window_days"]),
        )
    except (TypeError, ValueError, InvalidOperation) as exc:
        raise ValidationError(
            f"settings are not numbers: {exc}",
            code="invalid_rules",
            details=[{"field": "settings", "message": str(exc)}],
        ) from exc
    return UnitRules(coverage, quality, direct, v)


def rules_for(session: Session, unit_code: str) -> UnitRules:
    """The rules in force at ``unit_code`` (its own values, else the nearest ancestor's, else
    the defaults)."""
    values = plugin_settings.values(session, KEY, unit_code, PickupRules)
    return _build(values.model_dump(mode="json"))


def save_rules(session: Session, unit_code: str, values: dict[str, Any], actor: str) -> UnitRules:
    """Replace the values ``unit_code`` sets itself with ``values`` (the rest inherited);
    validated and audited by the core."""
    plugin_settings.save(session, PickupRules, KEY, unit_code, values, actor=actor)
    return rules_for(session, unit_code)
