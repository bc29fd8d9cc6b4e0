"""The new KPIs through ``GET /api/v1/metrics`` (issue 20 §3), hand-computed, and the README's
KPI table listing exactly the KPIs the hook returns."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from zoneinfo import ZoneInfo

from postalops.jobs import wait_for

from .test_siting_scenario import ZZ, _candidates, network  # noqa: F401  (fixture)

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_kpis() -> set[str]:
    text = README.read_text(encoding="utf-8").split("## KPIs (metrics hook)")[1].split("\n## ")[0]
    return set(re.findall(r"^\| `([a-z_]+)` \|", text, flags=re.M))


def _metrics(api, frm, to):
    r = api.get(f"/api/v1/metrics?tenant={ZZ}&from={frm}&to={to}&plugin=pickup_points")
    assert r.status_code == 200, r.get_json()
    return {k: v["value"] for k, v in r.get_json()["metrics"]["pickup_points"].items()}


def test_capacity_and_siting_kpis(po_app, network, make_token, workers):  # noqa: F811
    api = network
    rec = make_token(ZZ, "pickup_points.record", "core.metrics.read")
    # P1 has capacity 5 a day, P2 none (not counted).
    # 1 Oct: P1 3 items; 2 Oct: P1 7 items (over 5); P2 50 items both days (no capacity).
    rows = [
        {"point": "P1", "day": "2026-10-01", "inbound_items": 3},
        {"point": "P1", "day": "2026-10-02", "inbound_items": 7},
        {"point": "P2", "day": "2026-10-01", "inbound_items": 50},
        {"point": "P2", "day": "2026-10-02", "inbound_items": 50},
    ]
    assert rec.post("/api/v1/pickup_points/volumes", json=rows).status_code == 200
    m = _metrics(rec, "2026-10-01", "2026-10-02")
    # Utilisation: (3 + 7) / (5 + 5) = 1.0000; P1 over on 2 Oct → 1 point over capacity.
    assert m["capacity_utilisation"] == "1.0000" and m["over_capacity_points"] == 1
    # 1 Oct alone: 3 / 5 = 0.6000 and nothing over.
    m1 = _metrics(rec, "2026-10-01", "2026-10-01")
    assert m1["capacity_utilisation"] == "0.6000" and m1["over_capacity_points"] == 0
    # No scenario yet: no siting figures; nothing planned.
    assert m["siting_lscp_sites"] is None and m["siting_mclp_coverage"] is None
    assert m["planned_sites"] == 0

    r = api.post(
        "/api/v1/pickup_points/siting/scenarios",
        json={"k": 1, "candidates": _candidates(), "time_limit_s": 10},
    )
    job = wait_for(po_app.extensions["postalops.db"], r.get_json()["job_id"], timeout=60)
    assert job.status == "succeeded", job.error
    api.post(
        f"/api/v1/pickup_points/siting/scenarios/{job.result['scenario_id']}/accept",
        json={"sites": ["C1"]},
    )
    # the scenario and the acceptance are dated now, on Shanghai's calendar
    today = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()
    later = _metrics(rec, "2026-10-01", max(today, dt.date(2026, 10, 2)).isoformat())
    # Only U2 (300 households) needs a site; C1 covers it: 1 site, 300 / 300 = 1.0000 for both.
    assert later["siting_lscp_sites"] == 1, later
    assert later["siting_mclp_coverage"] == "1.0000" and later["siting_greedy_coverage"] == "1.0000"
    assert later["planned_sites"] == 1
    assert set(later) == readme_kpis()
