"""Portal pages: reachable from the nav, Chinese first with an English switch, forms that work."""

JINSHUI = "cn.henan.zhengzhou.jinshui"


def test_station_head_sees_the_nav_entry_and_pages_in_chinese_then_english(
    make_user, login, make_device
):
    device_id, _ = make_device()
    client = login(make_user("head", JINSHUI, "station_head"))
    home = client.get("/").get_data(as_text=True)
    assert 'href="/p/sorter/"' in home and "分拣机" in home
    page = client.get("/p/sorter/")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "圆盘分拣机" in text and "DS01" in text
    live = client.get(f"/p/sorter/devices/{device_id}").get_data(as_text=True)
    assert "当前状态" in live and "live-chart" in live
    client.post("/lang", data={"lang": "en", "csrf_token": client.csrf, "next": "/p/sorter/"})
    english = client.get("/p/sorter/").get_data(as_text=True)
    assert "Disc sorters" in english and "Comparison" in english
    for path in ("/p/sorter/devices", "/p/sorter/waves", "/p/sorter/alerts"):
        assert client.get(path).status_code == 200, path


def test_live_page_data_is_served_to_the_browser_session(make_user, login, make_device, tel):
    device_id, machine = make_device()
    tel.post(machine, device_id, [tel.state(0, tel.at(8, 0), "running"), tel.item(1, tel.at(8, 1))])
    client = login(make_user("head", JINSHUI, "station_head"))
    data = client.get(f"/api/v1/sorter/devices/{device_id}/live").get_json()
    assert data["state"] == "running" and data["device"]["code"] == "DS01"


def test_ops_add_a_sorter_and_set_waves_through_the_forms(po_app, make_user, login, stations):
    from postalops.testing import count_rows
    from postalops_sorter.models import Device, WaveWindow

    client = login(make_user("ops1", JINSHUI, "ops"))
    resp = client.post(
        "/p/sorter/devices",
        data={
            "csrf_token": client.csrf,
            "code": "DS09",
            "name": "九号机",
            "model": "YP-DS24",
            "chutes": "24",
            "commissioned_on": "2020-06-01",
            "rated_per_hour": "3500",
        },
    )
    assert resp.status_code == 302
    assert count_rows(po_app, Device) == 1
    bad = client.post(
        "/p/sorter/devices",
        data={
            "csrf_token": client.csrf,
            "code": "DS10",
            "model": "",
            "chutes": "x",
            "commissioned_on": "",
            "rated_per_hour": "1",
        },
    )
    assert bad.status_code == 422 and count_rows(po_app, Device) == 1
    waves = client.post(
        "/p/sorter/waves",
        data={
            "csrf_token": client.csrf,
            "start1": "06:30",
            "end1": "09:30",
            "start2": "11:00",
            "end2": "13:00",
        },
    )
    assert waves.status_code == 302 and count_rows(po_app, WaveWindow) == 2


def test_a_viewer_cannot_post_forms(make_user, login, stations):
    client = login(make_user("viewer1", JINSHUI, "viewer"))
    assert client.get("/p/sorter/").status_code == 200
    resp = client.post(
        "/p/sorter/waves", data={"csrf_token": client.csrf, "start1": "06:30", "end1": "09:30"}
    )
    assert resp.status_code == 403


def test_the_plugin_disabled_for_a_unit_answers_404(po_app, make_user, login, stations):
    from postalops.models import PluginEnablement
    from postalops.tenancy import Scope

    with po_app.extensions["postalops.db"].transaction(Scope.system_scope()) as s:
        s.add(PluginEnablement(unit_code="cn.henan.kaifeng", plugin_key="sorter", enabled=False))
    client = login(make_user("kf", "cn.henan.kaifeng.gulou", "ops"))
    assert client.get("/p/sorter/").status_code == 404
    assert 'href="/p/sorter/"' not in client.get("/").get_data(as_text=True)


def test_the_alerts_page_is_a_paged_list_in_chinese(po_app, make_user, login, make_device):
    """Issue 14 §2: 60 alerts read as a paged list (was up to 200 rows), kinds and states in
    Chinese, the station by name; filtering by state; acknowledging from the row."""
    import datetime as dt
    import re

    from postalops.tenancy import Scope
    from postalops_sorter.models import Alert

    device_id, _ = make_device()
    now = dt.datetime.now(dt.UTC)
    with po_app.extensions["postalops.db"].transaction(Scope.system_scope()) as s:
        for i in range(60):
            s.add(
                Alert(
                    tenant_code=JINSHUI,
                    device_id=device_id,
                    kind=("silent", "jam_spike", "low_throughput")[i % 3],
                    status="raised" if i else "acknowledged",
                    raised_at=now - dt.timedelta(minutes=10 * i),
                )
            )
    client = login(make_user("head", JINSHUI, "station_head"))
    html = client.get("/p/sorter/alerts").get_data(as_text=True)
    table = re.search(r'<table[^>]*id="sorter-alerts".*?</table>', html, re.S)[0]
    assert table.count("<tr>") - 1 == 50
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
    assert "共 60 条" in text and "无数据上报" in text and "待确认" in text and "DS01" in text
    assert "金水" in text and JINSHUI not in text
    assert not re.search(r"\b(silent|jam_spike|low_throughput|raised|acknowledged)\b", text)
    handled = client.get("/p/sorter/alerts?status=acknowledged").get_data(as_text=True)
    assert "共 1 条" in re.sub(r"<[^>]+>", " ", handled)

    alert_id = re.findall(r'data-alert="(\d+)"', table)[1]  # the newest is handled already
    resp = client.post(
        "/p/sorter/alerts",
        data={"csrf_token": client.csrf, "action": "acknowledged", "alert_id": alert_id},
    )
    assert resp.status_code == 302
    again = client.get("/p/sorter/alerts?status=acknowledged").get_data(as_text=True)
    assert "共 2 条" in re.sub(r"<[^>]+>", " ", again)
