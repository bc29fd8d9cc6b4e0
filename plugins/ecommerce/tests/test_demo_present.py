"""The demo's rolling present (issue 16 §2): a campaign running this month, with targets handed
down, sessions and orders up to today; a same-day re-run adds nothing, the next day adds only
that day, and the default period's metrics show it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from postalops.models import OrgUnit
from postalops.testing import count_rows, default_metrics
from postalops_ecommerce import catalogue, demo_plan, demo_present
from postalops_ecommerce.models import Campaign, GroupSession, Order, Target
from sqlmodel import select


def present(as_unit):
    with as_unit(None) as s:
        units = {u.code: u for u in s.exec(select(OrgUnit)).all()}
        got = demo_present.build_present(s, units, lambda *a: None)
        s.commit()
    return got


def test_a_campaign_runs_now_and_grows_day_by_day(po_app, world, as_unit, frozen_today):
    with as_unit(None) as s:
        merchant = catalogue.add_merchant(s, unit_code="cn.hebei", code="M1", name="农场")
        category = next(iter(demo_plan.CATEGORIES))
        for i, price in enumerate(("19.90", "29.90", "9.90", "39.90", "12.50", "7.80", "168.00")):
            catalogue.add_product(
                s,
                merchant=merchant,
                sku=f"SKU-{i}",
                name=f"商品{i}",
                category=category,
                agreed_price=price,
            )
        s.commit()

    first = present(as_unit)  # frozen today: 12 March 2025
    assert first["campaign"] == "LIVE202503" and first["orders"] > 0
    with as_unit(None) as s:
        live = s.exec(select(Campaign).where(Campaign.code == "LIVE202503")).one()
        assert (live.starts_on, live.ends_on) == (dt.date(2025, 3, 1), dt.date(2025, 3, 31))
        targets = s.exec(select(Target).where(Target.campaign_id == live.id)).all()
        days = {
            o.paid_at.astimezone(demo_present.SHANGHAI).date()
            for o in s.exec(select(Order).where(Order.campaign_id == live.id)).all()
        }
    assert {t.tenant_code for t in targets} >= {"cn.hebei", "cn.hebei.shijiazhuang"}
    province = {t.kind: t.value for t in targets if t.tenant_code == "cn.hebei"}
    assert Decimal(str(province["retail_turnover"])) == Decimal("9000.00") * 31
    assert min(days) == dt.date(2025, 3, 1) and max(days) == dt.date(2025, 3, 12)

    kpis = default_metrics(po_app, "cn.hebei", "ecommerce")
    assert Decimal(str(kpis["groupbuy_turnover"])) > 0 and kpis["orders"] > 0, kpis

    counts = [count_rows(po_app, m) for m in (Order, GroupSession, Target, Campaign)]
    assert present(as_unit)["orders"] == 0  # the same day again: nothing new
    assert [count_rows(po_app, m) for m in (Order, GroupSession, Target, Campaign)] == counts

    frozen_today.set("2025-03-13")
    later = present(as_unit)
    assert 0 < later["orders"] < first["orders"]  # one day's orders, not twelve
    with as_unit(None) as s:
        newest = max(
            o.paid_at.astimezone(demo_present.SHANGHAI).date()
            for o in s.exec(select(Order).where(Order.campaign_id == live.id)).all()
        )
    assert newest == dt.date(2025, 3, 13)
    assert count_rows(po_app, Campaign) == counts[3]  # still this month's campaign
