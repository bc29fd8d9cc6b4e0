"""The import page in the user's language: each file column's label and each row message's
msgid (the English messages of roster.py, work_events.py, postalops.money, period.py and
dimensions.py, with their values as ``%(name)s``), for ``postalops.i18n.row_problems``."""

from __future__ import annotations

from postalops.i18n import N_, Messages, translations

t = translations(__name__)

COLUMNS = {
    "code": N_("Code"),
    "name": N_("Name"),
    "kind": N_("Kind"),
    "station": N_("Station"),
    "grade": N_("Grade"),
    "base_pay": N_("Base pay"),
    "contractor": N_("Contractor"),
    "username": N_("User name"),
    "unit": N_("Unit"),
    "start": N_("Start"),
    "end": N_("End"),
    "unit_price": N_("Unit price"),
    "waybill": N_("Waybill"),
    "courier": N_("Courier"),
    "time": N_("Time"),
    "category": N_("Category"),
    "mode": N_("Delivery mode"),
    "tier": N_("Area tier"),
    "pickup_point": N_("Pickup point"),
    "postage": N_("Postage"),
}

COUNTS = {
    "accepted": N_("Accepted"),
    "duplicate": N_("Duplicates"),
    "rejected": N_("Refused"),
    "created": N_("Created"),
    "updated": N_("Updated"),
    "unchanged": N_("Unchanged"),
}

MESSAGES = Messages(
    t,
    N_("required"),
    N_("at most %(n)s characters"),
    N_("appears twice in this file"),
    N_("unknown unit or outside your scope"),
    N_("required for own staff"),
    N_("required for outsourced couriers"),
    N_("unknown contractor"),
    N_("unknown courier"),
    N_("taken by a courier outside your scope"),
    N_("whole fen only (two decimals)"),
    N_("not a number"),
    N_("must be >= %(n)s"),
    N_("must be > 0"),
    N_("a date like 2022-01-01"),
    N_("terms start on the 1st of a month"),
    N_("terms end on a month's last day"),
    N_("ends before it starts"),
    N_("required when mode is pickup_point"),
    N_("%(month)s is approved and locked"),
    N_("one of %(allowed)s"),
    N_("ISO-8601 time"),
    N_("header missing"),
    N_("too many cells"),
)
