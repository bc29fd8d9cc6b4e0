"""Case intake reports every row's every error in one pass: shape errors (a malformed phone)
and reference errors (a case already stored with other immutable fields) together, and nothing
is written (issue 15 §5)."""

from __future__ import annotations

import csv
import io

import pytest
from postalops.testing import count_rows
from postalops_outcall.models import OutcallCase
from postalops_outcall.testing import GZ, case_row

URL = "/api/v1/outcall/cases"


@pytest.fixture
def platform(hall, make_token):
    return make_token(GZ, "outcall.intake", "outcall.view")


def test_a_case_file_names_shape_and_reference_errors_together(po_app, platform):
    assert platform.post(URL, json=[case_row(1)]).status_code == 200
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(case_row(1)))
    writer.writeheader()
    writer.writerow(case_row(2, phone="123"))  # row 2: shape
    writer.writerow(case_row(1, applicant_name="高明"))  # row 3: contradicts the stored case
    writer.writerow(case_row(3))  # row 4: fine
    resp = platform.post(
        URL,
        data={"file": (io.BytesIO(buf.getvalue().encode()), "cases.csv")},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 422, resp.get_json()
    err = resp.get_json()["error"]
    assert err["code"] == "invalid_batch"
    assert [(d["row"], [e["field"] for e in d["errors"]]) for d in err["details"]] == [
        (2, ["phone"]),
        (3, ["applicant_name"]),
    ]
    assert count_rows(po_app, OutcallCase) == 1  # only the case stored before


def test_a_case_row_names_its_shape_and_reference_errors_together(po_app, platform):
    """A row that fails its shape check is still checked on the fields that could be read:
    against the stored case, the catalogue and the batch's other rows (issue 15 §5)."""
    assert platform.post(URL, json=[case_row(1)]).status_code == 200
    resp = platform.post(
        URL,
        json=[
            case_row(1, phone="123", applicant_name="高明"),  # shape; contradicts the stored case
            case_row(2, id_number="4401", service_item="未知事项"),  # shape; unknown item
            case_row(4, phone="456"),  # shape only
            case_row(4, approved_at="2022-08-18 09:00"),  # contradicts the row before
            case_row(3),  # fine
        ],
    )
    assert resp.status_code == 422, resp.get_json()
    err = resp.get_json()["error"]
    assert err["code"] == "invalid_batch"
    assert [(d["row"], [e["field"] for e in d["errors"]]) for d in err["details"]] == [
        (0, ["phone", "applicant_name"]),
        (1, ["id_number", "service_item"]),
        (2, ["phone"]),
        (3, ["approved_at"]),
    ]
    assert count_rows(po_app, OutcallCase) == 1  # only the case stored before
