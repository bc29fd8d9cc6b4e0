"""The loan page's accounting part: what the books hold for the loan (fee, accruals, penalty,
provision, write-off, recoveries, events) and its actions: request or decide a write-off,
record a recovery, reverse a repayment or the disbursement. Destructive steps ask first
(``ui.confirm_first``); a refusal comes back beside its field with nothing written.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import flash
from flask_babel import gettext as _
from postalops import clock, formatting, ui
from postalops.auth import check_permission
from postalops.errors import PostalOpsError
from postalops.money import ZERO, parse_amount
from sqlmodel import Session, select

from postalops_lending import permissions as perm
from postalops_lending import service
from postalops_lending.models import Loan, LoanEvent, Repayment, WriteOff

FORMS = (
    "write_off",
    "write_off_decision",
    "recovery",
    "reverse_repayment",
    "reverse_disbursement",
)


def _refusal(exc: PostalOpsError, field: str) -> dict[str, str]:
    words = {
        "not_loss": _("Only an active loan classified loss (损失) can be written off."),
        "write_off_pending": _("A write-off of this loan already awaits a decision."),
        "maker_checker": _("Refused: nobody decides a write-off they requested."),
        "already_decided": _("Refused: this write-off has already been decided."),
        "over_recovery": _("More than what is left written off."),
        "not_written_off": _("Only a written-off loan takes recoveries."),
        "invalid_date": _("Between the write-off and today."),
        "duplicate_reference": _("This reference was already used for another recovery."),
        "already_reversed": _("This repayment is already reversed."),
        "not_reversible": _("Only the latest repayment standing can be reversed."),
        "has_repayments": _("Reverse the loan's repayments first."),
    }
    if exc.code in words:
        return {field: words[exc.code]}
    if exc.status == 403:
        return {field: _("Refused: your role may not take this step.")}
    return {field: _("Not accepted: check this field.")}


def handle(s: Session, loan: Loan, which: str, form: Any) -> tuple[dict[str, str], Any]:
    """Run one accounting form. Returns (errors, page): ``page`` is the confirmation page to
    show first, or True when done (the caller redirects), or None with errors."""
    reason = (form.get("reason") or "").strip()
    if which == "write_off":
        who = check_permission(perm.SERVICE)
        if not reason:
            return {"wo_reason": _("Required.")}, None
        if (
            page := ui.confirm_first(_confirm(which, loan), _("Request the write-off"))
        ) is not None:
            return {}, page
        return _run(
            s,
            lambda: service.request_write_off(s, who, loan.id, reason),
            "wo_reason",
            _("Write-off requested; it awaits approval by another user."),
        )
    if which == "write_off_decision":
        who = check_permission(perm.APPROVE)
        approve = form.get("decision") == "approve"
        wid = int(form.get("write_off_id") or 0)
        if (
            approve
            and (page := ui.confirm_first(_confirm(which, loan), _("Approve the write-off")))
            is not None
        ):
            return {}, page
        return _run(
            s,
            lambda: service.decide_write_off(s, who, wid, approve=approve, note=reason),
            "wo_decision",
            _("Write-off approved: the loan is written off against its provision.")
            if approve
            else _("Write-off rejected."),
        )
    if which == "recovery":
        who = check_permission(perm.SERVICE)
        errors: dict[str, str] = {}
        amount = on = None
        try:
            amount = parse_amount(
                (form.get("amount") or "").replace(",", ""),
                "amount",
                minimum=ZERO,
                allow_zero=False,
            )
        except PostalOpsError:
            errors["rec_amount"] = _("Enter an amount in yuan above zero, at most two decimals.")
        try:
            on = dt.date.fromisoformat(form.get("recovered_on") or "")
        except ValueError:
            errors["rec_on"] = _("Enter a date, e.g. 2015-06-18.")
        ref = (form.get("reference") or "").strip()
        if not ref:
            errors["rec_reference"] = _("Required.")
        if errors:
            return errors, None
        field = {"amount": "rec_amount", "recovered_on": "rec_on", "reference": "rec_reference"}
        try:
            service.record_recovery(s, who, loan.id, amount, on, ref)
            s.commit()
        except PostalOpsError as exc:
            s.rollback()
            name = field.get(exc.details[0].get("field", "") if exc.details else "", "rec_amount")
            return _refusal(exc, name), None
        flash(
            _("Recovery of %(amount)s recorded.", amount=formatting.money(amount, ui.locale())),
            "success",
        )
        return {}, True
    if which == "reverse_repayment":
        who = check_permission(perm.APPROVE)
        rid = int(form.get("repayment_id") or 0)
        if not reason:
            return {"rv_reason": _("Required.")}, None
        if (
            page := ui.confirm_first(_confirm(which, loan), _("Reverse the repayment"))
        ) is not None:
            return {}, page
        return _run(
            s,
            lambda: service.reverse_repayment(s, who, loan.id, rid, reason),
            "rv_reason",
            _("Repayment reversed by a compensating entry; the schedule was recomputed."),
        )
    who = check_permission(perm.APPROVE)  # reverse_disbursement
    if not reason:
        return {"rd_reason": _("Required.")}, None
    if (page := ui.confirm_first(_confirm(which, loan), _("Reverse the disbursement"))) is not None:
        return {}, page
    return _run(
        s,
        lambda: service.reverse_disbursement(s, who, loan.id, reason),
        "rd_reason",
        _("Disbursement reversed by a compensating entry."),
    )


def _run(s: Session, call: Any, field: str, done: str) -> tuple[dict[str, str], Any]:
    try:
        call()
        s.commit()
    except PostalOpsError as exc:
        s.rollback()
        return _refusal(exc, field), None
    flash(done, "success")
    return {}, True


def _confirm(which: str, loan: Loan) -> str:
    money = formatting.money(loan.outstanding_principal, ui.locale())
    return {
        "write_off": _(
            "Ask to write off %(loan)s (outstanding %(money)s); another user must approve.",
            loan=loan.loan_no,
            money=money,
        ),
        "write_off_decision": _(
            "%(loan)s will be written off: %(money)s of principal against its provision, the "
            "interest receivable to impairment losses. It cannot be undone.",
            loan=loan.loan_no,
            money=money,
        ),
        "reverse_repayment": _(
            "The repayment will be reversed by a compensating entry and the schedule as it "
            "stood before it restored. The original stays on record."
        ),
        "reverse_disbursement": _(
            "The disbursement of %(loan)s will be reversed: the loan is cancelled and its "
            "accrued interest taken out of income. The original stays on record.",
            loan=loan.loan_no,
        ),
    }[which]


def page_context(s: Session, loan: Loan) -> dict[str, Any]:
    """What the loan page shows of the books."""
    events = s.exec(
        select(LoanEvent).where(LoanEvent.loan_id == loan.id).order_by(LoanEvent.id.desc())  # type: ignore[union-attr]
    ).all()
    write_offs = s.exec(
        select(WriteOff).where(WriteOff.loan_id == loan.id).order_by(WriteOff.id)
    ).all()
    reps = s.exec(
        select(Repayment).where(Repayment.loan_id == loan.id).order_by(Repayment.id)
    ).all()
    reversed_ids = {int(r.reference.split(":", 1)[1]) for r in reps if r.kind == "reversal"}
    standing = [r for r in reps if r.kind == "repayment" and r.id not in reversed_ids]
    interest, penalty = service.interest_receivable(s, loan)
    terms = service.loan_terms(s, loan)
    return {
        "events": events[:100],
        "events_total": len(events),
        "write_offs": write_offs,
        "pending_write_off": next((w for w in write_offs if w.status == "requested"), None),
        "reversible_id": standing[-1].id
        if standing and loan.status in ("active", "closed") and "before" in standing[-1].allocation
        else None,
        "reversed_ids": reversed_ids,
        "can_reverse_disbursement": loan.status == "active"
        and loan.origin == "application"
        and not standing,
        "receivable": {"interest": interest, "penalty": penalty},
        "terms": terms,
        "today": clock.today(),
    }
