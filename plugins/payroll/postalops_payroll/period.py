"""Pay months: which month an event belongs to, and whether that month still accepts changes.

Events are stored in UTC but belong to the month on the Shanghai wall clock: a delivery scanned
at 00:30 on 1 October Beijing time is October's work even though it is 30 September in UTC.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from postalops.errors import Conflict, ValidationError

SHANGHAI = ZoneInfo("Asia/Shanghai")
_MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True, order=True)
class Month:
    """A calendar pay month, e.g. ``Month(2022, 9)``; printed as ``2022-09``."""

    year: int
    month: int

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12 or not 2000 <= self.year <= 2100:
            raise ValidationError(
                f"invalid month {self.year}-{self.month}",
                code="invalid_month",
                details=[{"field": "month", "message": "YYYY-MM between 2000 and 2100"}],
            )

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @classmethod
    def parse(cls, value: object, field: str = "month") -> Month:
        """Parse ``YYYY-MM`` (or a date, taking its month)."""
        if isinstance(value, Month):
            return value
        if isinstance(value, date):
            return cls(value.year, value.month)
        match = _MONTH_RE.match(str(value).strip())
        if not match:
            raise ValidationError(
                f"{field} must look like 2022-09",
                code="invalid_month",
                details=[{"field": field, "message": "YYYY-MM", "value": str(value)}],
            )
        return cls(int(match.group(1)), int(match.group(2)))

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def last_day(self) -> date:
        return date(self.year, self.month, calendar.monthrange(self.year, self.month)[1])

    def next(self) -> Month:
        return Month(self.year + (self.month == 12), self.month % 12 + 1)

    def utc_bounds(self) -> tuple[datetime, datetime]:
        """Half-open UTC interval [start, end) covering this month on the Shanghai clock."""
        start = datetime.combine(self.first_day, time(), SHANGHAI).astimezone(UTC)
        end = datetime.combine(self.next().first_day, time(), SHANGHAI).astimezone(UTC)
        return start, end


def months_between(start: date, end: date) -> list[Month]:
    """Every month whose first day lies in [start, end], the rule metrics use for a period."""
    months = []
    current = Month(start.year, start.month)
    if current.first_day < start:
        current = current.next()
    while current.first_day <= end:
        months.append(current)
        current = current.next()
    return months


def parse_timestamp(value: object, field: str) -> datetime:
    """Parse an ISO-8601 timestamp into aware UTC; a naive time is read as Shanghai time."""
    if isinstance(value, datetime):
        moment = value
    else:
        text = str(value or "").strip()
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ValidationError(
                f"{field} is not an ISO-8601 time",
                code="invalid_time",
                details=[{"field": field, "message": "ISO-8601 time", "value": text}],
            ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=SHANGHAI)
    return moment.astimezone(UTC)


def month_of(moment: datetime) -> Month:
    """The pay month of an aware timestamp, on the Shanghai wall clock."""
    local = moment.astimezone(SHANGHAI)
    return Month(local.year, local.month)


def local_day(moment: datetime) -> date:
    """The Shanghai calendar day of an aware timestamp (contract terms are in days)."""
    return moment.astimezone(SHANGHAI).date()


def ensure_month_open(month: Month, locked: bool, *, unit: str = "") -> None:
    """Refuse a change to an approved (locked) month with a 409 ``month_locked``."""
    if locked:
        where = f" for {unit}" if unit else ""
        raise Conflict(
            f"{month}{where} is approved and locked; reopen it first",
            code="month_locked",
            details=[{"field": "month", "message": "locked", "value": str(month)}],
        )
