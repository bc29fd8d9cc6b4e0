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
        demo_weight=2,  # relative cost of its demo build (postalops demo --jobs)
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
    """Ten KPIs, each defined in the plugin README."""
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
    from .demo_net import build_rates, settle  # gross to net, bank files (issue 19 §1)
    from .demo_present import build_present  # scans and runs up to today (issue 16 §2)

    build_rates(session, units)  # before the runs, which compute net pay with them
    build_demo(session, units, rng, progress)
    build_present(session, units, progress)
    settle(session)


@hookimpl
def postalops_journal_entries(session, tenant, date_from, date_to):
    """Approved runs' accrual, withholding and outsourced vouchers (month end) and the payment
    voucher (the day the bank file was produced); see ``journal.py``."""
    from .journal import journal_lines

    return journal_lines(session, tenant, date_from, date_to)


@hookimpl
def postalops_health():
    return {"payroll": "ok"}


@hookimpl
def postalops_tasks(session, user, unit):
    """The workbench inbox: draft payroll runs this checker may approve."""
    from .tasks import checker_tasks

    return checker_tasks(session, user, unit)


@hookimpl
def postalops_status_labels():
    """Run states (a draft whose inputs changed is ``stale``), courier kinds, payslip lines,
    the rate-card dimensions and budget alerts, in words (issue 14 §2)."""
    from postalops.ui import Status

    return {
        "payroll.run": {
            "draft": Status("草稿", "Draft", "neutral"),
            "stale": Status("草稿已过期", "Stale draft", "warning"),
            "approved": Status("已审批锁定", "Approved and locked", "success"),
        },
        "payroll.courier_kind": {
            "own": Status("自有投递员", "Own staff", "info"),
            "outsourced": Status("外包", "Outsourced", "neutral"),
        },
        "payroll.line": {
            "base": Status("基本工资", "Base pay"),
            "delivery": Status("投递计件", "Delivery piece rate"),
            "volume_tier": Status("超量阶梯", "Volume tier"),
            "commission": Status("揽收提成", "Collection commission"),
            "agent_fee": Status("自提点代投费", "Pickup-point agent fee"),
            "adjustment": Status("补扣款", "Adjustment"),
            "outsourced": Status("外包结算", "Outsourced charge"),
        },
        "payroll.category": {
            "letter": Status("平信", "Letter"),
            "registered": Status("挂号信", "Registered letter"),
            "parcel": Status("包裹", "Parcel"),
            "express": Status("快递", "Express"),
            "gov_mail": Status("政务邮件", "Government mail"),
        },
        "payroll.mode": {
            "door": Status("按址投递", "To the door"),
            "pickup_point": Status("自提点", "Pickup point"),
            "locker": Status("智能包裹柜", "Parcel locker"),
            "counter": Status("转窗投", "At the counter"),
        },
        "payroll.tier": {
            "urban": Status("城区", "Urban"),
            "suburban": Status("城郊", "Suburban"),
            "rural": Status("农村", "Rural"),
            "mountain": Status("山区", "Mountain"),
        },
        "payroll.budget_alert": {
            "ok": Status("正常", "Within budget", "success"),
            "warning": Status("已用90%", "90% of budget used", "warning"),
            "exhausted": Status("预算用尽", "Budget used up", "danger"),
        },
    }


@hookimpl
def postalops_settings_schema():
    """Maker-checker on approval, per unit (the core stores, inherits and edits it)."""
    from postalops.plugins import SettingsSchema

    from .controls import PayrollControls
    from .permissions import SETTINGS, VIEW

    return SettingsSchema(PayrollControls, view_permission=VIEW, edit_permission=SETTINGS)
