"""Permissions of the pickup_points plugin and the roles holding them by default."""

from __future__ import annotations

from postalops.plugins import Permission, Role

VIEW = "pickup_points.view"
MANAGE = "pickup_points.manage"
RECORD = "pickup_points.record"
DIRECT = "pickup_points.direct"
CONFIGURE = "pickup_points.configure"

PLANNER = "pickup_planner"

ROLES = [
    Role(PLANNER, "自提点网络规划员", "Pickup network planner", grants=("core.metrics.read",)),
]

PERMISSIONS = [
    Permission(VIEW, "查看自提点", "View pickup points", ("ops", "viewer", PLANNER)),
    Permission(MANAGE, "维护服务区域与自提点", "Manage areas and pickup points", ("ops", PLANNER)),
    Permission(RECORD, "上报自提点邮件与投递量", "Record items and volumes", ("ops",)),
    Permission(DIRECT, "确定串点直投", "Decide direct delivery", (PLANNER,)),
    Permission(
        CONFIGURE, "配置覆盖半径与服务标准", "Configure coverage and quality rules", (PLANNER,)
    ),
]
