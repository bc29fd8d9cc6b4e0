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
        demo_weight=0.5,  # relative cost of its demo build (postalops demo --jobs)
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
    """The lending KPIs (README, "Metrics")."""
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
def postalops_settings_schema():
    """Loan-loss provision rates per unit, defaulting to the PBoC guideline (README)."""
    from postalops.plugins import SettingsSchema

    from postalops_lending.permissions import CONFIGURE
    from postalops_lending.settings import ProvisionSettings

    return SettingsSchema(ProvisionSettings, view_permission=VIEW, edit_permission=CONFIGURE)


@hookimpl
def postalops_journal_entries(session, tenant, date_from, date_to):
    """Balanced vouchers of the loan book: disbursements (with the fee), repayments and their
    reversals, daily accruals, provision changes, write-offs, recoveries, disbursement
    reversals (README, "Loan accounting")."""
    from postalops_lending.service import journal_lines

    return journal_lines(session, tenant, date_from, date_to)


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
    """Words for lending's values shown to users: product terms and state, application, loan,
    relief and call states, five-category classes, pre-check rules, audit actions."""
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
        "lending.application": {
            "submitted": Status("已提交", "Submitted", "info"),
            "prechecked": Status("预审通过", "Pre-check passed", "info"),
            "declined": Status("预审未通过", "Declined by the pre-check", "danger"),
            "reviewed": Status("已审查", "Reviewed", "info"),
            "rejected": Status("已拒绝", "Rejected", "danger"),
            "approved": Status("已审批", "Approved", "success"),
            "contracted": Status("已签约", "Contract signed", "success"),
            "disbursed": Status("已放款", "Disbursed", "success"),
        },
        "lending.operating": {
            "true": Status("正常经营", "Operating", "success"),
            "false": Status("已停业", "Closed down", "danger"),
        },
        "lending.channel": {
            "portal": Status("门户", "Portal", "neutral"),
            "api": Status("API", "API", "neutral"),
            "online": Status("线上自助", "Online", "neutral"),
        },
        "lending.loan": {
            "active": Status("在贷", "Active", "info"),
            "closed": Status("已结清", "Closed", "neutral"),
            "renewed": Status("已续贷", "Renewed", "neutral"),
            "written_off": Status("已核销", "Written off", "danger"),
            "reversed": Status("已冲销", "Reversed", "neutral"),
        },
        "lending.write_off": {
            "requested": Status("待审批", "Awaiting approval", "warning"),
            "approved": Status("已核销", "Written off", "danger"),
            "rejected": Status("已驳回", "Rejected", "neutral"),
        },
        "lending.event": {
            "accrual": Status("计提利息", "Interest accrued", "neutral"),
            "provision": Status("计提/转回减值准备", "Provision change", "neutral"),
            "write_off": Status("核销", "Write-off", "danger"),
            "recovery": Status("核销后收回", "Recovery", "success"),
            "disbursement_reversal": Status("冲销放款", "Disbursement reversed", "warning"),
        },
        "lending.bucket": {
            "penalty": Status("罚息", "Penalty interest", "neutral"),
            "interest": Status("利息", "Interest", "neutral"),
            "principal": Status("本金", "Principal", "neutral"),
        },
        "lending.category": {
            "normal": Status("正常", "Normal", "success"),
            "special_mention": Status("关注", "Special mention", "warning"),
            "substandard": Status("次级", "Substandard", "danger"),
            "doubtful": Status("可疑", "Doubtful", "danger"),
            "loss": Status("损失", "Loss", "danger"),
        },
        "lending.relief_kind": {
            "refinancing": Status("再融资", "Refinancing", "neutral"),
            "extension": Status("临时性延期", "Temporary extension", "neutral"),
            "renewal": Status("无还本续贷", "Renewal without principal repayment", "neutral"),
        },
        "lending.relief": {
            "requested": Status("待审批", "Awaiting approval", "warning"),
            "approved": Status("已批准", "Approved", "success"),
            "rejected": Status("已拒绝", "Rejected", "danger"),
        },
        "lending.instalment": {
            "due": Status("未到期", "Not yet due", "neutral"),
            "part_paid": Status("部分已还", "Partly paid", "info"),
            "paid": Status("已还清", "Paid", "success"),
            "overdue": Status("逾期", "Overdue", "danger"),
        },
        "lending.repayment_kind": {
            "repayment": Status("还款", "Repayment", "neutral"),
            "renewal_settlement": Status("续贷结清", "Settled by renewal", "neutral"),
            "reversal": Status("冲销还款", "Reversal", "warning"),
        },
        "lending.call_outcome": {
            "needs_relief": Status("需要纾困", "Needs relief", "warning"),
            "no_need": Status("经营正常", "No need", "success"),
            "no_answer": Status("无人接听", "No answer", "neutral"),
            "call_back": Status("约定回电", "Call back", "info"),
            "wrong_number": Status("号码错误", "Wrong number", "danger"),
        },
        "lending.call_reason": {
            "receivables_slowed": Status("回款放缓", "Receivables slowed", "warning"),
            "near_maturity": Status("临近到期", "Near maturity", "info"),
        },
        "lending.rule_result": {
            "pass": Status("通过", "Passed", "success"),
            "fail": Status("未通过", "Failed", "danger"),
        },
        "lending.rule": {
            "tax_data_12_months": Status("纳税数据满12个月", "12 months of tax data", "neutral"),
            "tax_grade_accepted": Status("纳税信用等级准入", "Tax grade accepted", "neutral"),
            "months_in_business": Status("经营时长", "Months in business", "neutral"),
            "tax_paid_12m": Status("近12个月纳税额", "Tax paid, last 12 months", "neutral"),
            "business_operating": Status("正常经营", "Business operating", "neutral"),
            "credit_line_minimum": Status(
                "授信额度不低于下限", "Line above the minimum", "neutral"
            ),
            "loan_active": Status("贷款在贷", "Loan active", "neutral"),
            "days_past_due": Status("逾期天数", "Days past due", "neutral"),
            "renewal_window": Status("临近到期可续贷", "Within the renewal window", "neutral"),
            "extension_months": Status("延期月数", "Extension months", "neutral"),
            "term_months": Status("新期限", "New term", "neutral"),
        },
        "audit.action": {
            "lending.product.create": Status("新建贷款产品", "Loan product created", "success"),
            "lending.product.update": Status("修改贷款产品", "Loan product changed", "info"),
            "lending.borrower.create": Status("登记借款人", "Borrower registered", "success"),
            "lending.borrower.update": Status("修改借款人信息", "Borrower changed", "info"),
            "lending.borrower.operating": Status("修改经营状态", "Operating state changed", "info"),
            "lending.application.submit": Status("提交贷款申请", "Application submitted", "info"),
            "lending.application.precheck_pass": Status(
                "贷款预审通过", "Pre-check passed", "success"
            ),
            "lending.application.precheck_decline": Status(
                "贷款预审未通过", "Declined by the pre-check", "danger"
            ),
            "lending.application.review": Status("审查贷款申请", "Application reviewed", "info"),
            "lending.application.reject": Status("拒绝贷款申请", "Application rejected", "danger"),
            "lending.application.approve": Status(
                "审批贷款申请", "Application approved", "success"
            ),
            "lending.application.contract": Status("签订贷款合同", "Contract signed", "success"),
            "lending.application.disburse": Status("发放贷款", "Loan disbursed", "success"),
            "lending.loan.prepayment": Status("提前还款", "Prepayment", "info"),
            "lending.loan.close": Status("贷款结清", "Loan closed", "success"),
            "lending.repayment.reverse": Status("冲销还款", "Repayment reversed", "warning"),
            "lending.loan.reverse_disbursement": Status(
                "冲销放款", "Disbursement reversed", "warning"
            ),
            "lending.write_off.request": Status("申请核销", "Write-off requested", "info"),
            "lending.write_off.approve": Status("批准核销", "Write-off approved", "danger"),
            "lending.write_off.reject": Status("驳回核销", "Write-off rejected", "neutral"),
            "lending.write_off.recovery": Status(
                "收回已核销贷款", "Recovery on a written-off loan", "success"
            ),
            "lending.relief.reject": Status("拒绝纾困申请", "Relief rejected", "danger"),
            **{
                f"lending.relief.request.{kind}": Status(f"申请{zh}", f"{en} requested", "info")
                for kind, zh, en in RELIEF_KINDS
            },
            **{
                f"lending.relief.approve.{kind}": Status(f"批准{zh}", f"{en} approved", "success")
                for kind, zh, en in RELIEF_KINDS
            },
        },
        "audit.target": {
            "lending_product": Status("贷款产品", "Loan product"),
            "lending_borrower": Status("借款人", "Borrower"),
            "lending_application": Status("贷款申请", "Loan application"),
            "lending_loan": Status("贷款", "Loan"),
            "lending_relief": Status("纾困申请", "Relief request"),
        },
    }


RELIEF_KINDS = (
    ("refinancing", "再融资", "Refinancing"),
    ("extension", "临时性延期", "Temporary extension"),
    ("renewal", "无还本续贷", "Renewal"),
)


@hookimpl
def postalops_simulators():
    from postalops.simulate import Simulator

    from . import simulate

    return [Simulator("lending", simulate.tick)]
