"""The demo hook reproduces DOMAIN.md §5 through the plugin's own metrics, and re-runs add nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from postalops import context
from postalops.metrics import collect
from postalops.models import OrgUnit
from postalops.testing import count_rows, system_context
from postalops_ecommerce.demo import build_demo
from postalops_ecommerce.models import Merchant, Order, Product


def close(value, expected, tolerance):
    return abs(Decimal(str(value)) - Decimal(expected)) <= Decimal(tolerance)


def test_the_919_demo_gives_the_article_figures(po_app, po_db):
    from postalops.demo import org_units

    with context.activate(system_context(po_app)) as ctx:
        s = ctx.session
        s.add_all(
            [
                OrgUnit(
                    code=c, parent_code=p, name_zh=zh, name_en=en, level=lvl, depth=c.count(".")
                )
                for c, p, zh, en, lvl in org_units()
            ]
        )
        from postalops.models import PluginEnablement

        s.add(PluginEnablement(unit_code="cn", plugin_key="ecommerce", enabled=True))
        s.commit()
        units = {u.code: u for u in s.exec(__import__("sqlmodel").select(OrgUnit)).all()}
        build_demo(s, units, lambda *a: None)
    with context.activate(system_context(po_app, "cn.hebei")) as ctx:
        got = collect(
            po_app.extensions["postalops.plugins"],
            ctx.session,
            "cn.hebei",
            dt.date(2022, 8, 1),
            dt.date(2022, 9, 6),
            plugin="ecommerce",
        )
    k = {name: e["value"] for name, e in got["metrics"]["ecommerce"].items()}
    assert close(k["retail_turnover"], "21960000", "109800")  # ± 0.5 %
    assert close(k["retail_attainment"], "1.22", "0.01")
    assert close(k["groupbuy_turnover"], "19190000", "95950")
    assert close(k["groupbuy_attainment"], "2.40", "0.01")
    assert k["valid_sessions"] == 3206
    assert close(k["valid_sessions_attainment"], "1.0765", "0.0005")
    assert k["active_leaders"] == 4306
    assert k["active_pickup_points"] == 665
    assert k["orders"] == 345_300
    assert k["ten_thousand_order_groups"] == 32
    assert count_rows(po_app, Merchant) == 27
    assert count_rows(po_app, Product) > 200
    with context.activate(system_context(po_app)) as ctx:
        featured = ctx.session.exec(
            __import__("sqlmodel").select(Product).where(Product.featured.is_(True))
        ).all()
        assert len(featured) > 150
        orders = count_rows(po_app, Order)
        assert build_demo(ctx.session, units, lambda *a: None)["orders"] == 0
    assert count_rows(po_app, Order) == orders
