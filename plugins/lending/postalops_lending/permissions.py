"""Lending roles and permissions with their default grants."""

from __future__ import annotations

from postalops.plugins import Permission, Role

ROLES = [
    Role(
        "loan_officer",
        "客户经理",
        "Customer manager (loans)",
        grants=("core.metrics.read", "core.jobs.view"),
    ),
    Role(
        "credit_approver",
        "信贷审批人",
        "Credit approver",
        grants=("core.metrics.read", "core.jobs.view"),
    ),
    # owns the loan products of its units: creates and edits them, with their credit policy
    # (the demo has one, in Henan, who offers products to Henan's cities)
    Role(
        "loan_product_manager",
        "贷款产品管理员",
        "Loan product manager",
        grants=("core.metrics.read",),
        demo_units=("cn.henan",),
    ),
]

VIEW = "lending.view"
APPLY = "lending.apply"
REVIEW = "lending.review"
APPROVE = "lending.approve"
SERVICE = "lending.service"
RELIEF = "lending.relief"
CONFIGURE = "lending.configure"
TAX_DATA = "lending.tax_data"

PERMISSIONS = [
    Permission(
        VIEW,
        "查看小微贷款",
        "View micro-business loans",
        ("loan_officer", "credit_approver", "loan_product_manager", "ops", "viewer"),
    ),
    Permission(
        APPLY,
        "登记借款人、提交贷款申请",
        "Register borrowers, submit applications",
        ("loan_officer",),
    ),
    Permission(REVIEW, "客户经理审查", "Review applications (customer manager)", ("loan_officer",)),
    Permission(
        APPROVE, "审批贷款与纾困", "Approve loans and relief (checker)", ("credit_approver",)
    ),
    Permission(
        SERVICE,
        "记录还款、日终处理",
        "Record repayments, run close of business",
        ("loan_officer", "ops"),
    ),
    Permission(
        RELIEF,
        "发起纾困申请、电话回访",
        "Request relief, record phone-back calls",
        ("loan_officer",),
    ),
    Permission(
        CONFIGURE,
        "创建、修改贷款产品及授信政策",
        "Create and edit loan products and their credit policy",
        ("loan_product_manager",),
    ),
    Permission(TAX_DATA, "推送、导入税务数据", "Push or import tax data", ("loan_officer",)),
]
