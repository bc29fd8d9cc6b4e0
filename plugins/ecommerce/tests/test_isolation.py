"""Isolation between provinces: neither writes nor reads cross the border."""

from __future__ import annotations

from postalops.testing import count_rows
from postalops_ecommerce.models import Order


def test_a_henan_token_cannot_push_orders_for_a_hebei_leader(po_app, world, ecom, make_token):
    henan = make_token("cn.henan", "ecommerce.ingest")
    resp = henan.post("/api/v1/ecommerce/orders", json=[ecom.order("X1")])  # HB-L1 / HB-S1
    assert resp.status_code == 422
    assert resp.get_json()["error"]["details"][0]["errors"][0]["field"] == "leader"
    resp = henan.post(
        "/api/v1/ecommerce/orders",
        json=[ecom.order("X2", channel="retail", branch="cn.hebei.shijiazhuang")],
    )
    assert resp.status_code == 422
    assert count_rows(po_app, Order) == 0


def test_figures_of_one_province_never_show_in_another(po_app, world, ecom, make_token):
    make_token("cn.hebei", "ecommerce.ingest").post(
        "/api/v1/ecommerce/orders", json=[ecom.order("A1", "80.00")]
    )
    make_token("cn.henan", "ecommerce.ingest").post(
        "/api/v1/ecommerce/orders", json=[ecom.order("H1", "5.00", leader="HN-L1", session="HN-S1")]
    )
    ecom.refresh("cn")
    assert ecom.kpis("cn.hebei")["retail_turnover"] == "80.00"
    assert ecom.kpis("cn.henan")["retail_turnover"] == "5.00"
    assert ecom.kpis("cn")["retail_turnover"] == "85.00"
    henan = make_token("cn.henan", "ecommerce.view", "core.metrics.read")
    assert henan.get("/api/v1/ecommerce/leaderboard?tenant=cn.hebei").status_code == 403
    assert (
        henan.get(
            "/api/v1/metrics?tenant=cn.hebei&from=2022-08-01&to=2022-09-06&plugin=ecommerce"
        ).status_code
        == 403
    )
    leaders = henan.get("/api/v1/ecommerce/leaders").get_json()["items"]
    assert [ld["code"] for ld in leaders] == ["HN-L1"]
    campaigns = henan.get("/api/v1/ecommerce/campaigns").get_json()["items"]
    assert [c["code"] for c in campaigns] == ["818"]


def test_a_refresh_of_one_province_leaves_the_others_pending(po_app, world, ecom, make_token):
    make_token("cn.hebei", "ecommerce.ingest").post(
        "/api/v1/ecommerce/orders", json=[ecom.order("A1", "80.00")]
    )
    make_token("cn.henan", "ecommerce.ingest").post(
        "/api/v1/ecommerce/orders", json=[ecom.order("H1", "5.00", leader="HN-L1", session="HN-S1")]
    )
    assert ecom.refresh("cn.henan") == {"deltas": 1, "rows": 1}
    assert ecom.kpis("cn.hebei")["retail_turnover"] == "0.00"
    assert ecom.refresh("cn.hebei") == {"deltas": 1, "rows": 1}
