"""Who may be offered mail delivery (DOMAIN.md §1).

A case is eligible when every rule below passes. Each case keeps the full list of results so
the portal can show which rules it passed and which it failed, not just a yes/no.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property

from postalops.errors import ValidationError


class ApplicantType(StrEnum):
    PERSONAL = "personal"
    ENTERPRISE = "enterprise"


class ApprovalLevel(StrEnum):
    MUNICIPAL = "municipal"
    DISTRICT = "district"


class IssuingMethod(StrEnum):
    WINDOW = "window"
    MAIL = "mail"


@dataclass(frozen=True)
class CatalogueEntry:
    """One service item (事项) of one department, and whether the hall offers outcall for it."""

    department: str
    item: str
    participating: bool = True


@dataclass(frozen=True)
class Catalogue:
    """The unit's catalogue of departments and service items, as the supervisor edits it.

    An item absent from the catalogue is unknown (intake refuses it); an item present but not
    participating is known and simply ineligible.
    """

    entries: tuple[CatalogueEntry, ...] = ()

    @classmethod
    def of(
        cls, entries: Iterable[CatalogueEntry | tuple[str, str] | tuple[str, str, bool]]
    ) -> Catalogue:
        built = []
        for e in entries:
            built.append(e if isinstance(e, CatalogueEntry) else CatalogueEntry(*e))
        return cls(tuple(built))

    # Sets built once per catalogue (it is immutable): intake evaluates thousands of cases.
    @cached_property
    def _known(self) -> frozenset[tuple[str, str]]:
        return frozenset((e.department, e.item) for e in self.entries)

    @cached_property
    def _participating(self) -> frozenset[tuple[str, str]]:
        return frozenset((e.department, e.item) for e in self.entries if e.participating)

    def knows(self, department: str, item: str) -> bool:
        return (department, item) in self._known

    @cached_property
    def _departments(self) -> frozenset[str]:
        return frozenset(d for d, _ in self._known)

    @cached_property
    def _participating_departments(self) -> frozenset[str]:
        return frozenset(d for d, _ in self._participating)

    def knows_department(self, department: str) -> bool:
        return department in self._departments

    def participating_items(self) -> frozenset[tuple[str, str]]:
        return self._participating

    def participating_departments(self) -> frozenset[str]:
        return self._participating_departments


@dataclass(frozen=True)
class CaseFacts:
    """The facts of a case that eligibility looks at."""

    department: str
    item: str
    applicant_type: ApplicantType
    approval_level: ApprovalLevel
    issuing_method: IssuingMethod
    old_certificate_return: bool


@dataclass(frozen=True)
class RuleResult:
    rule: str
    passed: bool


@dataclass(frozen=True)
class Eligibility:
    results: tuple[RuleResult, ...] = field(default_factory=tuple)

    @property
    def eligible(self) -> bool:
        return all(r.passed for r in self.results)

    @property
    def failed(self) -> list[str]:
        return [r.rule for r in self.results if not r.passed]

    def as_dict(self) -> dict[str, bool]:
        return {r.rule: r.passed for r in self.results}


Rule = Callable[[CaseFacts, Catalogue], bool]

# Order is the order the portal lists them in; labels are the wording staff use.
RULES: tuple[tuple[str, str, str, Rule], ...] = (
    (
        "municipal_level",
        "市级审批事项",
        "municipal-level approval",
        lambda c, _: c.approval_level == ApprovalLevel.MUNICIPAL,
    ),
    (
        "personal_applicant",
        "个人办件（非企业）",
        "personal applicant, not enterprise",
        lambda c, _: c.applicant_type == ApplicantType.PERSONAL,
    ),
    (
        "window_chosen",
        "选择窗口领取",
        "chose collection at the window",
        lambda c, _: c.issuing_method == IssuingMethod.WINDOW,
    ),
    (
        "mail_not_chosen",
        "未选择邮寄送达",
        "did not choose mail delivery",
        lambda c, _: c.issuing_method != IssuingMethod.MAIL,
    ),
    (
        "no_old_certificate",
        "无需交回旧证",
        "no old certificate to hand back",
        lambda c, _: not c.old_certificate_return,
    ),
    (
        "department_participates",
        "部门已参与外呼",
        "department participates",
        lambda c, cat: c.department in cat.participating_departments(),
    ),
    (
        "item_participates",
        "事项已参与外呼",
        "service item participates",
        lambda c, cat: (c.department, c.item) in cat.participating_items(),
    ),
)

RULE_LABELS: dict[str, tuple[str, str]] = {name: (zh, en) for name, zh, en, _ in RULES}


def evaluate(case: CaseFacts, catalogue: Catalogue) -> Eligibility:
    """Run every rule on ``case`` and return all results (never short-circuits)."""
    return Eligibility(
        tuple(RuleResult(name, bool(rule(case, catalogue))) for name, _, _, rule in RULES)
    )


def require_known(
    department: str, item: str, catalogue: Catalogue, *, row: int | None = None
) -> None:
    """Refuse a department or item the unit's catalogue does not list (HTTP 422)."""
    where = {"row": row} if row is not None else {}
    if not catalogue.knows_department(department):
        raise ValidationError(
            f"未知部门 / unknown department: {department}",
            code="unknown_department",
            details=[{**where, "field": "department", "message": department}],
        )
    if not catalogue.knows(department, item):
        raise ValidationError(
            f"未知事项 / unknown service item: {item}",
            code="unknown_item",
            details=[{**where, "field": "service_item", "message": item}],
        )
