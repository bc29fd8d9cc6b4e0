"""A platform batch with some bad rows, through HTTP: every bad row named with its field,
nothing written; the corrected batch creates each case once, and re-posting it creates nothing
(issue 17 §4: the batched intake keeps its per-row report and idempotency)."""

import pytest
from postalops.testing import count_rows
from postalops_outcall.models import OutcallCase
from postalops_outcall.testing import GZ, case_row

URL = "/api/v1/outcall/cases"


@pytest.fixture
def platform(hall, make_token):
    return make_token(GZ, "outcall.intake", "outcall.view")


def test_bad_rows_are_each_named_and_the_fixed_batch_is_taken_once(po_app, platform):
    good = [case_row(n, ready_at=None if n % 2 else "2022-08-17 09:30") for n in range(1, 9)]
    batch = list(good)
    batch[2] = case_row(3, phone="1381234")  # too short
    batch[5] = case_row(6, id_number="440106199001010011")  # GB 11643 check character wrong
    batch[6] = case_row(7, department="市税务局")  # not in the catalogue
    resp = platform.post(URL, json=batch)
    assert resp.status_code == 422, resp.get_json()
    details = resp.get_json()["error"]["details"]
    assert [(d["row"], [e["field"] for e in d["errors"]]) for d in details] == [
        (2, ["phone"]),
        (5, ["id_number"]),
        (6, ["department"]),
    ]
    assert count_rows(po_app, OutcallCase) == 0  # a refused batch writes nothing

    first = platform.post(URL, json=good)
    assert first.status_code == 200, first.get_json()
    body = first.get_json()
    assert body["summary"] == {"created": 8}
    assert [(r["row"], r["key"], r["status"]) for r in body["rows"]] == [
        (n - 1, f"GZ{n:06d}", "created") for n in range(1, 9)
    ]
    assert count_rows(po_app, OutcallCase) == 8

    again = platform.post(URL, json=good).get_json()
    assert again["summary"] == {"unchanged": 8}
    assert count_rows(po_app, OutcallCase) == 8

    # known and new cases mixed with a bad row: refused whole, naming only the bad row ...
    mixed = [*good[:3], case_row(9), case_row(10, phone="x"), case_row(11)]
    resp = platform.post(URL, json=mixed)
    assert resp.status_code == 422
    assert [d["row"] for d in resp.get_json()["error"]["details"]] == [4]
    assert count_rows(po_app, OutcallCase) == 8
    # ... and once fixed, the known rows are unchanged and only the new ones are created
    mixed[4] = case_row(10)
    body = platform.post(URL, json=mixed).get_json()
    assert [r["status"] for r in body["rows"]] == ["unchanged"] * 3 + ["created"] * 3
    assert count_rows(po_app, OutcallCase) == 11
    listed = platform.get(f"{URL}?per_page=50").get_json()
    assert sorted(c["case_no"] for c in listed["items"]) == [f"GZ{n:06d}" for n in range(1, 12)]
