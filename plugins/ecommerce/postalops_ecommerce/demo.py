"""The demo hook's work: Hebei's "919" campaign written through the plugin's own services.

Idempotent: every step looks for what it would create first, and orders/refunds are idempotent on
their numbers, so a re-run adds nothing (and returns quickly once the orders are all in).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from . import campaigns, catalogue, community, demo_plan, rollup
from .ingest import ingest_events, ingest_orders
from .models import Campaign, Leader, Merchant, Order, Target

BATCH = 5_000
Progress = Callable[[int, int, str], None]


def branches_by_city(
    units: Mapping[str, Any], province: str = demo_plan.PROVINCE
) -> dict[str, list[str]]:
    """Hebei's cities (children of the province) and the leaf units below each, in code order."""
    codes = sorted(units)
    has_children = {c.rsplit(".", 1)[0] for c in codes if "." in c}
    cities = [c for c in codes if c.rsplit(".", 1)[0] == province]
    return {
        city: [c for c in codes if c.startswith(city + ".") and c not in has_children]
        for city in cities
    }


def build_demo(session: Session, units: Mapping[str, Any], progress: Progress) -> dict:
    """Create the Hebei demo (no-op when it is already complete). Commits as it goes."""
    if demo_plan.PROVINCE not in units:
        return {"skipped": "no cn.hebei in the org tree"}
    plan = demo_plan.build(branches_by_city(units))
    campaign = _campaign(session)
    _targets(session, campaign, plan)
    _catalogue(session, plan)
    _community(session, campaign, plan)
    session.commit()

    expected = demo_plan.TOTAL_ORDERS + demo_plan.CANCELLED_EXTRA + demo_plan.FULLY_REFUNDED_EXTRA
    have = session.execute(
        sa.select(sa.func.count())
        .select_from(Order.__table__)
        .where(Order.__table__.c.order_no.like("YL2022%"))
    ).scalar_one()
    if have >= expected:
        progress(expected, expected, "919 orders already present")
        return {"orders": 0, "complete": True}

    orders, events, done = [], [], 0
    for order, evs in plan.iter_orders():
        orders.append((done, order))
        events.extend(evs)
        done += 1
        if len(orders) >= BATCH:
            ingest_orders(session, orders)
            session.commit()
            orders = []
            progress(done, expected, "919 orders")
    if orders:
        ingest_orders(session, orders)
    for start in range(0, len(events), BATCH):
        ingest_events(session, list(enumerate(events[start : start + BATCH], start=start)))
        session.commit()
    result = rollup.refresh(session, demo_plan.PROVINCE)
    session.commit()
    progress(expected, expected, "919 figures refreshed")
    return {"orders": done, "events": len(events), **result}


def _campaign(session: Session) -> Campaign:
    found = session.exec(
        select(Campaign).where(
            Campaign.owner_code == demo_plan.PROVINCE, Campaign.code == demo_plan.CAMPAIGN_CODE
        )
    ).first()
    return found or campaigns.create_campaign(
        session,
        owner_code=demo_plan.PROVINCE,
        code=demo_plan.CAMPAIGN_CODE,
        name=demo_plan.CAMPAIGN_NAME,
        starts_on=demo_plan.CAMPAIGN_START,
        ends_on=demo_plan.CAMPAIGN_END,
        min_session_orders=demo_plan.MIN_SESSION_ORDERS,
        ten_thousand_threshold=demo_plan.TEN_THOUSAND,
    )


def _targets(session: Session, campaign: Campaign, plan: demo_plan.DemoPlan) -> None:
    if session.exec(select(Target.id).where(Target.campaign_id == campaign.id)).first():
        return
    province = [t for t in plan.targets if t.unit_code == demo_plan.PROVINCE]
    for t in province:
        campaigns.set_target(
            session,
            campaign,
            unit_code=t.unit_code,
            kind=t.kind,
            value=t.value,
            effective_from=t.effective_from,
        )
    for kind in demo_plan.PLAN:
        shares = {
            t.unit_code: t.value
            for t in plan.targets
            if t.kind == kind and t.unit_code != demo_plan.PROVINCE
        }
        campaigns.distribute(
            session,
            campaign,
            parent_code=demo_plan.PROVINCE,
            kind=kind,
            shares=shares,
            effective_from=demo_plan.PLAN_RAISED_AT,
        )


def _catalogue(session: Session, plan: demo_plan.DemoPlan) -> None:
    if session.exec(select(Merchant.id).where(Merchant.code == plan.merchants[0].code)).first():
        return
    merchants = {
        m.code: catalogue.add_merchant(
            session, unit_code=demo_plan.PROVINCE, code=m.code, name=m.name
        )
        for m in plan.merchants
    }
    products = {}
    for p in plan.products:
        products[p.sku] = catalogue.add_product(
            session,
            merchant=merchants[p.merchant],
            sku=p.sku,
            name=p.name,
            category=p.category,
            agreed_price=p.price,
            featured=p.featured,
        )
    for pav in plan.pavilions:
        row = catalogue.add_pavilion(
            session,
            unit_code=pav.unit_code,
            code=pav.code,
            name=pav.name,
            level=pav.level,
            operators=list(pav.operators),
        )
        catalogue.list_products(session, row, [products[s].id for s in pav.skus])


def _community(session: Session, campaign: Campaign, plan: demo_plan.DemoPlan) -> None:
    if session.exec(select(Leader.id).where(Leader.code == plan.leaders[0].code)).first():
        return
    for start in range(0, len(plan.leaders), 900):
        community.import_leaders(
            session,
            [
                {
                    "branch": ld.branch,
                    "code": ld.code,
                    "name": ld.name,
                    "pickup_point": ld.pickup_point,
                }
                for ld in plan.leaders[start : start + 900]
            ],
        )
    for start in range(0, len(plan.sessions), 900):
        community.import_sessions(
            session,
            campaign,
            [
                {
                    "code": s.code,
                    "leader": s.leader,
                    "starts_at": s.starts_at,
                    "ends_at": s.ends_at,
                    "skus": list(s.skus),
                }
                for s in plan.sessions[start : start + 900]
            ],
        )
