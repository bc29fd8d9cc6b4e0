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
        demo_weight=1.4,  # relative cost of its demo build (postalops demo --jobs)
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
        Permission(
            "ecommerce.pickup",
            "核销提货码",
            "Verify pickup codes",
            ("ops", "marketing", "branch_head"),
        ),
        Permission(
            "ecommerce.settle",
            "编制团长佣金结算",
            "Prepare leader commission statements",
            ("marketing",),
        ),
        Permission(
            "ecommerce.settle_approve",
            "审批团长佣金结算",
            "Approve leader commission statements",
            ("marketing", "ops"),
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
    from .jobs import close_sessions, import_orders, recompute, refresh

    return [refresh, recompute, import_orders, close_sessions]


@hookimpl
def postalops_schedules():
    return [
        Schedule("ecommerce.refresh", "ecommerce.refresh", cron="* * * * *", tenant="cn"),
        # 成团: sessions whose window has ended are closed (cancelled below their minimum).
        Schedule(
            "ecommerce.close_sessions", "ecommerce.close_sessions", cron="*/10 * * * *", tenant="cn"
        ),
    ]


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
    from .demo_settlement import build_settlement

    result = build_demo(session, units, progress)
    present = build_present(session, units, progress)
    if "cn.hebei" not in units:
        return {**result, "present": present}
    return {**result, "present": present, "settlement": build_settlement(session, progress)}


@hookimpl
def postalops_health():
    return {"ecommerce": "ok"}


@hookimpl
def postalops_tasks(session, user, unit):
    """The workbench inbox: running campaigns' targets behind the plan's pace."""
    from .tasks import plan_tasks, statement_tasks

    return plan_tasks(session, user, unit) + statement_tasks(session, user, unit)


@hookimpl
def postalops_status_labels():
    """The 三有 items a city pavilion still lacks, in the user's language."""
    from postalops.ui import Status

    return {
        "ecommerce.statement": {
            "pending": Status("待审批", "Awaiting approval", "info"),
            "approved": Status("已审批", "Approved", "success"),
            "rejected": Status("已驳回", "Rejected", "danger"),
            "paid": Status("已付款", "Paid", "success"),
        },
        "ecommerce.statement_line": {
            "earned": Status("佣金", "Earned", "success"),
            "clawback": Status("退款追回", "Clawed back", "warning"),
        },
        "ecommerce.session": {
            "open": Status("进行中", "Open", "progress"),
            "closed": Status("已成团", "Closed", "success"),
            "cancelled": Status("未成团已取消", "Cancelled below minimum", "neutral"),
        },
        "ecommerce.pickup": {
            "picked_up": Status("已提货", "Picked up", "success"),
            "waiting": Status("待提货", "Waiting for pickup", "info"),
        },
        "audit.action": {
            "ecommerce.commission_rate.set": Status("设置团长佣金比例", "Commission rate set"),
            "ecommerce.statement.prepare": Status("编制佣金结算单", "Statement prepared", "info"),
            "ecommerce.statement.approve": Status(
                "审批佣金结算单", "Statement approved", "success"
            ),
            "ecommerce.statement.reject": Status("驳回佣金结算单", "Statement rejected", "danger"),
            "ecommerce.statement.pay": Status("佣金已付款", "Commission paid out", "success"),
            "ecommerce.session.close": Status("团购场次成团", "Session closed", "success"),
            "ecommerce.session.cancel": Status(
                "团购场次未成团取消", "Session cancelled below minimum", "neutral"
            ),
        },
        "audit.target": {
            "ecommerce_commission_rate": Status("团长佣金比例", "Commission rate"),
            "ecommerce_statement": Status("佣金结算单", "Commission statement"),
            "ecommerce_session": Status("团购场次", "Group-buy session"),
        },
        "ecommerce.category": {
            "meat_egg_dairy": Status("肉蛋奶", "Meat, eggs and dairy"),
            "dried_fruit": Status("干果", "Dried fruit"),
            "fresh_produce": Status("生鲜", "Fresh produce"),
            "seasonings": Status("调味品", "Seasonings"),
            "grain_oil": Status("粮油", "Grain and oil"),
            "other": Status("其他", "Other"),
        },
        "ecommerce.readiness": {
            "products": Status("缺产品", "No products", "warning"),
            "operations": Status("缺运营人员", "No operations staff", "warning"),
            "sales": Status("缺销售", "No sales", "warning"),
        },
    }


@hookimpl
def postalops_simulators():
    from postalops.simulate import Simulator

    from . import simulate

    return [Simulator("ecommerce", simulate.tick)]


@hookimpl
def postalops_journal_entries(session, tenant, date_from, date_to):
    """Leader commissions: accrued when a statement is approved, clawed back, paid out."""
    from .journal import journal_entries

    return journal_entries(session, tenant, date_from, date_to)


@hookimpl
def postalops_picked_up_items(session, tenant, date_from, date_to):
    """Verified pickups (核销) per point, unit and day: what the points' agent fee counts."""
    from .settlement import picked_up_items

    return picked_up_items(session, tenant, date_from, date_to)
