"""Payroll's roles and permissions with their default grants."""

from __future__ import annotations

from postalops.plugins import Permission, Role

VIEW = "payroll.view"
MANAGE = "payroll.manage"
INGEST = "payroll.ingest"
RUN = "payroll.run"
APPROVE = "payroll.approve"
REOPEN = "payroll.reopen"
OWN_PAYSLIP = "payroll.payslip.own"
SETTINGS = "payroll.settings"

ROLES = [
    # HR sees the job list (payroll runs are jobs) and the metrics API like core ops do.
    Role(
        "payroll_hr",
        "人力/运营（计件工资）",
        "Payroll HR / ops",
        grants=("core.jobs.view", "core.metrics.read"),
    ),
    Role("station_head", "揽投部经理", "Station head", grants=("core.metrics.read",)),
    Role("courier", "揽投员", "Courier"),
]

PERMISSIONS = [
    Permission(
        VIEW, "查看计件工资", "View piece-rate pay", ("payroll_hr", "station_head", "ops", "viewer")
    ),
    Permission(MANAGE, "维护计件标准与人员", "Maintain rate cards and couriers", ("payroll_hr",)),
    Permission(
        INGEST, "上传投递与揽收记录", "Upload delivery and collection events", ("payroll_hr", "ops")
    ),
    Permission(RUN, "运行工资核算", "Run payroll", ("payroll_hr",)),
    Permission(
        APPROVE, "审批工资（锁定月份）", "Approve payroll (locks the month)", ("payroll_hr",)
    ),
    Permission(REOPEN, "重新打开已审批月份", "Reopen an approved month", ("ops",)),
    Permission(OWN_PAYSLIP, "查看本人工资条", "See one's own payslips", ("courier",)),
    # Turning maker-checker off is a control over HR itself: no default role, admins only.
    Permission(
        SETTINGS, "设置工资审批控制（审核分离）", "Set payroll controls (maker-checker)", ()
    ),
]
