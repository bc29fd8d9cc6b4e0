"""The pickup-point overview, coverage, quality, direct-delivery, import and map pages on the UI
kit (issue 14 §2), through the portal client, in Chinese: KPI cards, lists paged at 50, no
snake_case token, raw unit code or unformatted number in the page's text, switching a point to
direct delivery asked first, and a refused form's error beside its field (422, nothing written)."""

from __future__ import annotations

import datetime as dt
import io

from postalops.testing import assert_readable, count_rows
from postalops.testing import page_text as visible
from postalops.testing import table_rows as rows_of
from postalops_pickup_points.distance import offset
from postalops_pickup_points.models import PickupArea, PickupDailyVolume, PickupPoint

from .test_api_and_services import ALL, ZZ, ZZ_SEAT, import_network

JINSHUI = "cn.henan.zhengzhou.jinshui"
SEPT = "from=2022-09-01&to=2022-09-30&window_end=2022-09-30"


def far_areas(n: int) -> bytes:
    """``n`` urban communities 10–16 km north of the city seat: none covered by a point."""
    lines = ["code,name,category,lon,lat,households,county"]
    for i in range(n):
        lon, lat = offset(*ZZ_SEAT, 0, 10_000 + 100 * i)
        lines.append(f"F{i:03d},远郊{i}号小区,urban_community,{lon},{lat},{1000 + i},jinshui")
    return ("\n".join(lines) + "\n").encode()


def test_the_pickup_pages_read_in_chinese_and_lists_are_paged(make_user, login, make_token):
    api = make_token(ZZ, *ALL)
    import_network(api)
    r = api.post(
        "/api/v1/pickup_points/areas/import",
        data=far_areas(60),
        headers={"Content-Type": "text/csv"},
    )
    assert r.status_code == 200, r.get_json()
    client = login(make_user("planner", ZZ, "pickup_planner", "ops"))
    for path in ("/", "/coverage", "/quality", "/direct", "/import", "/map"):
        page = client.get("/p/pickup_points" + path)
        assert page.status_code == 200, path
        assert_readable(page.get_data(as_text=True))
    home = client.get("/p/pickup_points/").get_data(as_text=True)
    assert home.count('class="po-kpi"') >= 5 and "郑州" in visible(home)
    coverage = client.get("/p/pickup_points/coverage").get_data(as_text=True)
    # 61 uncovered areas (U2 and the 60 far ones): 50 on the first page, biggest first
    assert rows_of(coverage, "uncovered") == 50 and "共 61 条" in visible(coverage)
    assert "远郊59号小区" in visible(coverage) and "1,059" in visible(coverage)
    page2 = client.get("/p/pickup_points/coverage?u_page=2").get_data(as_text=True)
    assert rows_of(page2, "uncovered") == 11 and "远郊小区" in visible(page2)
    assert "金水" in visible(coverage) and "城市小区" in visible(coverage)
    client.post("/lang", data={"lang": "en", "csrf_token": client.csrf, "next": "/"})
    for path in ("/", "/coverage", "/quality", "/direct", "/import", "/map"):
        page = client.get("/p/pickup_points" + path)
        assert page.status_code == 200, path
        assert "Pickup points" in page.get_data(as_text=True), path


def test_switching_to_direct_delivery_is_asked_first_and_a_missing_day_shown_in_place(
    po_app, make_user, login, make_token, as_unit
):
    from postalops_pickup_points.models import PickupDirectSwitch

    import_network(make_token(ZZ, *ALL))
    from sqlmodel import select

    with as_unit(None) as s:
        point_id = s.exec(select(PickupPoint.id).where(PickupPoint.code == "P1")).one()
        for day in range(1, 31):  # 50 items a day in September: past the 40 a day threshold
            s.add(
                PickupDailyVolume(
                    tenant_code=JINSHUI,
                    point_id=point_id,
                    day=dt.date(2022, 9, day),
                    inbound_items=50,
                )
            )
        s.commit()
    client = login(make_user("planner", ZZ, "pickup_planner", "ops"))
    page = client.get(f"/p/pickup_points/direct?{SEPT}").get_data(as_text=True)
    assert rows_of(page, "proposals") == 1 and 'data-confirm="' in page
    assert "P1 易邮驿站" in assert_readable(page)
    form = {"csrf_token": client.csrf, "point_id": str(point_id)}
    missing = client.post(f"/p/pickup_points/direct/switch?{SEPT}", data={**form, "effective": ""})
    assert missing.status_code == 422, missing.get_data(as_text=True)[-3000:]
    html = missing.get_data(as_text=True)
    assert f'id="f-effective-{point_id}-error"' in html  # beside the proposal's date field
    assert "请选择开始直投的日期" in html and count_rows(po_app, PickupDirectSwitch) == 0
    asked = client.post("/p/pickup_points/direct/switch", data={**form, "effective": "2022-09-01"})
    assert asked.status_code == 200 and count_rows(po_app, PickupDirectSwitch) == 0
    text = visible(asked.get_data(as_text=True))
    assert "自2022-09-01起" in text and "P1 易邮驿站" in text and "改为直投" in text
    done = client.post(
        f"/p/pickup_points/direct/switch?{SEPT}",
        data={**form, "effective": "2022-10-01", "confirmed": "1"},
    )
    assert done.status_code == 302 and count_rows(po_app, PickupDirectSwitch) == 1


def test_the_import_form_shows_a_missing_file_beside_its_field(po_app, make_user, login):
    client = login(make_user("planner", ZZ, "pickup_planner", "ops"))
    refused = client.post(
        "/p/pickup_points/import",
        data={"kind": "points", "csrf_token": client.csrf},
        content_type="multipart/form-data",
    )
    assert refused.status_code == 422 and count_rows(po_app, PickupArea) == 0
    html = refused.get_data(as_text=True)
    assert 'id="f-file-error"' in html and "请选择 CSV、XLSX 或 GeoJSON 文件" in html
    assert '<option value="points" selected>' in html
    bad = client.post(
        "/p/pickup_points/import",
        data={
            "kind": "areas",
            "file": (io.BytesIO("code,name\nX1,坏行\n".encode()), "areas.csv"),
            "csrf_token": client.csrf,
        },
        content_type="multipart/form-data",
    )
    assert bad.status_code == 422 and count_rows(po_app, PickupArea) == 0
    html = bad.get_data(as_text=True)
    assert 'id="f-file-error"' in html and 'id="import-report"' in html


def test_site_suggestion_and_the_recompute_job_read_in_chinese(
    po_app, make_user, login, make_token, workers
):
    from postalops.jobs import wait_for

    import_network(make_token(ZZ, *ALL))
    client = login(make_user("planner", ZZ, "pickup_planner", "ops"))
    bad = client.post(
        "/p/pickup_points/coverage/suggest", data={"limit": "很多", "csrf_token": client.csrf}
    )
    assert bad.status_code == 422
    html = bad.get_data(as_text=True)
    assert 'id="f-limit-error"' in html and "1 到 1000" in html and 'value="很多"' in html
    ok = client.post(
        "/p/pickup_points/coverage/suggest", data={"limit": "2", "csrf_token": client.csrf}
    )
    assert ok.status_code == 200 and "远郊小区" in assert_readable(ok.get_data(as_text=True))
    started = client.post("/p/pickup_points/coverage/recompute", data={"csrf_token": client.csrf})
    assert started.status_code == 302
    job_id = started.headers["Location"].rstrip("/").rsplit("/", 1)[-1]
    wait_for(po_app.extensions["postalops.db"], job_id, timeout=60)
    page = client.get(started.headers["Location"]).get_data(as_text=True)
    text = assert_readable(page)
    assert "重算自提点覆盖" in text and "已完成" in text and "查看结果" in text
