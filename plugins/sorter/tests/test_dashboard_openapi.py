"""The dashboard page draws from the metrics contract and the unit table; the API is documented."""

import datetime as dt


def test_dashboard_page_renders_kpis_and_charts(po_app, make_device, tel, as_unit):
    from postalops_dashboards import ViewContext
    from postalops_dashboards.figures import figures_of, raw_titles
    from postalops_sorter.dashboards import overview

    device_id, client = make_device()
    tel.post(
        client,
        device_id,
        [
            tel.state(0, tel.at(8, 0), "running"),
            tel.item(1, tel.at(8, 1)),
            tel.state(2, tel.at(8, 2), "idle"),
        ],
    )
    tel.rollup()
    with po_app.test_request_context(), as_unit("cn.henan") as s:
        ctx = ViewContext(
            tenant="cn.henan",
            date_from=tel.day,
            date_to=tel.day,
            session=s,
            zh=True,
            registry=po_app.extensions["postalops.plugins"],
        )
        page = overview(ctx)
    charts = dict(figures_of(page))
    assert {n: raw_titles(f) for n, f in charts.items() if raw_titles(f)} == {}
    units = charts["sorter-units"]
    assert not any(str(x).startswith("cn.") for x in units.data[0].x)  # units by name
    # the loss Pareto (issue 20): reasons and losses in Chinese, never a snake_case code
    pareto = charts["sorter-pareto"]
    names = [str(x) for trace in pareto.data for x in trace.x]
    assert "速度降低损失" in names and not any("_" in n for n in names)
    text = str(page)
    assert (
        "sorter.items_per_running_hour" in text
        and "sorter-units" in text
        and "sorter-daily" in text
    )


def test_dashboard_page_is_registered(po_app):
    pages = po_app.extensions.get("postalops.dash_pages", [])
    assert ("sorter", "sorter") in [(key, p.path) for key, p in pages]


def test_every_sorter_operation_is_in_the_openapi_document(po_app, tenants, make_token):
    doc = make_token("cn", "sorter.view").get("/api/v1/openapi.json").get_json()
    paths = {p for p in doc["paths"] if p.startswith("/api/v1/sorter/")}
    assert {
        "/api/v1/sorter/devices/{device_id}/events",
        "/api/v1/sorter/devices",
        "/api/v1/sorter/alerts",
        "/api/v1/sorter/devices/{device_id}/live",
        "/api/v1/sorter/waves",
    } <= paths
    ingest = doc["paths"]["/api/v1/sorter/devices/{device_id}/events"]["post"]
    assert ingest["x-permission"] == "sorter.ingest" and "requestBody" in ingest


def test_metrics_follow_the_contract(po_app, tenants, make_token):
    day = dt.date(2020, 10, 1)
    resp = make_token("cn", "core.metrics.read").get(
        f"/api/v1/metrics?tenant=cn.henan&from={day}&to={day}&plugin=sorter"
    )
    kpis = resp.get_json()["metrics"]["sorter"]
    assert set(kpis) == readme_kpis()
    assert {
        "stations_with_sorters",
        "departure_advance_minutes",
        "calendar_availability",
        "shift_oee",
        "loss_breakdown_minutes",
        "alerts_escalated",
        "maintenance_minutes",
    } <= set(kpis)
    # the README's unit column is the contract's unit
    assert {k: v["unit"] for k, v in kpis.items()} == readme_kpi_units()
    assert kpis["oee"]["unit"] == "ratio" and kpis["oee"]["value"] is None  # no data: no figure
    assert all(k["label_zh"] and k["label_en"] for k in kpis.values())


README = __import__("pathlib").Path(__file__).resolve().parents[1] / "README.md"


def _kpi_table() -> list[list[str]]:
    text = README.read_text(encoding="utf-8").split("## KPIs (metrics contract)")[1]
    text = text.split("\n## ")[0]
    rows = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| `") and len(cells) >= 5:
            rows.append(cells)
    return rows


def readme_kpis() -> set[str]:
    """The KPI keys of the README's table (first column, in backticks)."""
    return {cells[0].strip("`") for cells in _kpi_table()}


def readme_kpi_units() -> dict[str, str]:
    return {cells[0].strip("`"): cells[-1] for cells in _kpi_table()}
