"""The siting pages through the portal client, in Chinese: the form refuses a bad K beside its
field (422, no job), a scenario runs as a tracked job whose progress page links the result, the
scenario page shows the models side by side, the map, the chosen sites and the capacity table,
and accepting sites asks first and is audited."""

from __future__ import annotations

import io

import pytest
from postalops.jobs import wait_for
from postalops.models import Job
from postalops.testing import assert_readable, count_rows
from postalops_pickup_points.models import PickupPlannedSite

from .test_siting_scenario import ZZ, _candidates, network  # noqa: F401  (fixture)


@pytest.mark.usefixtures("network")
def test_siting_pages_run_show_and_accept(po_app, make_user, login, workers):
    client = login(make_user("planner", ZZ, "pickup_planner", "ops"))
    page = client.get("/p/pickup_points/siting")
    assert page.status_code == 200
    text = assert_readable(page.get_data(as_text=True))
    assert "自提点选址" in text and "还没有选址方案" in text

    bad = client.post("/p/pickup_points/siting", data={"k": "0", "csrf_token": client.csrf})
    assert bad.status_code == 422
    html = bad.get_data(as_text=True)
    assert 'id="f-k-error"' in html and "1 到 1000" in html
    assert count_rows(po_app, Job) == 0

    csv = "id,lon,lat,name\n" + "\n".join(
        f"{c['id']},{c['lon']},{c['lat']},{c.get('name') or c['id']}" for c in _candidates()
    )
    started = client.post(
        "/p/pickup_points/siting",
        data={"name": "远郊补点", "k": "1", "time_limit_s": "10", "existing": "keep",
              "items_per_household": "0.03", "new_site_capacity": "500",
              "file": (io.BytesIO(csv.encode()), "candidates.csv"), "csrf_token": client.csrf},
        content_type="multipart/form-data",
    )  # fmt: skip
    assert started.status_code == 302, started.get_data(as_text=True)
    job_id = started.headers["Location"].rstrip("/").rsplit("/", 1)[-1]
    job = wait_for(po_app.extensions["postalops.db"], job_id, timeout=60)
    assert job.status == "succeeded", job.error
    progress = assert_readable(client.get(started.headers["Location"]).get_data(as_text=True))
    assert "自提点选址测算" in progress and "查看结果" in progress

    sid = job.result["scenario_id"]
    page = client.get(f"/p/pickup_points/siting/{sid}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    text = assert_readable(html)
    assert "已证最优" in text and "远郊小区门口商铺" in text and "最少选址（LSCP）" in html
    assert 'id="siting-map"' in html and 'id="capacity-table"' in html
    assert "data-confirm=" in html and 'name="site" value="C1"' in html

    # Without JavaScript the accept asks first (nothing written), then records the site.
    ask = client.post(
        f"/p/pickup_points/siting/{sid}/accept", data={"site": "C1", "csrf_token": client.csrf}
    )
    assert ask.status_code == 200 and count_rows(po_app, PickupPlannedSite) == 0
    done = client.post(
        f"/p/pickup_points/siting/{sid}/accept",
        data={"site": "C1", "confirmed": "1", "csrf_token": client.csrf},
    )
    assert done.status_code == 302 and count_rows(po_app, PickupPlannedSite) == 1
    after = assert_readable(client.get(f"/p/pickup_points/siting/{sid}").get_data(as_text=True))
    assert "已纳入规划" in after
    listing = assert_readable(client.get("/p/pickup_points/siting").get_data(as_text=True))
    assert "远郊补点" in listing and "已完成" in listing
