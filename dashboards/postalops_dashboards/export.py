"""CSV of the metrics contract for the viewer's unit and period (``/dashboards/export/...``)."""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import Blueprint, Response, current_app
from postalops import context
from postalops.api import query_period, query_tenant
from postalops.auth import check_permission
from postalops.metrics import collect

from .host import can_view

bp = Blueprint("dashboards_export", __name__, url_prefix="/dashboards/export")


@bp.route("/metrics.csv")
def metrics_csv() -> Any:
    """Every KPI of every enabled plugin the caller may view, as rows (plugin, kpi, value,
    unit, labels)."""
    check_permission("core.metrics.read")
    tenant = query_tenant()
    frm, to = query_period()
    registry = current_app.extensions["postalops.plugins"]
    data = collect(registry, context.session(), tenant, frm, to)
    data["metrics"] = {k: v for k, v in data["metrics"].items() if can_view(registry, k)}
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["tenant", "from", "to", "plugin", "kpi", "value", "unit", "label_zh", "label_en"])
    for plugin, kpis in data["metrics"].items():
        for name, k in kpis.items():
            w.writerow(
                [
                    tenant,
                    data["from"],
                    data["to"],
                    plugin,
                    name,
                    k["value"],
                    k["unit"],
                    k["label_zh"],
                    k["label_en"],
                ]
            )
    return Response(
        "\ufeff" + buf.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename=metrics-{tenant}-{frm}-{to}.csv"},
    )
