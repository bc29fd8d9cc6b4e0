"""Intake reads a plainly good row the short way (issue 17 §4); the result must be exactly what
the field-by-field readers give, and any row with an error must get the readers' errors.

Rows are built from a good platform row with any of its fields replaced by variants: canonical,
non-canonical but valid (aliases, spaces, hyphens, naive times, a lower-case x), and invalid.
"""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st
from postalops_outcall.eligibility import Catalogue
from postalops_outcall.identity import id_check_char
from postalops_outcall.intake import _read_each, check_batch, read_case

CATALOGUE = Catalogue.of([("市教育局", "教师资格认定"), ("市司法局", "律师执业证")])

GOOD = {
    "case_no": "GZZW2022081700001",
    "department": "市教育局",
    "service_item": "教师资格认定",
    "applicant_type": "personal",
    "approval_level": "municipal",
    "applicant_name": "高敏",
    "phone": "13812345678",
    "id_number": "11010519491231002X",
    "approved_at": "2022-08-17T10:30:00+08:00",
    "issuing_method": "window",
    "old_certificate_return": False,
    "ready_at": "2022-08-17T11:00:00+08:00",
}

VARIANTS = {
    "case_no": ["B1", " B1 ", "", None, "x" * 64, "x" * 65, 12345, "  "],
    "department": ["市司法局", " 市教育局", "市卫健委", None, ""],
    "service_item": ["律师执业证", "教师资格认定 ", "不存在", None],
    "applicant_type": ["enterprise", "个人", "企业", "PERSONAL", " personal", "robot", None, 1],
    "approval_level": ["district", "市级", "区级", "Municipal", "", None],
    "applicant_name": ["张三", " 李四 ", "名" * 100, "名" * 101, None, ""],
    "phone": [
        "13912345678",
        "139 1234 5678",
        "+8613912345678",
        "020-83331234",
        "13912345678\n",
        "1391234567",
        "12912345678",
        "１３９１２３４５６７８",  # full-width digits
        13912345678,
        None,
    ],
    "id_number": [
        "110105194912310021",  # wrong check character
        "11010519491231002x",  # lower-case x: valid once upper-cased
        " 11010519491231002X",
        "11010519491331002X",  # month 13
        "1101051949123100",
        "11010519491231002Y",
        "１１010519491231002X",  # full-width digits
        None,
    ],
    "approved_at": [
        "2022-08-17 10:30",
        "2022-08-17T02:30:00Z",
        " 2022-08-17T10:30:00+08:00 ",
        "2022-02-30T10:00:00",
        "yesterday",
        "",
        None,
        dt.datetime(2022, 8, 17, 2, 30, tzinfo=dt.UTC),
        dt.datetime(2022, 8, 17, 10, 30),
    ],
    "issuing_method": ["mail", "邮寄", "窗口领取", "邮寄送达", "WINDOW", "courier", None],
    "old_certificate_return": [True, "是", "否", "false", "1", "maybe", None, 0, 1],
    "ready_at": [None, "", "2022-08-18 09:00", "not a time"],
    "collected_at": [None, "", "2022-08-19T10:00:00+08:00", "bad"],
}


def _with_valid_id(body17: str) -> str:
    return body17 + id_check_char(body17)


@st.composite
def rows(draw: st.DrawFn) -> dict:
    row = dict(GOOD)
    for name in draw(st.sets(st.sampled_from(sorted(VARIANTS)), max_size=4)):
        value = draw(st.sampled_from(VARIANTS[name]))
        if value is None and draw(st.booleans()):
            row.pop(name, None)  # absent rather than null
        else:
            row[name] = value
    if draw(st.booleans()):  # another valid ID number, with its computed check character
        body = draw(
            st.from_regex(
                r"[1-6][0-9]{5}(19[5-9][0-9]|200[0-9])(0[1-9]|1[0-2])[0-2][1-8]\d{3}",
                fullmatch=True,
            )
        )
        row["id_number"] = _with_valid_id(body)
    return row


@settings(max_examples=600, deadline=None)
@given(rows())
def test_a_row_reads_the_same_the_short_way_and_field_by_field(row):
    assert read_case(row, catalogue=CATALOGUE) == _read_each(row, catalogue=CATALOGUE)


def test_the_short_way_takes_good_rows_and_the_batch_reports_a_bad_one_by_the_readers():
    bad = {**GOOD, "case_no": "B2", "phone": "12345", "id_number": "110105194912310021"}
    records, errors, _ = check_batch([GOOD, bad], catalogue=CATALOGUE)
    assert [n for n, _ in records] == [1]
    assert errors.details() == [
        {
            "row": 2,
            "errors": [
                {
                    "field": "phone",
                    "message": "expected an 11-digit mobile or an area-code landline",
                },
                {"field": "id_number", "message": "checksum"},
            ],
        }
    ]
