"""Pickup points, with or without the pickup_points plugin.

When pickup_points is enabled for a unit, its ``postalops_active_pickup_points`` hook is the
directory and a leader's or order's point must be one of them.

Where pickup_points is off (or not installed), ecommerce degrades explicitly instead of requiring
it: a city may run a festival campaign (retail, catalogue, plans, orders) without group-buy.
Registering a group-buy leader there is refused (409 ``pickup_points_disabled``, see
:meth:`PointDirectory.require`) and the portal's leader form says why; an order's point stays a
plain reference code, so the e-shop's orders are never lost.
"""

from __future__ import annotations

from typing import Any

from postalops.errors import Conflict
from sqlmodel import Session


class PointDirectory:
    """Looks up active pickup points per unit through the cross-plugin hook, cached per call."""

    def __init__(self, session: Session, registry: Any) -> None:
        self.session = session
        self.registry = registry
        self._cache: dict[str, set[str] | None] = {}

    def _codes(self, unit: str) -> set[str] | None:
        if unit not in self._cache:
            if self.registry is None or not self.registry.is_enabled(
                self.session, unit, "pickup_points"
            ):
                self._cache[unit] = None
            else:
                found: set[str] = set()
                for _key, points in self.registry.call_each(
                    "postalops_active_pickup_points",
                    only={"pickup_points"},
                    session=self.session,
                    tenant=unit,
                ):
                    found |= {p["code"] for p in points}
                self._cache[unit] = found
        return self._cache[unit]

    def uses_plugin(self, unit: str) -> bool:
        return self._codes(unit) is not None

    def known(self, unit: str, code: str) -> bool:
        """True when ``code`` is acceptable at ``unit``: any code without the plugin."""
        codes = self._codes(unit)
        return bool(code) if codes is None else code in codes

    def require(self, unit: str) -> None:
        """Refuse (409 ``pickup_points_disabled``) group-buy leaders at ``unit`` when the
        pickup_points plugin is off there: a leader's group collects at one of its points."""
        if not self.uses_plugin(unit):
            raise Conflict(
                f"group-buy leaders need the pickup_points plugin, which is off at {unit}",
                code="pickup_points_disabled",
                details=[{"field": "branch", "unit": unit, "plugin": "pickup_points"}],
            )
