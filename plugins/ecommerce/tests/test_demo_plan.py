"""The demo plan, replayed through the order rules alone, gives the article's figures."""

from collections import Counter
from decimal import Decimal

from postalops_ecommerce import demo_plan
from postalops_ecommerce.attainment import attainment
from postalops_ecommerce.groupbuy import GroupBuyRules
from postalops_ecommerce.order_events import OrderState, apply_cancel, apply_refund, contribution

CITIES = {f"cn.hebei.c{i}": [f"cn.hebei.c{i}.b{j}" for j in range(3)] for i in range(11)}


def test_the_demo_orders_reproduce_the_article():
    plan = demo_plan.build(CITIES)
    turnover = {"retail": Decimal("0"), "groupbuy": Decimal("0")}
    orders = 0
    by_leader: Counter[str] = Counter()
    by_session: Counter[str] = Counter()
    points: set[str] = set()
    for order, events in plan.iter_orders():
        state = OrderState(order.amount)
        for ev in events:
            state = apply_cancel(state) if ev.kind == "cancel" else apply_refund(state, ev.amount)
        c = contribution(state)
        if c.orders:
            orders += 1
            turnover[order.channel] += c.amount
            if order.leader:
                by_leader[order.leader] += 1
                by_session[order.session] += 1
                points.add(order.pickup_point)
    total = turnover["retail"] + turnover["groupbuy"]
    rules = GroupBuyRules(demo_plan.MIN_SESSION_ORDERS, demo_plan.TEN_THOUSAND)
    assert abs(total - Decimal("21960000")) <= Decimal("21960000") * Decimal("0.005")
    assert abs(turnover["groupbuy"] - Decimal("19190000")) <= Decimal("19190000") * Decimal("0.005")
    assert abs(attainment(total, demo_plan.PLAN["retail_turnover"]) - Decimal("1.22")) <= Decimal(
        "0.01"
    )
    assert abs(
        attainment(turnover["groupbuy"], demo_plan.PLAN["groupbuy_turnover"]) - Decimal("2.40")
    ) <= Decimal("0.01")
    assert rules.count_valid_sessions(by_session.values()) == 3206
    assert abs(attainment(3206, demo_plan.PLAN["valid_sessions"]) - Decimal("1.0765")) <= Decimal(
        "0.0005"
    )
    assert len(by_leader) == 4306
    assert len(points) == 665
    assert orders == 345_300
    assert rules.count_ten_thousand_groups(by_leader.values()) == 32


def test_the_catalogue_and_targets_match_the_article():
    plan = demo_plan.build(CITIES)
    assert len(plan.merchants) == 27
    assert len(plan.products) > 200
    assert sum(p.featured for p in plan.products) > 150
    # Every distributed target adds up to Hebei's.
    in_force = {}
    for t in plan.targets:
        in_force[(t.unit_code, t.kind)] = t.value  # listed in effective order
    for kind, value in demo_plan.PLAN.items():
        assert in_force[("cn.hebei", kind)] == value
        assert sum(in_force[(c, kind)] for c in CITIES) == value


def test_the_plan_is_the_same_every_time():
    a = demo_plan.build(CITIES)
    b = demo_plan.build(CITIES)
    assert a.sessions == b.sessions

    def first(plan):
        return [
            o.order_no + str(o.amount)
            for _, (o, _e) in zip(range(500), plan.iter_orders(), strict=False)
        ]

    assert first(a) == first(b)
