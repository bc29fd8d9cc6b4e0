"""The rules a unit runs with (radii, feedback hours, N/M days, direct-delivery threshold).

Stored as one JSON row per unit in ``pickup_points_settings``; a unit without a row inherits the
nearest ancestor's, and the defaults below apply at the top. Changing them is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from postalops import audit
from postalops.db import check_in_scope
from postalops.errors import ValidationError
from sqlmodel import Session, select

from .coverage import CoverageRules
from .direct_delivery import DirectDeliveryRules
from .models import PickupSettings
from .points import AreaCategory
from .service_quality import QualityRules

DEFAULTS: dict[str, Any] = {
    "radius_urban_m": 500,
    "radius_village_m": 2000,
    "radius_mailroom_m": 500,
    "feedback_hours": "24",
    "uncollected_days": 3,
    "return_days": 7,
    "day_basis": "calendar",
    "direct_threshold_per_day": "40",
    "direct_window_days": 30,
}


@dataclass(frozen=True)
class UnitRules:
    coverage: CoverageRules
    quality: QualityRules
    direct: DirectDeliveryRules
    values: dict[str, Any]


def _ancestors(code: str) -> list[str]:
    parts = code.split(".")
    return [".".join(parts[:i]) for i in range(len(parts), 0, -1)]


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
    """The rules in force at ``unit_code`` (nearest configured ancestor, else defaults)."""
    chain = _ancestors(unit_code)
    rows = session.exec(
        select(PickupSettings).where(PickupSettings.unit_code.in_(chain))  # type: ignore[union-attr]
    ).all()
    by_code = {r.unit_code: r.values for r in rows}
    merged: dict[str, Any] = {}
    for code in reversed(chain):  # province first, unit last: the nearest wins
        merged.update(by_code.get(code, {}))
    return _build(merged)


def save_rules(session: Session, unit_code: str, values: dict[str, Any], actor: str) -> UnitRules:
    """Validate and store ``values`` for ``unit_code`` (audited, before/after)."""
    check_in_scope(session, unit_code)
    rules = _build(values)
    row = session.exec(select(PickupSettings).where(PickupSettings.unit_code == unit_code)).first()
    before = dict(row.values) if row else None
    if row is None:
        row = PickupSettings(unit_code=unit_code, values=dict(values), changed_by=actor)
    else:
        row.values = dict(values)
        row.changed_by = actor
    session.add(row)
    audit.record(
        "pickup_points.rules.save",
        target_type="pickup_points_settings",
        target_id=unit_code,
        tenant=unit_code,
        before=before,
        after=dict(values),
        session=session,
    )
    return rules
