"""Pickup points, with or without the pickup_points plugin.

When pickup_points is enabled for a unit, its ``postalops_active_pickup_points`` hook is the
directory and a leader's or order's point must be one of them. Without it, a point is a plain
reference code and any non-empty code is accepted.
"""

from __future__ import annotations

from typing import Any

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
