"""The pickup-point lists as staff use them (issue 14 §2): paged at 50, filtered, sorted,
exported, units and enums shown by their Chinese names, and the status change asked first."""

from __future__ import annotations

import csv
import io
import re

from postalops_pickup_points.distance import offset

from .test_api_and_services import ALL, ZZ, ZZ_SEAT, import_network


def text_of(html: str) -> str:
    html = re.sub(r"<(script|style)\b.*?</\1>", "", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def many_points(n: int) -> list[dict]:
    return [
        {
            "code": f"Q{i:03d}",
            "name": f"社区驿站{i}",
            "point_type": "partner_shop",
            "lon": offset(*ZZ_SEAT, 45, 100 * i)[0],
            "lat": offset(*ZZ_SEAT, 45, 100 * i)[1],
            "county": "jinshui",
            "agent_fee": f"0.{i % 9 + 1}0",
            "opened_on": "2022-07-01",
        }
        for i in range(n)
    ]


def test_points_page_pages_filters_and_reads_in_chinese(make_user, login, make_token):
    api = make_token(ZZ, *ALL)
    import_network(api)
    r = api.post("/api/v1/pickup_points/points/import", json=many_points(60))
    assert r.status_code == 200, r.get_json()
    client = login(make_user("planner", ZZ, "pickup_planner", "ops"))

    html = client.get("/p/pickup_points/points").get_data(as_text=True)
    table = re.search(r'<table[^>]*id="points".*?</table>', html, re.S)[0]
    assert table.count("<tr>") - 1 == 50  # a page of 50 of the 62, then paging
    seen = text_of(html)
    assert "共 62 条" in seen
    assert "金水区" in seen or "金水" in seen  # the unit by its name ...
    assert "cn.henan.zhengzhou" not in seen  # ... never its code
    assert "社会自提点" in seen and "运营中" in seen  # type and status translated
    assert "partner_shop" not in seen and "active" not in seen

    village = text_of(
        client.get("/p/pickup_points/points?point_type=village_station").get_data(as_text=True)
    )
    assert "李庄邮乐购" in village and "社区驿站1" not in village and "共 1 条" in village

    rows = list(
        csv.reader(
            io.StringIO(
                client.get("/p/pickup_points/points?sort=-agent_fee&export=csv").data.decode(
                    "utf-8-sig"
                )
            )
        )
    )
    assert len(rows) == 63 and rows[0][:2] == ["编码", "名称"]
    fees = [
        r[rows[0].index("代理费（元/件）")] for r in rows[1:] if r[rows[0].index("代理费（元/件）")]
    ]
    assert fees == sorted(fees, key=float, reverse=True) and fees[0] == "0.90"

    # the status change is asked first (data-confirm), then done
    assert 'data-confirm="' in html
    point_id = re.search(r'action="/p/pickup_points/points/(\d+)/status"', html)[1]
    done = client.post(
        f"/p/pickup_points/points/{point_id}/status",
        data={"status": "suspended", "csrf_token": client.csrf},
    )
    assert done.status_code == 302
    suspended = text_of(
        client.get("/p/pickup_points/points?status=suspended").get_data(as_text=True)
    )
    assert "共 1 条" in suspended and "暂停" in suspended


def test_areas_page_filters_on_coverage_and_shows_households(
    po_app, make_user, login, make_token, workers
):
    from postalops.jobs import wait_for

    api = make_token(ZZ, *ALL)
    import_network(api)
    r = api.post("/api/v1/pickup_points/coverage/recompute", json={})
    assert r.status_code == 202, r.get_json()
    job = wait_for(po_app.extensions["postalops.db"], r.get_json()["job_id"], timeout=60)
    assert job.status == "succeeded", job.error
    client = login(make_user("planner", ZZ, "pickup_planner", "ops"))
    seen = text_of(client.get("/p/pickup_points/areas").get_data(as_text=True))
    assert "城市小区" in seen and "行政村" in seen and " 300 " in seen and "5,009" in seen
    assert "urban_community" not in seen and "jinshui" not in seen
    gaps = text_of(client.get("/p/pickup_points/areas?covered=false").get_data(as_text=True))
    assert "远郊小区" in gaps and "金水花园" not in gaps and "未覆盖" in gaps
    # an unknown filter value is named, not a failure
    odd = client.get("/p/pickup_points/areas?covered=maybe&sort=nope&page=x")
    assert odd.status_code == 200 and "未知取值" in text_of(odd.get_data(as_text=True))
