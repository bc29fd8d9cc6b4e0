"""Hook implementations of the ecommerce plugin: what it plugs into the PostalOps core."""

from __future__ import annotations

from pathlib import Path

from postalops import hookimpl
from postalops.plugins import NavItem, Permission, PluginInfo, Role, Schedule

from . import __version__

KEY = "ecommerce"


@hookimpl
def postalops_plugin_info():
    return PluginInfo(
        key=KEY,
        name_zh="电商节",
        name_en="E-commerce festival",
        version=__version__,
        description="Campaigns, featured products, community group-buy, attainment",
    )


@hookimpl
def postalops_roles():
    # The demo's 919 festival runs in Hebei.
    return [
        Role(
            "marketing",
            "市场营销人员",
            "Marketing staff",
            demo_units=("cn.hebei", "cn.hebei.shijiazhuang"),
        ),
        Role(
            "branch_head",
            "支局长",
            "Branch head",
            demo_units=("cn.hebei.shijiazhuang.station1", "cn.hebei.baoding.station1"),
        ),
    ]


@hookimpl
def postalops_permissions():
    viewers = ("ops", "viewer", "marketing", "branch_head")
    return [
        Permission("ecommerce.view", "查看电商节", "View festival figures", viewers),
        Permission(
            "ecommerce.plan", "管理活动与计划", "Manage campaigns and targets", ("marketing",)
        ),
        Permission(
            "ecommerce.catalogue", "管理商户与商品", "Manage merchants and products", ("marketing",)
        ),
        Permission(
            "ecommerce.groupbuy",
            "管理团长与团购场次",
            "Manage leaders and sessions",
            ("marketing", "branch_head"),
        ),
        Permission("ecommerce.ingest", "推送订单", "Push orders and refunds", ("marketing",)),
        Permission(
            "ecommerce.refresh", "刷新排行", "Refresh the leaderboard", ("ops", "marketing")
        ),
    ]


@hookimpl
def postalops_nav_items():
    return [
        NavItem(
            "电商节", "E-commerce festival", "/p/ecommerce/", permission="ecommerce.view", order=50
        )
    ]


@hookimpl
def postalops_blueprints(app):
    from .api import api
    from .views import bp

    return [api, bp]


@hookimpl
def postalops_actors():
    from .jobs import import_orders, recompute, refresh

    return [refresh, recompute, import_orders]


@hookimpl
def postalops_schedules():
    return [Schedule("ecommerce.refresh", "ecommerce.refresh", cron="* * * * *", tenant="cn")]


@hookimpl
def postalops_migrations():
    return str(Path(__file__).parent / "migrations" / "versions")


@hookimpl
def postalops_metrics(session, tenant, date_from, date_to):
    from .metrics import metrics

    return metrics(session, tenant, date_from, date_to)


@hookimpl
def postalops_dashboard_pages(dash_app):
    from .dashboards import pages

    return pages(dash_app)


@hookimpl
def postalops_demo(session, units, rng, progress):
    """The article's 919 campaign, then a campaign running this month (issue 16 §2)."""
    from .demo import build_demo
    from .demo_present import build_present

    result = build_demo(session, units, progress)
    return {**result, "present": build_present(session, units, progress)}


@hookimpl
def postalops_health():
    return {"ecommerce": "ok"}


@hookimpl
def postalops_tasks(session, user, unit):
    """The workbench inbox: running campaigns' targets behind the plan's pace."""
    from .tasks import plan_tasks

    return plan_tasks(session, user, unit)


@hookimpl
def postalops_status_labels():
    """The 三有 items a city pavilion still lacks, in the user's language."""
    from postalops.ui import Status

    return {
        "ecommerce.readiness": {
            "products": Status("缺产品", "No products", "warning"),
            "operations": Status("缺运营人员", "No operations staff", "warning"),
            "sales": Status("缺销售", "No sales", "warning"),
        }
    }


@hookimpl
def postalops_simulators():
    from postalops.simulate import Simulator

    from . import simulate

    return [Simulator("ecommerce", simulate.tick)]
