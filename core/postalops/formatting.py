"""How numbers, money, times and KPI values read in the portal: one implementation per rule of
the portal conventions (shared/UX.md), used by pages (as Jinja filters) and dashboards alike.

Every function is pure: a value in, a string out, with ``locale`` ``"zh"`` or ``"en"`` (any
string starting with ``zh`` counts as Chinese, e.g. ``"zh_CN"``). Nothing here imports Flask;
:mod:`postalops.ui` registers these as Jinja filters and passes the request's locale and the
configured time zone. Money is ``Decimal`` throughout: a float is converted through its shortest
``repr`` and never used in arithmetic.

Missing values (``None``, empty string) render as an em dash ``"—"``.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

__all__ = [
    "money",
    "money_card",
    "percent",
    "number",
    "count",
    "unit_word",
    "kpi_value",
    "duration",
    "date",
    "datetime",
    "month",
    "UNITS",
]


log = logging.getLogger(__name__)

MISSING = "—"
DEFAULT_TZ = "Asia/Shanghai"
WAN = Decimal(10_000)
YI = Decimal(100_000_000)
CARD_WAN_FROM = Decimal(100_000)  # UX.md: "2,195.99万元 above 100,000"
MILLION = Decimal(1_000_000)
BILLION = Decimal(1_000_000_000)

_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def is_zh(locale: Any) -> bool:
    """True for a Chinese locale (``"zh"``, ``"zh_CN"``, a Babel ``Locale('zh')``)."""
    return str(locale or "zh").lower().startswith("zh")


def to_decimal(value: Any) -> Decimal | None:
    """``value`` as an exact Decimal; None for a missing value. Floats go through ``repr``
    (0.1 -> Decimal("0.1")), so no binary fraction leaks into the display."""
    if value is None or value == "":
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        return Decimal(int(value))
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    try:
        return Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"not a number: {value!r}") from None


def _q(value: Decimal, places: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def number(value: Any, places: int | None = None, locale: str = "zh") -> str:
    """A number with thousands separators: ``number(1234567) == "1,234,567"``.

    ``places=None`` keeps the value's own decimals (at most 2: the business never uses more);
    ``number(Decimal("1.461422222"), None) == "1.46"``.
    """
    d = to_decimal(value)
    if d is None:
        return MISSING
    if places is None:
        exp = d.as_tuple().exponent
        places = 0 if not isinstance(exp, int) or exp >= 0 else min(-exp, 2)
    d = _q(d, places)
    if d == 0:
        d = abs(d)  # never "-0.00"
    return f"{d:,.{places}f}"


def _trimmed(value: Decimal, places: int) -> str:
    """Separators and at most ``places`` decimals, trailing zeros dropped: 3.20 -> "3.2"."""
    text = f"{_q(value, places):,.{places}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def money(value: Any, locale: str = "zh", places: int = 2) -> str:
    """Money in tables: ``"¥1,234.56"``, ``"-¥12.00"`` (both languages)."""
    d = to_decimal(value)
    if d is None:
        return MISSING
    d = _q(d, places)
    sign = "-" if d < 0 else ""
    return f"{sign}¥{abs(d):,.{places}f}"


def money_card(value: Any, locale: str = "zh") -> str:
    """Money on a KPI card, short enough for a glance.

    zh (UX.md): from 100,000 in 万元 with two decimals, ``"2,195.99万元"``; from 100,000,000 in
    亿元 with at most two decimals, ``"3.2亿元"``; below 100,000 as in tables, ``"¥99,999.99"``.
    en: from 1,000,000 in millions, ``"¥21.96M"``; from 1,000,000,000 in billions, ``"¥1.2B"``
    (at most two decimals, trailing zeros dropped, so 320,000,000 is ``"¥320M"``); below one
    million as in tables.
    """
    d = to_decimal(value)
    if d is None:
        return MISSING
    sign = "-" if d < 0 else ""
    a = abs(d)
    if is_zh(locale):
        if a >= YI:
            return f"{sign}{_trimmed(a / YI, 2)}亿元"
        if a >= CARD_WAN_FROM:
            return f"{sign}{_q(a / WAN, 2):,.2f}万元"
        return money(d, locale)
    if a >= BILLION:
        return f"{sign}¥{_trimmed(a / BILLION, 2)}B"
    if a >= MILLION:
        return f"{sign}¥{_trimmed(a / MILLION, 2)}M"
    return money(d, locale)


def percent(value: Any, locale: str = "zh", places: int = 1) -> str:
    """A fraction as a percentage with one decimal: 0.54 -> ``"54.0%"``; an attainment above
    plan stays a percentage, 1.22 -> ``"122.0%"``."""
    d = to_decimal(value)
    if d is None:
        return MISSING
    return f"{number(d * 100, places)}%"


# --- units of count and the KPI vocabulary ----------------------------------------------------


@dataclass(frozen=True)
class Unit:
    """How a KPI ``unit`` string of the metrics contract reads.

    ``kind`` decides the formatting: ``money`` (yuan), ``money_per`` (yuan per ``zh``/``en``
    thing), ``ratio`` (a fraction shown as a percentage), ``count`` (a number and a unit word),
    ``minutes`` / ``hours`` (a duration), ``rate`` (a number per time, one decimal).
    ``en`` is (singular, plural).
    """

    kind: str
    zh: str = ""
    en: tuple[str, str] = ("", "")


UNITS: dict[str, Unit] = {
    # money
    "CNY": Unit("money", "元", ("CNY", "CNY")),
    "yuan": Unit("money", "元", ("CNY", "CNY")),
    "CNY/item": Unit("money_per", "件", ("item", "item")),
    # fractions
    "ratio": Unit("ratio"),
    "percent": Unit("ratio"),
    # durations
    "minutes": Unit("minutes", "分", ("min", "min")),
    "hours": Unit("hours", "小时", ("h", "h")),
    "seconds": Unit("seconds", "秒", ("s", "s")),
    "days": Unit("count", "天", ("day", "days")),
    # rates
    "items/h": Unit("rate", "件/小时", ("item/h", "items/h")),
    # counts
    "count": Unit("count", "次", ("", "")),
    "calls": Unit("count", "次", ("call", "calls")),
    "cases": Unit("count", "件", ("case", "cases")),
    "items": Unit("count", "件", ("item", "items")),
    "loans": Unit("count", "笔", ("loan", "loans")),
    "orders": Unit("count", "笔", ("order", "orders")),
    "sessions": Unit("count", "场", ("session", "sessions")),
    "leaders": Unit("count", "人", ("leader", "leaders")),
    "people": Unit("count", "人", ("person", "people")),
    "households": Unit("count", "户", ("household", "households")),
    "couriers": Unit("count", "人", ("courier", "couriers")),
    "users": Unit("count", "人", ("user", "users")),
    "points": Unit("count", "个", ("point", "points")),
    "stations": Unit("count", "个", ("station", "stations")),
    "departments": Unit("count", "个", ("department", "departments")),
    "groups": Unit("count", "个", ("group", "groups")),
    "units": Unit("count", "个", ("unit", "units")),
    "devices": Unit("count", "台", ("device", "devices")),
    "sorters": Unit("count", "台", ("sorter", "sorters")),
    "rows": Unit("count", "行", ("row", "rows")),
    "jobs": Unit("count", "个", ("job", "jobs")),
    # workbench tasks (postalops_tasks)
    "alerts": Unit("count", "条", ("alert", "alerts")),
    "applications": Unit("count", "笔", ("application", "applications")),
    "reliefs": Unit("count", "笔", ("relief request", "relief requests")),
    "areas": Unit("count", "个", ("area", "areas")),
    "runs": Unit("count", "个", ("run", "runs")),
    "targets": Unit("count", "项", ("target", "targets")),
}


def unit_info(unit: str | None) -> Unit | None:
    """The vocabulary entry of a KPI unit string, or None for an unknown one."""
    return UNITS.get(unit or "")


def unit_word(unit: str | None, n: Any = 2, locale: str = "zh") -> str:
    """The zh/en word of a count unit: ``unit_word("sessions", 3206, "zh") == "场"``,
    ``unit_word("cases", 1, "en") == "case"``. An unknown unit is returned as given (logged)."""
    info = unit_info(unit)
    if info is None:
        if unit:
            log.warning("no zh/en word for unit %r; add it to postalops.formatting.UNITS", unit)
        return unit or ""
    if is_zh(locale):
        return info.zh
    singular = to_decimal(n) == 1
    return info.en[0] if singular else info.en[1]


def count(n: Any, unit: str | None = None, locale: str = "zh") -> str:
    """A count with separators and its unit word: ``"3,206 场"`` / ``"3,206 sessions"``,
    ``"1 case"``. Without ``unit`` only the number."""
    text = number(n)
    if text == MISSING:
        return text
    word = unit_word(unit, n, locale) if unit else ""
    return f"{text} {word}" if word else text


def duration(value: Any, locale: str = "zh", unit: str = "seconds") -> str:
    """A duration: ``"1小时25分"`` / ``"1 h 25 min"``. ``value`` is a ``timedelta`` or a number
    of ``unit`` (``"seconds"``, ``"minutes"``, ``"hours"``). From an hour up, minutes are
    rounded and seconds dropped; below an hour, ``"12分30秒"`` / ``"12 min 30 s"``; zero parts
    are left out (``"2小时"``); zero is ``"0分"`` / ``"0 min"``."""
    if value is None or value == "":
        return MISSING
    if isinstance(value, dt.timedelta):
        secs = Decimal(value.days * 86400 + value.seconds) + Decimal(value.microseconds) / 10**6
    else:
        factor = {"seconds": 1, "minutes": 60, "hours": 3600}[unit]
        secs = (to_decimal(value) or Decimal(0)) * Decimal(factor)
    sign = "-" if secs < 0 else ""
    total = int(_q(abs(secs), 0))
    zh = is_zh(locale)
    labels = ("小时", "分", "秒") if zh else (" h", " min", " s")
    sep = "" if zh else " "
    if total >= 3600:
        minutes = int(_q(Decimal(total) / 60, 0))
        parts = [(minutes // 60, labels[0]), (minutes % 60, labels[1])]
    else:
        parts = [(total // 60, labels[1]), (total % 60, labels[2])]
    shown = [f"{v}{lab}" for v, lab in parts if v]
    if not shown:
        return f"0{labels[1]}"
    return sign + sep.join(shown)


# --- dates and times --------------------------------------------------------------------------


def _aware_local(value: dt.datetime, tz: str) -> dt.datetime:
    """A stored datetime in ``tz``; naive values are UTC (how the database hands them back)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(ZoneInfo(tz))


def date(value: Any, locale: str = "zh", tz: str = DEFAULT_TZ) -> str:
    """``"2022-09-19"``. A datetime is first put into ``tz`` (its local calendar day)."""
    if value is None or value == "":
        return MISSING
    if isinstance(value, dt.datetime):
        value = _aware_local(value, tz).date()
    if isinstance(value, str):
        value = dt.date.fromisoformat(value[:10])
    return value.isoformat()


def datetime(value: Any, locale: str = "zh", tz: str = DEFAULT_TZ) -> str:
    """``"2022-09-19 14:05"`` in ``tz`` (Asia/Shanghai by default); UTC-aware or naive-UTC in."""
    if value is None or value == "":
        return MISSING
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if not isinstance(value, dt.datetime):
        return date(value, locale, tz)
    return _aware_local(value, tz).strftime("%Y-%m-%d %H:%M")


def month(value: Any, locale: str = "zh") -> str:
    """``"2022年9月"`` / ``"Sep 2022"``; a date, ``"2022-09"`` / ``"2022-09-19"`` or
    ``(2022, 9)``."""
    if value is None or value == "":
        return MISSING
    if isinstance(value, tuple):
        year, mon = value
    elif isinstance(value, str):
        year, mon = int(value[:4]), int(value[5:7])
    else:
        year, mon = value.year, value.month
    return f"{year}年{mon}月" if is_zh(locale) else f"{_MONTHS_EN[mon - 1]} {year}"


# --- KPI values -------------------------------------------------------------------------------


def kpi_value(value: Any, unit: str | None, locale: str = "zh", card: bool = False) -> str:
    """Any KPI of the metrics contract (``{"value", "unit"}``) as it should read.

    ``kpi_value("21959900", "CNY", card=True) == "2,195.99万元"``;
    ``kpi_value("0.0527", "ratio") == "5.3%"``; ``kpi_value(3206, "sessions") == "3,206 场"``;
    ``kpi_value(85, "minutes") == "1小时25分"``; ``kpi_value("1.4614222", "CNY/item") ==
    "¥1.46/件"``. An unknown unit shows the number and the unit as given (and is logged).
    """
    if value is None or value == "":
        return MISSING
    info = unit_info(unit)
    if info is None:
        return count(value, unit, locale)
    if info.kind == "money":
        return money_card(value, locale) if card else money(value, locale)
    if info.kind == "money_per":
        word = info.zh if is_zh(locale) else info.en[0]
        return f"{money(value, locale)}/{word}"
    if info.kind == "ratio":
        return percent(value, locale)
    if info.kind in ("minutes", "hours", "seconds"):
        return duration(value, locale, unit=info.kind)
    if info.kind == "rate":
        word = info.zh if is_zh(locale) else info.en[1]
        return f"{number(value, 1)} {word}"
    return count(value, unit, locale)
