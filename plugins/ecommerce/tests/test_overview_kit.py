"""Issue 14 §2: the e-commerce overview is on the UI kit: KPI cards with formatted values, a
paged leaderboard with units by name and formatted money, counts and rates."""

from __future__ import annotations

import re

from postalops.testing import assert_readable


def test_the_overview_shows_kpi_cards_and_a_formatted_leaderboard(
    po_app, world, ecom, make_token, make_user, login
):
    eshop = make_token("cn.hebei", "ecommerce.ingest")
    # three group-buy orders of 10.00 on HB-S1 plus one retail order of 1,234.50
    orders = [ecom.order(f"O{i}") for i in range(3)]
    retail = ecom.order("R1", "1234.50", channel="retail", branch="cn.hebei.shijiazhuang")
    assert eshop.post("/api/v1/ecommerce/orders", json=[*orders, retail]).status_code == 200
    ecom.refresh("cn.hebei")
    client = login(make_user("hbmarketing", "cn.hebei", "marketing"))
    html = client.get("/p/ecommerce/?level=city").get_data(as_text=True)
    text = assert_readable(html)
    assert 'class="breadcrumb' in html and 'class="po-kpis"' in html
    assert 'class="table po-table" id="leaderboard"' in html
    assert 'class="unit-name" title="cn.hebei.shijiazhuang"' in html
    # turnover 3 × 10.00 + 1,234.50 = 1,264.50 in the leaderboard, as money
    assert "¥1,264.50" in text
    assert re.search(r"1,264\.50", text)
    assert "1264.50" not in text and "Decimal" not in text
