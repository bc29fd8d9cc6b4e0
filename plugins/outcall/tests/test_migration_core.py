"""outcall_0002: the settings rows and the platform URL move to the core (issue 18 §5, §6)."""

from __future__ import annotations

import json

import sqlalchemy as sa
from postalops import migrate


def test_outcall_0002_moves_settings_and_webhook_url_to_the_core(po_app, empty_db):
    registry = po_app.extensions["postalops.plugins"]
    migrate.upgrade(empty_db, registry, target="outcall_0001")
    with empty_db.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO outcall_settings (tenant_code, retry_delay_minutes, max_attempts, "
                "claim_minutes, calling_start, calling_end, timezone, queue_days, "
                "callback_hold_minutes, webhook_url, waybill_prefix, updated_at) VALUES "
                "('cn.guangdong.guangzhou', 60, 5, 10, '08:30', '20:00', 'Asia/Shanghai', 7, 30, "
                "'https://gov.example/notify', 'RB', CURRENT_TIMESTAMP)"
            )
        )
    migrate.upgrade(empty_db, registry)
    empty_db.engine.dispose()
    tables = sa.inspect(empty_db.engine).get_table_names()
    assert not {"outcall_settings", "outcall_notification", "outcall_notification_attempt"} & set(
        tables
    )
    with empty_db.engine.connect() as conn:
        (unit, key, values) = conn.execute(
            sa.text('SELECT unit_code, plugin_key, "values" FROM core_plugin_setting')
        ).one()
        (ep_unit, url, types, secret) = conn.execute(
            sa.text("SELECT unit_code, url, event_types, secret FROM core_webhook_endpoint")
        ).one()
    values = json.loads(values) if isinstance(values, str) else values
    assert (unit, key) == ("cn.guangdong.guangzhou", "outcall")
    assert values["max_attempts"] == 5 and values["calling_start"] == "08:30"
    assert values["waybill_prefix"] == "RB" and "webhook_url" not in values
    assert (ep_unit, url) == ("cn.guangdong.guangzhou", "https://gov.example/notify")
    assert (json.loads(types) if isinstance(types, str) else types) == ["outcall.*"]
    assert secret.startswith("whsec_")
