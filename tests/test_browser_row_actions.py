"""A data table with row actions at 390 px: the actions' visually-hidden labels (position:
absolute) escaped the table's scroll box and widened the document to 1,012 px, which the
body's overflow clip hid from the eye but not from the page (found on /p/pickup_points/points)."""

from __future__ import annotations

import pytest

from tests.test_openapi_docs_browser import page, server  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser
ZZ = "cn.henan.zhengzhou"


def test_row_action_labels_stay_inside_the_table_box(po_app, server, page, make_user, make_token):  # noqa: F811
    api = make_token(ZZ, "pickup_points.manage", "pickup_points.view")
    rows = [
        {"code": f"P{i:02d}", "name": f"社区驿站{i}", "point_type": "partner_shop",
         "lon": 113.6 + i / 1000, "lat": 34.7, "county": "jinshui", "opened_on": "2022-07-01"}
        for i in range(12)
    ]  # fmt: skip
    assert api.post("/api/v1/pickup_points/points/import", json=rows).status_code == 200
    make_user("planner", ZZ, "pickup_planner")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(server + "/login")
    page.fill("#username", "planner")
    page.fill("#password", "test-password-1")
    page.click("#login-submit")
    page.wait_for_url(server + "/")
    page.goto(server + "/p/pickup_points/points")
    assert page.locator("#points label.visually-hidden").count() == 12
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390, width
