"""Registers the dashboard host as a built-in plugin (entry point ``dashboards``)."""

from __future__ import annotations

from postalops import __version__, hookimpl
from postalops.plugins import DashboardPage, NavItem, PluginInfo


@hookimpl
def postalops_plugin_info():
    return PluginInfo(
        key="dashboards",
        name_zh="数据看板",
        name_en="Dashboards",
        version=__version__,
        builtin=True,
    )


@hookimpl
def postalops_app_created(app):
    from .host import create_dash

    create_dash(app)


@hookimpl
def postalops_dashboard_pages(dash_app):
    from .overview import layout

    return [DashboardPage("", "全省概览", "Overview", layout, order=0)]


@hookimpl
def postalops_nav_items():
    return []


@hookimpl
def postalops_blueprints(app):
    from .export import bp

    return [bp]


_ = NavItem
