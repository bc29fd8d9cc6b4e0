"""The network's calendar: days are cut in ``POSTALOPS_TIMEZONE`` (Asia/Shanghai by default).

A server's own clock is usually UTC, eight hours behind the network's day: between 16:00 and
24:00 UTC, ``datetime.date.today()`` is still yesterday in Zhengzhou. Code that needs "today"
(default report periods, checks "as of today", schedules) asks this module instead.
"""

from __future__ import annotations

import datetime as dt
import os
from functools import lru_cache
from zoneinfo import ZoneInfo

__all__ = [
    "today",
    "now",
    "zone",
]


DEFAULT_ZONE = "Asia/Shanghai"


@lru_cache(maxsize=8)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def zone() -> ZoneInfo:
    """The configured zone: the app's settings inside an app, else the environment."""
    name = None
    try:
        from flask import current_app

        settings = current_app.extensions.get("postalops.settings")
        name = getattr(settings, "timezone", None)
    except RuntimeError:  # outside an application context
        pass
    return _zone(name or os.environ.get("POSTALOPS_TIMEZONE") or DEFAULT_ZONE)


def now() -> dt.datetime:
    """The current time in the network's zone (aware)."""
    return dt.datetime.now(zone())


def today() -> dt.date:
    """Today's date in the network's zone."""
    return now().date()
