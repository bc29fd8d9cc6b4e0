"""What waits for loan staff on the workbench (``postalops_tasks``): applications to review
(customer manager), applications and relief requests to decide (credit approver: not the ones
they prepared, maker-checker), write-offs to decide (not their own), and approved applications whose contract is to be signed. A few
grouped queries; one item per kind, linking to the record when there is one, else to its list."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from postalops import formatting
from postalops.db import in_scope_clause
from postalops.plugins import Task
from sqlmodel import Session

from . import permissions as perm
from .models import Application, Relief, WriteOff

APPS = "/p/lending/applications"


def _maker_free(user_id: int, *makers: Any) -> Any:
    """Rows none of whose ``makers`` columns is this user (NULL makers do not count)."""
    return sa.and_(*[sa.or_(m.is_(None), m != user_id) for m in makers])


def _summary(session: Session, where: list[Any]) -> tuple[int, Any, Any, int | None]:
    n, oldest, amount, first = session.execute(
        sa.select(
            sa.func.count(),
            sa.func.min(Application.submitted_at),
            sa.func.sum(Application.requested_amount),
            sa.func.min(Application.id),
        ).where(*where)
    ).one()
    return int(n or 0), oldest, amount, first


def lending_tasks(session: Session, user: Any, unit: str) -> list[Task]:
    """The tasks of ``user`` in the caller's scope (the session filters to the unit's subtree)."""
    uid = user.user_id if user.user_id is not None else -1
    tasks: list[Task] = []

    def app_task(key, zh, en, where, detail=True):
        n, oldest, amount, first = _summary(session, where)
        if not n:
            return
        money_zh = formatting.money(amount, "zh") if amount is not None else ""
        money_en = formatting.money(amount, "en") if amount is not None else ""
        tasks.append(
            Task(
                key,
                zh,
                en,
                f"{APPS}/{first}" if n == 1 else APPS,
                count=n,
                unit="applications",
                detail_zh=f"申请金额合计 {money_zh}" if detail else "",
                detail_en=f"Requested in total: {money_en}" if detail else "",
                since=oldest,
            )
        )

    # the unit and its subtree (the session's scope applies on top)
    in_unit = in_scope_clause(Application.tenant_code, unit)
    if user.can(perm.REVIEW):
        app_task(
            "review_applications",
            "待审查的贷款申请",
            "Loan applications to review",
            [in_unit, Application.status == "prechecked"],
        )
    if user.can(perm.APPROVE):
        app_task(
            "decide_applications",
            "待审批的贷款申请",
            "Loan applications to decide",
            [
                in_unit,
                Application.status == "reviewed",
                _maker_free(uid, Application.submitted_by, Application.reviewed_by),
            ],
        )
        rel_unit = in_scope_clause(Relief.tenant_code, unit)
        n, oldest, first = session.execute(
            sa.select(
                sa.func.count(), sa.func.min(Relief.requested_at), sa.func.min(Relief.id)
            ).where(rel_unit, Relief.status == "requested", _maker_free(uid, Relief.requested_by))
        ).one()
        if n:
            tasks.append(
                Task(
                    "decide_reliefs",
                    "待审批的纾困申请",
                    "Relief requests to decide",
                    "/p/lending/reliefs?status=requested",
                    count=int(n),
                    unit="reliefs",
                    detail_zh="借新还旧、临时延期或续贷",
                    detail_en="Refinancing, temporary extension or renewal",
                    since=oldest,
                )
            )
        wo_unit = in_scope_clause(WriteOff.tenant_code, unit)
        n, oldest, first_loan = session.execute(
            sa.select(
                sa.func.count(), sa.func.min(WriteOff.requested_at), sa.func.min(WriteOff.loan_id)
            ).where(
                wo_unit, WriteOff.status == "requested", _maker_free(uid, WriteOff.requested_by)
            )
        ).one()
        if n:
            tasks.append(
                Task(
                    "decide_write_offs",
                    "待审批的贷款核销",
                    "Loan write-offs to decide",
                    f"/p/lending/loans/{first_loan}#books",
                    count=int(n),
                    unit="loans",
                    detail_zh="损失类贷款，以贷款损失准备核销",
                    detail_en="Loss loans, written off against their provision",
                    since=oldest,
                )
            )
    if user.can(perm.APPLY):
        app_task(
            "sign_contracts",
            "待签订合同的贷款",
            "Approved loans to contract",
            [in_unit, Application.status == "approved"],
        )
    return tasks
