"""Portal pages: reachable from the nav, Chinese first with an English switch, forms that work."""

import re

from postalops.testing import assert_readable
from postalops.testing import page_text as visible
from postalops.testing import table_rows as rows_of

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
                    # as the rules write them (and webhooks send them): in English
                    message=(
                        "no telemetry for 5+ minutes",
                        "12 jams in 10 minutes",
                        "under 2000 items/h for 15 running minutes",
                    )[i % 3],
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
    assert "5 分钟以上无数据上报" in text and "10 分钟内卡件 12 次" in text
    assert "连续运行 15 分钟处理量低于 2000 件/小时" in text and "no telemetry" not in text
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


# --- issue 14 §2: devices, waves and overview on the kit ------------------------------------------


def test_the_sorter_pages_read_in_chinese_and_devices_are_paged(
    po_app, make_user, login, make_device
):
    for i in range(60):
        make_device(code=f"DS{i:02d}")
    client = login(make_user("ops1", JINSHUI, "ops"))
    for path in ("/p/sorter/", "/p/sorter/devices", "/p/sorter/waves"):
        page = client.get(path)
        assert page.status_code == 200, path
        assert_readable(page.get_data(as_text=True))
    devices = client.get("/p/sorter/devices").get_data(as_text=True)
    assert rows_of(devices, "sorter-device-table") == 50 and "共 60 条" in visible(devices)
    assert (
        "金水" in visible(devices) and "3,600" in visible(devices) and "未发放" in visible(devices)
    )
    page2 = client.get("/p/sorter/devices?page=2").get_data(as_text=True)
    assert rows_of(page2, "sorter-device-table") == 10
    # a city sees a link to the machines, not 60 of them on the overview
    city = login(make_user("city", "cn.henan.zhengzhou", "ops"))
    overview = city.get("/p/sorter/").get_data(as_text=True)
    assert "全部 60 台分拣机" in assert_readable(overview)


def test_replacing_a_token_is_asked_first(po_app, make_user, login, make_device):
    from postalops.tenancy import Scope
    from postalops_sorter.models import Device

    device_id, _machine = make_device()
    client = login(make_user("ops1", JINSHUI, "ops"))
    page = client.get("/p/sorter/devices").get_data(as_text=True)
    assert "发放令牌" in page and 'data-confirm="' in page

    def token_id() -> int | None:
        with po_app.extensions["postalops.db"].transaction(Scope.system_scope()) as s:
            return s.get(Device, device_id).token_id

    form = {"csrf_token": client.csrf, "action": "token", "device_id": str(device_id)}
    asked = client.post("/p/sorter/devices", data=form)
    assert asked.status_code == 200 and token_id() is None  # the confirmation page, nothing done
    assert "只显示一次" in visible(asked.get_data(as_text=True))
    issued = client.post("/p/sorter/devices", data={**form, "confirmed": "1"})
    assert issued.status_code == 200 and token_id() is not None
    assert 'id="sorter-token"' in issued.get_data(as_text=True)
    first = token_id()
    # now a token exists: replacing it says it cuts the machine off, and is asked first too
    page = client.get("/p/sorter/devices").get_data(as_text=True)
    assert "更换令牌" in page and "无法上报数据" in page
    asked = client.post("/p/sorter/devices", data=form)
    assert "无法上报数据" in visible(asked.get_data(as_text=True)) and token_id() == first
    replaced = client.post("/p/sorter/devices", data={**form, "confirmed": "1"})
    assert replaced.status_code == 200 and token_id() not in (None, first)


def test_the_device_and_wave_forms_show_errors_beside_their_fields(
    po_app, make_user, login, stations
):
    from postalops.testing import count_rows
    from postalops_sorter.models import Device, WaveWindow

    client = login(make_user("ops1", JINSHUI, "ops"))
    bad = client.post(
        "/p/sorter/devices",
        data={
            "csrf_token": client.csrf,
            "code": "DS10",
            "name": "十号机",
            "model": "",
            "chutes": "x",
            "commissioned_on": "",
            "rated_per_hour": "3500",
        },
    )
    assert bad.status_code == 422 and count_rows(po_app, Device) == 0
    html = bad.get_data(as_text=True)
    for field in ("model", "chutes", "commissioned_on"):
        assert f'id="f-{field}-error"' in html, field
    assert 'id="f-code-error"' not in html and 'value="DS10"' in html and 'value="十号机"' in html
    assert "请输入大于零的整数" in html
    waves = client.post(
        "/p/sorter/waves",
        data={
            "csrf_token": client.csrf,
            "start1": "06:30",
            "end1": "09:30",
            "start2": "09:00",
            "end2": "08:00",
            "start3": "14:00",
        },
    )
    assert waves.status_code == 422 and count_rows(po_app, WaveWindow) == 0
    html = waves.get_data(as_text=True)
    assert 'id="f-end3-error"' in html and "同时填写" in html
    assert 'value="09:00"' in html and 'value="14:00"' in html
    overlap = client.post(
        "/p/sorter/waves",
        data={
            "csrf_token": client.csrf,
            "start1": "06:30",
            "end1": "09:30",
            "start2": "09:00",
            "end2": "11:00",
        },
    )
    assert overlap.status_code == 422 and count_rows(po_app, WaveWindow) == 0
    html = overlap.get_data(as_text=True)
    assert 'id="f-start2-error"' in html and "时间重叠" in html


def test_the_live_page_reads_in_chinese(make_user, login, make_device, tel):
    """The machine's state as a translated badge, counts and rates formatted, the station by
    name; the badges the live refresh swaps in are on the page."""
    device_id, machine = make_device()
    tel.post(
        machine,
        device_id,
        [tel.state(0, tel.at(8, 0), "emergency_stop")]
        + [tel.item(i + 1, tel.at(8, 1)) for i in range(3)],
    )
    client = login(make_user("head", JINSHUI, "station_head"))
    html = client.get(f"/p/sorter/devices/{device_id}").get_data(as_text=True)
    text = assert_readable(html)
    assert "当前状态" in text and "急停" in text and "金水" in text and "live-chart" in html
    assert 'data-status="planned_stop"' in html  # the refresh's badges, translated
