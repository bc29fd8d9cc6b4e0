"""The demo's rolling present for e-commerce (issue 16 §2): a campaign running now.

After the article's 919 campaign (August–September 2022, untouched), Hebei runs a campaign
for the current month (``LIVE<yyyymm>``, 1st to last day), with its plan handed down to the
cities, group-buy sessions of the 919 leaders and orders from the 1st up to today, written
through the plugin's own services (targets, sessions, order ingest, rollup), so attainment,
leaderboards and dashboards show a campaign in progress.

Cities differ along a stable, skewed spread (a few strong, a few weak, one far behind); days
differ by weekday (weekends sell more); some sessions stay under the valid-session minimum and
some orders are refunded. Each day's records come from ``day_rng``: a re-run on the same day
adds nothing, a later day adds only the new days, and a new month starts a new campaign.
"""

from __future__ import annotations

import calendar
import datetime as dt
import random
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from postalops import clock
from postalops.demo import day_rng, scaled
from sqlmodel import Session, select

from . import campaigns, community, demo_plan, rollup
from .ingest import ingest_events, ingest_orders
from .models import Campaign, GroupSession, Leader, Order, Product, Target
from .order_rows import EventIn, LineIn, OrderIn

SHANGHAI = ZoneInfo("Asia/Shanghai")
Progress = Callable[[int, int, str], None]

SESSIONS_PER_DAY = 40  # group-buy sessions opened across Hebei each day
RETAIL_PER_DAY = 25  # retail-channel orders each day
# The month's plan, per day of the month (the province's; handed down to the cities).
PLAN_PER_DAY = {
    "retail_turnover": Decimal("9000.00"),
    "groupbuy_turnover": Decimal("16000.00"),
    "valid_sessions": 30,
    "active_leaders": 30,
    "orders": 700,
}


def campaign_code(day: dt.date) -> str:
    return f"LIVE{day:%Y%m}"


def city_strength(city: str) -> float:
    """A city's stable selling strength: log-normal around 1 (a few strong, most near the
    middle, a weak tail), the same on every run."""
    return random.Random(f"postalops-demo:ecommerce-city:{city}").lognormvariate(0.0, 0.45)


def build_present(
    session: Session,
    units: Mapping[str, Any],
    progress: Progress,
    today: dt.date | None = None,
) -> dict:
    """This month's campaign up to ``today``. Commits as it goes; idempotent per day."""
    if demo_plan.PROVINCE not in units:
        return {"skipped": "no cn.hebei in the org tree"}
    today = today or clock.today()
    first = today.replace(day=1)
    last = today.replace(day=calendar.monthrange(today.year, today.month)[1])
    leaders = session.exec(
        select(Leader)
        .where(Leader.tenant_code.startswith(demo_plan.PROVINCE + "."))
        .order_by(Leader.code)
    ).all()
    products = session.exec(select(Product).order_by(Product.sku)).all()
    if not leaders or not products:
        return {"skipped": "no leaders or products (the 919 demo builds them)"}
    cities = sorted(c for c in units if c.rsplit(".", 1)[0] == demo_plan.PROVINCE)
    campaign = _campaign(session, today, first, last)
    _targets(session, campaign, cities, first, last)
    session.commit()

    by_city: dict[str, list[Leader]] = {}
    for leader in leaders:
        city = ".".join(leader.tenant_code.split(".")[:3])
        by_city.setdefault(city, []).append(leader)
    weights = {c: city_strength(c) for c in by_city}
    groupbuy = [p for p in products if p.agreed_price < 100]
    retail = [p for p in products if p.agreed_price >= 100] or products
    days = [first + dt.timedelta(days=n) for n in range((today - first).days + 1)]
    made = 0
    for n, day in enumerate(days):
        prefix = f"YL{campaign.code}{day:%d}"
        exists = session.execute(
            sa.select(sa.func.count())
            .select_from(Order.__table__)
            .where(Order.__table__.c.order_no.like(prefix + "%"))
        ).scalar_one()
        if exists:
            continue
        made += _day(session, campaign, day, by_city, weights, groupbuy, retail, prefix)
        session.commit()
        progress(n + 1, len(days), f"{campaign.name} {day:%m-%d}")
    result = rollup.refresh(session, demo_plan.PROVINCE)
    session.commit()
    return {"campaign": campaign.code, "orders": made, **result}


def _campaign(session: Session, today: dt.date, first: dt.date, last: dt.date) -> Campaign:
    code = campaign_code(today)
    found = session.exec(
        select(Campaign).where(Campaign.owner_code == demo_plan.PROVINCE, Campaign.code == code)
    ).first()
    return found or campaigns.create_campaign(
        session,
        owner_code=demo_plan.PROVINCE,
        code=code,
        name=f"{today.month}月邮乐惠民季",
        starts_on=first,
        ends_on=last,
        min_session_orders=demo_plan.MIN_SESSION_ORDERS,
        ten_thousand_threshold=demo_plan.TEN_THOUSAND,
    )


def _split(total: Any, weights: Mapping[str, float]) -> dict[str, Any]:
    """``total`` shared by ``weights``, in whole units (money: fen), adding up exactly."""
    step = Decimal("0.01") if isinstance(total, Decimal) else 1
    units = int(total / step)
    whole = sum(weights.values())
    shares = {k: int(units * w / whole) for k, w in weights.items()}
    rest = units - sum(shares.values())
    for k in sorted(weights, key=weights.get, reverse=True)[:rest]:
        shares[k] += 1
    return {k: (Decimal(v) * step if isinstance(total, Decimal) else v) for k, v in shares.items()}


def _targets(
    session: Session, campaign: Campaign, cities: list[str], first: dt.date, last: dt.date
) -> None:
    """The province's plan for the month, handed down to the cities by their usual strength
    (planners plan on history, so a weak city gets a smaller plan, not an impossible one)."""
    if session.exec(select(Target.id).where(Target.campaign_id == campaign.id)).first():
        return
    at = dt.datetime.combine(first, dt.time(9, 0), SHANGHAI) - dt.timedelta(days=3)
    n_days = (last - first).days + 1
    # plan on a smoothed strength: the real spread around the plan is what attainment shows
    plan_weights = {c: 0.5 + 0.5 * city_strength(c) for c in cities}
    for kind, per_day in PLAN_PER_DAY.items():
        total = per_day * n_days
        campaigns.set_target(
            session,
            campaign,
            unit_code=demo_plan.PROVINCE,
            kind=kind,
            value=total,
            effective_from=at,
        )
        if cities:
            campaigns.distribute(
                session,
                campaign,
                parent_code=demo_plan.PROVINCE,
                kind=kind,
                shares=_split(total, plan_weights),
                effective_from=at,
            )


def _lines(rng: random.Random, products: list[Product], budget: Decimal) -> tuple[LineIn, ...]:
    lines, spent = [], Decimal("0")
    for product in rng.sample(products, k=min(len(products), rng.randint(1, 3))):
        qty = max(1, int((budget - spent) / product.agreed_price / 2) or 1)
        qty = min(qty, 6)
        lines.append(LineIn(product.sku, qty, product.agreed_price))
        spent += product.agreed_price * qty
        if spent >= budget:
            break
    return tuple(lines)


def _day(
    session: Session,
    campaign: Campaign,
    day: dt.date,
    by_city: Mapping[str, list[Leader]],
    weights: Mapping[str, float],
    groupbuy: list[Product],
    retail: list[Product],
    prefix: str,
) -> int:
    rng = day_rng("ecommerce", day)
    weekend = day.weekday() >= 5
    lift = 1.35 if weekend else 1.0
    cities = list(by_city)
    n_sessions = int(scaled(SESSIONS_PER_DAY) * lift * rng.uniform(0.85, 1.15))
    picked = rng.choices(cities, weights=[weights[c] for c in cities], k=n_sessions)
    opens = dt.datetime.combine(day, dt.time(9, 0), SHANGHAI)
    sessions, plans = [], []
    for i, city in enumerate(picked):
        leader = rng.choice(by_city[city])
        code = f"{campaign.code}-{day:%d}-{i:03d}"
        skus = [p.sku for p in rng.sample(groupbuy, k=min(len(groupbuy), 6))]
        start = opens + dt.timedelta(minutes=rng.randrange(0, 10 * 60, 15))
        sessions.append(
            {
                "code": code,
                "leader": leader.code,
                "starts_at": start,
                "ends_at": start + dt.timedelta(hours=2),
                "skus": skus,
            }
        )
        # most sessions are valid (≥ 10 orders); about one in six stays under the minimum
        orders = rng.randint(3, 9) if rng.random() < 0.17 else int(rng.gauss(22, 6) * lift)
        plans.append((leader, code, start, max(1, orders), skus))
    have = set(
        session.exec(
            select(GroupSession.code).where(GroupSession.code.in_([s["code"] for s in sessions]))
        ).all()
    )
    todo = [s for s in sessions if s["code"] not in have]
    if todo:
        community.import_sessions(session, campaign, todo)
    price = {p.sku: p for p in groupbuy}
    orders: list[tuple[int, OrderIn]] = []
    events: list[tuple[int, EventIn]] = []
    seq = 0
    for leader, code, start, count, skus in plans:
        choices = [price[s] for s in skus]
        for _ in range(count):
            seq += 1
            paid = start + dt.timedelta(seconds=rng.randrange(2 * 3600))
            order = OrderIn(
                f"{prefix}{seq:05d}",
                "groupbuy",
                paid.astimezone(dt.UTC),
                _lines(rng, choices, Decimal(rng.randrange(20, 90))),
                leader.tenant_code,
                leader.code,
                code,
                leader.pickup_point,
                campaign.code,
            )
            orders.append((len(orders), order))
            if rng.random() < 0.02:  # one item refunded later that day
                events.append(
                    (
                        len(events),
                        EventIn(
                            "refund",
                            order.order_no,
                            order.paid_at + dt.timedelta(minutes=40),
                            f"RF-{order.order_no}",
                            order.lines[0].unit_price,
                        ),
                    )
                )
    branches = [ld.tenant_code for c in cities for ld in by_city[c][:5]]
    for _ in range(int(scaled(RETAIL_PER_DAY) * lift * rng.uniform(0.8, 1.2))):
        seq += 1
        paid = opens + dt.timedelta(minutes=rng.randrange(0, 13 * 60))
        orders.append(
            (
                len(orders),
                OrderIn(
                    f"{prefix}{seq:05d}",
                    "retail",
                    paid.astimezone(dt.UTC),
                    _lines(rng, retail, Decimal(rng.randrange(150, 600))),
                    rng.choice(branches),
                    campaign=campaign.code,
                ),
            )
        )
    ingest_orders(session, orders)
    if events:
        ingest_events(session, events)
    return len(orders)
