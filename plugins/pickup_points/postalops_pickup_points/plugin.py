"""Hook implementations of the pickup_points plugin (自提点 "三覆盖、两确保"). Each hook is
documented in ``postalops.hookspecs``; here each says what this plugin contributes."""

from __future__ import annotations

from pathlib import Path

from postalops import clock, hookimpl
from postalops.plugins import NavItem, PluginInfo

from . import __version__
from .permissions import PERMISSIONS, ROLES, VIEW


@hookimpl
def postalops_plugin_info():
    """No requirement on another plugin; ecommerce and payroll read points through a hook."""
    return PluginInfo(
        key="pickup_points",
        name_zh="自提点",
        name_en="Pickup points",
        version=__version__,
        demo_weight=1.3,  # relative cost of its demo build (postalops demo --jobs)
        description="Pickup-point coverage (三覆盖), feedback and service quality (两确保), "
        "direct delivery and counter handover",
    )


@hookimpl
def postalops_roles():
    """The city network planner."""
    return ROLES


@hookimpl
def postalops_permissions():
    """View, manage the network, record items/volumes, decide direct delivery, configure rules."""
    return PERMISSIONS


@hookimpl
def postalops_blueprints(app):
    """The API under /api/v1/pickup_points and the portal pages under /p/pickup_points."""
    from .api import api
    from .views import bp

    return [api, bp]


@hookimpl
def postalops_nav_items():
    """One entry: the network overview, linking coverage, map, quality and direct delivery."""
    return [NavItem("自提点", "Pickup points", "/p/pickup_points/", permission=VIEW, order=300)]


@hookimpl
def postalops_actors():
    """Coverage recompute, direct-delivery proposal runs and siting scenarios, as tracked jobs."""
    from .jobs import propose_direct_delivery_job, recompute_coverage_job, siting_job

    return [recompute_coverage_job, propose_direct_delivery_job, siting_job]


@hookimpl
def postalops_schedules():
    """Recompute coverage nightly, one job per city where the plugin is enabled."""
    from postalops.plugins import Schedule

    return [
        Schedule(
            "pickup_points.coverage",
            "pickup_points.recompute_coverage",
            cron="30 2 * * *",
            per_unit="city",
        )
    ]


@hookimpl
def postalops_migrations():
    """The plugin's own Alembic branch (label ``pickup_points``)."""
    return str(Path(__file__).parent / "migrations" / "versions")


@hookimpl
def postalops_metrics(session, tenant, date_from, date_to):
    """Fifteen KPIs, each defined in the plugin README."""
    from .metrics import kpis

    return kpis(session, tenant, date_from, date_to)


@hookimpl
def postalops_dashboard_pages(dash_app):
    """The pickup-point map and the coverage / direct-delivery overview."""
    from .dashboards import pages

    return pages(dash_app)


@hookimpl
def postalops_demo(session, units, rng, progress):
    """Henan's areas, points, volumes and items for Aug–Sep 2022 (see README, "Demo")."""
    from .demo import build_demo
    from .demo_present import build_present  # volumes and items up to today (issue 16 §2)
    from .demo_siting import build_siting  # saved siting scenarios (issue 20 §3)

    build_demo(session, units, progress)
    build_present(session, units, progress)
    build_siting(session, units, progress)


@hookimpl
def postalops_active_pickup_points(session, tenant):
    """Active points of ``tenant``'s subtree today (code, name, kind, tenant_code, lat, lon)."""
    from .service import active_points

    return active_points(session, tenant, clock.today())


@hookimpl
def postalops_pickup_point_state(session, tenant, code, day):
    """A point's type and status on ``day`` (None if it did not exist then in the subtree)."""
    from .service import point_state

    return point_state(session, tenant, code, day)


@hookimpl
def postalops_health():
    """Nothing external to check: the plugin only needs the database."""
    return {}


@hookimpl
def postalops_tasks(session, user, unit):
    """The workbench inbox: coverage gaps and areas not yet computed."""
    from .tasks import planner_tasks

    return planner_tasks(session, user, unit)


@hookimpl
def postalops_status_labels():
    """Point types, statuses and area categories in the user's language, everywhere."""
    from postalops.ui import Status

    from .points import AREA_CATEGORY_LABELS, POINT_TYPE_LABELS

    return {
        "pickup_points.point_type": {
            str(k): Status(zh, en, "neutral") for k, (zh, en) in POINT_TYPE_LABELS.items()
        },
        "pickup_points.area_category": {
            str(k): Status(zh, en, "neutral") for k, (zh, en) in AREA_CATEGORY_LABELS.items()
        },
        "pickup_points.point_status": {
            "planned": Status("筹建", "Planned (not yet open)", "info"),
            "active": Status("运营中", "Active", "success"),
            "suspended": Status("暂停", "Suspended", "warning"),
            "closed": Status("已关闭", "Closed", "neutral"),
        },
        "pickup_points.scenario_status": {
            "running": Status("计算中", "Running", "progress"),
            "done": Status("已完成", "Done", "success"),
            "failed": Status("失败", "Failed", "danger"),
        },
        "pickup_points.solver_status": {
            "optimal": Status("已证最优", "Proven optimal", "success"),
            "time_limit": Status("到时限停止", "Stopped at the time limit", "warning"),
            "no_solution": Status("时限内无解", "No solution in time", "danger"),
            "heuristic": Status("启发式", "Heuristic", "neutral"),
        },
        "pickup_points.capacity": {
            "over": Status("超能力", "Over capacity", "danger"),
            "ok": Status("能力内", "Within capacity", "success"),
        },
        "pickup_points.planned": {
            "true": Status("已纳入规划", "Planned", "success"),
            "false": Status("未纳入", "Not planned", "neutral"),
        },
        "audit.action": {
            "pickup_points.siting.accept": Status(
                "采纳选址为规划点", "Sites accepted as planned", "success"
            ),
            "pickup_points.siting.promote": Status(
                "规划点开设为自提点（筹建）", "Planned site promoted to a point", "success"
            ),
        },
        "audit.target": {
            "pickup_points.siting_scenario": Status("自提点选址方案", "Siting scenario", "neutral"),
            "pickup_points.planned_site": Status("自提点规划点", "Planned site", "neutral"),
        },
        "pickup_points.covered": {
            "true": Status("已覆盖", "Covered", "success"),
            "false": Status("未覆盖", "Not covered", "danger"),
            "unknown": Status("未计算", "Not computed", "neutral"),
        },
    }


@hookimpl
def postalops_simulators():
    from postalops.simulate import Simulator

    from . import simulate

    return [Simulator("pickup_points", simulate.tick)]


@hookimpl
def postalops_settings_schema():
    """The coverage, service-quality and direct-delivery rules, per unit (stored by the core)."""
    from postalops.plugins import SettingsSchema

    from .permissions import CONFIGURE, VIEW
    from .settings import PickupRules

    return SettingsSchema(PickupRules, view_permission=VIEW, edit_permission=CONFIGURE)


@hookimpl
def postalops_journal_entries(session, tenant, date_from, date_to):
    """Agent fees (代办费) accrued per point on each month's last day (agent_fees.py)."""
    from .agent_fees import journal_entries

    return journal_entries(session, tenant, date_from, date_to)
