"""Eligibility: one table row per rule of DOMAIN.md §1 plus the unit's catalogue."""

from dataclasses import replace

import pytest
from postalops.errors import ValidationError
from postalops_outcall.eligibility import (
    RULES,
    ApplicantType,
    ApprovalLevel,
    CaseFacts,
    Catalogue,
    IssuingMethod,
    evaluate,
    require_known,
)

CATALOGUE = Catalogue.of(
    [
        ("市教育局", "教师资格认定"),
        ("市教育局", "学历证明书核发"),
        ("市卫生健康委员会", "医师执业注册"),
        ("市卫生健康委员会", "出生医学证明补发", False),  # known item, not in outcall
        ("市市场监督管理局", "营业执照", False),  # known department, not in outcall
    ]
)

ELIGIBLE = CaseFacts(
    department="市教育局",
    item="教师资格认定",
    applicant_type=ApplicantType.PERSONAL,
    approval_level=ApprovalLevel.MUNICIPAL,
    issuing_method=IssuingMethod.WINDOW,
    old_certificate_return=False,
)


def test_a_municipal_personal_window_case_without_old_certificate_is_eligible():
    result = evaluate(ELIGIBLE, CATALOGUE)
    assert result.eligible
    assert result.failed == []
    assert list(result.as_dict()) == [name for name, *_ in RULES]  # every rule is recorded


@pytest.mark.parametrize(
    ("change", "failed"),
    [
        ({"approval_level": ApprovalLevel.DISTRICT}, ["municipal_level"]),
        ({"applicant_type": ApplicantType.ENTERPRISE}, ["personal_applicant"]),
        # Choosing mail means the window was not chosen: both rules record the failure.
        ({"issuing_method": IssuingMethod.MAIL}, ["window_chosen", "mail_not_chosen"]),
        ({"old_certificate_return": True}, ["no_old_certificate"]),
        (
            {"department": "市市场监督管理局", "item": "营业执照"},
            ["department_participates", "item_participates"],
        ),
        ({"department": "市卫生健康委员会", "item": "出生医学证明补发"}, ["item_participates"]),
    ],
    ids=[
        "district_level",
        "enterprise",
        "mail_chosen",
        "old_certificate",
        "department_out",
        "item_out",
    ],
)
def test_each_rule_failing_alone_makes_the_case_ineligible_and_is_named(change, failed):
    result = evaluate(replace(ELIGIBLE, **change), CATALOGUE)
    assert not result.eligible
    assert result.failed == failed


def test_every_failing_rule_is_recorded_not_just_the_first():
    case = replace(
        ELIGIBLE,
        approval_level=ApprovalLevel.DISTRICT,
        applicant_type=ApplicantType.ENTERPRISE,
        old_certificate_return=True,
    )
    assert evaluate(case, CATALOGUE).failed == [
        "municipal_level",
        "personal_applicant",
        "no_old_certificate",
    ]


def test_a_participating_department_does_not_make_its_other_items_participate():
    # 市卫生健康委员会 takes part with 医师执业注册 only.
    result = evaluate(
        replace(ELIGIBLE, department="市卫生健康委员会", item="出生医学证明补发"), CATALOGUE
    )
    assert result.as_dict()["department_participates"] is True
    assert result.as_dict()["item_participates"] is False


def test_catalogue_counts_participating_departments_and_items():
    assert CATALOGUE.participating_departments() == {"市教育局", "市卫生健康委员会"}
    assert len(CATALOGUE.participating_items()) == 3


@pytest.mark.parametrize(
    ("department", "item", "code", "field"),
    [
        ("市税务局", "教师资格认定", "unknown_department", "department"),
        ("市教育局", "驾驶证", "unknown_item", "service_item"),
        # Item known, but under another department.
        ("市教育局", "医师执业注册", "unknown_item", "service_item"),
    ],
)
def test_unknown_department_or_item_is_refused_naming_the_field(department, item, code, field):
    with pytest.raises(ValidationError) as err:
        require_known(department, item, CATALOGUE, row=4)
    assert err.value.status == 422
    assert err.value.code == code
    assert err.value.details == [
        {"row": 4, "field": field, "message": department if field == "department" else item}
    ]


def test_a_known_but_not_participating_item_is_not_an_error():
    require_known("市市场监督管理局", "营业执照", CATALOGUE)
