"""From gross to net: statutory rates per unit, bank accounts, net pay on slips and runs

Revision ID: payroll_0007
Revises: payroll_0006
Create Date: 2026-12-07 18:00:00

Issue 19 §1. Slips stored before this have no net figures (null) until their month is run or
approved again; the cumulative tax of a later month computes them on the way.
"""

import sqlalchemy as sa
from alembic import op
from postalops.db import Money, UTCDateTime

from postalops_payroll.models import Rate

revision = "payroll_0007"
down_revision = "payroll_0006"
branch_labels = None
depends_on = None

SLIP_MONEY = (
    "contribution_base",
    "pension",
    "medical",
    "unemployment",
    "housing_fund",
    "employer_costs",
    "special_deduction",
    "ytd_taxable",
    "ytd_tax",
    "income_tax",
    "net_pay",
)
RUN_MONEY = ("deductions_total", "employer_total", "income_tax_total", "net_total")
RATES = (
    "pension",
    "medical",
    "unemployment",
    "housing_fund",
    "employer_pension",
    "employer_medical",
    "employer_unemployment",
    "employer_housing_fund",
)


# Plain ADD/DROP COLUMN on both backends (SQLite >= 3.35), as payroll_0005.


def upgrade() -> None:
    op.create_table(
        "payroll_deduction_rate",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("tenant_code", sa.String(length=200), nullable=True, index=True),
        sa.Column("effective_from", sa.Date(), nullable=False),
        *(sa.Column(name, Rate(), nullable=False) for name in RATES),
        sa.Column("base_floor", Money(), nullable=False),
        sa.Column("base_ceiling", Money(), nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("tenant_code", "effective_from", name="uq_payroll_deduction_rate"),
    )
    op.add_column("payroll_courier", sa.Column("bank_account", sa.String(40), nullable=True))
    op.add_column("payroll_courier", sa.Column("bank_name", sa.String(60), nullable=True))
    op.add_column("payroll_courier", sa.Column("special_deduction", Money(), nullable=True))
    for name in SLIP_MONEY:
        op.add_column("payroll_payslip", sa.Column(name, Money(), nullable=True))
    for name in RUN_MONEY:
        op.add_column(
            "payroll_run", sa.Column(name, Money(), nullable=False, server_default="0")
        )
    op.add_column("payroll_run", sa.Column("paid_on", sa.Date(), nullable=True))
    op.add_column("payroll_run", sa.Column("net_notice", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("payroll_run", "net_notice")
    op.drop_column("payroll_run", "paid_on")
    for name in RUN_MONEY:
        op.drop_column("payroll_run", name)
    for name in SLIP_MONEY:
        op.drop_column("payroll_payslip", name)
    for name in ("special_deduction", "bank_name", "bank_account"):
        op.drop_column("payroll_courier", name)
    op.drop_table("payroll_deduction_rate")
