"""A batch of telemetry: bad events reject only themselves, naming index, field and reason."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from postalops.errors import BadRequest
from postalops_sorter.events import (
    MAX_BATCH,
    Columns,
    Kind,
    Result,
    State,
    decode_payload,
    parse_batch,
    parse_columns,
)

NOW = datetime(2020, 10, 5, 2, 0, tzinfo=UTC)


def item(seq, ts="2020-10-05T09:00:00.123456+08:00", **over):
    return {
        "seq": seq,
        "ts": ts,
        "type": "item",
        "barcode": "1180000001",
        "chute": 3,
        "result": "sorted",
    } | over


def test_times_are_normalised_to_utc_and_truncated_to_the_millisecond():
    batch = parse_batch([item(1)], now=NOW)
    # 09:00:00.123456 +08:00 = 01:00:00.123 UTC (microseconds dropped)
    assert batch.events[0].at == datetime(2020, 10, 5, 1, 0, 0, 123000, tzinfo=UTC)
    assert batch.events[0].kind is Kind.ITEM and batch.events[0].result is Result.SORTED


def test_a_malformed_event_rejects_only_itself_and_says_why():
    raw = [
        item(1),
        item(2, chute=99),  # the device has 24 chutes
        {"seq": 3, "ts": "2020-10-05T09:00:01+08:00", "type": "state", "state": "on_fire"},
        item(4, ts="2020-10-05T09:00:02"),  # no offset
        "not an object",
        {"seq": -1, "ts": "2020-10-05T09:00:03+08:00", "type": "heartbeat"},
        {"seq": 7, "ts": "2020-10-05T09:00:04+08:00", "type": "state", "state": "jammed"},
        item(8, result="lost"),
        item(9, barcode=""),
        {"seq": 10, "ts": "2020-10-05T09:00:05+08:00", "type": "telepathy"},
    ]
    batch = parse_batch(raw, now=NOW, chutes=24)
    assert [e.seq for e in batch.events] == [1, 7]
    assert batch.events[1].state is State.JAMMED
    assert [(r["index"], r["field"]) for r in batch.rejected] == [
        (1, "chute"),
        (2, "state"),
        (3, "ts"),
        (4, "event"),
        (5, "seq"),
        (7, "result"),
        (8, "barcode"),
        (9, "type"),
    ]
    assert all(r["reason"] for r in batch.rejected)


def test_boolean_is_not_a_sequence_number():
    batch = parse_batch([item(True)], now=NOW)
    assert batch.rejected == [
        {"index": 0, "field": "seq", "reason": "must be a non-negative integer"}
    ]


def test_events_from_the_future_and_beyond_retention_are_rejected():
    future = (NOW + timedelta(minutes=6)).isoformat()
    ancient = (NOW - timedelta(days=91)).isoformat()
    ok_late = (NOW - timedelta(days=30)).isoformat()
    batch = parse_batch(
        [item(1, ts=future), item(2, ts=ancient), item(3, ts=ok_late)],
        now=NOW,
        oldest=NOW - timedelta(days=90),
    )
    assert [e.seq for e in batch.events] == [3]
    assert [r["reason"] for r in batch.rejected] == [
        "is in the future",
        "is older than the retention period",
    ]


def test_a_sequence_number_repeated_inside_a_batch_keeps_the_first():
    batch = parse_batch([item(5), item(5, result="rejected")], now=NOW)
    assert len(batch.events) == 1 and batch.events[0].result is Result.SORTED
    assert batch.duplicates == 1 and batch.rejected == []


def test_ndjson_with_a_broken_line_rejects_that_line_only():
    body = json.dumps(item(1)) + "\n{broken\n\n" + json.dumps(item(2)) + "\n"
    raw = decode_payload(body.encode(), "application/x-ndjson")
    batch = parse_batch(raw, now=NOW)
    assert [e.seq for e in batch.events] == [1, 2]
    assert batch.rejected == [{"index": 1, "field": "event", "reason": "must be a JSON object"}]


def test_json_body_may_be_a_list_or_an_events_object():
    assert decode_payload(json.dumps([item(1)])) == [item(1)]
    assert decode_payload(json.dumps({"events": [item(1)]})) == [item(1)]


@pytest.mark.parametrize("body", ["{not json", json.dumps({"rows": []}), json.dumps(42)])
def test_a_body_that_is_not_a_batch_is_a_bad_request(body):
    with pytest.raises(BadRequest) as err:
        decode_payload(body)
    assert err.value.status == 400 and err.value.details


def test_a_batch_holds_at_most_ten_thousand_events():
    assert MAX_BATCH == 10_000
    assert len(decode_payload(json.dumps([{}] * 10_000))) == 10_000
    with pytest.raises(BadRequest) as err:
        decode_payload(json.dumps([{}] * 10_001))
    assert err.value.code == "batch_too_large"


def test_odd_json_values_reject_their_event_instead_of_failing_the_batch():
    raw = [
        item(1, result=["sorted"]),  # unhashable: must not raise TypeError
        {"seq": 2, "ts": "2020-10-05T09:00:01+08:00", "type": "state", "state": {"x": 1}},
        item(3, ts="0001-01-01T00:00:00+01:00"),  # valid ISO, but before year 1 in UTC
        item(4, barcode=123),
        item(5, chute=2.0),
        item(6),
    ]
    batch = parse_batch(raw, now=NOW, chutes=24)
    assert [e.seq for e in batch.events] == [6]
    assert [(r["index"], r["field"]) for r in batch.rejected] == [
        (0, "result"),
        (1, "state"),
        (2, "ts"),
        (3, "barcode"),
        (4, "chute"),
    ]


def test_columns_and_events_describe_the_same_batch():
    raw = [
        item(1),
        {"seq": 2, "ts": "2020-10-05T01:00:01Z", "type": "state", "state": "jammed"},
        {"seq": 3, "ts": "2020-10-05T01:00:02.5+00:00", "type": "heartbeat"},
    ]
    cols = parse_columns(raw, now=NOW, chutes=24)
    assert list(cols.rows()) == [
        (
            1,
            datetime(2020, 10, 5, 1, 0, 0, 123000, tzinfo=UTC),
            "item",
            "1180000001",
            3,
            "sorted",
            None,
        ),
        (2, datetime(2020, 10, 5, 1, 0, 1, tzinfo=UTC), "state", None, None, None, "jammed"),
        (
            3,
            datetime(2020, 10, 5, 1, 0, 2, 500000, tzinfo=UTC),
            "heartbeat",
            None,
            None,
            None,
            None,
        ),
    ]
    events = cols.events()
    assert events[1].state is State.JAMMED and events[2].kind is Kind.HEARTBEAT
    assert Columns.from_events(events).select([2, 0]).seqs == [3, 1]
    assert list(Columns.from_events(events).rows()) == list(cols.rows())
