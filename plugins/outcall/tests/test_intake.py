"""Case intake: per-row validation, idempotency on the case number, closing on collection."""

import datetime as dt
from dataclasses import replace

import pytest
from postalops.errors import Conflict, ValidationError
from postalops_outcall.eligibility import ApplicantType, Catalogue, IssuingMethod
from postalops_outcall.intake import IntakeAction, classify, parse_batch, parse_case

CATALOGUE = Catalogue.of([("市教育局", "教师资格认定"), ("市司法局", "律师执业证")])

ROW = {
    "case_no": "GZZW2022081700001",
    "department": "市教育局",
    "service_item": "教师资格认定",
    "applicant_type": "personal",
    "approval_level": "municipal",
    "applicant_name": "高敏",
    "phone": "138 1234 5678",
    "id_number": "11010519491231002X",
    "approved_at": "2022-08-17 10:30",
    "issuing_method": "window",
    "old_certificate_return": "false",
    "ready_at": "2022-08-17T11:00:00+08:00",
}


def test_a_platform_row_is_normalised_and_times_are_stored_in_utc():
    case = parse_case(ROW, catalogue=CATALOGUE)
    assert case.phone == "13812345678"
    # Naive 10:30 is Guangzhou time, UTC+8 → 02:30 UTC.
    assert case.approved_at == dt.datetime(2022, 8, 17, 2, 30, tzinfo=dt.UTC)
    assert case.ready_at == dt.datetime(2022, 8, 17, 3, 0, tzinfo=dt.UTC)
    assert case.callable_from == case.ready_at
    assert case.applicant_type == ApplicantType.PERSONAL and case.old_certificate_return is False


def test_chinese_headers_and_values_from_the_platform_export_are_understood():
    row = {
        "办件编号": "GZZW1",
        "部门": "市司法局",
        "事项": "律师执业证",
        "申请人类型": "个人",
        "审批层级": "市级",
        "申请人": "李娜",
        "电话": "13900001111",
        "身份证号": "440524188001010014",
        "审批时间": "2022-08-18 09:15",
        "出件方式": "窗口领取",
        "交回旧证": "否",
    }
    case = parse_case(row, catalogue=CATALOGUE)
    assert (case.case_no, case.issuing_method, case.old_certificate_return) == (
        "GZZW1",
        IssuingMethod.WINDOW,
        False,
    )


def test_a_bad_row_names_every_bad_field_with_its_row_number():
    bad = {**ROW, "phone": "12345", "id_number": "110105194912310021", "department": "市税务局"}
    with pytest.raises(ValidationError) as err:
        parse_case(bad, catalogue=CATALOGUE, row_number=7)
    assert err.value.status == 422
    assert [(d["row"], d["field"]) for d in err.value.details] == [
        (7, "phone"),
        (7, "id_number"),
        (7, "department"),
    ]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"service_item": "驾驶证"}, "service_item"),
        ({"applicant_type": "individual"}, "applicant_type"),
        ({"approved_at": ""}, "approved_at"),
        ({"approved_at": "17/08/2022"}, "approved_at"),
        ({"old_certificate_return": "maybe"}, "old_certificate_return"),
        ({"case_no": " "}, "case_no"),
    ],
)
def test_each_malformed_field_is_reported(change, field):
    with pytest.raises(ValidationError) as err:
        parse_case({**ROW, **change}, catalogue=CATALOGUE)
    assert [d["field"] for d in err.value.details] == [field]


def test_a_batch_with_bad_rows_is_refused_whole_and_reports_each_bad_row():
    rows = [
        ROW,
        {**ROW, "case_no": "B", "phone": "1"},
        {**ROW, "case_no": "C"},
        {**ROW, "case_no": "D", "id_number": "x"},
    ]
    with pytest.raises(ValidationError) as err:
        parse_batch(rows, catalogue=CATALOGUE, first_row=2)  # CSV: line 1 is the header
    assert [(d["row"], [e["field"] for e in d["errors"]]) for d in err.value.details] == [
        (3, ["phone"]),
        (5, ["id_number"]),
    ]


def test_a_good_batch_returns_every_record():
    rows = [ROW, {**ROW, "case_no": "B"}]
    assert [r.case_no for r in parse_batch(rows, catalogue=CATALOGUE)] == [ROW["case_no"], "B"]


def test_the_same_case_twice_in_one_batch_must_not_contradict_itself():
    with pytest.raises(Conflict) as err:
        parse_batch([ROW, {**ROW, "applicant_name": "高明"}], catalogue=CATALOGUE)
    assert err.value.status == 409
    assert err.value.details == [
        {"row": 2, "errors": [{"field": "applicant_name", "message": "contradicts row 1"}]}
    ]


def test_an_empty_batch_is_refused():
    with pytest.raises(ValidationError):
        parse_batch([], catalogue=CATALOGUE)


STORED = parse_case(ROW, catalogue=CATALOGUE)


def test_a_new_case_is_created_and_the_same_case_resent_changes_nothing():
    assert classify(None, STORED) == (IntakeAction.CREATED, STORED)
    assert classify(STORED, STORED) == (IntakeAction.UNCHANGED, STORED)


def test_a_resent_case_updates_its_mutable_fields():
    action, merged = classify(
        STORED, replace(STORED, phone="13900002222", issuing_method=IssuingMethod.MAIL)
    )
    assert action == IntakeAction.UPDATED
    assert (merged.phone, merged.issuing_method) == ("13900002222", IssuingMethod.MAIL)


def test_a_collected_at_window_update_closes_the_case_and_is_never_forgotten():
    collected = dt.datetime(2022, 8, 18, 3, 0, tzinfo=dt.UTC)
    action, merged = classify(STORED, replace(STORED, collected_at=collected))
    assert action == IntakeAction.CLOSED and merged.collected_at == collected
    # A later re-send without the collection time keeps it.
    assert classify(merged, STORED) == (IntakeAction.UNCHANGED, merged)


@pytest.mark.parametrize(
    "change",
    [
        {"applicant_name": "高明"},
        {"id_number": "440524188001010014"},
        {"approved_at": dt.datetime(2022, 8, 17, 3, 0, tzinfo=dt.UTC)},
        {"department": "市司法局", "service_item": "律师执业证"},
    ],
)
def test_a_resent_case_contradicting_an_immutable_field_is_a_conflict_naming_it(change):
    with pytest.raises(Conflict) as err:
        classify(STORED, replace(STORED, **change))
    assert err.value.status == 409
    assert sorted(d["field"] for d in err.value.details) == sorted(change)
