"""sorter_0003: each unit's alert webhook URL becomes a core endpoint taking sorter.* (issue 18 §5)."""

from __future__ import annotations

import json

import sqlalchemy as sa
from postalops import migrate


def test_sorter_0003_moves_the_webhook_urls_to_core_endpoints(po_app, empty_db):
    registry = po_app.extensions["postalops.plugins"]
    migrate.upgrade(empty_db, registry, target="sorter_0002")
    with empty_db.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO sorter_unit_setting (tenant_code, webhook_url) VALUES "
                "('cn.henan', 'https://ops.example/alerts'), ('cn.hebei', NULL)"
            )
        )
    migrate.upgrade(empty_db, registry)
    empty_db.engine.dispose()
    inspector = sa.inspect(empty_db.engine)
    assert "sorter_unit_setting" not in inspector.get_table_names()
    assert "notified_at" not in {c["name"] for c in inspector.get_columns("sorter_alert")}
    with empty_db.engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT unit_code, url, event_types, active FROM core_webhook_endpoint")
        ).all()
    assert [
        (u, url, json.loads(t) if isinstance(t, str) else t, bool(a)) for u, url, t, a in rows
    ] == [("cn.henan", "https://ops.example/alerts", ["sorter.*"], True)]
