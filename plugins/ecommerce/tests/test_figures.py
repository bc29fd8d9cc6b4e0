"""Figures from the rollup: thresholds at their edges, incremental = full, leaderboard, targets."""

from __future__ import annotations

import datetime as dt

from postalops.testing import count_rows
from postalops_ecommerce.models import Rollup, Target

URL = "/api/v1/ecommerce/orders"
EVENTS = "/api/v1/ecommerce/events"


def push(client, orders):
    resp = client.post(URL, json=orders)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def test_session_and_ten_thousand_thresholds_at_their_edges(po_app, world, ecom, make_token):
    # Campaign 919 in the fixture: a session is valid from 3 paid orders, a 万单团 from 5.
    eshop = make_token("cn.hebei", "ecommerce.ingest")
    push(
        eshop,
        [ecom.order(f"A{i}") for i in range(5)]  # HB-L1 / HB-S1: 5 orders
        + [ecom.order(f"B{i}", leader="HB-L2", session="HB-S2") for i in range(2)],
    )
    ecom.refresh("cn.hebei")
    k = ecom.kpis("cn.hebei")
    assert (k["valid_sessions"], k["ten_thousand_order_groups"], k["active_leaders"]) == (1, 1, 2)
    # One cancellation drops HB-L1 to 4 (below 5); one more order lifts HB-S2 to 3 (valid).
    eshop.post(EVENTS, json=[{"type": "cancel", "order_no": "A0", "at": "2022-09-02T08:00:00Z"}])
    push(eshop, [ecom.order("B2", leader="HB-L2", session="HB-S2")])
    ecom.refresh("cn.hebei")
    k = ecom.kpis("cn.hebei")
    assert (k["valid_sessions"], k["ten_thousand_order_groups"]) == (2, 0)
    # 2 valid ÷ plan 2 = 1.0; 7 orders in total
    assert k["valid_sessions_attainment"] == 1.0
    assert k["orders"] == 7
    assert k["active_pickup_points"] == 2  # PP-1 and PP-2


def test_incremental_refresh_gives_the_same_figures_as_a_full_recompute(
    po_app, world, ecom, make_token, as_unit
):
    from postalops_ecommerce import rollup

    eshop = make_token("cn.hebei", "ecommerce.ingest")
    push(eshop, [ecom.order(f"A{i}", f"{10 + i}.50", 1 + i % 3) for i in range(20)])
    ecom.refresh("cn.hebei")
    push(eshop, [ecom.order(f"C{i}", "3.30", leader="HB-L2", session="HB-S2") for i in range(7)])
    eshop.post(
        EVENTS,
        json=[
            {
                "type": "refund",
                "order_no": "A3",
                "refund_no": "R1",
                "amount": "5.00",
                "at": "2022-09-05T00:00:00Z",
            },
            {"type": "cancel", "order_no": "C1", "at": "2022-09-05T00:00:00Z"},
            {"type": "cancel", "order_no": "A4", "at": "2022-09-05T00:00:00Z"},
        ],
    )
    assert ecom.refresh("cn.hebei")["deltas"] > 0
    incremental = ecom.kpis("cn.hebei")
    with as_unit("cn.hebei") as s:
        rollup.recompute(s, "cn.hebei")
        s.commit()
    assert ecom.kpis("cn.hebei") == incremental
    assert ecom.refresh("cn.hebei") == {"deltas": 0, "rows": 0}


def test_the_leaderboard_ranks_cities_against_their_distributed_plans(
    po_app, world, ecom, make_token, as_unit
):
    from postalops_ecommerce import campaigns, metrics

    with as_unit(None) as s:
        camp = campaigns.get_campaign(s, world["henan"])
        campaigns.set_target(
            s,
            camp,
            unit_code="cn.henan",
            kind="retail_turnover",
            value="300",
            effective_from=dt.datetime(2022, 7, 1, tzinfo=dt.UTC),
        )
        campaigns.distribute(
            s,
            camp,
            parent_code="cn.henan",
            kind="retail_turnover",
            shares={"cn.henan.zhengzhou": "200", "cn.henan.kaifeng": "100"},
            effective_from=dt.datetime(2022, 7, 2, tzinfo=dt.UTC),
        )
        s.commit()
    henan = make_token("cn.henan", "ecommerce.ingest")
    push(
        henan,
        [
            ecom.order("H1", "50.00", leader="HN-L1", session="HN-S1"),
            ecom.order("H2", "40.00", channel="retail", branch="cn.henan.kaifeng"),
        ],
    )
    ecom.refresh("cn.henan")
    with as_unit("cn.henan") as s:
        board = metrics.leaderboard(s, "cn.henan", "city", dt.date(2022, 8, 1), dt.date(2022, 9, 6))
    # Kaifeng 40 / 100 = 0.40 ranks above Zhengzhou 50 / 200 = 0.25
    assert [(r["rank"], r["unit"], r["turnover_attainment"]) for r in board] == [
        (1, "cn.henan.kaifeng", 0.4),
        (2, "cn.henan.zhengzhou", 0.25),
    ]
    viewer = make_token("cn.henan", "ecommerce.view")
    resp = viewer.get("/api/v1/ecommerce/leaderboard?level=province&from=2022-08-01&to=2022-09-06")
    assert resp.status_code == 200
    assert [(r["unit"], r["turnover"]) for r in resp.get_json()["items"]] == [("cn.henan", "90.00")]


def test_a_distribution_that_does_not_add_up_is_refused_and_writes_nothing(
    po_app, world, make_token
):
    planner = make_token("cn.hebei", "ecommerce.plan")
    before = count_rows(po_app, Target)
    url = f"/api/v1/ecommerce/campaigns/{world['hebei']}/distribute"
    resp = planner.post(
        url,
        json={
            "parent": "cn.hebei",
            "kind": "retail_turnover",
            "shares": {"cn.hebei.shijiazhuang": "999.99"},
        },
    )
    assert resp.status_code == 422
    detail = resp.get_json()["error"]["details"][0]
    assert detail["field"] == "children" and detail["difference"] == "0.01"
    assert count_rows(po_app, Target) == before
    resp = planner.post(
        url,
        json={
            "parent": "cn.hebei",
            "kind": "retail_turnover",
            "shares": {"cn.hebei.shijiazhuang": "1000"},
        },
    )
    assert resp.status_code == 201, resp.get_json()
    resp = planner.post(
        url,
        json={
            "parent": "cn.hebei",
            "kind": "retail_turnover",
            "shares": {"cn.henan.kaifeng": "1000"},
        },
    )
    assert resp.status_code in (403, 422)


def test_attainment_reads_the_target_in_force_at_the_end_of_the_period(
    po_app, world, ecom, make_token
):
    planner = make_token("cn.hebei", "ecommerce.plan", "ecommerce.view")
    url = f"/api/v1/ecommerce/campaigns/{world['hebei']}/targets"
    # Retail plan 1,000 from 25 Jul (fixture), raised to 2,000 from 10 Aug.
    resp = planner.post(
        url,
        json={
            "unit": "cn.hebei",
            "kind": "retail_turnover",
            "value": "2000",
            "effective_from": "2022-08-10T00:00:00+08:00",
        },
    )
    assert resp.status_code == 201, resp.get_json()
    eshop = make_token("cn.hebei", "ecommerce.ingest")
    push(eshop, [ecom.order("A1", "100.00", paid_at="2022-08-05T10:00:00+08:00")])
    ecom.refresh("cn.hebei")
    # Up to 9 Aug: 100 / 1,000 = 0.1; up to 6 Sep: 100 / 2,000 = 0.05
    assert ecom.kpis("cn.hebei", to="2022-08-09")["retail_attainment"] == 0.1
    assert ecom.kpis("cn.hebei")["retail_attainment"] == 0.05
    history = planner.get(url + "?unit=cn.hebei").get_json()["items"]
    assert [t["value"] for t in history if t["kind"] == "retail_turnover"] == ["1000.00", "2000.00"]


def test_refresh_runs_as_a_tracked_job(po_app, world, ecom, make_token, workers):
    from postalops.jobs import wait_for

    push(make_token("cn.hebei", "ecommerce.ingest"), [ecom.order("A1", "12.00")])
    assert count_rows(po_app, Rollup) == 0
    ops = make_token("cn.hebei", "ecommerce.refresh", "ecommerce.view")
    resp = ops.post("/api/v1/ecommerce/refresh")
    assert resp.status_code == 202
    job = wait_for(po_app.extensions["postalops.db"], resp.get_json()["job"])
    assert job.status == "succeeded", job.error
    assert job.result == {"deltas": 1, "rows": 1}
    assert ecom.kpis("cn.hebei")["retail_turnover"] == "12.00"
    again = wait_for(
        po_app.extensions["postalops.db"], ops.post("/api/v1/ecommerce/refresh").get_json()["job"]
    )
    assert again.result == {"deltas": 0, "rows": 0}  # re-running adds nothing


def test_the_catalogue_and_the_three_has_check(po_app, world, ecom, make_token):
    admin = make_token("cn.hebei", "ecommerce.catalogue", "ecommerce.view", "ecommerce.ingest")
    assert (
        admin.post(
            "/api/v1/ecommerce/merchants", json=[{"code": "M1", "name": "冀农优品"}]
        ).status_code
        == 201
    )
    resp = admin.post(
        "/api/v1/ecommerce/products",
        json=[
            {
                "merchant": "M1",
                "sku": "P1",
                "name": "赞皇大枣",
                "category": "dried_fruit",
                "agreed_price": "29.90",
                "featured": True,
            },
            {
                "merchant": "M404",
                "sku": "P2",
                "name": "x",
                "category": "dried_fruit",
                "agreed_price": "1.00",
            },
        ],
    )
    assert resp.status_code == 422 and resp.get_json()["error"]["details"][0]["row"] == 1
    admin.post(
        "/api/v1/ecommerce/products",
        json=[
            {
                "merchant": "M1",
                "sku": "P1",
                "name": "赞皇大枣",
                "category": "dried_fruit",
                "agreed_price": "29.90",
                "featured": True,
            }
        ],
    )
    resp = admin.post(
        "/api/v1/ecommerce/pavilions",
        json={
            "code": "SJZ",
            "name": "石家庄乡村振兴馆",
            "unit": "cn.hebei.shijiazhuang",
            "level": "city",
            "operators": [],
            "skus": ["P1"],
        },
    )
    assert resp.status_code == 201 and resp.get_json()["listed"] == 1
    ready = admin.get("/api/v1/ecommerce/readiness?from=2022-08-01&to=2022-09-06").get_json()
    # Products yes; no operations staff; no sales yet.
    assert ready["items"][0]["missing"] == ["operations", "sales"]
    admin.post("/api/v1/ecommerce/orders", json=[ecom.order("A1", "29.90")])
    ecom.refresh("cn.hebei")
    ready = admin.get("/api/v1/ecommerce/readiness?from=2022-08-01&to=2022-09-06").get_json()
    assert ready["items"][0]["missing"] == ["operations"]
    assert ready["items"][0]["net_turnover"] == "29.90"


def test_a_cached_leaderboard_is_replaced_when_figures_or_targets_change(
    po_app, world, ecom, make_token, as_unit
):
    from postalops_ecommerce import campaigns, metrics
    from postalops_ecommerce.board_cache import BoardCache

    cache = BoardCache()
    eshop = make_token("cn.hebei", "ecommerce.ingest")
    eshop.post(URL, json=[ecom.order("A1", "100.00")])
    ecom.refresh("cn.hebei")
    frm, to = dt.date(2022, 8, 1), dt.date(2022, 9, 6)

    def board():
        with as_unit("cn.hebei") as s:
            row = metrics.leaderboard(s, "cn.hebei", "province", frm, to, cache)[0]
            return row["turnover"], row["turnover_attainment"]

    assert board() == (ecom.D("100.00"), 0.1)  # 100 / 1,000
    eshop.post(URL, json=[ecom.order("A2", "100.00")])
    assert board() == (ecom.D("100.00"), 0.1)  # not refreshed yet: same figures
    ecom.refresh("cn.hebei")
    assert board() == (ecom.D("200.00"), 0.2)
    with as_unit(None) as s:
        camp = campaigns.get_campaign(s, world["hebei"])
        campaigns.set_target(
            s,
            camp,
            unit_code="cn.hebei",
            kind="retail_turnover",
            value="400",
            effective_from=dt.datetime(2022, 7, 26, tzinfo=dt.UTC),
        )
        s.commit()
    assert board() == (ecom.D("200.00"), 0.5)  # 200 / 400


def test_a_child_target_above_what_its_parent_leaves_is_refused(po_app, world, make_token):
    """Hebei's retail plan is 1,000.00 (fixture). Shijiazhuang may take 600 and Baoding 400, but
    not a fen more between them; and Hebei cannot be cut below what its cities already hold."""
    from postalops.models import OrgUnit

    with po_app.extensions["postalops.db"].transaction(None) as s:
        s.add(
            OrgUnit(
                code="cn.hebei.baoding",
                parent_code="cn.hebei",
                name_zh="保定市",
                name_en="Baoding",
                level="city",
                depth=2,
            )
        )
    planner = make_token("cn.hebei", "ecommerce.plan")
    url = f"/api/v1/ecommerce/campaigns/{world['hebei']}/targets"

    def post(unit, value):
        return planner.post(url, json={"unit": unit, "kind": "retail_turnover", "value": value})

    before = count_rows(po_app, Target)
    too_big = post("cn.hebei.shijiazhuang", "1000.01")
    assert too_big.status_code == 422
    err = too_big.get_json()["error"]
    assert err["code"] == "exceeds_parent_target"
    assert err["details"][0] == {
        "field": "value",
        "message": "children of cn.hebei would sum to 1000.01, above its target 1000.00",
        "parent": "cn.hebei",
        "parent_target": "1000.00",
        "children_sum": "1000.01",
    }
    assert count_rows(po_app, Target) == before
    assert post("cn.hebei.shijiazhuang", "600").status_code == 201
    assert post("cn.hebei.baoding", "400.01").status_code == 422
    assert post("cn.hebei.baoding", "400").status_code == 201
    below = post("cn.hebei", "999.99")
    assert below.status_code == 422
    assert below.get_json()["error"]["code"] == "below_children_targets"
    # a distribution is the whole plan: a city left out keeps its 400 and would overflow Hebei
    dist = f"/api/v1/ecommerce/campaigns/{world['hebei']}/distribute"
    left_out = planner.post(
        dist,
        json={
            "parent": "cn.hebei",
            "kind": "retail_turnover",
            "shares": {"cn.hebei.shijiazhuang": "1000"},
        },
    )
    assert left_out.status_code == 422
    assert left_out.get_json()["error"]["code"] == "exceeds_parent_target"
    # a distribution that moves shares between the cities is checked as a whole, not step by step
    resp = planner.post(
        f"/api/v1/ecommerce/campaigns/{world['hebei']}/distribute",
        json={
            "parent": "cn.hebei",
            "kind": "retail_turnover",
            "shares": {"cn.hebei.shijiazhuang": "100", "cn.hebei.baoding": "900"},
        },
    )
    assert resp.status_code == 201, resp.get_json()


def test_a_city_planner_cannot_raise_its_own_target_above_its_provinces(po_app, world, make_token):
    """The province's target and the other cities' lie outside a city's scope (row-level
    security on PostgreSQL, the session filter on SQLite); the check reads them all the same."""
    from postalops.models import OrgUnit

    with po_app.extensions["postalops.db"].transaction(None) as s:
        s.add(
            OrgUnit(
                code="cn.hebei.baoding",
                parent_code="cn.hebei",
                name_zh="保定市",
                name_en="Baoding",
                level="city",
                depth=2,
            )
        )
    url = f"/api/v1/ecommerce/campaigns/{world['hebei']}/targets"
    province = make_token("cn.hebei", "ecommerce.plan")
    city = make_token("cn.hebei.shijiazhuang", "ecommerce.plan")

    def post(client, unit, value):
        return client.post(url, json={"unit": unit, "kind": "retail_turnover", "value": value})

    assert post(province, "cn.hebei.baoding", "400").status_code == 201
    before = count_rows(po_app, Target)
    resp = post(city, "cn.hebei.shijiazhuang", "600.01")  # 400 + 600.01 > 1,000.00
    assert resp.status_code == 422, resp.get_json()
    assert resp.get_json()["error"]["code"] == "exceeds_parent_target"
    assert count_rows(po_app, Target) == before
    assert post(city, "cn.hebei.shijiazhuang", "600").status_code == 201


def test_readiness_lists_each_city_once(po_app, world, ecom, make_token):
    """Shijiazhuang has two city pavilions (the 乡村振兴馆 and a second one staffed but not yet
    stocked): readiness is per city, one row, with the pavilions' products and staff together
    and the city's sales counted once."""
    admin = make_token("cn.hebei", "ecommerce.catalogue", "ecommerce.view", "ecommerce.ingest")
    admin.post("/api/v1/ecommerce/merchants", json=[{"code": "M1", "name": "冀农优品"}])
    product = {"merchant": "M1", "category": "dried_fruit", "agreed_price": "29.90"}
    admin.post(
        "/api/v1/ecommerce/products",
        json=[
            {**product, "sku": "P1", "name": "赞皇大枣"},
            {**product, "sku": "P2", "name": "枣片"},
        ],
    )
    pavilions = [
        ("SJZ-A", "石家庄乡村振兴馆", [], ["P1", "P2"]),
        ("SJZ-B", "石家庄特产馆", ["运营一", "运营二"], ["P2"]),
    ]
    for code, name, operators, skus in pavilions:
        resp = admin.post(
            "/api/v1/ecommerce/pavilions",
            json={
                "code": code,
                "name": name,
                "unit": "cn.hebei.shijiazhuang",
                "level": "city",
                "operators": operators,
                "skus": skus,
            },
        )
        assert resp.status_code == 201, resp.get_json()
    assert (
        admin.post("/api/v1/ecommerce/orders", json=[ecom.order("A1", "29.90")]).status_code == 200
    )
    ecom.refresh("cn.hebei")
    items = admin.get("/api/v1/ecommerce/readiness?from=2022-08-01&to=2022-09-06").get_json()[
        "items"
    ]
    assert [i["unit"] for i in items] == ["cn.hebei.shijiazhuang"]
    (row,) = items
    assert row["pavilions"] == ["石家庄乡村振兴馆", "石家庄特产馆"]
    assert (row["products"], row["operators"]) == (2, 2)  # P2 listed twice counts once
    assert row["net_turnover"] == "29.90"  # the city's sales, not once per pavilion
    assert (row["ready"], row["missing"]) == (True, [])
