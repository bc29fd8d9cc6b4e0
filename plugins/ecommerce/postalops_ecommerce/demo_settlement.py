"""The demo's leader commission, pickups and 成团 (issue 19 §3), on top of the 919 and present
campaigns, through the plugin's own services. Small and idempotent: a re-run adds nothing.

- Commission rates at cn.hebei: one per category from 2022-08-01, and 10 % for one product from
  2022-09-01 (a product's rate beats its category's).
- Picked-up orders: the first 30 counted group-buy orders of September 2022 of two leaders, and
  the first 40 counted group-buy orders of the present campaign paid before today, each picked up
  the next day at its own pickup point.
- Statements for 2022-09 of those two leaders: one approved (2022-10-10, by another person than
  who drew it up), one awaiting approval.
- A session with a minimum of 5 orders that got 2, closed: cancelled, both orders refunded.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal

from postalops import clock
from sqlmodel import Session, select

from . import community, demo_plan, rollup, settlement
from .ingest import ingest_orders
from .models import (
    Campaign,
    CommissionRate,
    GroupSession,
    Leader,
    Order,
    Pickup,
    Product,
    Statement,
)
from .order_rows import LineIn, OrderIn, shanghai_day

RATES = {
    "meat_egg_dairy": "0.06",
    "dried_fruit": "0.05",
    "fresh_produce": "0.08",
    "seasonings": "0.05",
    "grain_oil": "0.04",
    "other": "0.05",
}
PREPARER = "user:marketing-hebei"
CHECKER = "user:marketing-shijiazhuang"
THRESHOLD_SESSION = "HB-TH-0910"


def build_settlement(session: Session, progress: Callable[[int, int, str], None]) -> dict:
    province = demo_plan.PROVINCE
    _rates(session, province)
    leaders = _picked_leaders(session)
    picked = _pick_up(session, leaders) + _pick_up_present(session)
    session.commit()
    statements = _statements(session, province, leaders)
    cancelled = _threshold(session)
    rollup.refresh(session, province)
    session.commit()
    progress(1, 1, "commission, pickups and 成团")
    return {"pickups": picked, "statements": statements, "threshold": cancelled}


def _rates(session: Session, unit: str) -> None:
    start = dt.date(2022, 8, 1)
    have = {(r.sku, r.category) for r in session.exec(select(CommissionRate)).all()}
    for category, rate in RATES.items():
        if ("", category) not in have:
            settlement.set_rate(session, unit=unit, rate=rate, effective_from=start,
                                category=category, by=PREPARER)  # fmt: skip
    featured = session.exec(
        select(Product.sku).where(Product.featured.is_(True)).order_by(Product.sku)
    ).first()
    if featured and (featured, "") not in have:
        settlement.set_rate(session, unit=unit, rate="0.10", effective_from=dt.date(2022, 9, 1),
                            sku=featured, by=PREPARER)  # fmt: skip


def _picked_leaders(session: Session) -> list[int]:
    """Two leaders with counted group-buy orders on 2022-09-01 (the lowest ids: deterministic)."""
    rows = session.exec(
        select(Order.leader_id)
        .where(
            Order.channel == "groupbuy",
            Order.day == dt.date(2022, 9, 1),
            Order.leader_id != 0,
            Order.pickup_point != "",
            Order.net_fen > 0,
        )
        .group_by(Order.leader_id)
        .order_by(Order.leader_id)
        .limit(2)
    ).all()
    return list(rows)


def _record(session: Session, orders: list[Order], delay: dt.timedelta) -> int:
    done = set(
        session.exec(
            select(Pickup.order_id).where(Pickup.order_id.in_([o.id for o in orders]))
        ).all()
    )
    now = clock.now()
    n = 0
    for o in orders:
        at = o.paid_at + delay
        if o.id in done or at > now:
            continue
        session.add(Pickup(tenant_code=o.tenant_code, order_id=o.id, pickup_point=o.pickup_point,
                           day=shanghai_day(at), verified_at=at, verified_by="demo:pickup-point"))  # fmt: skip
        n += 1
    session.flush()
    return n


def _counted(stmt):
    return stmt.where(
        Order.channel == "groupbuy",
        Order.cancelled.is_(False),
        Order.net_fen > 0,
        Order.pickup_point != "",
    )


def _pick_up(session: Session, leaders: list[int]) -> int:
    n = 0
    for leader in leaders:
        orders = session.exec(
            _counted(select(Order))
            .where(
                Order.leader_id == leader,
                Order.day.between(dt.date(2022, 9, 1), dt.date(2022, 9, 30)),
            )
            .order_by(Order.id)
            .limit(30)
        ).all()
        n += _record(session, list(orders), dt.timedelta(hours=20))
    return n


def _pick_up_present(session: Session) -> int:
    today = clock.today()
    orders = session.exec(
        _counted(select(Order))
        .where(Order.day >= today - dt.timedelta(days=20), Order.day < today)
        .order_by(Order.day, Order.id)
        .limit(40)
    ).all()
    return _record(session, list(orders), dt.timedelta(hours=20))


def _statements(session: Session, province: str, leaders: list[int]) -> dict:
    if not leaders:
        return {}
    have = session.exec(select(Statement).where(Statement.period == "2022-09")).all()
    if not have:
        made = []
        for lid in leaders:
            leader = session.exec(select(Leader).where(Leader.id == lid)).one()
            made += _generate_for(session, leader)
        session.commit()
        have = session.exec(
            select(Statement).where(Statement.period == "2022-09").order_by(Statement.id)
        ).all()
    first = min(have, key=lambda s: s.id) if have else None
    if first is not None and first.status == "pending":
        settlement.decide(session, first.id, approve=True, by=CHECKER, on=dt.date(2022, 10, 10))
        session.commit()
    return {s.id: s.status for s in have}


def _generate_for(session: Session, leader: Leader) -> list[int]:
    """One leader's September statement (generate() takes a whole unit; the demo wants two)."""
    _first, last = settlement.commission.month_bounds("2022-09")
    dues = settlement._dues(session, [leader.id], last)
    lines = settlement.commission.statement_lines(dues.get(leader.id, []))
    if not lines:
        return []
    sums = settlement.commission.totals(lines)
    st = Statement(tenant_code=leader.tenant_code, leader_id=leader.id, period="2022-09",
                   status="pending", prepared_by=PREPARER, **sums)  # fmt: skip
    session.add(st)
    session.flush()
    settlement.add_lines(session, st, lines)
    return [st.id]


def _threshold(session: Session) -> dict:
    group = session.exec(select(GroupSession).where(GroupSession.code == THRESHOLD_SESSION)).first()
    if group is None:
        campaign = session.exec(
            select(Campaign).where(
                Campaign.owner_code == demo_plan.PROVINCE, Campaign.code == demo_plan.CAMPAIGN_CODE
            )
        ).first()
        leader = session.exec(
            select(Leader)
            .where(Leader.tenant_code.like(demo_plan.PROVINCE + ".%"))
            .order_by(Leader.id)
        ).first()
        if campaign is None or leader is None:
            return {}
        start = dt.datetime(2022, 9, 10, 6, tzinfo=dt.timezone(dt.timedelta(hours=8)))
        group = community.add_session(
            session, campaign=campaign, leader_code=leader.code, code=THRESHOLD_SESSION,
            starts_at=start, ends_at=start + dt.timedelta(hours=17), skus=[], min_orders=5,
        )  # fmt: skip
        sku = session.exec(select(Product.sku).order_by(Product.sku)).first() or "DEMO"
        orders = [
            (i, OrderIn(order_no=f"TH20220910{i:02d}", channel="groupbuy",
                        paid_at=start + dt.timedelta(hours=2 + i),
                        lines=(LineIn(sku, 1 + i, Decimal("12.80")),),
                        leader=leader.code, session=THRESHOLD_SESSION))
            for i in range(2)
        ]  # fmt: skip
        ingest_orders(session, orders)
        session.flush()
    result = settlement.close_session(session, group, at=group.ends_at)
    session.commit()
    return result
