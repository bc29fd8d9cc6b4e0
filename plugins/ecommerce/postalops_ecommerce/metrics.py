"""The figures everyone reads — metrics, leaderboard, daily curve — computed from the rollup.

Definitions are in the README ("KPIs"); every reader (metrics hook, API, dashboards) goes through
these functions, so a KPI means the same everywhere.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

import sqlalchemy as sa
from postalops.db import in_scope_clause
from postalops.metrics import kpi
from postalops.money import FEN
from sqlmodel import Session, select

from . import board_cache
from .attainment import attainment, rank
from .board_cache import BoardCache
from .models import Campaign, Order, Pickup, Rollup, Statement, Target
from .order_rows import SHANGHAI
from .plan_curve import cumulative, plan_line
from .targets import MONEY_KINDS, plan_for_unit
from .units import children_from_codes

LEVELS = {"province": "province_code", "city": "city_code", "branch": "tenant_code"}


def yuan(amount_fen: int | None) -> Decimal:
    return (Decimal(amount_fen or 0) * FEN).quantize(FEN)


def end_of_day(day: dt.date) -> dt.datetime:
    """The last moment of a Shanghai day, as an aware datetime: the 'as of' of a plan lookup."""
    return dt.datetime.combine(day, dt.time(23, 59, 59), SHANGHAI)


def campaigns_for(
    session: Session, tenant: str, date_from: dt.date, date_to: dt.date
) -> list[Campaign]:
    """Campaigns overlapping the range whose owner is the tenant, above it or below it."""
    parts = tenant.split(".")
    above = [".".join(parts[:i]) for i in range(1, len(parts) + 1)]
    return list(
        session.exec(
            select(Campaign)
            .where(
                sa.or_(Campaign.owner_code.in_(above), Campaign.owner_code.like(tenant + ".%")),
                Campaign.starts_on <= date_to,
                Campaign.ends_on >= date_from,
            )
            .order_by(Campaign.id)
        ).all()
    )


def plans(
    session: Session, units: list[str], campaign_ids: list[int], as_of: dt.datetime
) -> dict[str, dict[str, Decimal | int | None]]:
    """Plan per unit and kind, in force at ``as_of``, summed over the campaigns.

    A unit without a target of its own takes the sum of its children's (``plan_for_unit``).
    """
    out: dict[str, dict[str, Decimal | int | None]] = {u: {} for u in units}
    if not campaign_ids or not units:
        return out
    t = Target.__table__
    scope = sa.or_(*[in_scope_clause(t.c.tenant_code, u) for u in units])
    rows = session.execute(
        sa.select(
            t.c.campaign_id, t.c.kind, t.c.tenant_code, t.c.value, t.c.effective_from, t.c.id
        ).where(t.c.campaign_id.in_(campaign_ids), scope)
    ).all()
    latest: dict[tuple[int, str, str], tuple] = {}
    for cid, kind, code, value, eff, tid in rows:
        if eff > as_of:
            continue
        key = (cid, kind, code)
        if key not in latest or (eff, tid) > latest[key][0]:
            latest[key] = ((eff, tid), value)
    by_campaign_kind: dict[tuple[int, str], dict[str, Decimal]] = defaultdict(dict)
    for (cid, kind, code), (_, value) in latest.items():
        by_campaign_kind[(cid, kind)][code] = Decimal(str(value))
    for unit in units:
        for kind in (
            "retail_turnover",
            "groupbuy_turnover",
            "valid_sessions",
            "active_leaders",
            "orders",
        ):
            total = None
            for cid in campaign_ids:
                own = by_campaign_kind.get((cid, kind), {})
                if not own:
                    continue
                p = plan_for_unit(unit, own, children_from_codes(unit, list(own)))
                if p is not None:
                    total = p if total is None else total + p
            if total is not None and kind not in MONEY_KINDS:
                total = int(total)
            out[unit][kind] = total
    return out


def _actuals(
    session: Session, tenant: str, date_from: dt.date, date_to: dt.date, group_col: str | None
) -> dict[str, dict]:
    """Actual figures for the scope, per group (province/city/branch) or as one total ('')."""
    r = Rollup.__table__
    c = Campaign.__table__
    where = [in_scope_clause(r.c.tenant_code, tenant), r.c.day >= date_from, r.c.day <= date_to]
    g = r.c[group_col] if group_col else sa.literal("")
    out: dict[str, dict] = defaultdict(
        lambda: {
            "turnover": Decimal("0.00"),
            "groupbuy_turnover": Decimal("0.00"),
            "orders": 0,
            "active_leaders": 0,
            "active_pickup_points": 0,
            "valid_sessions": 0,
            "ten_thousand_order_groups": 0,
        }
    )
    base = (
        sa.select(
            g.label("g"),
            sa.func.sum(r.c.amount_fen).label("amount"),
            sa.func.sum(sa.case((r.c.channel == "groupbuy", r.c.amount_fen), else_=0)).label("gb"),
            sa.func.sum(r.c.orders).label("orders"),
            sa.func.count(
                sa.distinct(sa.case((sa.and_(r.c.orders > 0, r.c.leader_id != 0), r.c.leader_id)))
            ).label("leaders"),
            sa.func.count(
                sa.distinct(
                    sa.case((sa.and_(r.c.orders > 0, r.c.pickup_point != ""), r.c.pickup_point))
                )
            ).label("points"),
        )
        .where(*where)
        .group_by(g)
    )
    for row in session.execute(base):
        e = out[row.g]
        e["turnover"], e["groupbuy_turnover"] = yuan(row.amount), yuan(row.gb)
        e["orders"], e["active_leaders"] = int(row.orders or 0), int(row.leaders or 0)
        e["active_pickup_points"] = int(row.points or 0)
    per_session = (
        sa.select(
            g.label("g"),
            sa.func.sum(r.c.orders).label("n"),
            c.c.min_session_orders.label("minimum"),
        )
        .select_from(r.join(c, c.c.id == r.c.campaign_id))
        .where(*where, r.c.session_id != 0)
        .group_by(g, r.c.session_id, c.c.min_session_orders)
        .subquery()
    )
    for row in session.execute(
        sa.select(per_session.c.g, sa.func.count())
        .where(per_session.c.n >= per_session.c.minimum)
        .group_by(per_session.c.g)
    ):
        out[row[0]]["valid_sessions"] = int(row[1])
    per_leader = (
        sa.select(
            g.label("g"),
            r.c.leader_id.label("leader"),
            sa.func.sum(r.c.orders).label("n"),
            c.c.ten_thousand_threshold.label("threshold"),
        )
        .select_from(r.join(c, c.c.id == r.c.campaign_id))
        .where(*where, r.c.leader_id != 0, r.c.channel == "groupbuy")
        .group_by(g, r.c.leader_id, r.c.campaign_id, c.c.ten_thousand_threshold)
        .subquery()
    )
    for row in session.execute(
        sa.select(per_leader.c.g, sa.func.count(sa.distinct(per_leader.c.leader)))
        .where(per_leader.c.n >= per_leader.c.threshold)
        .group_by(per_leader.c.g)
    ):
        out[row[0]]["ten_thousand_order_groups"] = int(row[1])
    return out


def _ratio(actual, plan) -> float | None:
    a = attainment(actual, plan)
    return None if a is None else float(a)


def metrics(session: Session, tenant: str, date_from: dt.date, date_to: dt.date) -> dict:
    """The KPI values of the metrics contract for ``tenant``'s subtree over the inclusive range."""
    actual = _actuals(session, tenant, date_from, date_to, None)[""]
    ids = [c.id for c in campaigns_for(session, tenant, date_from, date_to)]
    plan = plans(session, [tenant], ids, end_of_day(date_to))[tenant]

    k = kpi

    return {
        "retail_turnover": k(str(actual["turnover"]), "CNY", "零售额", "Retail turnover"),
        "retail_attainment": k(
            _ratio(actual["turnover"], plan.get("retail_turnover")),
            "ratio",
            "零售额完成率",
            "Retail turnover vs plan",
        ),
        "groupbuy_turnover": k(
            str(actual["groupbuy_turnover"]), "CNY", "团购交易额", "Group-buy turnover"
        ),
        "groupbuy_attainment": k(
            _ratio(actual["groupbuy_turnover"], plan.get("groupbuy_turnover")),
            "ratio",
            "团购交易额完成率",
            "Group-buy turnover vs plan",
        ),
        "valid_sessions": k(
            actual["valid_sessions"], "sessions", "有效团购场次", "Valid group-buy sessions"
        ),
        "valid_sessions_attainment": k(
            _ratio(actual["valid_sessions"], plan.get("valid_sessions")),
            "ratio",
            "有效场次完成率",
            "Valid sessions vs plan",
        ),
        "active_leaders": k(actual["active_leaders"], "leaders", "活跃团长", "Active leaders"),
        "active_pickup_points": k(
            actual["active_pickup_points"], "points", "活跃自提点", "Active pickup points"
        ),
        "orders": k(actual["orders"], "orders", "订单数", "Orders"),
        "ten_thousand_order_groups": k(
            actual["ten_thousand_order_groups"], "groups", "万单团", "Ten-thousand-order groups"
        ),
        **_pickup_and_commission(session, tenant, date_from, date_to),
    }


def _pickup_and_commission(
    session: Session, tenant: str, date_from: dt.date, date_to: dt.date
) -> dict:
    """Picked-up orders and their rate, and commissions payable (README, KPIs)."""
    r = Rollup.__table__
    groupbuy_orders = session.execute(
        sa.select(sa.func.coalesce(sa.func.sum(r.c.orders), 0)).where(
            in_scope_clause(r.c.tenant_code, tenant),
            r.c.day >= date_from,
            r.c.day <= date_to,
            r.c.channel == "groupbuy",
        )
    ).scalar_one()
    picked = session.exec(
        select(sa.func.count())
        .select_from(Pickup)
        .join(Order, Order.id == Pickup.order_id)
        .where(
            in_scope_clause(Order.tenant_code, tenant),
            Order.day >= date_from,
            Order.day <= date_to,
            Order.channel == "groupbuy",
            Order.cancelled.is_(False),
            Order.net_fen > 0,
            Pickup.day <= date_to,
        )
    ).one()
    payable = session.exec(
        select(Statement.payable).where(
            in_scope_clause(Statement.tenant_code, tenant),
            Statement.status.in_(("approved", "paid")),
            Statement.decided_on <= date_to,
            sa.or_(Statement.paid_on.is_(None), Statement.paid_on > date_to),
            Statement.payable > 0,
        )
    ).all()
    rate = (
        None
        if not groupbuy_orders
        else float((Decimal(picked) / Decimal(groupbuy_orders)).quantize(Decimal("0.0001")))
    )
    return {
        "picked_up_orders": kpi(int(picked), "orders", "已提货订单", "Orders picked up"),
        "picked_up_rate": kpi(rate, "ratio", "提货率", "Picked-up rate"),
        "commissions_payable": kpi(
            str(sum(payable, Decimal("0.00"))), "CNY", "应付团长佣金", "Commissions payable"
        ),
    }


def leaderboard(
    session: Session,
    tenant: str,
    level: str,
    date_from: dt.date,
    date_to: dt.date,
    cache: BoardCache | None = None,
) -> list[dict]:
    """Units of ``level`` under ``tenant`` ranked by turnover attainment.

    With ``cache`` (the app's :class:`BoardCache`) a board computed at the current figures
    version is reused; any refresh, recompute or target change makes it stale.
    """
    if cache is not None:
        key = (tenant, level, date_from, date_to)
        version = board_cache.current(session)
        board = cache.get(key, version)
        if board is None:
            board = leaderboard(session, tenant, level, date_from, date_to)
            cache.put(key, version, board)
        return [dict(row) for row in board]
    actual = _actuals(session, tenant, date_from, date_to, LEVELS[level])
    units = sorted(u for u in actual if u)
    ids = [c.id for c in campaigns_for(session, tenant, date_from, date_to)]
    plan = plans(session, units, ids, end_of_day(date_to))
    rows = []
    for unit in units:
        a, p = actual[unit], plan.get(unit, {})
        rows.append(
            {
                "unit": unit,
                "turnover": a["turnover"],
                "turnover_plan": p.get("retail_turnover"),
                "turnover_attainment": _ratio(a["turnover"], p.get("retail_turnover")),
                "groupbuy_turnover": a["groupbuy_turnover"],
                "groupbuy_plan": p.get("groupbuy_turnover"),
                "groupbuy_attainment": _ratio(a["groupbuy_turnover"], p.get("groupbuy_turnover")),
                "valid_sessions": a["valid_sessions"],
                "valid_sessions_plan": p.get("valid_sessions"),
                "valid_sessions_attainment": _ratio(a["valid_sessions"], p.get("valid_sessions")),
                "active_leaders": a["active_leaders"],
                "active_pickup_points": a["active_pickup_points"],
                "orders": a["orders"],
                "ten_thousand_order_groups": a["ten_thousand_order_groups"],
            }
        )
    ranked = rank(
        rows,
        key=lambda r: (
            None if r["turnover_attainment"] is None else Decimal(str(r["turnover_attainment"]))
        ),
    )
    return [{"rank": pos, **row} for pos, row in ranked]


def daily_curve(
    session: Session, tenant: str, campaign: Campaign, date_to: dt.date | None = None
) -> dict:
    """Cumulative daily turnover of the campaign against a straight plan line."""
    r = Rollup.__table__
    end = min(date_to or campaign.ends_on, campaign.ends_on)
    daily = {
        row.day: yuan(row.amount)
        for row in session.execute(
            sa.select(r.c.day, sa.func.sum(r.c.amount_fen).label("amount"))
            .where(
                in_scope_clause(r.c.tenant_code, tenant),
                r.c.campaign_id == campaign.id,
                r.c.day >= campaign.starts_on,
                r.c.day <= end,
            )
            .group_by(r.c.day)
        )
    }
    plan = plans(session, [tenant], [campaign.id], end_of_day(end))[tenant].get("retail_turnover")
    return {
        "actual": [(d.isoformat(), v) for d, v in cumulative(daily, campaign.starts_on, end)],
        "plan": [
            (d.isoformat(), v) for d, v in plan_line(plan, campaign.starts_on, campaign.ends_on)
        ]
        if plan
        else [],
    }
