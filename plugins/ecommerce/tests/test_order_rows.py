from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from postalops_ecommerce.order_rows import (
    RowErrors,
    orders_from_csv,
    parse_batch,
    parse_event,
    parse_order,
    shanghai_day,
)

GOOD = {
    "order_no": "YL1",
    "channel": "groupbuy",
    "paid_at": "2022-08-31T16:30:00Z",
    "leader": "L1",
    "session": "S1",
    "pickup_point": "PP1",
    "lines": [
        {"sku": "A", "quantity": 3, "unit_price": "19.90"},
        {"sku": "B", "quantity": 1, "unit_price": "5.05"},
    ],
}


def test_an_order_amount_is_the_sum_of_its_rounded_lines():
    order = parse_order(GOOD, row=1)
    # 3 × 19.90 = 59.70; 1 × 5.05 = 5.05; total 64.75
    assert order.amount == Decimal("64.75")


def test_an_order_paid_after_16_utc_belongs_to_the_next_shanghai_day():
    # 16:30 UTC on 31 Aug is 00:30 on 1 Sep in Asia/Shanghai (UTC+8).
    assert parse_order(GOOD, row=1).day == date(2022, 9, 1)
    assert shanghai_day(datetime(2022, 8, 31, 15, 59, tzinfo=UTC)) == date(2022, 8, 31)


def test_a_time_without_offset_is_read_as_shanghai_time():
    order = parse_order({**GOOD, "paid_at": "2022-09-01 07:00:00"}, row=1)
    assert order.paid_at == datetime(2022, 8, 31, 23, 0, tzinfo=UTC)
    assert order.day == date(2022, 9, 1)


def test_every_bad_field_of_a_row_is_named():
    bad = {
        **GOOD,
        "channel": "shop",
        "paid_at": "yesterday",
        "lines": [
            {"sku": "A", "quantity": 0, "unit_price": "1"},
            {"sku": "B", "quantity": 1, "unit_price": 1.5},
        ],
    }
    with pytest.raises(RowErrors) as err:
        parse_order(bad, row=7)
    fields = {d["field"] for d in err.value.details}
    assert fields == {"channel", "paid_at", "lines[0].quantity", "lines[1].unit_price"}
    assert all(d["row"] == 7 for d in err.value.details)


def test_group_buy_orders_need_leader_and_session_and_retail_needs_a_branch():
    with pytest.raises(RowErrors) as err:
        parse_order({**GOOD, "leader": None, "session": ""}, row=1)
    assert {d["field"] for d in err.value.details} == {"leader", "session"}
    with pytest.raises(RowErrors) as err:
        parse_order({**GOOD, "channel": "retail", "leader": None}, row=1)
    assert {d["field"] for d in err.value.details} == {"session", "branch"}


def test_a_declared_amount_must_match_the_lines():
    assert parse_order({**GOOD, "amount": "64.75"}, row=1).amount == Decimal("64.75")
    with pytest.raises(RowErrors) as err:
        parse_order({**GOOD, "amount": "64.76"}, row=1)
    assert err.value.details[0]["field"] == "amount"


def test_a_batch_reports_each_bad_row_and_keeps_the_good_ones():
    valid, errors = parse_batch([GOOD, {"order_no": "x"}, "nonsense", {**GOOD, "order_no": "YL2"}])
    assert [row for row, _ in valid] == [1, 4]
    assert [e["row"] for e in errors] == [2, 3]


def test_csv_lines_are_grouped_into_orders_with_spreadsheet_row_numbers():
    text = (
        "order_no,paid_at,channel,branch,leader,session,pickup_point,campaign,sku,quantity,unit_price\n"
        "YL1,2022-09-01T08:00:00+08:00,groupbuy,,L1,S1,PP1,919,A,2,10.00\n"
        "YL1,2022-09-01T08:00:00+08:00,groupbuy,,L1,S1,PP1,919,B,1,3.50\n"
        "YL2,2022-09-01T09:00:00+08:00,groupbuy,,L2,S2,PP1,919,A,1,10.00\n"
        "YL2,2022-09-01T09:00:00+08:00,groupbuy,,L3,S2,PP1,919,B,1,3.50\n"
    )
    objects, errors = orders_from_csv(text)
    assert [row for row, _ in objects] == [2, 4]
    assert parse_order(objects[0][1], row=2).amount == Decimal("23.50")  # 2 × 10.00 + 3.50
    assert errors == [
        {"row": 5, "errors": [{"row": 5, "field": "leader", "message": "differs from row 4"}]}
    ]


def test_a_csv_without_the_required_columns_is_refused_at_the_header():
    with pytest.raises(RowErrors) as err:
        orders_from_csv("order_no,sku\nYL1,A\n")
    assert {d["field"] for d in err.value.details} == {
        "paid_at",
        "channel",
        "quantity",
        "unit_price",
    }


def test_refund_events_need_a_refund_number_and_a_positive_amount():
    ev = parse_event(
        {
            "type": "refund",
            "order_no": "YL1",
            "refund_no": "R1",
            "amount": "5.00",
            "at": "2022-09-02T10:00:00+08:00",
        },
        row=1,
    )
    assert ev.amount == Decimal("5.00")
    with pytest.raises(RowErrors) as err:
        parse_event({"type": "refund", "order_no": "YL1", "amount": "-1", "at": "x"}, row=3)
    assert {d["field"] for d in err.value.details} == {"refund_no", "amount", "at"}
    assert (
        parse_event({"type": "cancel", "order_no": "YL1", "at": "2022-09-02T10:00:00Z"}, row=1).kind
        == "cancel"
    )
