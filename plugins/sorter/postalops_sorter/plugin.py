"""Hook implementations of the sorter plugin (圆盘分拣机). Thin: each hook hands off to a module."""

from __future__ import annotations

from pathlib import Path

from postalops import hookimpl
from postalops.plugins import DashboardPage, NavItem, Permission, PluginInfo, Role, Schedule

from . import __version__

KEY = "sorter"

PERMISSIONS = [
    Permission("sorter.view", "查看分拣机", "View sorters", ("ops", "viewer", "station_head")),
    Permission("sorter.operate", "处理分拣机告警", "Handle sorter alerts", ("ops", "station_head")),
    Permission("sorter.manage", "管理分拣机", "Manage sorters, waves and webhooks", ("ops",)),
    # held by device tokens only: each machine posts its own telemetry
    Permission("sorter.ingest", "上传分拣机数据", "Post sorter telemetry", ()),
]


@hookimpl
def postalops_plugin_info():
    return PluginInfo(
        key=KEY,
        name_zh="圆盘分拣机",
        name_en="Disc sorters",
        version=__version__,
        demo_weight=5,  # relative cost of its demo build (postalops demo --jobs)
        description="Telemetry, throughput, OEE and alerts for station sorting machines",
    )


@hookimpl
def postalops_roles():
    return [Role("station_head", "揽投部主任", "Station head", grants=("core.metrics.read",))]


@hookimpl
def postalops_permissions():
    return PERMISSIONS


@hookimpl
def postalops_blueprints(app):
    from .api import api
    from .views import bp

    return [api, bp]


@hookimpl
def postalops_nav_items():
    return [NavItem("分拣机", "Sorters", "/p/sorter/", permission="sorter.view", order=40)]


@hookimpl
def postalops_actors():
    from .jobs import ACTORS

    return ACTORS


@hookimpl
def postalops_schedules():
    return [
        Schedule("sorter.rollup", "sorter.rollup", cron="* * * * *"),
        Schedule("sorter.alerts", "sorter.alerts", cron="* * * * *"),
        Schedule("sorter.retention", "sorter.retention", cron="30 3 * * *"),
        Schedule("sorter.escalation", "sorter.escalation", cron="* * * * *"),
    ]


@hookimpl
def postalops_migrations():
    return str(Path(__file__).parent / "migrations" / "versions")


@hookimpl
def postalops_metrics(session, tenant, date_from, date_to):
    from .metrics import sorter_metrics

    return sorter_metrics(session, tenant, date_from, date_to)


@hookimpl
def postalops_dashboard_pages(dash_app):
    from . import dashboards

    dashboards.register_callbacks(dash_app)
    return [
        DashboardPage("sorter", "圆盘分拣机", "Disc sorters", dashboards.overview, order=40),
    ]


@hookimpl
def postalops_demo(session, units, rng, progress):
    from .demo import build
    from .demo_losses import build_losses, prepare  # calendars, reasons, alarms (issue 20 §1)
    from .demo_present import build_present  # the rolling present up to now (issue 16 §2)

    # the demo is seeded from station codes and dates, not from rng, so it is stable on its own
    prepare(session, units)  # calendars first: the rollups then carry their shift buckets
    out = build(session, units, progress) | build_present(session, units, progress)
    return out | build_losses(session, units, progress)


@hookimpl
def postalops_tasks(session, user, unit):
    """The workbench inbox: sorter alerts to acknowledge and to close."""
    from .tasks import operator_tasks

    return operator_tasks(session, user, unit)


@hookimpl
def postalops_status_labels():
    """Alert kinds and states in the user's language, on every page and export."""
    from postalops.ui import Status

    from .tasks import KIND_WORDS

    return {
        "sorter.alert_kind": {
            kind: Status(zh, en.capitalize(), "warning") for kind, (zh, en) in KIND_WORDS.items()
        },
        "sorter.alert": {
            "raised": Status("待确认", "Open", "danger"),
            "acknowledged": Status("处理中", "Acknowledged", "warning"),
            "escalated": Status("已升级", "Escalated", "danger"),
            "snoozed": Status("已暂缓", "Snoozed", "neutral"),
            "resolved": Status("已解除", "Resolved", "success"),
        },
        "sorter.severity": {
            "info": Status("提示", "Info", "info"),
            "warning": Status("警告", "Warning", "warning"),
            "critical": Status("严重", "Critical", "danger"),
        },
        "sorter.loss": {
            "breakdown": Status("设备故障损失", "Breakdown", "danger"),
            "setup": Status("换型调整损失", "Setup / changeover", "warning"),
            "small_stops": Status("短暂停机损失", "Small stops", "warning"),
            "reduced_speed": Status("速度降低损失", "Reduced speed", "info"),
            "startup_rejects": Status("开机废品损失", "Startup rejects", "neutral"),
            "production_rejects": Status("生产废品损失", "Production rejects", "neutral"),
            "unassigned": Status("未归因", "Unassigned", "neutral"),
        },
        "sorter.alert_action": {
            "raised": Status("告警产生", "Raised", "danger"),
            "acknowledged": Status("已确认", "Acknowledged", "warning"),
            "escalated": Status("已升级", "Escalated", "danger"),
            "snoozed": Status("暂缓", "Snoozed", "neutral"),
            "woke": Status("暂缓结束", "Snooze ended", "info"),
            "commented": Status("备注", "Comment", "info"),
            "resolved": Status("已解除", "Resolved", "success"),
        },
        "sorter.maintenance": {
            "planned": Status("计划维护", "Planned", "info"),
            "corrective": Status("故障维修", "Corrective", "warning"),
        },
        "sorter.calendar": {
            "holiday": Status("节假日", "Holiday", "neutral"),
            "maintenance": Status("计划维护", "Planned maintenance", "info"),
        },
        "sorter.state": {
            "running": Status("运行中", "Running", "success"),
            "idle": Status("空转", "Idle", "neutral"),
            "jammed": Status("卡件", "Jammed", "danger"),
            "fault": Status("故障", "Fault", "danger"),
            "emergency_stop": Status("急停", "Emergency stop", "danger"),
            "planned_stop": Status("计划停机", "Planned stop", "info"),
        },
        "sorter.token": {
            "issued": Status("已发放", "Issued", "success"),
            "none": Status("未发放", "Not issued", "neutral"),
        },
    }


@hookimpl
def postalops_simulators():
    from postalops.simulate import Simulator

    from . import simulate

    return [Simulator("sorter", simulate.tick)]
