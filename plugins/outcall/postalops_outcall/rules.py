"""Outcall's pure rules: what ``service`` decides, without a session or the database.

The queue's own rules are in ``call_policy``, eligibility in ``eligibility``, a platform row's
reading in ``intake``; this module holds the rules that join them to outcall's rows: the queue
policy of the unit's settings, a case row as a rule value and back, what a platform row does to
a new or stored case, the batch report, a refused call's checks and the platform notification.
``service`` reads the rows, calls these and writes the results.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any
from zoneinfo import ZoneInfo

from postalops.errors import Conflict, ValidationError
from postalops.imports import RowErrors

from . import call_policy as cp
from .address import DeliveryAddress, validate_address
from .eligibility import (
    ApplicantType,
    ApprovalLevel,
    Catalogue,
    CatalogueEntry,
    IssuingMethod,
    evaluate,
)
from .intake import (
    LOCAL_TZ,
    CaseRecord,
    IntakeAction,
    classify,
    immutable_values,
    read_contradictions,
)
from .settings import OutcallSettings

# --- settings ---------------------------------------------------------------------------------


def policy_of(settings: OutcallSettings) -> cp.CallPolicy:
    """The pure queue policy for the settings (validates it too)."""
    return cp.CallPolicy(
        retry_delay=dt.timedelta(minutes=settings.retry_delay_minutes),
        max_attempts=settings.max_attempts,
        claim_ttl=dt.timedelta(minutes=settings.claim_minutes),
        calling_hours=cp.CallingHours(settings.start(), settings.end(), settings.timezone),
        queue_days=settings.queue_days,
        callback_hold=dt.timedelta(minutes=settings.callback_hold_minutes),
        daily_calls_per_phone=settings.daily_calls_per_phone,
    )


def period_bounds(
    date_from: dt.date, date_to: dt.date, tz: str = "Asia/Shanghai"
) -> tuple[dt.datetime, dt.datetime]:
    """UTC instants bounding local dates ``date_from``..``date_to`` inclusive."""
    zone = ZoneInfo(tz)
    start = dt.datetime.combine(date_from, dt.time(0), zone).astimezone(dt.UTC)
    end = dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time(0), zone).astimezone(dt.UTC)
    return start, end


# --- catalogue --------------------------------------------------------------------------------


def read_catalogue_entry(
    entry: CatalogueEntry | Mapping[str, Any],
) -> tuple[str, str, bool, Any]:
    """(department, item, participating, script) of an entry or a submitted mapping; the
    department and item are stripped (empty when missing), the script None when not given."""
    if isinstance(entry, CatalogueEntry):
        return entry.department, entry.item, entry.participating, None
    return (
        str(entry.get("department") or "").strip(),
        str(entry.get("item") or "").strip(),
        bool(entry.get("participating", True)),
        entry.get("script"),
    )


# --- a case row as rule values ----------------------------------------------------------------

# The case's fields intake reads and writes as they are (the enums are stored as their values).
_RECORD_FIELDS = (
    "case_no",
    "department",
    "service_item",
    "applicant_name",
    "phone",
    "id_number",
    "approved_at",
    "old_certificate_return",
    "ready_at",
    "collected_at",
)


def record_of(case: Any) -> CaseRecord:
    """The platform's record of a stored case (an ``OutcallCase`` or a row of its columns)."""
    return CaseRecord(
        case_no=case.case_no,
        department=case.department,
        service_item=case.service_item,
        applicant_type=ApplicantType(case.applicant_type),
        approval_level=ApprovalLevel(case.approval_level),
        applicant_name=case.applicant_name,
        phone=case.phone,
        id_number=case.id_number,
        approved_at=case.approved_at,
        issuing_method=IssuingMethod(case.issuing_method),
        old_certificate_return=case.old_certificate_return,
        ready_at=case.ready_at,
        collected_at=case.collected_at,
    )


def apply_record(case: Any, record: CaseRecord) -> None:
    """Write the record's fields onto the case."""
    for f in _RECORD_FIELDS:
        setattr(case, f, getattr(record, f))
    case.applicant_type = record.applicant_type.value
    case.approval_level = record.approval_level.value
    case.issuing_method = record.issuing_method.value


def queue_state(case: Any) -> cp.QueueState:
    """The case's place in the queue, as ``call_policy`` reasons about it."""
    return cp.QueueState(
        status=cp.CaseStatus(case.status),
        attempts=case.attempts,
        next_call_at=case.next_call_at,
        reserved_agent=case.reserved_agent,
        reserved_until=case.reserved_until,
        deadline=case.deadline,
    )


def store_state(case: Any, state: cp.QueueState) -> None:
    """Write a queue state onto the case."""
    case.status = state.status.value
    case.attempts = state.attempts
    case.next_call_at = state.next_call_at
    case.reserved_agent = state.reserved_agent
    case.reserved_until = state.reserved_until
    case.deadline = state.deadline


# --- intake: what a platform row does to a case -----------------------------------------------

# Cases not yet called may be re-evaluated when the platform changes them.
REEVALUABLE = {cp.CaseStatus.QUEUED.value, cp.CaseStatus.INELIGIBLE.value}

Verdict = tuple[bool, dict[str, bool], list[str]]


class Verdicts:
    """Eligibility of records against one catalogue, evaluated once per distinct facts.

    Eligibility depends on the case's facts and the catalogue only: a batch has a few dozen
    distinct facts. A verdict is (eligible, {rule: passed}, [failed rules])."""

    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        self._seen: dict[tuple[Any, ...], Verdict] = {}

    def __call__(self, record: CaseRecord) -> Verdict:
        key = (
            record.department,
            record.service_item,
            record.applicant_type,
            record.approval_level,
            record.issuing_method,
            record.old_certificate_return,
        )
        found = self._seen.get(key)
        if found is None:
            result = evaluate(record.facts(), self.catalogue)
            rules = result.as_dict()
            found = self._seen[key] = (
                result.eligible,
                rules,
                [k for k, ok in rules.items() if not ok],
            )
        return found


Plan = tuple[int, IntakeAction, CaseRecord]


def plan_rows(
    records: Iterable[tuple[int, CaseRecord]],
    current: dict[str, CaseRecord],
    errors: RowErrors,
) -> list[Plan]:
    """Each good row's action on its case, as it stands before the row (stored, or as an
    earlier row of the batch left it: ``current``, updated here). A row contradicting its case's
    immutable fields adds its details to ``errors`` instead."""
    plans: list[Plan] = []
    for n, rec in records:
        try:
            action, merged = classify(current.get(rec.case_no), rec)
        except Conflict as exc:
            errors.extend(n, exc.details)
            continue
        current[rec.case_no] = merged
        plans.append((n, action, merged))
    return plans


def partial_contradictions(
    partial: Iterable[tuple[int, Mapping[str, Any]]],
    stored: Mapping[str, CaseRecord],
    errors: RowErrors,
) -> None:
    """Rows that failed their shape check, as far as they could be read, compared with their
    stored case too: their contradictions come with their shape errors (issue 15 §5)."""
    for n, values in partial:
        if values["case_no"] in stored:
            known = immutable_values(stored[values["case_no"]])
            for f in read_contradictions(known, values):
                errors.add(n, f, "immutable")


def new_case_state(record: CaseRecord, eligible: bool, policy: cp.CallPolicy) -> cp.QueueState:
    """A new case's queue state: queued when eligible, out at once when already collected."""
    state = (
        cp.enqueue(record.callable_from, policy)
        if eligible
        else cp.QueueState(cp.CaseStatus.INELIGIBLE)
    )
    if record.collected_at is not None:
        state = cp.leave_on_collection(state)
    return state


def new_row(
    record: CaseRecord,
    tenant: str,
    eligible: bool,
    rules: dict[str, bool],
    state: cp.QueueState,
    now: dt.datetime,
) -> dict[str, Any]:
    """A new case's row for the bulk insert. A new case has no reservation, claim or call yet,
    so those columns are left out (NULL): fewer values to convert per row."""
    return {
        "tenant_code": tenant,
        "case_no": record.case_no,
        "department": record.department,
        "service_item": record.service_item,
        "applicant_type": record.applicant_type.value,
        "approval_level": record.approval_level.value,
        "applicant_name": record.applicant_name,
        "phone": record.phone,
        "id_number": record.id_number,
        "approved_at": record.approved_at,
        "issuing_method": record.issuing_method.value,
        "old_certificate_return": record.old_certificate_return,
        "ready_at": record.ready_at,
        "collected_at": record.collected_at,
        "eligible": eligible,
        "rules": rules,
        "status": state.status.value,
        "attempts": state.attempts,
        "next_call_at": state.next_call_at,
        "deadline": state.deadline,
        "created_at": now,
        "updated_at": now,
    }


def update_case(
    case: Any,
    action: IntakeAction,
    merged: CaseRecord,
    verdict: Verdicts,
    policy: cp.CallPolicy,
) -> None:
    """A stored case after a row that changes or closes it: the merged fields; re-evaluated
    while not yet called (queued or ineligible); out of the queue, claim dropped, once the
    applicant collected at the window."""
    apply_record(case, merged)
    if action == IntakeAction.UPDATED and case.status in REEVALUABLE:
        eligible, rules, _failed = verdict(merged)
        case.eligible = eligible
        case.rules = dict(rules)
        if not eligible:
            store_state(case, cp.QueueState(cp.CaseStatus.INELIGIBLE, attempts=case.attempts))
        elif case.status == cp.CaseStatus.INELIGIBLE.value:
            state = cp.enqueue(merged.callable_from, policy)
            store_state(case, replace(state, attempts=case.attempts))
    if merged.collected_at is not None:
        store_state(case, cp.leave_on_collection(queue_state(case)))
        case.claimed_by = None
        case.claim_expires_at = None


def failed_rules(rules: Mapping[str, bool]) -> list[str]:
    return [k for k, ok in rules.items() if not ok]


def intake_report(
    plans: Iterable[Plan], outcome: Mapping[str, tuple[bool, list[str], str]]
) -> dict[str, Any]:
    """``{"summary": {action: rows}, "rows": [{row, status, key, eligible, case_status,
    failed_rules}]}`` from each row's plan and its case's (eligible, failed rules, status)."""
    report = []
    summary: dict[str, int] = {}
    for n, action, merged in plans:
        eligible, failed, status = outcome[merged.case_no]
        report.append(
            {
                "row": n,
                "status": action.value,
                "key": merged.case_no,
                "eligible": eligible,
                "case_status": status,
                "failed_rules": list(failed),
            }
        )
        summary[action.value] = summary.get(action.value, 0) + 1
    return {"summary": summary, "rows": report}


# --- a call's outcome -------------------------------------------------------------------------


def read_outcome(value: str) -> cp.Outcome:
    """The outcome named, or 422 listing the six."""
    try:
        return cp.Outcome(value)
    except ValueError:
        raise ValidationError(
            "未知外呼结果 / unknown outcome",
            code="invalid_outcome",
            details=[{"field": "outcome", "message": "/".join(o.value for o in cp.Outcome)}],
        ) from None


def check_claim(
    collected_at: dt.datetime | None,
    claimed_by: str | None,
    claim_expires_at: dt.datetime | None,
    agent: str,
    now: dt.datetime,
) -> None:
    """409 unless the agent holds a live claim on a case not yet collected at the window."""
    if collected_at is not None:
        # intake closed the case (and dropped the claim) when the platform reported collection
        day = collected_at.astimezone(LOCAL_TZ).date().isoformat()
        raise Conflict(
            f"申请人已于 {day} 在窗口领取 / the applicant collected the document at the window"
            f" on {day}; no call outcome can be recorded",
            code="collected_at_window",
            details=[{"field": "case_id", "message": f"collected at the window on {day}"}],
        )
    if claimed_by != agent:
        raise Conflict(
            "该办件未由你领取 / you have not claimed this case",
            code="not_claimed",
            details=[{"field": "case_id", "message": "claim it first"}],
        )
    if claim_expires_at is None or claim_expires_at <= now:
        raise Conflict(
            "领取已过期 / your claim on this case has expired",
            code="claim_expired",
            details=[{"field": "case_id", "message": "claim again"}],
        )


def delivery_address(
    outcome: cp.Outcome, address: Mapping[str, Any] | None
) -> DeliveryAddress | None:
    """The checked delivery address of an accepted call (422 when missing or incomplete); None
    for the other outcomes, which take no address."""
    if outcome != cp.Outcome.ACCEPTED:
        return None
    if address is None:
        raise ValidationError(
            "同意改邮寄须填写收件地址 / an accepted call needs the delivery address",
            code="invalid_address",
            details=[{"field": "address", "message": "required"}],
        )
    return validate_address(address)


def notification_payload(case: Any, order: Any) -> dict[str, Any]:
    """What the government platform receives: the issuing method changed to mail."""
    return {
        "event": "issuing_method_changed",
        "case_no": case.case_no,
        "issuing_method": "mail",
        "waybill_no": order.waybill_no,
        "address": {
            "province": order.province,
            "city": order.city,
            "district": order.district,
            "detail": order.detail,
            "recipient": order.recipient,
            "phone": order.phone,
        },
        "changed_at": order.created_at.isoformat(),
        # The platform de-duplicates on this key, so a retried delivery is harmless.
        "idempotency_key": f"outcall:{case.tenant_code}:{case.case_no}",
    }


def raise_intake_errors(errors: RowErrors, only_conflicts: bool) -> None:
    """One answer for a refused platform batch: 409 when every error contradicts a case's
    immutable fields, else 422 counting the rows with errors."""
    if not errors:
        return
    details = errors.details()
    if only_conflicts:
        raise Conflict(
            "办件编号重复提交且不可变字段矛盾 / case re-sent with contradicting immutable fields",
            code="case_conflict",
            details=details,
        )
    raise ValidationError(
        f"批量导入被拒绝，共 {len(details)} 行有误 / batch refused: rows with errors",
        code="invalid_batch",
        details=details,
    )
