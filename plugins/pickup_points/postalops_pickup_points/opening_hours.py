"""Opening hours of a pickup point: a weekly timetable plus dated closures.

Stored as plain JSON, e.g. ``{"mon": "08:00-20:00", ..., "sun": null, "closed_dates":
["2022-10-01"]}``: a weekday mapped to null (or missing) is a weekly closed day. The same
calendar decides which days count as *working days* for the uncollected/return deadlines.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from postalops.errors import ValidationError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SPAN = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")


@dataclass(frozen=True)
class OpeningHours:
    """Weekly spans (weekday index 0=Monday → (open, close)) and extra closed dates."""

    weekly: Mapping[int, tuple[dt.time, dt.time]] = field(
        default_factory=lambda: {i: (dt.time(8), dt.time(20)) for i in range(7)}
    )
    closed_dates: frozenset[dt.date] = frozenset()

    def is_open(self, day: dt.date) -> bool:
        """True when the point opens at all on ``day``."""
        return day.weekday() in self.weekly and day not in self.closed_dates

    def to_json(self) -> dict:
        out: dict = {}
        for i, name in enumerate(WEEKDAYS):
            span = self.weekly.get(i)
            out[name] = f"{span[0]:%H:%M}-{span[1]:%H:%M}" if span else None
        out["closed_dates"] = sorted(d.isoformat() for d in self.closed_dates)
        return out


def _time(h: str, m: str) -> dt.time:
    # "24:00" closes at midnight; store it as the last minute of the day.
    return dt.time(23, 59) if h == "24" else dt.time(int(h), int(m))


def parse_opening_hours(raw: Mapping | None, field_name: str = "opening_hours") -> OpeningHours:
    """Validate the JSON form; every error names ``opening_hours.<weekday>`` or the date."""
    if raw is None:
        return OpeningHours()
    if not isinstance(raw, Mapping):
        raise ValidationError(
            "opening hours must be an object",
            code="invalid_opening_hours",
            details=[{"field": field_name, "message": "expected an object of weekday spans"}],
        )
    errors = []
    weekly: dict[int, tuple[dt.time, dt.time]] = {}
    for key in raw:
        if key not in WEEKDAYS and key != "closed_dates":
            errors.append({"field": f"{field_name}.{key}", "message": "unknown key"})
    for i, name in enumerate(WEEKDAYS):
        value = raw.get(name)
        if value in (None, "", "closed"):
            continue
        match = _SPAN.match(str(value).strip())
        if not match:
            errors.append({"field": f"{field_name}.{name}", "message": "expected HH:MM-HH:MM"})
            continue
        start, end = _time(*match.group(1, 2)), _time(*match.group(3, 4))
        if end <= start:
            errors.append({"field": f"{field_name}.{name}", "message": "closes before it opens"})
            continue
        weekly[i] = (start, end)
    closed: set[dt.date] = set()
    for j, value in enumerate(raw.get("closed_dates") or []):
        try:
            closed.add(dt.date.fromisoformat(str(value)))
        except ValueError:
            errors.append(
                {"field": f"{field_name}.closed_dates[{j}]", "message": "expected YYYY-MM-DD"}
            )
    if errors:
        raise ValidationError("invalid opening hours", code="invalid_opening_hours", details=errors)
    return OpeningHours(weekly=weekly, closed_dates=frozenset(closed))
