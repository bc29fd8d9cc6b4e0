"""A long loan's repayment schedule (60 monthly instalments) is paged on the loan page at 50
rows (issue 14 §2: no list renders more than 50 rows without paging), and so are its
repayments; page 2 holds the rest. Through the portal client, in Chinese."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal as D

from postalops.testing import assert_readable
from postalops.testing import page_text as visible
from postalops.testing import table_rows as rows_of
from postalops_lending.models import Repayment

from .conftest import BASE, YINING, borrower, months


def _schedule(html: str) -> str:
    table = re.search(r'<table class="table po-table schedule"[^>]*>.*?</table>', html, re.S)
    assert table, html[:1000]
    return table[0]


def _rows(table: str) -> list[str]:
    return re.findall(r"<tr><td class=\"num\">(\d+)</td>", table)


def test_a_sixty_month_schedule_is_paged_at_fifty(people, as_unit):
    boss, cm, approver = people["boss"], people["cm"], people["approver"]
    product = boss.post(
        f"{BASE}/products",
        json={
            "code": "XWED-60",
            "name_zh": "五年期小微贷",
            "name_en": "Five-year micro loan",
            "annual_rate": "0.0435",
            "term_months": 60,
            "day_count": "ACT/360",
            "method": "equal_instalments",
            "tenant_code": YINING,
        },
    )
    assert product.status_code == 201, product.get_json()
    bid = borrower(cm).get_json()["id"]
    cm.put(f"{BASE}/borrowers/{bid}/tax-months", json=months())
    app = cm.post(
        f"{BASE}/applications",
        json={
            "borrower_id": bid,
            "product_id": product.get_json()["id"],
            "requested_amount": "60000.00",
        },
    ).get_json()
    cm.post(f"{BASE}/applications/{app['id']}/review", json={"accept": True})
    approver.post(f"{BASE}/applications/{app['id']}/decision", json={"approve": True})
    cm.post(f"{BASE}/applications/{app['id']}/contract")
    loan = cm.post(f"{BASE}/applications/{app['id']}/disbursement").get_json()

    url = f"/p/lending/loans/{loan['id']}"
    html = cm.get(url).get_data(as_text=True)
    assert_readable(html)
    first = _rows(_schedule(html))
    assert first == [str(n) for n in range(1, 51)]
    assert "第 1–50 条，共 60 条" in visible(html) or "共 60 条" in visible(html)
    nxt = re.search(r'href="(\?[^"]*page=2[^"]*)"', html)
    assert nxt, "no link to the schedule's page 2"
    page2 = cm.get(url + nxt[1].replace("&amp;", "&")).get_data(as_text=True)
    assert _rows(_schedule(page2)) == [str(n) for n in range(51, 61)]

    # 55 repayments recorded: the list is paged on its own (r_page), the schedule stays on 1
    with as_unit(YINING) as s:
        for i in range(55):
            s.add(
                Repayment(
                    tenant_code=YINING,
                    loan_id=loan["id"],
                    paid_on=dt.date(2023, 1, 1) + dt.timedelta(days=i),
                    amount=D("100.00"),
                    interest=D("10.00"),
                    principal=D("90.00"),
                    reference=f"R{i:03d}",
                )
            )
        s.commit()
    html = cm.get(url).get_data(as_text=True)
    assert rows_of(html, "repayments") == 50
    html = cm.get(url + "?r_page=2").get_data(as_text=True)
    assert rows_of(html, "repayments") == 5 and _rows(_schedule(html))[0] == "1"
