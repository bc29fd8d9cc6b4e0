"""Cached metrics are never stale (issue 17 §3): a scan posted through the API shows in the next
``GET /api/v1/metrics``, in this process and in another app on the same database; a write that
bypasses SQLAlchemy shows at the latest ``MAX_AGE`` seconds later, or at once after ``touch``."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
from postalops import metrics_cache
from postalops.tenancy import Scope
from postalops.testing import make_settings

ZZ, HENAN = "cn.henan.zhengzhou", "cn.henan"
SEPT = "from=2022-09-01&to=2022-09-30"
SEPT_FROM, SEPT_TO = dt.date(2022, 9, 1), dt.date(2022, 9, 30)
SCOPES = ("payroll.view", "payroll.ingest", "core.metrics.read")


def delivered(api, tenant: str) -> tuple[int, str]:
    body = api.get(f"/api/v1/metrics?tenant={tenant}&{SEPT}&plugin=payroll").get_json()
    return body["metrics"]["payroll"]["delivered_items"]["value"], body["as_of"]


def post_scans(api, pay, prefix: str, count: int) -> None:
    rows = [
        raw
        for _, raw in pay.delivery_rows(
            "ZZ-0002", [("parcel", "door", "urban", count)], prefix=prefix
        )
    ]
    response = api.post("/api/v1/payroll/events/deliveries", json=rows)
    assert response.status_code == 200, response.get_json()


def cache_of(app) -> metrics_cache.MetricsCache:
    cache = metrics_cache.for_bind(app.extensions["postalops.db"].engine)
    assert cache is not None
    return cache


def test_the_next_read_after_a_posted_scan_reflects_it(september_events, make_token, pay, po_app):
    city, province = make_token(ZZ, *SCOPES), make_token(HENAN, *SCOPES)
    cache = cache_of(po_app)
    assert delivered(city, ZZ)[0] == 141 and delivered(province, HENAN)[0] == 146
    hits = cache.hits
    assert delivered(city, ZZ)[0] == 141  # served from the cache ...
    assert cache.hits == hits + 1
    post_scans(city, pay, "NEW", 3)
    assert delivered(city, ZZ)[0] == 144  # ... until the scans' commit bumped payroll's version
    assert delivered(province, HENAN)[0] == 149


def test_another_process_sees_the_write_at_its_next_read(
    september_events, make_token, pay, po_app, tmp_path
):
    """A second app (its own engine and cache, as another gunicorn worker or host) on the same
    database serves its cached figure only until a write committed by the first one."""
    import postalops_payroll.plugin as plugin
    from postalops.app import create_app

    settings = make_settings(
        tmp_path, database_url=po_app.extensions["postalops.settings"].database_url
    )
    other = create_app(settings, extra_plugins=(plugin,), entry_points=False)
    try:
        reader = make_token(ZZ, *SCOPES)
        reader_b = type(reader)(other.test_client(), reader.secret, reader.token_id)
        assert delivered(reader_b, ZZ)[0] == 141
        assert delivered(reader_b, ZZ)[0] == 141
        post_scans(reader, pay, "OTH", 2)  # written through the first app
        assert delivered(reader_b, ZZ)[0] == 143
    finally:
        other.extensions["postalops.db"].dispose()


def test_a_write_outside_sqlalchemy_shows_within_the_bound_or_at_once_when_touched(
    september_events, make_token, po_app
):
    api = make_token(ZZ, *SCOPES)
    cache = cache_of(po_app)
    db = po_app.extensions["postalops.db"]
    assert delivered(api, ZZ)[0] == 141
    # the driver's own cursor (what COPY does): the engine sees nothing
    raw = db.engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("DELETE FROM payroll_delivery WHERE waybill LIKE 'WZZ-0002%'")  # its 10
        raw.commit()
    finally:
        raw.close()
    assert delivered(api, ZZ)[0] == 141  # not seen: served until the entry's age passes MAX_AGE
    saved = cache.max_age
    cache.max_age = 0.3  # the bound, shortened for the test
    try:
        time.sleep(0.4)
        assert delivered(api, ZZ)[0] == 131
    finally:
        cache.max_age = saved
    assert delivered(api, ZZ)[0] == 131
    # the same kind of write, with touch() in its transaction: seen at the next read
    with db.transaction(Scope.system_scope()) as s:
        raw_conn = s.connection().connection
        cur = raw_conn.cursor()
        cur.execute("DELETE FROM payroll_delivery WHERE waybill LIKE 'WZZ-W01%'")  # its 20
        metrics_cache.touch(s, "payroll")
    assert delivered(api, ZZ)[0] == 111


def test_answers_carry_as_of(september_events, make_token):
    value, as_of = delivered(make_token(ZZ, *SCOPES), ZZ)
    assert value == 141 and as_of.endswith("+00:00")


@pytest.mark.parametrize(
    "table, area",
    [
        ("payroll_delivery", "payroll"),
        ("core_org_unit", "core"),
        ("core_job", None),
        ("core_audit", None),
        ("unknown_table", None),
    ],
)
def test_tables_map_to_the_area_whose_kpis_they_change(po_app, table, area):
    assert cache_of(po_app).area_of(table) == area


def test_a_transaction_reads_its_own_writes_past_the_cache(september_events, pay, po_app, as_unit):
    """Metrics read inside the transaction that wrote (a job reporting what it just did)."""
    from postalops.metrics import collect
    from postalops_payroll.ingest import ingest

    registry = po_app.extensions["postalops.plugins"]

    def value(s) -> int:
        out = collect(registry, s, ZZ, SEPT_FROM, SEPT_TO, "payroll")
        return out["metrics"]["payroll"]["delivered_items"]["value"]

    with as_unit(ZZ) as s:
        assert value(s) == 141
        assert value(s) == 141
        ingest(
            s,
            "delivery",
            pay.delivery_rows("ZZ-0002", [("parcel", "door", "urban", 4)], prefix="TX"),
        )
        assert value(s) == 145  # this transaction's own rows, not the cached 141
        s.rollback()
    with as_unit(ZZ) as s:
        assert value(s) == 141  # and nothing of the rolled-back rows was kept


def overview_card(client, kpi: str) -> str:
    """The text of one KPI card of the overview page for Zhengzhou in September (the Dash
    callback the browser posts)."""
    payload = {
        "output": "po-page.children",
        "outputs": {"id": "po-page", "property": "children"},
        "inputs": [
            {"id": "po-url", "property": "pathname", "value": "/dashboards/"},
            {"id": "po-unit", "property": "value", "value": ZZ},
            {"id": "po-from", "property": "value", "value": "2022-09-01"},
            {"id": "po-to", "property": "value", "value": "2022-09-30"},
        ],
        "changedPropIds": ["po-url.pathname"],
        "state": [],
    }
    response = client.client.post(
        "/dashboards/_dash-update-component",
        data=json.dumps(payload),
        content_type="application/json",
    )
    assert response.status_code == 200

    def find(node):
        if isinstance(node, dict):
            props = node.get("props", {})
            if props.get("data-kpi") == kpi:
                return json.dumps(props.get("children"), ensure_ascii=False)
            for value in list(props.values()) + list(node.values()):
                found = find(value)
                if found:
                    return found
        if isinstance(node, list):
            for value in node:
                found = find(value)
                if found:
                    return found
        return None

    card = find(response.get_json())
    assert card is not None, f"no card {kpi}"
    return card


def test_the_overview_page_shows_a_posted_scan_at_its_next_render(
    september_events, make_token, pay, login_as
):
    viewer = login_as("payroll_hr", ZZ)
    before = overview_card(viewer, "payroll.delivered_items")
    assert "141" in before
    assert overview_card(viewer, "payroll.delivered_items") == before  # the cached page
    post_scans(make_token(ZZ, *SCOPES), pay, "DSH", 5)
    after = overview_card(viewer, "payroll.delivered_items")
    assert "146" in after and "141" not in after


def test_an_entry_past_half_its_life_is_refreshed_by_the_next_read(
    september_events, make_token, po_app
):
    """Refresh-ahead: the reader that finds an entry older than MAX_AGE / 2 recomputes it (so
    entries do not all expire under load at once); a younger entry is served as it is."""
    api = make_token(ZZ, *SCOPES)
    cache = cache_of(po_app)
    db = po_app.extensions["postalops.db"]
    saved = cache.max_age
    cache.max_age = 8.0
    try:
        assert delivered(api, ZZ)[0] == 141
        raw = db.engine.raw_connection()
        try:
            raw.cursor().execute("DELETE FROM payroll_delivery WHERE waybill LIKE 'WZZ-0002%'")
            raw.commit()
        finally:
            raw.close()
        assert delivered(api, ZZ)[0] == 141  # young: served
        time.sleep(4.1)
        assert delivered(api, ZZ)[0] == 131  # past half of its 8 s: refreshed by this read
    finally:
        cache.max_age = saved


def test_a_bulk_copy_of_a_plugins_rows_marks_its_metrics_changed(po_app, as_unit, tenants):
    """postalops.bulk inserts through the driver's own cursor on PostgreSQL (COPY): it marks the
    table's plugin changed itself, as any write through SQLAlchemy is."""
    cache = cache_of(po_app)
    with as_unit(ZZ) as s:
        assert "payroll" not in cache.written(s)
        metrics_cache.touch_tables(s, "payroll_delivery", "core_job")
        assert cache.written(s) == {"payroll"}
        s.rollback()
