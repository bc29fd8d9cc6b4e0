"""The list of commission statements: one declaration for the portal page and the payout export
(CSV/XLSX of the filtered rows, amounts stored as numbers)."""

from __future__ import annotations

from postalops.listing import Column, Listing
from sqlmodel import select

from .models import Leader, Statement

STATUSES = ("pending", "approved", "rejected", "paid")

STATEMENTS = Listing(
    select(
        Statement.id,
        Statement.period,
        Statement.status,
        Statement.tenant_code,
        Statement.earned,
        Statement.clawback,
        Statement.carried,
        Statement.payable,
        Statement.prepared_by,
        Statement.decided_by,
        Statement.paid_on,
        Leader.code.label("leader_code"),
        Leader.name.label("leader_name"),
    ).join(Leader, Leader.id == Statement.leader_id),
    [
        Column("id", "结算单号", "Statement", kind="count", sortable=True,
               href=lambda r: f"/p/ecommerce/statements/{r.id}"),
        Column("period", "结算月份", "Month", sortable=True, filter="exact", expr=Statement.period),
        Column("leader_code", "团长编码", "Leader code", sortable=True, filter="text",
               expr=Leader.code),
        Column("leader_name", "团长", "Leader", filter="text", expr=Leader.name),
        Column("tenant_code", "所属网点", "Branch", kind="unit", filter="unit",
               expr=Statement.tenant_code),
        Column("earned", "本期佣金", "Earned", kind="money"),
        Column("clawback", "退款追回", "Clawed back", kind="money"),
        Column("carried", "上期结转", "Carried over", kind="money"),
        Column("payable", "应付金额", "Payable", kind="money", sortable=True,
               expr=Statement.payable),
        Column("status", "状态", "Status", kind="status", domain="ecommerce.statement",
               filter="choice", choices=STATUSES, expr=Statement.status),
        Column("paid_on", "付款日期", "Paid on", kind="date"),
    ],
    default_sort="-id",
    filename="leader-commission-statements",
)  # fmt: skip
