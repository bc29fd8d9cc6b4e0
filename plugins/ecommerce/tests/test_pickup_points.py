"""Pickup points through the pickup_points hook when it is enabled, plain references otherwise."""

from __future__ import annotations

import pytest
from postalops.errors import Conflict, ValidationError
from postalops_ecommerce.community import add_leader
from postalops_ecommerce.ingest import ingest_orders
from postalops_ecommerce.order_rows import parse_order
from postalops_ecommerce.pickup import PointDirectory


class StubRegistry:
    """Stands in for the plugin registry: pickup_points enabled at ``enabled_at`` with points."""

    def __init__(self, enabled_at: str | None, codes: list[str]) -> None:
        self.enabled_at, self.codes = enabled_at, codes
        self.calls = 0

    def is_enabled(self, session, unit, key):
        return (
            key == "pickup_points"
            and self.enabled_at is not None
            and (unit == self.enabled_at or unit.startswith(self.enabled_at + "."))
        )

    def call_each(self, hook, only=None, **kwargs):
        assert hook == "postalops_active_pickup_points"
        self.calls += 1
        return [
            ("pickup_points", [{"code": c, "tenant_code": kwargs["tenant"]} for c in self.codes])
        ]


def test_without_the_plugin_a_point_is_a_plain_reference_and_leaders_are_refused(world, as_unit):
    """Orders keep a point as a plain reference; a group-buy leader is refused (409)."""
    with as_unit("cn.hebei") as s:
        points = PointDirectory(s, StubRegistry(None, []))
        assert not points.uses_plugin("cn.hebei.shijiazhuang")
        assert points.known("cn.hebei.shijiazhuang", "ANY-CODE")
        with pytest.raises(Conflict) as err:
            add_leader(
                s,
                branch="cn.hebei.shijiazhuang",
                code="HB-L9",
                name="x",
                pickup_point="ANY-CODE",
                points=points,
            )
        assert err.value.code == "pickup_points_disabled"


def test_with_the_plugin_only_its_active_points_are_accepted(world, ecom, as_unit):
    registry = StubRegistry("cn.hebei", ["PP-1"])
    with as_unit("cn.hebei") as s:
        points = PointDirectory(s, registry)
        with pytest.raises(ValidationError) as err:
            add_leader(
                s,
                branch="cn.hebei.shijiazhuang",
                code="HB-L9",
                name="x",
                pickup_point="PP-404",
                points=points,
            )
        assert err.value.details[0]["field"] == "pickup_point"
        good = parse_order(ecom.order("A1"), 0)  # HB-L1 collects at PP-1
        bad = parse_order({**ecom.order("A2"), "pickup_point": "PP-404"}, 1)
        with pytest.raises(ValidationError) as err:
            ingest_orders(s, [(0, good), (1, bad)], point_check=points.known)
        assert [d["row"] for d in err.value.details] == [1]
        assert ingest_orders(s, [(0, good)], point_check=points.known)[0]["status"] == "created"
    assert registry.calls == 1  # looked up once per unit, not once per order


def test_the_real_hook_is_asked_when_pickup_points_is_installed(po_app, world, as_unit):
    registry = po_app.extensions["postalops.plugins"]
    if "pickup_points" not in registry.business_keys():
        pytest.skip("pickup_points plugin not installed")
    with as_unit("cn.hebei") as s:
        points = PointDirectory(s, registry)
        # The world fixture switched pickup_points off in Hebei: plain references.
        assert not points.uses_plugin("cn.hebei.shijiazhuang")
    with as_unit("cn") as s:
        # Enabled at the group (tenants fixture) and no point exists: an unknown code is refused.
        points = PointDirectory(s, registry)
        assert points.uses_plugin("cn")
        assert not points.known("cn", "PP-NOWHERE")


def test_the_demo_leaders_collect_at_points_the_pickup_points_demo_made(
    po_app, tenants, make_token
):
    """``postalops demo`` enables pickup_points everywhere, so a Hebei leader's point must be
    one of its active points: every point the 919 demo's leaders use is one, and a new leader
    can be registered at any of them."""
    registry = po_app.extensions["postalops.plugins"]
    if "pickup_points" not in registry.business_keys():
        pytest.skip("pickup_points plugin not installed")
    from postalops import context
    from postalops.demo import org_units
    from postalops.models import OrgUnit
    from postalops.testing import system_context
    from postalops_ecommerce import demo_plan
    from postalops_ecommerce.demo import branches_by_city
    from postalops_pickup_points.demo import build_demo as pickup_points_demo
    from sqlmodel import select

    with context.activate(system_context(po_app)) as ctx:
        s = ctx.session
        have = set(s.exec(select(OrgUnit.code)).all())
        s.add_all(
            OrgUnit(code=c, parent_code=p, name_zh=zh, name_en=en, level=lvl, depth=c.count("."))
            for c, p, zh, en, lvl in org_units()
            if c.startswith("cn.hebei") and c not in have
        )
        s.commit()
        hebei = {u.code: u for u in s.exec(select(OrgUnit)).all() if u.code.startswith("cn.hebei")}
        pickup_points_demo(s, hebei)
        s.commit()
    plan = demo_plan.build(branches_by_city(hebei))
    first_at = {}
    for leader in plan.leaders:
        first_at.setdefault((leader.branch, leader.pickup_point), leader)
    assert len(first_at) == demo_plan.PICKUP_POINTS
    client = make_token("cn.hebei", "ecommerce.groupbuy")
    resp = client.post(
        "/api/v1/ecommerce/leaders",
        json=[
            {"branch": branch, "code": f"NEW-{n:04d}", "name": "新团长", "pickup_point": point}
            for n, (branch, point) in enumerate(sorted(first_at))
        ],
    )
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["created"] == demo_plan.PICKUP_POINTS
