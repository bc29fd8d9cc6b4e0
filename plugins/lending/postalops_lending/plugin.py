"""The lending plugin's hook implementations: every extension point in one place.

See docs/plugins.md for each hook's contract.
"""

from __future__ import annotations

from pathlib import Path

from postalops import hookimpl
from postalops.plugins import NavItem, PluginInfo, Schedule

from postalops_lending import __version__
from postalops_lending.permissions import PERMISSIONS, ROLES, VIEW


@hookimpl
def postalops_plugin_info():
    """Key, names and version of ``postalops-lending``."""
    return PluginInfo(
        key="lending",
        name_zh="小微E贷",
        name_en="Micro-business loans",
        version=__version__,
        description="Tax-based micro-business loans, one-day approval, schedules and relief",
    )


@hookimpl
def postalops_roles():
    """Customer managers (makers) and credit approvers (checkers)."""
    return ROLES


@hookimpl
def postalops_permissions():
    """``lending.*`` permissions with default role grants."""
    return PERMISSIONS


@hookimpl
def postalops_blueprints(app):
    """The portal pages (``/p/lending``) and the API (``/api/v1/lending``)."""
    from postalops_lending.api import api
    from postalops_lending.views import bp

    return [bp, api]


@hookimpl
def postalops_nav_items():
    """One nav entry: the lending home page."""
    return [NavItem("小微E贷", "Micro loans", "/p/lending/", permission=VIEW, order=60)]


@hookimpl
def postalops_actors():
    """Tracked jobs: the nightly close of business."""
    from postalops_lending import jobs

    return [jobs.close_of_business]


@hookimpl
def postalops_schedules():
    """The close of business every night at 23:30 (Asia/Shanghai) for the whole tree."""
    return [
        Schedule(
            "lending.close_of_business",
            "lending.close_of_business",
            cron="30 23 * * *",
            params={},
            tenant="cn",
        )
    ]


@hookimpl
def postalops_migrations():
    """This plugin's Alembic branch (label ``lending``)."""
    return str(Path(__file__).parent / "migrations" / "versions")


@hookimpl
def postalops_metrics(session, tenant, date_from, date_to):
    """The eight lending KPIs (README, "Metrics")."""
    from postalops_lending import metrics

    return metrics.compute(session, tenant, date_from, date_to)


@hookimpl
def postalops_dashboard_pages(dash_app):
    """The portfolio dashboard."""
    from postalops_lending import dashboards

    return dashboards.pages(dash_app)


@hookimpl
def postalops_demo(session, units, rng, progress):
    """The Ili 2022 portfolio, then the rolling present up to today, through the real flow."""
    from postalops_lending import demo, demo_present

    demo.build(session, units, rng, progress)
    demo_present.build_present(session, units, progress)


@hookimpl
def postalops_health():
    return {"lending": "ok"}


@hookimpl
def postalops_tasks(session, user, unit):
    """The workbench inbox: applications to review or decide, reliefs to decide, contracts."""
    from .tasks import lending_tasks

    return lending_tasks(session, user, unit)


@hookimpl
def postalops_status_labels():
    """Words for lending's values shown to users: product terms, product state, audit actions."""
    from postalops.ui import Status

    return {
        "lending.method": {
            "equal_instalments": Status("等额本息", "Equal instalments", "neutral"),
            "interest_only_bullet": Status(
                "按月付息、到期还本", "Interest monthly, principal at maturity", "neutral"
            ),
        },
        "lending.day_count": {
            "ACT/360": Status("实际天数/360", "Actual days / 360", "neutral"),
            "ACT/365": Status("实际天数/365", "Actual days / 365", "neutral"),
            "30/360": Status("每月30天/360", "30 days a month / 360", "neutral"),
        },
        "lending.product": {
            "true": Status("在售", "Offered", "success"),
            "false": Status("停售", "Withdrawn", "neutral"),
        },
        "audit.action": {
            "lending.product.create": Status("新建贷款产品", "Loan product created", "success"),
            "lending.product.update": Status("修改贷款产品", "Loan product changed", "info"),
            "lending.borrower.update": Status("修改借款人信息", "Borrower changed", "info"),
        },
        "audit.target": {"lending_product": Status("贷款产品", "Loan product")},
    }
