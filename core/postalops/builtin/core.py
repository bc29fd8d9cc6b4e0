"""Built-in plugin ``core``: tenants, users, tokens, audit, jobs, metrics API and portal shell."""

from __future__ import annotations

from postalops import __version__, hookimpl
from postalops.plugins import NavItem, Permission, PluginInfo, Role

ROLES = [
    Role("admin", "管理员", "Administrator"),
    Role("ops", "运营人员", "Operations staff"),
    Role("viewer", "只读用户", "Read-only viewer"),
    # Finance staff read the journal (vouchers of every plugin) and keep their units' chart.
    Role(
        "finance",
        "财务人员",
        "Finance staff",
        grants=("core.metrics.read",),
        demo_units=("cn.henan",),
    ),
]

PERMISSIONS = [
    Permission("core.tree.read", "查看组织树", "View the org tree", ("ops", "viewer")),
    Permission("core.metrics.read", "查看指标", "Read metrics", ("ops", "viewer")),
    Permission("core.jobs.view", "查看作业", "View jobs", ("ops", "viewer")),
    # The diagnostic probe is a deployment check: administrators only (admin holds every permission).
    Permission("core.jobs.run", "运行诊断作业", "Run diagnostic jobs", ()),
    Permission("core.jobs.cancel", "取消作业", "Cancel jobs", ("ops",)),
    Permission("core.plugins.manage", "管理插件启用", "Enable or disable plugins", ()),
    Permission("core.users.manage", "管理用户", "Manage users", ()),
    Permission("core.tokens.manage", "管理接口令牌", "Manage API tokens", ()),
    Permission("core.audit.read", "查看审计日志", "Read the audit log", ()),
    Permission("core.webhooks.manage", "管理事件推送", "Manage webhooks", ()),
    Permission("core.settings.view", "查看插件设置", "View plugin settings", ("ops", "viewer")),
    Permission("core.journal.read", "查看财务凭证", "Read the journal vouchers", ("finance",)),
    Permission("core.journal.manage", "维护科目映射", "Keep the chart of accounts", ("finance",)),
]


@hookimpl
def postalops_plugin_info():
    return PluginInfo(
        key="core", name_zh="平台内核", name_en="Platform core", version=__version__, builtin=True
    )


@hookimpl
def postalops_roles():
    return ROLES


@hookimpl
def postalops_permissions():
    return PERMISSIONS


@hookimpl
def postalops_blueprints(app):
    from . import admin_config, core_api, journal, portal, settings_api, webhooks_api

    return [
        portal.bp,
        admin_config.bp,
        journal.bp,
        core_api.api,
        webhooks_api.api,
        settings_api.api,
        journal.api,
    ]


@hookimpl
def postalops_nav_items():
    return [
        NavItem(
            "财务凭证", "Journal", "/finance/journal", permission="core.journal.read", order=800
        ),
        NavItem("作业", "Jobs", "/jobs", permission="core.jobs.view", order=900),
        NavItem(
            "插件启用",
            "Plugins",
            "/admin/plugins",
            permission="core.plugins.manage",
            order=910,
            admin=True,
        ),
        NavItem(
            "用户", "Users", "/admin/users", permission="core.users.manage", order=920, admin=True
        ),
        NavItem(
            "接口令牌",
            "API tokens",
            "/admin/tokens",
            permission="core.tokens.manage",
            order=930,
            admin=True,
        ),
        NavItem(
            "审计日志",
            "Audit log",
            "/admin/audit",
            permission="core.audit.read",
            order=940,
            admin=True,
        ),
        NavItem(
            "事件推送",
            "Webhooks",
            "/admin/webhooks",
            permission="core.webhooks.manage",
            order=935,
            admin=True,
        ),
        NavItem(
            "插件设置",
            "Plugin settings",
            "/admin/settings",
            permission="core.settings.view",
            order=936,
            admin=True,
        ),
        NavItem("接口文档", "API docs", "/api/v1/docs", order=950, admin=True),
    ]


@hookimpl
def postalops_actors():
    from postalops.simulate import simulate_job
    from postalops.webhooks import deliver, sweep

    from .housekeeping import housekeeping
    from .probe import probe

    return [probe, housekeeping, simulate_job, deliver, sweep]


@hookimpl
def postalops_schedules():
    import os

    from postalops.plugins import Schedule

    cron = os.environ.get("POSTALOPS_HOUSEKEEPING_CRON") or "17 3 * * *"
    return [
        Schedule("core.housekeeping", "core.housekeeping", cron=cron, tenant="cn"),
        Schedule("core.webhooks.sweep", "core.webhooks.sweep", cron="*/5 * * * *", tenant="cn"),
    ]


@hookimpl
def postalops_health():
    return {}


@hookimpl
def postalops_status_labels():
    from postalops.ui import CORE_STATUS_LABELS
    from postalops.webhooks import status_labels

    from .journal import STATUS_LABELS

    return {**CORE_STATUS_LABELS, **status_labels(), **STATUS_LABELS}


@hookimpl
def postalops_settings_schema():
    """The journal's chart of accounts per unit (``/admin/settings/core``)."""
    from postalops.plugins import SettingsSchema
    from postalops.vouchers import ChartSettings

    return SettingsSchema(
        ChartSettings, view_permission="core.journal.read", edit_permission="core.journal.manage"
    )
