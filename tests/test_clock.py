"""The network's day is cut in POSTALOPS_TIMEZONE, not on the server's clock (usually UTC)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from postalops import clock


def test_today_is_the_date_in_the_apps_zone(po_app):
    zone = po_app.extensions["postalops.settings"].timezone
    with po_app.app_context():
        before = dt.datetime.now(ZoneInfo(zone)).date()
        today = clock.today()
        after = dt.datetime.now(ZoneInfo(zone)).date()
    assert before <= today <= after
    assert clock.now().tzinfo == ZoneInfo(zone)


def test_today_follows_the_configured_zone(monkeypatch):
    # UTC+14 and UTC-11 are 25 hours apart: their dates always differ, whatever the time.
    monkeypatch.setenv("POSTALOPS_TIMEZONE", "Pacific/Kiritimati")
    east = clock.today()
    monkeypatch.setenv("POSTALOPS_TIMEZONE", "Pacific/Pago_Pago")
    west = clock.today()
    assert east > west


def test_default_report_periods_end_on_the_networks_today(po_app):
    from postalops.api import query_period

    with po_app.test_request_context("/api/v1/anything"):
        frm, to = query_period(30)
        assert to == clock.today()
        assert (to - frm).days == 29
