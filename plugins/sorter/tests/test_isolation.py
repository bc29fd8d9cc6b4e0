"""Two stations in two cities: each sees only its own sorters, telemetry, rollups and alerts;
the province sees both, summed (never averaged)."""

from decimal import Decimal

GULOU = "cn.henan.kaifeng.gulou"
JINSHUI = "cn.henan.zhengzhou.jinshui"


def morning(tel, items):
    events = [tel.state(0, tel.at(8, 0), "running")]
    events += [tel.item(i + 1, tel.at(8, 0, i)) for i in range(items)]
    return events + [tel.state(items + 1, tel.at(8, 10), "idle")]


def metrics(client, tenant, day):
    resp = client.get(f"/api/v1/metrics?tenant={tenant}&from={day}&to={day}&plugin=sorter")
    assert resp.status_code == 200, resp.get_json()
    return {k: v["value"] for k, v in resp.get_json()["metrics"]["sorter"].items()}


def test_each_city_sees_its_own_station_only(po_app, make_device, make_token, tel):
    zz_dev, zz_client = make_device(JINSHUI, "ZZ1")
    kf_dev, kf_client = make_device(GULOU, "KF1")
    tel.post(zz_client, zz_dev, morning(tel, 40))
    tel.post(kf_client, kf_dev, morning(tel, 20))
    tel.rollup()
    zz = make_token("cn.henan.zhengzhou", "sorter.view", "core.metrics.read")
    kf = make_token("cn.henan.kaifeng", "sorter.view", "core.metrics.read")

    assert [d["code"] for d in zz.get("/api/v1/sorter/devices").get_json()["items"]] == ["ZZ1"]
    assert [d["code"] for d in kf.get("/api/v1/sorter/devices").get_json()["items"]] == ["KF1"]
    assert zz.get(f"/api/v1/sorter/devices/{kf_dev}").status_code == 404
    assert zz.get(f"/api/v1/sorter/devices/{kf_dev}/live").status_code == 404
    assert (
        kf.get(f"/api/v1/sorter/rollups?device_id={zz_dev}&from={tel.day}&to={tel.day}").get_json()[
            "items"
        ]
        == []
    )
    # asking for the other city's figures is refused, not answered with zeros
    assert (
        zz.get(f"/api/v1/metrics?tenant=cn.henan.kaifeng&from={tel.day}&to={tel.day}").status_code
        == 403
    )
    assert metrics(zz, "cn.henan.zhengzhou", tel.day)["items_sorted"] == 40
    assert metrics(kf, "cn.henan.kaifeng", tel.day)["items_sorted"] == 20


def test_the_province_sums_both_cities(po_app, make_device, make_token, tel):
    zz_dev, zz_client = make_device(JINSHUI, "ZZ1", rated=3600)
    kf_dev, kf_client = make_device(GULOU, "KF1", rated=3600)
    tel.post(zz_client, zz_dev, morning(tel, 40))
    tel.post(kf_client, kf_dev, morning(tel, 20))
    tel.rollup()
    henan = make_token("cn.henan", "sorter.view", "core.metrics.read")
    m = metrics(henan, "cn.henan", tel.day)
    assert m["stations_with_sorters"] == 2 and m["items_sorted"] == 60
    # 60 items / (2 × 10 running minutes = 1/3 h) = 180 items/h, and OEE from sums:
    # 60 sorted / (3600/h × 1/3 h planned) = 0.05 (the mean of 0.0667 and 0.0333 happens to agree
    # here only because both ran equally long)
    assert Decimal(m["items_per_running_hour"]) == Decimal("180.0")
    assert Decimal(m["oee"]) == Decimal("0.0500")
    rows = henan.get(f"/api/v1/sorter/units?from={tel.day}&to={tel.day}").get_json()["rows"]
    assert [(r["unit"], r["items_sorted"]) for r in rows] == [
        ("cn.henan.kaifeng", 20),
        ("cn.henan.zhengzhou", 40),
    ]


def test_a_station_token_cannot_change_the_other_citys_device(make_device, make_token):
    kf_dev, _ = make_device(GULOU, "KF1")
    zz_ops = make_token("cn.henan.zhengzhou", "sorter.manage", "sorter.view")
    assert (
        zz_ops.patch(f"/api/v1/sorter/devices/{kf_dev}", json={"rated_per_hour": 1}).status_code
        == 404
    )
    assert zz_ops.post(f"/api/v1/sorter/devices/{kf_dev}/token").status_code == 404
