"""Issue 14 §2: the campaign and import pages are built on the UI kit and read in Chinese: unit
names (codes in tooltips), translated target kinds, formatted money and counts."""

from __future__ import annotations

import re

from postalops.testing import assert_readable


def test_the_campaign_page_shows_targets_by_name_label_and_formatted_value(world, make_user, login):
    client = login(make_user("hbplanner", "cn.hebei", "marketing"))
    url = f"/p/ecommerce/campaigns/{world['hebei']}"
    resp = client.post(
        url,
        data={
            "csrf_token": client.csrf,
            "action": "set",
            "unit": "cn.hebei",
            "kind": "retail_turnover",
            "value": "1234567.5",
        },
    )
    assert resp.status_code == 302
    html = client.get(url).get_data(as_text=True)
    text = assert_readable(html)  # no cn.hebei, retail_turnover or 1234567.50 as text
    assert "¥1,234,567.50" in text and "零售额" in text
    assert 'class="unit-name" title="cn.hebei"' in html
    assert re.search(r"有效团购场次</td><td class=\"num\">2</td>", html)  # a count, no decimals
    assert "user:" not in text
    assert 'class="breadcrumb' in html and 'id="ecommerce-tabs"' in html
    # the set-target form picks a unit of the caller's scope by name, not a typed code
    form = re.search(r'<form[^>]*id="set-target".*?</form>', html, re.S)[0]
    assert re.search(r'<select[^>]*name="unit"', form)
    assert 'value="cn.hebei.shijiazhuang"' in form
    assert 'id="f-unit"' in form and 'id="f-value"' in form
    assert re.search(r'<table[^>]*id="targets"', html)
    assert 'id="distribute"' in html
    bad = client.post(
        url,
        data={
            "csrf_token": client.csrf,
            "action": "set",
            "unit": "cn.hebei",
            "kind": "orders",
            "value": "1.5",
        },
    )
    assert bad.status_code == 422
    assert 'id="f-value-error"' in bad.get_data(as_text=True)  # beside the field
    assert 'value="1.5"' in bad.get_data(as_text=True)


def test_the_import_page_is_on_the_kit(world, make_user, login):
    client = login(make_user("hbplanner", "cn.hebei", "marketing"))
    html = client.get("/p/ecommerce/import").get_data(as_text=True)
    assert_readable(html)
    assert 'class="breadcrumb' in html and 'id="ecommerce-tabs"' in html
    assert 'id="import-form"' in html and 'id="f-file"' in html
    bad = client.post(
        "/p/ecommerce/import",
        data={"csrf_token": client.csrf},
        content_type="multipart/form-data",
    )
    assert bad.status_code == 400 or bad.status_code == 422
    page = bad.get_data(as_text=True)
    assert 'id="f-file-error"' in page  # the missing file is named beside the field
    assert_readable(page)
