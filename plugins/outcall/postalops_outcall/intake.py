"""Case intake from the government platform (API batches) or the portal (CSV/XLSX).

Every row is parsed and validated before anything is written: a batch is accepted whole or
refused whole, and the refusal names every bad row and field. Intake is idempotent on the
platform's case number; a re-sent case may change its mutable fields (phone, issuing method,
ready / collected times) but never its immutable ones.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from postalops.errors import Conflict, PostalOpsError, ValidationError
from postalops.imports import RowErrors

from .eligibility import (
    ApplicantType,
    ApprovalLevel,
    CaseFacts,
    Catalogue,
    IssuingMethod,
    require_known,
)
from .identity import ID_CHECK_CHARS, validate_id_number, validate_phone

LOCAL_TZ = ZoneInfo("Asia/Shanghai")

# Fields the platform may never change once a case is known.
IMMUTABLE_FIELDS = (
    "department",
    "service_item",
    "applicant_type",
    "approval_level",
    "applicant_name",
    "id_number",
    "approved_at",
)
MUTABLE_FIELDS = ("phone", "issuing_method", "old_certificate_return", "ready_at", "collected_at")

# Column headers as exported by the 政务服务一体化平台, mapped to our field names.
HEADER_ALIASES = {
    "办件编号": "case_no",
    "部门": "department",
    "事项": "service_item",
    "申请人类型": "applicant_type",
    "审批层级": "approval_level",
    "申请人": "applicant_name",
    "电话": "phone",
    "身份证号": "id_number",
    "审批时间": "approved_at",
    "出件方式": "issuing_method",
    "交回旧证": "old_certificate_return",
    "可领取时间": "ready_at",
    "窗口领取时间": "collected_at",
}
_ENUM_ALIASES = {
    "个人": "personal",
    "企业": "enterprise",
    "市级": "municipal",
    "区级": "district",
    "窗口领取": "window",
    "窗口": "window",
    "邮寄": "mail",
    "邮寄送达": "mail",
}
_TRUE = {"true", "1", "yes", "y", "是", "需要"}
_FALSE = {"false", "0", "no", "n", "否", "无需", "不需要", ""}


@dataclass(frozen=True)
class CaseRecord:
    """One validated, normalised case as the platform sent it. Times are UTC."""

    case_no: str
    department: str
    service_item: str
    applicant_type: ApplicantType
    approval_level: ApprovalLevel
    applicant_name: str
    phone: str
    id_number: str
    approved_at: dt.datetime
    issuing_method: IssuingMethod
    old_certificate_return: bool
    ready_at: dt.datetime | None = None
    collected_at: dt.datetime | None = None

    def facts(self) -> CaseFacts:
        return CaseFacts(
            department=self.department,
            item=self.service_item,
            applicant_type=self.applicant_type,
            approval_level=self.approval_level,
            issuing_method=self.issuing_method,
            old_certificate_return=self.old_certificate_return,
        )

    @property
    def callable_from(self) -> dt.datetime:
        """When calling may start: once the document is ready, else at approval."""
        return self.ready_at or self.approved_at


CASE_FIELDS = tuple(f.name for f in fields(CaseRecord))
_FIELD_NAMES = frozenset(CASE_FIELDS)


def normalise_headers(row: Mapping[str, Any]) -> Mapping[str, Any]:
    """Map Chinese platform headers to field names; unknown columns are kept and ignored."""
    if _FIELD_NAMES.issuperset(row):  # the API's own field names: nothing to map
        return row
    return {HEADER_ALIASES.get(str(k).strip(), str(k).strip()): v for k, v in row.items()}


def parse_time(value: Any, *, field: str) -> dt.datetime | None:
    """ISO-8601 text or a datetime; naive values are Asia/Shanghai wall-clock time."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        parsed = value
    else:
        try:
            parsed = dt.datetime.fromisoformat(str(value).strip())
        except ValueError:
            raise ValidationError(
                "时间格式错误 / malformed time",
                code="invalid_time",
                details=[{"field": field, "message": "expected ISO 8601, e.g. 2022-08-17 10:30"}],
            ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=LOCAL_TZ)
    return parsed.astimezone(dt.UTC)


def _enum(enum: type[StrEnum], value: Any, field: str) -> Any:
    text = str(value or "").strip()
    text = _ENUM_ALIASES.get(text, text.lower())
    try:
        return enum(text)
    except ValueError:
        allowed = "/".join(m.value for m in enum)
        raise ValidationError(
            f"{field} 取值无效 / invalid value",
            code="invalid_choice",
            details=[{"field": field, "message": allowed}],
        ) from None


def _flag(value: Any, field: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value if value is not None else "").strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValidationError(
        "布尔值无效 / not a yes/no value", code="invalid_flag", details=[{"field": field}]
    )


def _text(value: Any, field: str, max_len: int = 200) -> str:
    text = str(value if value is not None else "").strip()
    if not text:
        raise ValidationError(
            "必填 / required", code="required", details=[{"field": field, "message": "required"}]
        )
    if len(text) > max_len:
        raise ValidationError(
            "过长 / too long", code="too_long", details=[{"field": field, "message": f"≤{max_len}"}]
        )
    return text


def parse_case(
    row: Mapping[str, Any], *, catalogue: Catalogue, row_number: int | None = None
) -> CaseRecord:
    """Validate one row and return it normalised, or raise one error listing all its bad fields."""
    values, details = read_case(row, catalogue=catalogue)
    if details:
        if row_number is not None:
            details = [{"row": row_number, **d} for d in details]
        raise ValidationError(
            f"办件数据有误 / invalid case{'' if row_number is None else f' in row {row_number}'}",
            code="invalid_case",
            details=details,
        )
    return CaseRecord(**values)


def read_case(
    row: Mapping[str, Any], *, catalogue: Catalogue
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Read one row: the fields that could be read (normalised) and every bad field's error.
    A row with errors keeps its readable fields so they can still be checked against stored
    cases and the batch's other rows (issue 15 §5)."""
    row = normalise_headers(row)
    good = _read_good(row, catalogue)
    if good is not None:
        return good, []
    return _read_each(row, catalogue)


def _read_each(
    row: Mapping[str, Any], catalogue: Catalogue
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """:func:`read_case` field by field through the readers, collecting every error."""
    details: list[dict[str, Any]] = []
    values: dict[str, Any] = {}
    for name, parse, args in _READERS:
        try:
            values[name] = parse(row.get(name), *args)
        except PostalOpsError as exc:
            details.extend(exc.details)
    if values.get("approved_at") is None and not any(
        d.get("field") == "approved_at" for d in details
    ):
        details.append({"field": "approved_at", "message": "required"})
    if "department" in values and "service_item" in values:
        try:
            require_known(values["department"], values["service_item"], catalogue)
        except PostalOpsError as exc:
            details.extend(exc.details)
    return values, details


# (field, reader, extra arguments) in the order errors are reported; each reader takes the raw
# value first and raises a PostalOpsError naming the field.
_READERS: tuple[tuple[str, Any, tuple[Any, ...]], ...] = (
    ("case_no", _text, ("case_no", 64)),
    ("department", _text, ("department",)),
    ("service_item", _text, ("service_item",)),
    ("applicant_type", lambda v, f: _enum(ApplicantType, v, f), ("applicant_type",)),
    ("approval_level", lambda v, f: _enum(ApprovalLevel, v, f), ("approval_level",)),
    ("applicant_name", _text, ("applicant_name", 100)),
    ("phone", validate_phone, ()),
    ("id_number", validate_id_number, ()),
    ("approved_at", lambda v, f: parse_time(v, field=f), ("approved_at",)),
    ("issuing_method", lambda v, f: _enum(IssuingMethod, v, f), ("issuing_method",)),
    ("old_certificate_return", _flag, ("old_certificate_return",)),
    ("ready_at", lambda v, f: parse_time(v, field=f), ("ready_at",)),
    ("collected_at", lambda v, f: parse_time(v, field=f), ("collected_at",)),
)


# --- the good row's short way (issue 17 §4) ----------------------------------------------------
# Most rows of a platform batch are good and already in canonical form. Each field below is
# accepted at once when it is plainly valid as it stands (the result the reader above would give
# it); anything else goes through the field's reader above, and a row with any error is read
# again by the loop above, so its errors are exactly those the readers report.

_MOBILE_AS_IS = re.compile(r"1[3-9][0-9]{9}")
_ID_LAST = frozenset("0123456789X")


def _members(enum: type[StrEnum]) -> dict[str, Any]:
    """The enum's values and their Chinese aliases, each to its member."""
    out: dict[str, Any] = {m.value: m for m in enum}
    out.update({alias: enum(v) for alias, v in _ENUM_ALIASES.items() if v in out})
    return out


_APPLICANT_TYPES = _members(ApplicantType)
_APPROVAL_LEVELS = _members(ApprovalLevel)
_ISSUING_METHODS = _members(IssuingMethod)


def _good_text(value: Any, field: str, max_len: int) -> str:
    if type(value) is str:
        text = value.strip()
        if text and len(text) <= max_len:
            return text
    return _text(value, field, max_len)


def _good_choice(members: dict[str, Any], enum: type[StrEnum], value: Any, field: str) -> Any:
    member = members.get(value) if type(value) is str else None
    return member if member is not None else _enum(enum, value, field)


def _good_time(value: Any, field: str) -> dt.datetime | None:
    if value is None or value == "":
        return None
    if type(value) is str:
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            return parse_time(value, field=field)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=LOCAL_TZ)
        return parsed.astimezone(dt.UTC)
    return parse_time(value, field=field)


def _good_id(value: Any) -> str:
    if (
        type(value) is str
        and len(value) == 18
        and value.isascii()
        and value[:17].isdigit()
        and value[17] in _ID_LAST
    ):
        try:
            dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
        except ValueError:
            pass
        else:
            # The weights are 2^(17-i) mod 11 and 13 = 2 (mod 11): the weighted sum is twice
            # the 17 digits read in base 13, mod 11 (one C call instead of 17 products).
            if ID_CHECK_CHARS[2 * int(value[:17], 13) % 11] == value[17]:
                return value
    return validate_id_number(value)


def _read_good(row: Mapping[str, Any], catalogue: Catalogue) -> dict[str, Any] | None:
    """The row read as :func:`read_case` reads it, if it has no error; else None."""
    get = row.get
    try:
        phone = get("phone")
        flag = get("old_certificate_return")
        values = {
            "case_no": _good_text(get("case_no"), "case_no", 64),
            "department": _good_text(get("department"), "department", 200),
            "service_item": _good_text(get("service_item"), "service_item", 200),
            "applicant_type": _good_choice(
                _APPLICANT_TYPES, ApplicantType, get("applicant_type"), "applicant_type"
            ),
            "approval_level": _good_choice(
                _APPROVAL_LEVELS, ApprovalLevel, get("approval_level"), "approval_level"
            ),
            "applicant_name": _good_text(get("applicant_name"), "applicant_name", 100),
            "phone": phone
            if type(phone) is str and _MOBILE_AS_IS.fullmatch(phone)
            else validate_phone(phone),
            "id_number": _good_id(get("id_number")),
            "approved_at": _good_time(get("approved_at"), "approved_at"),
            "issuing_method": _good_choice(
                _ISSUING_METHODS, IssuingMethod, get("issuing_method"), "issuing_method"
            ),
            "old_certificate_return": flag
            if flag is True or flag is False
            else _flag(flag, "old_certificate_return"),
            "ready_at": _good_time(get("ready_at"), "ready_at"),
            "collected_at": _good_time(get("collected_at"), "collected_at"),
        }
    except PostalOpsError:
        return None
    if values["approved_at"] is None or not catalogue.knows(
        values["department"], values["service_item"]
    ):
        return None
    return values


def contradictions(existing: CaseRecord, incoming: CaseRecord) -> list[str]:
    """Names of immutable fields on which a re-sent case disagrees with the stored one."""
    return [f for f in IMMUTABLE_FIELDS if getattr(existing, f) != getattr(incoming, f)]


def read_contradictions(known: Mapping[str, Any], incoming: Mapping[str, Any]) -> list[str]:
    """Like :func:`contradictions` for fields as read (see :func:`read_case`): only the
    immutable fields known on both sides are compared."""
    return [
        f
        for f in IMMUTABLE_FIELDS
        if known.get(f) is not None and incoming.get(f) is not None and known[f] != incoming[f]
    ]


def immutable_values(record: CaseRecord) -> dict[str, Any]:
    return {f: getattr(record, f) for f in IMMUTABLE_FIELDS}


def merge(existing: CaseRecord, incoming: CaseRecord) -> CaseRecord:
    """The stored case after a re-send: mutable fields follow the platform.

    A ``collected_at`` once known is kept even if a later message omits it.
    """
    changes = {f: getattr(incoming, f) for f in MUTABLE_FIELDS}
    if changes["collected_at"] is None:
        changes["collected_at"] = existing.collected_at
    if changes["ready_at"] is None:
        changes["ready_at"] = existing.ready_at
    return replace(existing, **changes)


class IntakeAction(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    CLOSED = "closed"  # the update said the applicant collected at the window


def classify(existing: CaseRecord | None, incoming: CaseRecord) -> tuple[IntakeAction, CaseRecord]:
    """What a re-send does to a stored case; raises ``Conflict`` on contradicting immutable fields."""
    if existing is None:
        return IntakeAction.CREATED, incoming
    clash = contradictions(existing, incoming)
    if clash:
        raise Conflict(
            f"办件 {incoming.case_no} 的不可变字段与已存记录矛盾 / case re-sent with contradicting fields",
            code="case_conflict",
            details=[{"field": f, "message": "immutable"} for f in clash],
        )
    merged = merge(existing, incoming)
    if merged == existing:
        return IntakeAction.UNCHANGED, merged
    if merged.collected_at is not None and existing.collected_at is None:
        return IntakeAction.CLOSED, merged
    return IntakeAction.UPDATED, merged


def check_batch(
    rows: Iterable[Mapping[str, Any]],
    *,
    catalogue: Catalogue,
    first_row: int = 1,
    row_numbers: Sequence[int] | None = None,
) -> tuple[list[tuple[int, CaseRecord]], RowErrors, bool]:
    """Check every row; return the good records with their row numbers, every bad row's every
    error (collected with the core's ``RowErrors``, not raised, so the caller can add its
    reference checks against stored cases and answer once), and whether all of them are
    contradictions (a 409 rather than a 422). A row failing its shape check is still compared
    on the fields that could be read with the batch's other rows, and those fields are kept
    (``errors.raw_rows()``) for the caller's check against stored cases (issue 15 §5).

    Rows are numbered from ``first_row`` (2 for a CSV whose line 1 is the header), or by
    ``row_numbers`` when the caller already knows them. The same case number twice in one batch
    must agree on immutable fields; the later row wins otherwise.
    """
    records: list[tuple[int, CaseRecord]] = []
    errors = RowErrors()
    # The immutable fields known of each case number so far, and the last row that gave them.
    seen: dict[str, tuple[int, dict[str, Any]]] = {}
    only_conflicts = True
    rows = list(rows)
    numbers = (
        list(row_numbers) if row_numbers is not None else range(first_row, first_row + len(rows))
    )
    for n, row in zip(numbers, rows, strict=True):
        values, details = read_case(row, catalogue=catalogue)
        case_no = values.get("case_no")
        clash = read_contradictions(seen[case_no][1], values) if case_no in seen else []
        if details:
            only_conflicts = False
            # Without a contradiction here, the caller compares it with the stored case.
            shape = [{k: v for k, v in d.items() if k != "row"} for d in details]
            errors.extend(n, shape, raw=None if clash else values)
        for f in clash:
            errors.add(n, f, f"contradicts row {seen[case_no][0]}")
        if clash:
            continue
        if case_no is not None:
            known = {f: v for f, v in values.items() if f in IMMUTABLE_FIELDS and v is not None}
            seen[case_no] = (n, {**seen.get(case_no, (n, {}))[1], **known})
        if not details:
            records.append((n, CaseRecord(**values)))
    return records, errors, only_conflicts


def raise_batch_errors(errors: RowErrors, only_conflicts: bool) -> None:
    """One answer for the whole batch: 409 when every error is a contradiction, else 422."""
    if not errors:
        return
    details = errors.details()
    error = Conflict if only_conflicts else ValidationError
    raise error(
        f"批量导入被拒绝，共 {len(details)} 行有误 / batch refused: rows with errors",
        code="invalid_batch",
        details=details,
    )


def parse_batch(
    rows: Iterable[Mapping[str, Any]],
    *,
    catalogue: Catalogue,
    first_row: int = 1,
    row_numbers: Sequence[int] | None = None,
) -> list[CaseRecord]:
    """Validate every row (see :func:`check_batch`); raise one error with every bad row's
    errors (``{"row", "errors": [{"field", "message"}]}``), or return all records."""
    records, errors, only_conflicts = check_batch(
        rows, catalogue=catalogue, first_row=first_row, row_numbers=row_numbers
    )
    raise_batch_errors(errors, only_conflicts)
    if not records:
        raise ValidationError(
            "没有数据行 / the batch has no rows", code="empty_batch", details=[{"field": "cases"}]
        )
    return [r for _, r in records]
