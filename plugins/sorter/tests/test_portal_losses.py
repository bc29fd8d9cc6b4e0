"""The issue 20 pages through the portal: losses (a station head corrects a reason in the
form and the Pareto follows), calendar (shifts form, a holiday, removal asks first), an alert's
timeline with a comment, alarm rules, maintenance log with MTBF / MTTR. Chinese first."""

import datetime as dt
import re

from postalops.testing import assert_readable
from postalops.testing import page_text as visible

JINSHUI = "cn.henan.zhengzhou.jinshui"


def _day_events(tel):
    return [
        tel.state(0, tel.at(8, 0), "running"),
        tel.item(1, tel.at(8, 1)),
        tel.state(2, tel.at(8, 10), "fault"),
        tel.state(3, tel.at(8, 20), "running"),
        tel.beat(4, tel.at(8, 30)),
    ]


def test_a_station_head_corrects_a_stop_reason_on_the_losses_page(
    make_user, login, make_device, tel
):
    device_id, machine = make_device(rated=3600)
    tel.post(machine, device_id, _day_events(tel))
    tel.rollup()
    client = login(make_user("head", JINSHUI, "station_head"))
    q = f"from={tel.day}&to={tel.day}"
    html = client.get(f"/p/sorter/losses?{q}").get_data(as_text=True)
    text = assert_readable(html)
    assert "损失帕累托" in text and "设备故障损失" in text and "速度降低损失" in text
    stop_id = re.search(r'data-stop="(\d+)"', html)[1]
    resp = client.post(
        f"/p/sorter/losses?{q}",
        data={"csrf_token": client.csrf, "stop_id": stop_id, "reason_code": "changeover"},
    )
    assert resp.status_code == 302
    after = visible(client.get(f"/p/sorter/losses?{q}").get_data(as_text=True))
    assert "换格口/换批" in after and "换型调整损失" in after
    viewer = login(make_user("viewer1", JINSHUI, "viewer"))
    denied = viewer.post(
        f"/p/sorter/losses?{q}",
        data={"csrf_token": viewer.csrf, "stop_id": stop_id, "reason_code": "belt"},
    )
    assert denied.status_code == 403


def test_ops_set_shifts_and_a_holiday_and_removal_asks_first(make_user, login, make_device, tel):
    make_device()
    client = login(make_user("ops1", JINSHUI, "ops"))
    form = {
        "csrf_token": client.csrf,
        "action": "shifts",
        "name1": "白班",
        "start1": "08:00",
        "end1": "12:00",
    }
    form |= {f"wd1_{d}": "1" for d in "12345"}
    assert client.post("/p/sorter/calendar", data=form).status_code == 302
    bad = client.post(
        "/p/sorter/calendar",
        data={
            "csrf_token": client.csrf,
            "action": "shifts",
            "start1": "12:00",
            "end1": "12:00",  # zero length (12:00-08:00 would be a night shift)
            "wd1_1": "1",
        },
    )
    assert bad.status_code == 422 and "is-invalid" in bad.get_data(as_text=True)
    add = client.post(
        "/p/sorter/calendar",
        data={
            "csrf_token": client.csrf,
            "action": "entry",
            "kind": "holiday",
            "day": tel.day.isoformat(),
            "note": "国庆",
        },
    )
    assert add.status_code == 302
    html = client.get("/p/sorter/calendar").get_data(as_text=True)
    text = assert_readable(html)
    assert "白班" in html and "节假日" in text and "国庆" in text and "班次OEE" not in text
    entry_id = re.search(r'name="entry_id" value="(\d+)"', html)[1]
    asked = client.post(
        "/p/sorter/calendar",
        data={"csrf_token": client.csrf, "action": "delete", "entry_id": entry_id},
    )
    assert asked.status_code == 200 and "planned time" not in visible(asked.get_data(as_text=True))
    done = client.post(
        "/p/sorter/calendar",
        data={
            "csrf_token": client.csrf,
            "action": "delete",
            "entry_id": entry_id,
            "confirmed": "1",
        },
    )
    assert done.status_code == 302
    assert "国庆" not in client.get("/p/sorter/calendar").get_data(as_text=True)


def test_alert_timeline_comment_rules_and_maintenance_pages(
    po_app, make_user, login, make_device, tel
):
    from postalops import context
    from postalops.testing import system_context
    from postalops_sorter import alerting
    from postalops_sorter.alerts import AlertKind
    from postalops_sorter.models import Device

    device_id, machine = make_device(rated=3600)
    tel.post(machine, device_id, _day_events(tel))
    tel.rollup()
    with context.activate(system_context(po_app)) as ctx:
        d = ctx.session.get(Device, device_id)
        a = alerting.raise_alert(
            ctx.session,
            d,
            AlertKind.SILENT,
            "no telemetry for 5+ minutes",
            dt.datetime.now(dt.UTC),
        )
        ctx.session.commit()
        alert_id = a.id
    head = login(make_user("head", JINSHUI, "station_head"))
    page = head.get("/p/sorter/alerts").get_data(as_text=True)
    assert "待确认" in page and "警告" in page and "暂缓30分钟" in page
    snooze = head.post(
        "/p/sorter/alerts",
        data={"csrf_token": head.csrf, "alert_id": alert_id, "action": "snoozed", "minutes": "30"},
    )
    assert snooze.status_code == 302
    c = head.post(
        f"/p/sorter/alerts/{alert_id}", data={"csrf_token": head.csrf, "text": "皮带已换"}
    )
    assert c.status_code == 302
    detail = assert_readable(head.get(f"/p/sorter/alerts/{alert_id}").get_data(as_text=True))
    assert "已暂缓" in detail and "皮带已换" in detail and "告警产生" in detail
    # the system's notes on the timeline read in the reader's language too
    assert "5 分钟以上无数据上报" in detail and "no telemetry" not in detail
    ops = login(make_user("ops1", "cn.henan.zhengzhou", "ops"))
    rules = ops.get("/p/sorter/alarm-rules")
    assert rules.status_code == 200 and "班次OEE未达标" in visible(rules.get_data(as_text=True))
    saved = ops.post(
        "/p/sorter/alarm-rules",
        data={
            "csrf_token": ops.csrf,
            "silent_enabled": "1",
            "silent_severity": "critical",
            "silent_minutes": "10",
            "silent_escalate": "15",
            "silent_contact": "值班长",
        },
    )
    assert saved.status_code == 302
    m = head.post(
        "/p/sorter/maintenance",
        data={
            "csrf_token": head.csrf,
            "device_id": str(device_id),
            "kind": "corrective",
            "started_at": f"{tel.day}T08:10",
            "duration_minutes": "10",
            "parts": "皮带",
        },
    )
    assert m.status_code == 302
    html = head.get(f"/p/sorter/maintenance?from={tel.day}&to={tel.day}").get_data(as_text=True)
    text = assert_readable(html)
    assert "故障维修" in text and "MTBF" in text and "10" in text


def test_the_stops_table_names_each_reason_in_the_readers_language(
    make_user, login, make_device, tel
):
    """The stops table showed the reason's code (``fault``, ``belt``) in the Chinese UI."""
    device_id, machine = make_device(rated=3600)
    tel.post(machine, device_id, _day_events(tel))
    tel.rollup()
    client = login(make_user("head2", JINSHUI, "station_head"))
    q = f"from={tel.day}&to={tel.day}"
    html = client.get(f"/p/sorter/losses?{q}").get_data(as_text=True)
    stops = html[html.index("<tbody", html.index('data-stop="') - 3000):]
    cells = [visible(c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", stops, re.S)]
    assert "设备故障" in cells and "fault" not in cells
    client.post("/lang", data={"csrf_token": client.csrf, "lang": "en"})
    html = client.get(f"/p/sorter/losses?{q}").get_data(as_text=True)
    assert "Machine fault" in visible(html)
