"""Payroll controls set per unit: maker-checker on approval (on unless a unit turns it off).

The controls are the core's plugin settings (schema :class:`PayrollControls`, declared with
``postalops_settings_schema``; ``/admin/settings/payroll``, ``/api/v1/settings/payroll``): a unit
inherits the nearest value up the tree, so a province can set it for its cities and a city can
differ. Like lending's loan decisions, an approval is refused (403
``maker_cannot_check``) when the approver is whoever ran the month's last draft.
"""

from __future__ import annotations

from dataclasses import dataclass

from postalops import plugin_settings
from postalops.errors import Forbidden
from pydantic import BaseModel, Field
from sqlmodel import Session

KEY = "payroll"


class PayrollControls(BaseModel):
    maker_checker: bool = Field(
        True,
        title="Maker-checker on approval (the approver is not who ran the draft)",
        json_schema_extra=plugin_settings.label("审核分离（审批人不得是核算人）"),
    )


@dataclass(frozen=True)
class Controls:
    unit: str
    maker_checker: bool
    set_at: str | None  # the unit whose row applies; None = the default


def controls_for(session: Session, unit: str) -> Controls:
    """The controls in force at ``unit``: its own value, else the nearest ancestor's, else the
    default (on)."""
    eff = plugin_settings.effective(session, PayrollControls, KEY, unit)
    return Controls(unit, eff.model.maker_checker, eff.source["maker_checker"])  # type: ignore[attr-defined]


def save_controls(session: Session, unit: str, maker_checker: bool, actor: str) -> Controls:
    """Set the controls at ``unit`` (in the caller's scope; audited by the core)."""
    plugin_settings.save(
        session, PayrollControls, KEY, unit, {"maker_checker": maker_checker}, actor=actor
    )
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
