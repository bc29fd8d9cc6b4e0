"""The case list's paging: ``total`` is the number of cases the caller may see, whether it was
counted (a full page) or read off a short last page (issue 17 §2 skips the count there)."""

from __future__ import annotations

import pytest
from postalops_outcall.testing import GZ, SZ, case_row


@pytest.fixture
def cases(hall, intake):
    intake([case_row(n) for n in range(1, 8)], unit=GZ)  # 7 in Guangzhou
    intake([case_row(n, case_no=f"SZ{n:06d}") for n in range(1, 4)], unit=SZ)  # 3 in Shenzhen


@pytest.mark.parametrize(
    ("query", "items", "total"),
    [
        ("per_page=5", 5, 7),  # a full page: counted
        ("per_page=5&page=2", 2, 7),  # the short last page
        ("per_page=5&page=3", 0, 7),  # past the end: counted
        ("per_page=7", 7, 7),  # a full page that is also the last
        ("", 7, 7),  # the default 50: one short page
        ("status=no_such_status", 0, 0),
    ],
)
def test_a_city_counts_only_its_own_cases(cases, make_token, query, items, total):
    body = make_token(GZ, "outcall.view").get(f"/api/v1/outcall/cases?{query}").get_json()
    assert len(body["items"]) == items
    assert body["total"] == total
    assert {c["tenant"] for c in body["items"]} <= {GZ}


def test_the_province_counts_both_cities(cases, make_token):
    province = make_token("cn.guangdong", "outcall.view")
    full = province.get("/api/v1/outcall/cases?per_page=4").get_json()
    assert (len(full["items"]), full["total"]) == (4, 10)
    last = province.get("/api/v1/outcall/cases?per_page=4&page=3").get_json()
    assert (len(last["items"]), last["total"]) == (2, 10)
    only_sz = province.get(f"/api/v1/outcall/cases?tenant={SZ}&per_page=2").get_json()
    assert (len(only_sz["items"]), only_sz["total"]) == (2, 3)


def test_the_count_carries_the_tenant_scope(cases, hall):
    """``count_statement`` of a bare select: the session's scope, not the view, filters it."""
    from postalops.api import count_statement
    from postalops_outcall.models import OutcallCase
    from sqlmodel import select

    with hall(GZ) as s:
        assert s.exec(count_statement(select(OutcallCase))).one() == 7
    with hall(SZ) as s:
        assert s.exec(count_statement(select(OutcallCase.id))).one() == 3
    with hall(None) as s:  # system scope
        assert s.exec(count_statement(select(OutcallCase))).one() == 10
