"""Sorter operators' workbench inbox (issue 14 §3), through the portal: alerts raised and not
acknowledged (by kind, red, first), acknowledged ones still open, only of the unit's subtree;
acknowledging on the alerts page moves it from one item to the other; viewers get none."""

from __future__ import annotations

import datetime as dt
import re

from postalops.tenancy import Scope
from postalops_sorter.models import Alert

from .conftest import GULOU, JINSHUI


def tasks(html: str) -> dict[str, str]:
    out = {}
    for key, body in re.findall(r'data-task="sorter:([a-z_]+)">(.*?)</li>', html, re.S):
        out[key] = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)).strip()
    return out


def test_a_station_head_sees_alerts_to_acknowledge(po_app, make_user, login, make_device):
    zz, _ = make_device(JINSHUI, "DS01")
    kf, _ = make_device(GULOU, "DS02")
    now = dt.datetime.now(dt.UTC)
    with po_app.extensions["postalops.db"].transaction(Scope.system_scope()) as s:
        raised = Alert(
            tenant_code=JINSHUI,
            device_id=zz,
            kind="silent",
            status="raised",
            raised_at=now - dt.timedelta(hours=3),
        )
        s.add(raised)
        for tenant, device, kind, status in (
            (JINSHUI, zz, "jam_spike", "raised"),
            (JINSHUI, zz, "low_throughput", "acknowledged"),
            (JINSHUI, zz, "jam_spike", "resolved"),
            (GULOU, kf, "silent", "raised"),  # Kaifeng's
        ):
            s.add(
                Alert(
                    tenant_code=tenant,
                    device_id=device,
                    kind=kind,
                    status=status,
                    raised_at=now - dt.timedelta(minutes=30),
                )
            )
        s.flush()
        raised_id = raised.id
    head = login(make_user("head", "cn.henan.zhengzhou", "station_head"))
    html = head.get("/").get_data(as_text=True)
    got = tasks(html)
    assert list(got) == ["acknowledge_alerts", "resolve_alerts"]
    assert "待确认的分拣机告警 2 条" in got["acknowledge_alerts"]
    assert "卡件频发 1、无数据上报 1" in got["acknowledge_alerts"]
    assert "已等待 3小时" in got["acknowledge_alerts"]
    assert "1 条" in got["resolve_alerts"] and "效率偏低 1" in got["resolve_alerts"]
    assert 'href="/p/sorter/alerts"' in html

    resp = head.post(
        "/p/sorter/alerts",
        data={"csrf_token": head.csrf, "action": "acknowledged", "alert_id": raised_id},
    )
    assert resp.status_code in (200, 302)
    got = tasks(head.get("/").get_data(as_text=True))
    assert "1 条" in got["acknowledge_alerts"] and "2 条" in got["resolve_alerts"]

    viewer = login(make_user("vw", "cn.henan", "viewer"))
    assert tasks(viewer.get("/").get_data(as_text=True)) == {}
