"""Hook implementations of the ``outcall`` plugin (出件外呼): its whole contract with the core."""

from __future__ import annotations

from pathlib import Path

from postalops import hookimpl
from postalops.plugins import NavItem, Permission, PluginInfo, Role, Schedule, SettingsSchema

from . import __version__

KEY = "outcall"

# The demo's call team sits in Guangzhou, where the article places the service.
ROLES = [
    Role("outcall_agent", "外呼坐席", "Outcall agent", demo_units=("cn.guangdong.guangzhou",)),
    Role(
        "outcall_supervisor",
        "外呼主管",
        "Outcall supervisor",
        grants=("core.metrics.read", "core.jobs.view"),
        demo_units=("cn.guangdong.guangzhou",),
    ),
]


PERMISSIONS = [
    Permission(
        "outcall.view",
        "查看外呼办件与订单（脱敏）",
        "View outcall cases and orders (masked)",
        ("ops", "viewer", "outcall_agent", "outcall_supervisor"),
    ),
    Permission(
        "outcall.call",
        "领取办件并外呼",
        "Claim cases and record calls",
        ("outcall_agent", "outcall_supervisor"),
    ),
    Permission(
        "outcall.intake",
        "导入办件",
        "Intake cases (platform API, uploads)",
        ("outcall_supervisor",),
    ),
    Permission(
        "outcall.reveal",
        "查看完整号码（留痕）",
        "Reveal full numbers (audited)",
        ("outcall_supervisor",),
    ),
    Permission(
        "outcall.manage",
        "维护目录、策略与回调",
        "Edit catalogue, queue policy and webhook",
        ("outcall_supervisor",),
    ),
    Permission(
        "outcall.export", "导出办件（脱敏）", "Export cases (masked)", ("outcall_supervisor", "ops")
    ),
    Permission(
        "outcall.supervise",
        "查看坐席实时监控",
        "Supervise agents live",
        ("outcall_supervisor",),
    ),
    # The telephony provider's machine token (click-to-dial callbacks); no person needs it.
    Permission("outcall.cti", "外呼平台回调", "Telephony provider callbacks", ()),
]


@hookimpl
def postalops_plugin_info():
    return PluginInfo(
        key=KEY,
        name_zh="出件外呼",
        name_en="Outcall for issued documents",
        version=__version__,
        demo_weight=5,  # relative cost of its demo build (postalops demo --jobs)
        description="Call applicants whose documents wait at the window; convert to government mail.",
    )


@hookimpl
def postalops_roles():
    return ROLES


@hookimpl
def postalops_permissions():
    return PERMISSIONS


@hookimpl
def postalops_blueprints(app):
    from . import api_ops, views_ops  # noqa: F401 (their routes join the two blueprints)
    from .api import api
    from .views import bp

    return [api, bp]


@hookimpl
def postalops_nav_items():
    return [NavItem("出件外呼", "Outcall", "/p/outcall/", permission="outcall.view", order=10)]


@hookimpl
def postalops_actors():
    from .jobs import ACTORS

    return ACTORS


@hookimpl
def postalops_schedules():
    return [Schedule("outcall.sweep", "outcall.sweep", cron="*/10 * * * *")]


@hookimpl
def postalops_migrations():
    return str(Path(__file__).parent / "migrations" / "versions")


@hookimpl
def postalops_metrics(session, tenant, date_from, date_to):
    from .metrics import outcall_metrics

    return outcall_metrics(session, tenant, date_from, date_to)


@hookimpl
def postalops_dashboard_pages(dash_app):
    from .dashboards import pages

    return pages(dash_app)


@hookimpl
def postalops_demo(session, units, rng, progress):
    from .demo import build_demo

    build_demo(session, units, progress)


@hookimpl
def postalops_create_delivery_order(session, tenant, order):
    """Outcall holds the network's government-mail orders: other plugins create one here.

    ``order["address"]`` is a mapping with ``province``, ``city``, ``district``, ``detail``.
    Idempotent on (``source``, ``source_ref``); returns the S10 waybill number.
    """
    from collections.abc import Mapping

    from postalops.errors import ValidationError

    from .service import create_orders

    address = order.get("address")
    if not isinstance(address, Mapping):
        raise ValidationError(
            "address must be an object with province, city, district and detail",
            details=[{"field": "address", "message": "expected an object"}],
        )
    created = create_orders(
        session,
        tenant,
        [
            {
                "source": str(order.get("source") or "plugin"),
                "source_ref": str(order["source_ref"]),
                "item": str(order.get("category") or "政务邮件"),
                "sender": str(order.get("source") or ""),
                "address": {
                    **dict(address),
                    "recipient": order.get("recipient_name", ""),
                    "phone": order.get("phone", ""),
                },
            }
        ],
    )
    return created[0].waybill_no


@hookimpl
def postalops_health():
    return {"outcall": "ok"}


@hookimpl
def postalops_government_mail(session, tenant, date_from, date_to):
    """Cross-plugin: government-mail orders of ``tenant``'s subtree in the period (spec requested
    from the core; see README)."""
    from .service import mail_volume

    return mail_volume(session, tenant, date_from, date_to)


@hookimpl
def postalops_tasks(session, user, unit):
    """The workbench inbox: the agent's held case, call-backs due and cases to call."""
    from .tasks import agent_tasks

    return agent_tasks(session, user, unit)


@hookimpl
def postalops_status_labels():
    """Case states, call outcomes, order sources and platform notifications in words."""
    from postalops.ui import Status

    from .views import FACT_LABELS, OUTCOME_LABELS, STATUS_LABELS

    tones = {
        "queued": "info",
        "converted": "success",
        "collected": "success",
        "declined": "neutral",
        "ineligible": "neutral",
        "wrong_number": "danger",
        "exhausted": "warning",
        "expired": "warning",
    }
    return {
        "outcall.case": {
            k: Status(zh, en, tones.get(k, "neutral")) for k, (zh, en) in STATUS_LABELS.items()
        },
        "outcall.outcome": {k: Status(zh, en) for k, (zh, en) in OUTCOME_LABELS.items()},
        **{
            domain: {k: Status(zh, en) for k, (zh, en) in labels.items()}
            for domain, labels in FACT_LABELS.items()
        },
        **_issue20_labels(Status),
        "outcall.order_source": {
            "outcall": Status("外呼转邮寄", "From a call", "info"),
            "hall": Status("大厅寄递", "Mailed by the hall", "neutral"),
        },
    }


def _issue20_labels(Status):
    """Agents' states, pause codes, do-not-call reasons and click-to-dial calls in words."""
    return {
        "outcall.agent_state": {
            "available": Status("空闲", "Available", "success"),
            "on_call": Status("通话中", "On call", "progress"),
            "wrap_up": Status("话后处理", "Wrap-up", "info"),
            "paused": Status("暂停", "Paused", "warning"),
        },
        "outcall.pause_code": {
            "break": Status("小休", "Break"),
            "meal": Status("用餐", "Meal"),
            "training": Status("培训", "Training"),
            "meeting": Status("开会", "Meeting"),
            "admin": Status("后台事务", "Back-office work"),
        },
        "outcall.dnc_reason": {
            "opt_out": Status("本人要求不再来电", "Opted out", "warning"),
            "complaint": Status("投诉", "Complaint", "danger"),
            "wrong_person": Status("非本人号码", "Not the applicant's number", "neutral"),
            "other": Status("其他", "Other", "neutral"),
        },
        "outcall.cti_call": {
            "placed": Status("已发起", "Placed", "info"),
            "started": Status("通话中", "In progress", "progress"),
            "ended": Status("已结束", "Ended", "success"),
        },
        "audit.action": {
            "outcall.dnc.add": Status("加入免打扰名单", "Do-not-call entry added", "warning"),
            "outcall.dnc.remove": Status("移出免打扰名单", "Do-not-call entry removed", "info"),
            "outcall.dispositions.save": Status("保存处理结果目录", "Dispositions saved", "info"),
            "outcall.cti.save": Status("设置外呼平台", "Telephony provider set", "info"),
        },
        "audit.target": {
            "outcall_dnc": Status("免打扰号码", "Do-not-call entry"),
            "outcall_disposition": Status("处理结果目录", "Dispositions"),
            "outcall_cti_config": Status("外呼平台", "Telephony provider"),
        },
    }


@hookimpl
def postalops_simulators():
    from postalops.simulate import Simulator

    from . import simulate

    return [Simulator("outcall", simulate.tick)]


@hookimpl
def postalops_settings_schema():
    """The queue policy and waybill prefix, per unit (the core stores and edits them)."""
    from .settings import OutcallSettings

    return SettingsSchema(
        OutcallSettings, view_permission="outcall.view", edit_permission="outcall.manage"
    )
