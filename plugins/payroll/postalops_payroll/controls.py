"""Payroll controls set per unit: maker-checker on approval (on unless a unit turns it off).

A unit inherits the nearest setting up the tree, so a province can set it for its cities and a
city can differ. Like lending's loan decisions, an approval is refused (403
``maker_cannot_check``) when the approver is whoever ran the month's last draft.
"""

from __future__ import annotations

from dataclasses import dataclass

from postalops import audit
from postalops.db import check_in_scope
from postalops.errors import Forbidden
from postalops.tenancy import ancestors
from sqlmodel import Session, select

from .models import PayrollSetting
from .rate_card_store import reading_above

DEFAULT_MAKER_CHECKER = True


@dataclass(frozen=True)
class Controls:
    unit: str
    maker_checker: bool
    set_at: str | None  # the unit whose row applies; None = the default


def controls_for(session: Session, unit: str) -> Controls:
    """The controls in force at ``unit``: its own row, else the nearest ancestor's, else the
    defaults. Ancestors lie outside a city's scope, so they are read through ``reading_above``
    (read-only, these rows only)."""
    chain = ancestors(unit)
    with reading_above(session) as reader:
        rows = reader.exec(
            select(PayrollSetting).where(PayrollSetting.tenant_code.in_(chain))  # type: ignore[union-attr]
        ).all()
        by_unit = {r.tenant_code: r.maker_checker for r in rows}
    for code in chain:  # nearest first
        if code in by_unit:
            return Controls(unit, by_unit[code], code)
    return Controls(unit, DEFAULT_MAKER_CHECKER, None)


def save_controls(session: Session, unit: str, maker_checker: bool, actor: str) -> Controls:
    """Set the controls at ``unit`` (in the caller's scope; audited before/after)."""
    check_in_scope(session, unit)
    row = session.exec(select(PayrollSetting).where(PayrollSetting.tenant_code == unit)).first()
    before = {"maker_checker": row.maker_checker} if row else None
    if row is None:
        row = PayrollSetting(tenant_code=unit)
    row.maker_checker, row.changed_by = maker_checker, actor
    session.add(row)
    audit.record(
        "payroll.settings.save",
        target_type="payroll_setting",
        target_id=unit,
        tenant=unit,
        before=before,
        after={"maker_checker": maker_checker},
        session=session,
        actor=actor,
    )
    session.flush()
    return Controls(unit, maker_checker, unit)


def check_maker_checker(session: Session, unit: str, maker: str, approver: str) -> None:
    """Refuse (403 ``maker_cannot_check``) an approval by whoever ran the last draft, where the
    unit's maker-checker control is on."""
    if maker and maker == approver and controls_for(session, unit).maker_checker:
        raise Forbidden(
            "maker-checker: the approver must be someone other than whoever ran the month's "
            f"last draft ({maker})",
            code="maker_cannot_check",
            details=[
                {
                    "field": "approver",
                    "message": "ran the last draft of this month",
                    "maker": maker,
                }
            ],
        )
