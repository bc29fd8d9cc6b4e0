"""Ingest screening: per-row reports, idempotency keys, unknown couriers, locked months."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from postalops.errors import Conflict
from postalops_payroll.period import Month, ensure_month_open, month_of, months_between
from postalops_payroll.work_events import COLLECTION, DELIVERY, screen_batch


def _scan(waybill="W1", courier="ZZ-0001", time="2022-09-10T09:00:00+08:00", **extra):
    row = {
        "waybill": waybill,
        "courier": courier,
        "time": time,
        "category": "parcel",
        "mode": "door",
        "tier": "urban",
    }
    row.update(extra)
    return row


def _screen(rows, locked=(), kind=DELIVERY):
    return screen_batch(
        enumerate(rows, start=1),
        kind,
        courier_known=lambda code: code.startswith("ZZ-"),
        month_locked=lambda courier, month: month in locked,
    )


def test_every_row_gets_a_verdict():
    report = _screen(
        [
            _scan("W1"),
            _scan("W1"),  # same waybill, type and courier: a duplicate, not an error
            _scan("W2", courier="XX-9"),
            _scan("W3", time="2022-08-31T10:00:00+08:00"),
            _scan("W4", mode="pickup_point"),
            _scan("W5", category="postcard", tier="moon"),
            _scan("W1", courier="ZZ-0002"),  # another courier on the same waybill is new work
        ],
        locked={Month(2022, 8)},
    )
    assert report.to_dict()["rows"] == [
        {"row": 1, "status": "accepted", "waybill": "W1"},
        {"row": 2, "status": "duplicate", "waybill": "W1"},
        {
            "row": 3,
            "status": "rejected",
            "waybill": "W2",
            "errors": [
                {
                    "field": "courier",
                    "code": "unknown_courier",
                    "message": "unknown courier",
                    "value": "XX-9",
                }
            ],
        },
        {
            "row": 4,
            "status": "rejected",
            "waybill": "W3",
            "errors": [
                {
                    "field": "time",
                    "code": "month_locked",
                    "message": "2022-08 is approved and locked",
                    "value": "2022-08",
                }
            ],
        },
        {
            "row": 5,
            "status": "rejected",
            "waybill": "W4",
            "errors": [{"field": "pickup_point", "message": "required when mode is pickup_point"}],
        },
        {
            "row": 6,
            "status": "rejected",
            "waybill": "W5",
            "errors": [
                {
                    "field": "category",
                    "message": "one of letter, registered, parcel, express, gov_mail",
                    "value": "postcard",
                },
                {
                    "field": "tier",
                    "message": "one of urban, suburban, rural, mountain",
                    "value": "moon",
                },
            ],
        },
        {"row": 7, "status": "accepted", "waybill": "W1"},
    ]
    assert report.counts == {"accepted": 2, "duplicate": 1, "rejected": 4}
    assert [event.key for event in report.events] == [
        ("W1", "delivery", "ZZ-0001"),
        ("W1", "delivery", "ZZ-0002"),
    ]


def test_csv_rows_are_numbered_as_the_sender_sees_them():
    report = screen_batch(
        [(2, _scan(courier=""))], DELIVERY, courier_known=bool, month_locked=lambda c, m: False
    )
    assert report.results[0].row == 2
    assert report.results[0].errors == [{"field": "courier", "message": "required"}]


def test_collection_postage_must_be_whole_fen_and_not_negative():
    rows = [
        {
            "waybill": "C1",
            "courier": "ZZ-1",
            "time": "2022-09-01T08:00:00",
            "category": "express",
            "postage": "12.5",
        },
        {
            "waybill": "C2",
            "courier": "ZZ-1",
            "time": "2022-09-01T08:00:00",
            "category": "express",
            "postage": "12.505",
        },
        {
            "waybill": "C3",
            "courier": "ZZ-1",
            "time": "2022-09-01T08:00:00",
            "category": "express",
            "postage": "-1",
        },
    ]
    report = _screen(rows, kind=COLLECTION)
    assert [r.status for r in report.results] == ["accepted", "rejected", "rejected"]
    assert str(report.events[0].postage) == "12.5"
    assert report.results[1].errors[0]["field"] == "postage"
    assert report.results[2].errors[0]["field"] == "postage"


def test_a_scan_belongs_to_the_month_on_the_shanghai_clock():
    # 2022-09-30 16:30 UTC is 1 October 00:30 in Shanghai
    assert month_of(datetime(2022, 9, 30, 16, 30, tzinfo=UTC)) == Month(2022, 10)
    report = _screen([_scan(time="2022-10-01T00:30:00")])  # naive time is read as Shanghai time
    assert report.events[0].scanned_at == datetime(2022, 9, 30, 16, 30, tzinfo=UTC)
    assert report.events[0].month == Month(2022, 10)


def test_a_bad_time_is_named():
    report = _screen([_scan(time="yesterday")])
    assert report.results[0].errors == [
        {"field": "time", "message": "ISO-8601 time", "value": "yesterday"}
    ]


def test_a_locked_month_refuses_changes():
    ensure_month_open(Month(2022, 9), locked=False)
    with pytest.raises(Conflict) as caught:
        ensure_month_open(Month(2022, 9), locked=True, unit="cn.henan.zhengzhou")
    assert caught.value.status == 409
    assert caught.value.code == "month_locked"


def test_month_bounds_and_periods():
    start, end = Month(2022, 12).utc_bounds()
    assert (start, end) == (
        datetime(2022, 11, 30, 16, tzinfo=UTC),
        datetime(2022, 12, 31, 16, tzinfo=UTC),
    )
    assert Month.parse("2022-09") == Month(2022, 9)
    from datetime import date

    assert months_between(date(2022, 1, 1), date(2022, 3, 31)) == [
        Month(2022, 1),
        Month(2022, 2),
        Month(2022, 3),
    ]
    assert months_between(date(2022, 1, 2), date(2022, 3, 1)) == [Month(2022, 2), Month(2022, 3)]
