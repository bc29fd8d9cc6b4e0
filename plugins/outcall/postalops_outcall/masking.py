"""Masks for personal numbers shown anywhere but the agent's active call or an audited reveal,
and a case as lists, detail pages and exports show it."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .models import OutcallCase


def mask_phone(phone: str | None) -> str:
    """``13812345678`` → ``138****5678``; short or empty values are fully starred."""
    if not phone:
        return ""
    if len(phone) < 8:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


def mask_id_number(id_number: str | None) -> str:
    """``44010619900101123X`` → ``4401**********123X``.

    Keeps the province+city code (which the unit knows anyway) and the last four for matching
    at the window; hides the county, the birth date and the sequence number.
    """
    if not id_number:
        return ""
    if len(id_number) < 10:
        return "*" * len(id_number)
    return id_number[:4] + "*" * (len(id_number) - 8) + id_number[-4:]


def mask_name(name: str | None) -> str:
    """``张三`` → ``张*``, ``欧阳娜娜`` → ``欧***``: exports carry only the surname initial."""
    if not name:
        return ""
    return name[0] + "*" * (len(name) - 1)


def masked_case(case: OutcallCase, *, full: bool = False) -> dict[str, Any]:
    """A case as lists, detail pages and exports show it: phone and ID masked unless ``full``."""
    return {
        "id": case.id,
        "tenant": case.tenant_code,
        "case_no": case.case_no,
        "department": case.department,
        "service_item": case.service_item,
        "applicant_type": case.applicant_type,
        "approval_level": case.approval_level,
        "applicant_name": case.applicant_name,
        "phone": case.phone if full else mask_phone(case.phone),
        "id_number": case.id_number if full else mask_id_number(case.id_number),
        "approved_at": case.approved_at,
        "issuing_method": case.issuing_method,
        "old_certificate_return": case.old_certificate_return,
        "ready_at": case.ready_at,
        "collected_at": case.collected_at,
        "eligible": case.eligible,
        "rules": case.rules,
        "status": case.status,
        "attempts": case.attempts,
        "next_call_at": case.next_call_at,
        "deadline": case.deadline,
        "claimed_by": case.claimed_by,
        "claim_expires_at": case.claim_expires_at,
        "reserved_agent": case.reserved_agent,
    }


EXPORT_COLUMNS = (
    "case_no",
    "department",
    "service_item",
    "applicant_name",
    "phone",
    "id_number",
    "approved_at",
    "eligible",
    "status",
    "attempts",
)


def export_cases_csv(cases: Iterable[OutcallCase]) -> str:
    """CSV of cases with name, phone and ID masked (UTF-8 with BOM so Excel opens it)."""
    buf = io.StringIO()
    buf.write("\ufeff")
    writer = csv.writer(buf)
    writer.writerow(EXPORT_COLUMNS)
    for c in cases:
        writer.writerow(
            [
                c.case_no,
                c.department,
                c.service_item,
                mask_name(c.applicant_name),
                mask_phone(c.phone),
                mask_id_number(c.id_number),
                c.approved_at.isoformat(),
                "Y" if c.eligible else "N",
                c.status,
                c.attempts,
            ]
        )
    return buf.getvalue()
