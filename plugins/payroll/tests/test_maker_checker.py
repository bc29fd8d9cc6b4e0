"""Maker-checker (issue 15 §3): whoever ran a month's last draft does not approve it.

A per-unit setting, on by default; a unit inherits the nearest setting above it.
"""

from __future__ import annotations

from postalops.jobs import wait_for
from postalops_payroll.models import PayrollRun
from postalops_payroll.payroll_run import run_payroll
from postalops_payroll.period import Month
from sqlmodel import select

ZZ, KF = "cn.henan.zhengzhou", "cn.henan.kaifeng"
SEP = Month(2022, 9)
HR = (
    "payroll.view",
    "payroll.run",
    "payroll.approve",
    "core.jobs.view",
)


def _run(api, po_app, unit: str = ZZ) -> None:
    started = api.post("/api/v1/payroll/runs", json={"unit": unit, "month": "2022-09"})
    assert started.status_code == 202, started.get_json()
    job = wait_for(po_app.extensions["postalops.db"], started.get_json()["job_id"], timeout=60)
    assert job.status == "succeeded", job.error


def _status(as_unit, unit: str = ZZ) -> str:
    with as_unit(unit) as s:
        return s.exec(select(PayrollRun.status).where(PayrollRun.tenant_code == unit)).one()


def test_who_ran_the_draft_cannot_approve_it(
    september_events, make_token, workers, po_app, as_unit
):
    maker = make_token(ZZ, *HR)
    _run(maker, po_app)
    refused = maker.post("/api/v1/payroll/runs/approve", json={"unit": ZZ, "month": "2022-09"})
    assert refused.status_code == 403
    error = refused.get_json()["error"]
    assert error["code"] == "maker_cannot_check"
    assert "maker-checker" in error["message"]
    assert error["details"][0]["field"] == "approver"
    assert _status(as_unit) == "draft"
    checker = make_token(ZZ, *HR)
    approved = checker.post("/api/v1/payroll/runs/approve", json={"unit": ZZ, "month": "2022-09"})
    assert approved.status_code == 200 and approved.get_json()["status"] == "approved"


def test_the_last_draft_counts(september_events, make_token, workers, po_app, as_unit):
    first, second = make_token(ZZ, *HR), make_token(ZZ, *HR)
    _run(first, po_app)
    _run(second, po_app)  # the draft is re-run: now `second` is its maker
    body = {"unit": ZZ, "month": "2022-09"}
    assert second.post("/api/v1/payroll/runs/approve", json=body).status_code == 403
    assert first.post("/api/v1/payroll/runs/approve", json=body).status_code == 200


def test_the_portal_says_why(september_events, make_user, login, as_unit):
    user = make_user("hr_zz", ZZ, "payroll_hr")
    with as_unit(ZZ) as s:
        run = run_payroll(s, ZZ, SEP, f"user:{user.username}")
        s.commit()
        run_id = run.id
    portal = login(user)
    resp = portal.post(f"/p/payroll/runs/{run_id}/approve", data={"csrf_token": portal.csrf})
    assert resp.status_code == 302
    page = portal.get(resp.headers["Location"]).get_data(as_text=True)
    assert "审核人不能是本月最后一次核算的执行人" in page
    assert _status(as_unit) == "draft"


def test_the_setting_is_per_unit_inherited_and_audited(
    september_events, make_token, make_user, login, workers, po_app, as_unit
):
    hr = make_token(ZZ, *HR)
    settings = hr.get("/api/v1/payroll/settings").get_json()
    assert settings == {"unit": ZZ, "maker_checker": True, "set_at": None}
    assert hr.put("/api/v1/payroll/settings", json={"maker_checker": False}).status_code == 403
    admin = login(make_user("root", "cn", "admin"))
    off = admin.put("/api/v1/payroll/settings", json={"unit": "cn.henan", "maker_checker": False})
    assert off.status_code == 200, off.get_json()
    assert hr.get("/api/v1/payroll/settings").get_json() == {
        "unit": ZZ,
        "maker_checker": False,
        "set_at": "cn.henan",
    }
    _run(hr, po_app)
    body = {"unit": ZZ, "month": "2022-09"}
    assert hr.post("/api/v1/payroll/runs/approve", json=body).status_code == 200
    # a nearer unit's setting wins: Kaifeng turns it back on for itself
    on = admin.put("/api/v1/payroll/settings", json={"unit": KF, "maker_checker": True})
    assert on.status_code == 200
    kf = make_token(KF, *HR)
    assert kf.get("/api/v1/payroll/settings").get_json()["maker_checker"] is True
    _run(kf, po_app, KF)
    refused = kf.post("/api/v1/payroll/runs/approve", json={"unit": KF, "month": "2022-09"})
    assert refused.status_code == 403
    bad = admin.put("/api/v1/payroll/settings", json={"unit": "cn.nowhere", "maker_checker": True})
    assert bad.status_code == 422
    audit = admin.get("/api/v1/audit?action=core.settings.save").get_json()["items"]
    assert sorted(a["target_id"] for a in audit) == ["payroll@cn.henan", f"payroll@{KF}"]
    # the same controls on the core's settings API (payroll_0006 moved them there)
    core = admin.get(f"/api/v1/settings/payroll?unit={ZZ}").get_json()
    assert (
        core["values"] == {"maker_checker": False} and core["source"]["maker_checker"] == "cn.henan"
    )


def test_migration_payroll_0004_up_and_down(po_app, empty_db):
    import sqlalchemy as sa
    from alembic import command
    from postalops import migrate

    registry = po_app.extensions["postalops.plugins"]
    migrate.upgrade(empty_db, registry, target="payroll_0004")
    assert "payroll_setting" in sa.inspect(empty_db.engine).get_table_names()
    with empty_db.engine.begin() as conn:
        command.downgrade(migrate.alembic_config(registry, conn), "payroll_0003")
    empty_db.engine.dispose()
    assert "payroll_setting" not in sa.inspect(empty_db.engine).get_table_names()
    migrate.upgrade(empty_db, registry)
    assert migrate.pending(empty_db, registry) == []


def test_migration_payroll_0006_moves_the_controls_to_the_core_settings(po_app, empty_db):
    import json

    import sqlalchemy as sa
    from postalops import migrate

    registry = po_app.extensions["postalops.plugins"]
    migrate.upgrade(empty_db, registry, target="payroll_0005")
    with empty_db.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO payroll_setting (tenant_code, maker_checker, changed_by, changed_at) "
                "VALUES ('cn.henan', false, 'hr', CURRENT_TIMESTAMP)"
            )
        )
    migrate.upgrade(empty_db, registry)
    empty_db.engine.dispose()
    assert "payroll_setting" not in sa.inspect(empty_db.engine).get_table_names()
    with empty_db.engine.connect() as conn:
        rows = conn.execute(
            sa.text('SELECT unit_code, plugin_key, "values" FROM core_plugin_setting')
        ).all()
    assert [(u, k, json.loads(v) if isinstance(v, str) else v) for u, k, v in rows] == [
        ("cn.henan", "payroll", {"maker_checker": False})
    ]
