"""Fixtures for the ecommerce tests: a small Hebei/Henan world on top of postalops.testing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

SH = dt.timezone(dt.timedelta(hours=8))
HEBEI_BRANCH = "cn.hebei.shijiazhuang"
HENAN_BRANCH = "cn.henan.zhengzhou.jinshui"


@pytest.fixture
def world(po_app: Any, tenants: list[str], as_unit: Any) -> dict[str, Any]:
    """A campaign per province with plans, leaders and sessions (all created through services).

    Hebei: campaign 919 (1 Aug – 19 Sep 2022), min 3 paid orders per session, 万单团 at 5;
    leaders HB-L1 (point PP-1) and HB-L2 (PP-2) at Shijiazhuang, sessions HB-S1 (HB-L1),
    HB-S2 (HB-L2). Plans at cn.hebei: retail 1,000.00, group-buy 500.00, valid sessions 2.
    Henan: campaign 818 with leader HN-L1 and session HN-S1 at Jinshui.
    """
    from postalops.models import PluginEnablement
    from postalops_ecommerce import campaigns, community

    # Points are plain references here: pickup_points (if installed) is off in both provinces.
    # test_pickup_points.py covers the plugin being on.
    if "pickup_points" in po_app.extensions["postalops.plugins"].business_keys():
        with as_unit(None) as s:
            for unit in ("cn.hebei", "cn.henan"):
                s.add(PluginEnablement(unit_code=unit, plugin_key="pickup_points", enabled=False))
            s.commit()
    at = dt.datetime(2022, 7, 25, 9, tzinfo=SH)
    with as_unit(None) as s:
        hb = campaigns.create_campaign(
            s,
            owner_code="cn.hebei",
            code="919",
            name="919 电商节",
            starts_on=dt.date(2022, 8, 1),
            ends_on=dt.date(2022, 9, 19),
            min_session_orders=3,
            ten_thousand_threshold=5,
        )
        hn = campaigns.create_campaign(
            s,
            owner_code="cn.henan",
            code="818",
            name="818",
            starts_on=dt.date(2022, 8, 1),
            ends_on=dt.date(2022, 9, 19),
            min_session_orders=3,
            ten_thousand_threshold=5,
        )
        for kind, value in [
            ("retail_turnover", "1000.00"),
            ("groupbuy_turnover", "500.00"),
            ("valid_sessions", 2),
        ]:
            campaigns.set_target(
                s, hb, unit_code="cn.hebei", kind=kind, value=value, effective_from=at
            )
        community.add_leader(
            s, branch=HEBEI_BRANCH, code="HB-L1", name="张团长", pickup_point="PP-1"
        )
        community.add_leader(
            s, branch=HEBEI_BRANCH, code="HB-L2", name="李团长", pickup_point="PP-2"
        )
        community.add_leader(
            s, branch=HENAN_BRANCH, code="HN-L1", name="王团长", pickup_point="PP-9"
        )
        start = dt.datetime(2022, 9, 1, 6, tzinfo=SH)
        end = start + dt.timedelta(hours=17)
        for camp, code, leader in [
            (hb, "HB-S1", "HB-L1"),
            (hb, "HB-S2", "HB-L2"),
            (hn, "HN-S1", "HN-L1"),
        ]:
            community.add_session(
                s,
                campaign=camp,
                leader_code=leader,
                code=code,
                starts_at=start,
                ends_at=end,
                skus=["P1"],
            )
        s.commit()
        ids = {"hebei": hb.id, "henan": hn.id}
    return ids


@pytest.fixture
def hebei_points(po_app: Any, world: Any, enable_plugin: Any, as_unit: Any) -> list[str]:
    """pickup_points switched on in Hebei (through the core's enablement) with active points
    PP-1 … PP-9 at Shijiazhuang: group-buy leaders can be registered there."""
    if "pickup_points" not in po_app.extensions["postalops.plugins"].business_keys():
        pytest.skip("pickup_points plugin not installed")
    from postalops_pickup_points.models import PickupPoint, PickupStatusChange

    enable_plugin("pickup_points", "cn.hebei")
    codes = [f"PP-{n}" for n in range(1, 10)]
    opened = dt.date(2022, 1, 1)
    with as_unit(None) as s:
        for code in codes:
            point = PickupPoint(
                tenant_code=HEBEI_BRANCH,
                code=code,
                name=code,
                point_type="own",
                county="chang_an",
                lon=114.5,
                lat=38.0,
                opened_on=opened,
            )
            s.add(point)
            s.flush()
            s.add(
                PickupStatusChange(
                    tenant_code=HEBEI_BRANCH,
                    point_id=point.id,
                    effective=opened,
                    status="active",
                    point_type="own",
                )
            )
        s.commit()
    return codes


def _order(
    no: str,
    price: str = "10.00",
    qty: int = 1,
    *,
    leader: str | None = "HB-L1",
    session: str | None = "HB-S1",
    channel: str = "groupbuy",
    paid_at: str = "2022-09-01T10:00:00+08:00",
    branch: str | None = None,
) -> dict:
    """An order object as the e-shop sends it."""
    out = {
        "order_no": no,
        "channel": channel,
        "paid_at": paid_at,
        "lines": [{"sku": "P1", "quantity": qty, "unit_price": price}],
    }
    if channel == "groupbuy":
        out.update(leader=leader, session=session)
    if branch:
        out["branch"] = branch
    return out


def _kpis(app: Any, tenant: str, frm: str = "2022-08-01", to: str = "2022-09-06") -> dict:
    """The plugin's metrics, computed straight from the hook (what every reader sees)."""
    from postalops import context
    from postalops.testing import system_context
    from postalops_ecommerce.metrics import metrics

    with context.activate(system_context(app, tenant)) as ctx:
        return {
            k: v["value"]
            for k, v in metrics(
                ctx.session, tenant, dt.date.fromisoformat(frm), dt.date.fromisoformat(to)
            ).items()
        }


def _refresh(app: Any, tenant: str) -> dict:
    from postalops import context
    from postalops.testing import system_context
    from postalops_ecommerce import rollup

    with context.activate(system_context(app, tenant)) as ctx:
        result = rollup.refresh(ctx.session, tenant)
        ctx.session.commit()
    return result


class Helpers:
    """``ecom.order(...)``, ``ecom.kpis(tenant)``, ``ecom.refresh(tenant)`` for the tests."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.order = _order
        self.D = Decimal

    def kpis(self, tenant: str, frm: str = "2022-08-01", to: str = "2022-09-06") -> dict:
        return _kpis(self.app, tenant, frm, to)

    def refresh(self, tenant: str) -> dict:
        return _refresh(self.app, tenant)


@pytest.fixture
def ecom(po_app: Any) -> Helpers:
    return Helpers(po_app)


D = Decimal
