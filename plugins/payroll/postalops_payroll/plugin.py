"""Hook implementations of the payroll plugin (计件工资). Each hook is documented in
``postalops.hookspecs``; here each says what payroll contributes."""

from __future__ import annotations

from pathlib import Path

from postalops import hookimpl
from postalops.plugins import NavItem, PluginInfo

from . import __version__
from .permissions import OWN_PAYSLIP, PERMISSIONS, ROLES, VIEW


@hookimpl
def postalops_plugin_info():
    """Payroll has no hard requirement on another plugin."""
    return PluginInfo(
        key="payroll",
        name_zh="计件工资",
        name_en="Piece-rate pay",
        version=__version__,
        description="Piece-rate pay for collect-and-deliver couriers, pickup-point agent fees, outsourcing budgets",
    )


@hookimpl
def postalops_roles():
    """HR/ops who keep rate cards and run payroll, station heads, couriers."""
    return ROLES


@hookimpl
def postalops_permissions():
    """View, manage, ingest, run, approve, reopen, and a courier's own payslips."""
    return PERMISSIONS


@hookimpl
def postalops_blueprints(app):
    """The API under /api/v1/payroll and the portal pages under /p/payroll."""
    from .api import api
    from .views import bp

    return [api, bp]


@hookimpl
def postalops_nav_items():
    """One entry for staff, one for couriers (their payslips)."""
    return [
        NavItem("计件工资", "Piece-rate pay", "/p/payroll/", permission=VIEW, order=200),
        NavItem("我的工资条", "My payslips", "/p/payroll/my", permission=OWN_PAYSLIP, order=201),
    ]


@hookimpl
def postalops_actors():
    """The payroll run, as a tracked job."""
    from .jobs import run_payroll_job

    return [run_payroll_job]


@hookimpl
def postalops_migrations():
    """Payroll's own Alembic branch (label ``payroll``)."""
    return str(Path(__file__).parent / "migrations" / "versions")


@hookimpl
def postalops_metrics(session, tenant, date_from, date_to):
    """Seven KPIs, each defined in the plugin README."""
    from .metrics import payroll_metrics

    return payroll_metrics(session, tenant, date_from, date_to)


@hookimpl
def postalops_dashboard_pages(dash_app):
    """Cost per item by city and month, own vs outsourced, our rates vs the market."""
    from .dashboards import pages

    return pages(dash_app)


@hookimpl
def postalops_demo(session, units, rng, progress):
    """Henan's 18 cities, January-September 2022, priced by the plugin's own run."""
    from .demo import build_demo
    from .demo_present import build_present  # scans and runs up to today (issue 16 §2)

    build_demo(session, units, rng, progress)
    build_present(session, units, progress)


@hookimpl
def postalops_health():
    return {"payroll": "ok"}


@hookimpl
def postalops_tasks(session, user, unit):
    """The workbench inbox: draft payroll runs this checker may approve."""
    from .tasks import checker_tasks

    return checker_tasks(session, user, unit)
