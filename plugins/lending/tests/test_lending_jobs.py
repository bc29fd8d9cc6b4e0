"""The nightly close of business as a tracked job, and the job refusing a disabled unit."""

from __future__ import annotations

from decimal import Decimal as D

from postalops.jobs import wait_for
from postalops_lending.models import Loan, PortfolioSnapshot
from sqlmodel import select

from .conftest import BASE


def test_close_of_business_job_runs_tracked_and_twice_changes_nothing(
    po_app, people, loan, workers, as_unit
):
    cm = people["cm"]
    r = cm.post(f"{BASE}/close-of-business", json={"as_of": "2022-09-10"})
    assert r.status_code == 202, r.get_json()
    job = wait_for(po_app.extensions["postalops.db"], r.get_json()["job_id"])
    assert job.status == "succeeded", job.error
    assert job.result["categories"] == {"substandard": 1}
    assert cm.get(f"/api/v1/jobs/{job.id}").get_json()["status"] == "succeeded"
    with as_unit(None) as s:
        first = [(x.category, x.loans, x.outstanding) for x in s.exec(select(PortfolioSnapshot))]
        assert s.get(Loan, loan.id).days_past_due == 92
    r = cm.post(f"{BASE}/close-of-business", json={"as_of": "2022-09-10"})
    assert wait_for(po_app.extensions["postalops.db"], r.get_json()["job_id"]).status == "succeeded"
    with as_unit(None) as s:
        again = [(x.category, x.loans, x.outstanding) for x in s.exec(select(PortfolioSnapshot))]
    assert again == first == [("substandard", 1, D("866000.00"))]


def test_bands_are_configurable_per_run_and_bad_bands_are_refused(po_app, people, loan, workers):
    cm = people["cm"]
    bad = cm.post(
        f"{BASE}/close-of-business", json={"as_of": "2022-09-10", "bands": [1, 91, 91, 361]}
    )
    assert bad.status_code == 422
    # stricter bands: 次级 from 61 days; 92 days is then 可疑 (from 91)
    r = cm.post(
        f"{BASE}/close-of-business", json={"as_of": "2022-09-10", "bands": [1, 61, 91, 181]}
    )
    job = wait_for(po_app.extensions["postalops.db"], r.get_json()["job_id"])
    assert job.status == "succeeded", job.error
    assert job.result["categories"] == {"doubtful": 1}
