"""Issue 19, "Done when": the demo's journal for Henan for September 2022 balances, and its payroll
payable equals the approved runs' net plus deductions.

Runs over the shared demo build (tests/fixtures/demo_site.py: built once per run in the background,
or ``POSTALOPS_TEST_DEMO_INSTANCE=<folder>``), through the API as the demo's users: finance's
``finance_henan`` reads ``GET /api/v1/journal``, payroll's ``payroll_hr_province`` reads
``GET /api/v1/payroll/runs``. Nothing is written. On PostgreSQL the demo suite is skipped.

Payroll books employer contributions through 应付职工薪酬 (2211) too (docs/finance.md): the month's
accrual credits 2211 the own staff's gross + the employer's social insurance and housing fund,
which is net + the employee's deductions + income tax + the employer's contributions.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from postalops.demo import DEMO_PASSWORD
from postalops.testing import PortalClient

from tests.fixtures.demo_site import DemoSite, demo_site  # noqa: F401 (fixture)

SEPTEMBER = "from=2022-09-01&to=2022-09-30"


def _client(site: DemoSite, username: str) -> PortalClient:
    client = PortalClient(site.app.test_client())
    assert client.login(username, DEMO_PASSWORD).status_code == 302, username
    return client


def _all_items(client: PortalClient, url: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The first page's body and every item of every page."""
    items: list[dict[str, Any]] = []
    page, first = 1, None
    while True:
        resp = client.get(f"{url}&page={page}&per_page=500")
        assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
        body = resp.get_json()
        first = first or body
        items += body["items"]
        if page * body["per_page"] >= body["total"]:
            return first, items
        page += 1


def test_henans_september_2022_journal_balances_and_payroll_payable_is_owed_pay(
    demo_site: DemoSite,  # noqa: F811
) -> None:
    finance = _client(demo_site, "finance_henan")
    body, vouchers = _all_items(finance, f"/api/v1/journal?tenant=cn.henan&{SEPTEMBER}")
    assert body["degraded"] == [], body["degraded"]
    assert len(vouchers) == body["total"] == body["totals"]["vouchers"] > 0

    # every voucher balances, summed here from its lines
    for v in vouchers:
        debit = sum(Decimal(ln["debit"]) for ln in v["lines"])
        credit = sum(Decimal(ln["credit"]) for ln in v["lines"])
        assert debit == credit == Decimal(v["debit"]) == Decimal(v["credit"]), v["reference"]
        assert v["balanced"] and Decimal(v["difference"]) == 0, v["reference"]
    # ... and so does the period
    debits = sum(Decimal(ln["debit"]) for v in vouchers for ln in v["lines"])
    credits = sum(Decimal(ln["credit"]) for v in vouchers for ln in v["lines"])
    assert debits == credits > 0
    assert body["totals"]["unbalanced"] == 0 and body["totals"]["balanced"]
    assert Decimal(body["totals"]["debit"]) == debits
    assert [p["period"] for p in body["periods"]] == ["2022-09"]
    assert all(p["balanced"] for p in body["periods"])

    # September's approved payroll runs, from the payroll API
    hr = _client(demo_site, "payroll_hr_province")
    _, runs = _all_items(hr, "/api/v1/payroll/runs?tenant=cn.henan&month=2022-09")
    assert len(runs) == 18, [r["unit"] for r in runs]  # one run per Henan city
    assert {r["status"] for r in runs} == {"approved"}
    owed = {
        r["id"]: Decimal(str(r["net_total"]))
        + Decimal(str(r["deductions_total"]))  # the employee's social insurance and housing fund
        + Decimal(str(r["income_tax_total"]))
        + Decimal(str(r["employer_total"]))  # the employer's, accrued through 2211 too
        for r in runs
    }
    assert all(amount > 0 for amount in owed.values()), owed

    # the accrual vouchers (payroll:<run>:accrual) credit 应付职工薪酬 exactly that, run by run
    accrued: dict[int, Decimal] = {}
    for v in vouchers:
        if v["plugin"] != "payroll" or not v["reference"].endswith(":accrual"):
            continue
        run_id = int(v["reference"].split(":")[1])
        for ln in v["lines"]:
            if ln["code"] == "2211":
                assert ln["name"] == "应付职工薪酬" and Decimal(ln["debit"]) == 0
                accrued[run_id] = accrued.get(run_id, Decimal(0)) + Decimal(ln["credit"])
    assert accrued == owed
    # ... and they are the period's only credits to 2211 (payments and withholding debit it)
    credited = sum(
        Decimal(ln["credit"]) for v in vouchers for ln in v["lines"] if ln["code"] == "2211"
    )
    assert credited == sum(owed.values())
