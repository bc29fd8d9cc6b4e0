from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from postalops.errors import Conflict, ValidationError
from postalops_ecommerce.attainment import attainment, rank
from postalops_ecommerce.order_events import (
    Contribution,
    OrderState,
    apply_cancel,
    apply_refund,
    contribution,
    delta,
)

D = Decimal


def test_attainment_with_a_partial_refund_and_a_cancellation():
    # Orders 100.00, 50.00 and 30.00 are paid; 20.00 of the first is refunded; the third is
    # cancelled.  Net turnover = 80.00 + 50.00 = 130.00 from 2 orders; plan 100.00 → 1.3000.
    a = apply_refund(OrderState(D("100.00")), D("20.00"))
    b = OrderState(D("50.00"))
    c = apply_cancel(OrderState(D("30.00")))
    total = contribution(a).amount + contribution(b).amount + contribution(c).amount
    orders = sum(contribution(s).orders for s in (a, b, c))
    assert total == D("130.00")
    assert orders == 2
    assert attainment(total, D("100.00")) == D("1.3000")


def test_an_order_refunded_in_full_no_longer_counts():
    # 59.00 refunded as 9.00 then 50.00: nothing left, the order leaves the count.
    s = apply_refund(apply_refund(OrderState(D("59.00")), D("9.00")), D("50.00"))
    assert contribution(s) == Contribution(D("0.00"), 0)


def test_the_article_figures_give_the_article_rates():
    # 21,960,000 ÷ 18,000,000 = 1.22; 19,190,000 ÷ 8,000,000 = 2.39875 → 2.3988;
    # 3,206 ÷ 2,978 = 1.076561… → 1.0766
    assert attainment(D("21960000.00"), D("18000000.00")) == D("1.2200")
    assert attainment(D("19190000.00"), D("8000000.00")) == D("2.3988")
    assert attainment(3206, 2978) == D("1.0766")


def test_no_plan_means_no_attainment():
    assert attainment(D("10"), None) is None
    assert attainment(D("10"), 0) is None


def test_refunds_beyond_what_is_left_and_refunds_of_cancelled_orders_are_refused():
    with pytest.raises(ValidationError) as err:
        apply_refund(apply_refund(OrderState(D("30.00")), D("20.00")), D("10.01"))
    assert err.value.details[0]["left"] == "10.00"
    with pytest.raises(Conflict):
        apply_refund(apply_cancel(OrderState(D("30.00"))), D("1.00"))
    with pytest.raises(ValidationError):
        apply_refund(OrderState(D("30.00")), D("0.00"))


def test_cancelling_twice_changes_nothing_the_second_time():
    once = apply_cancel(OrderState(D("30.00")))
    assert delta(once, apply_cancel(once)).is_zero


events = st.lists(
    st.one_of(
        st.just(("cancel", None)),
        st.tuples(st.just("refund"), st.integers(min_value=1, max_value=5000)),
    ),
    max_size=6,
)


@given(st.integers(min_value=1, max_value=100_000), events)
def test_summing_deltas_gives_the_same_figures_as_recomputing_the_order(amount_fen, evs):
    # The incremental rollup adds deltas; a full recompute takes the final state. They must agree.
    state = OrderState(D(amount_fen) / 100)
    running = delta(None, state)
    for kind, fen in evs:
        try:
            after = apply_cancel(state) if kind == "cancel" else apply_refund(state, D(fen) / 100)
        except (ValidationError, Conflict):
            continue
        d = delta(state, after)
        running = Contribution(running.amount + d.amount, running.orders + d.orders)
        state = after
    assert running == contribution(state)
    assert 0 <= running.amount <= D(amount_fen) / 100
    assert running.orders in (0, 1)


def test_ranking_shares_places_and_puts_units_without_plan_last():
    rows = [("a", D("1.2")), ("b", None), ("c", D("2.4")), ("d", D("1.2"))]
    ranked = rank(rows, key=lambda r: r[1])
    assert [(pos, r[0]) for pos, r in ranked] == [(1, "c"), (2, "a"), (2, "d"), (4, "b")]
