"""``postalops demo`` enables what the demo needs, says so, and leaves other installed plugins off
(issue 18 §7): the plugins that add demo data, with what they require."""

from __future__ import annotations

from postalops import hookimpl
from postalops.models import PluginEnablement
from postalops.testing import system_scope
from sqlmodel import select

from tests.fixtures.toy_plugins import Toy, toy_app


class DemoToy(Toy):
    @hookimpl
    def postalops_demo(self, session, units, rng, progress):
        progress(1, 1, "nothing to add")


def test_demo_enables_its_plugins_and_their_requirements_only(po_app, po_db):
    from postalops.demo import build

    app = toy_app(po_app, Toy("alpha"), DemoToy("gamma", requires={"alpha": ">=1.0"}), Toy("delta"))
    summary = build(app)
    assert summary["enabled"] == ["alpha", "gamma"]
    assert summary["left_off"] == ["delta"]
    with app.extensions["postalops.db"].session(system_scope()) as s:
        rows = {(r.unit_code, r.plugin_key, r.enabled) for r in s.exec(select(PluginEnablement))}
    assert rows == {("cn", "alpha", True), ("cn", "gamma", True)}
    again = build(app)  # a re-run enables nothing new and still leaves delta off
    assert again["enabled"] == ["alpha", "gamma"] and again["left_off"] == ["delta"]


def test_demo_leaves_a_plugin_an_admin_switched_on_as_it_is(po_app, po_db):
    from postalops.demo import build

    app = toy_app(po_app, DemoToy("gamma"), Toy("delta"))
    build(app)
    with app.extensions["postalops.db"].transaction(system_scope()) as s:
        s.add(PluginEnablement(unit_code="cn.henan", plugin_key="delta", enabled=True))
    summary = build(app)
    assert summary["left_off"] == ["delta"]  # not enabled by the demo ...
    with app.extensions["postalops.db"].session(system_scope()) as s:
        assert (
            s.exec(  # ... and not switched off either
                select(PluginEnablement).where(PluginEnablement.plugin_key == "delta")
            )
            .one()
            .enabled
        )
