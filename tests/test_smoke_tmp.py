from postalops.models import AuditRecord
from sqlmodel import select


def test_login_and_scope(po_app, make_user, login, as_unit):
    u = make_user("zz", "cn.henan.zhengzhou", "admin")
    c = login(u)
    r = c.get("/")
    assert r.status_code == 200, r.get_data(as_text=True)
    r = c.get("/api/v1/tree")
    assert r.status_code == 200, r.json
    assert [i["code"] for i in r.json["items"]] == [
        "cn.henan.zhengzhou",
        "cn.henan.zhengzhou.jinshui",
    ]
    with as_unit("cn.henan.kaifeng") as s:
        s.add(AuditRecord(actor="x", action="a", target_type="t", target_id="1"))
        s.commit()
    with as_unit("cn.henan.zhengzhou") as s:
        assert s.exec(select(AuditRecord)).all() == []
    with as_unit("cn.henan") as s:
        assert len(s.exec(select(AuditRecord)).all()) == 1
    r = c.get("/api/v1/openapi.json")
    assert r.status_code == 200
    r = c.post("/api/v1/jobs/probe", json={"steps": 3, "delay_ms": 0})
    assert r.status_code == 202, r.json


def test_job_runs(po_app, make_user, login, workers):
    from postalops.jobs import wait_for

    u = make_user("zz", "cn.henan.zhengzhou", "ops")
    c = login(u)
    r = c.post("/api/v1/jobs/probe", json={"steps": 3, "delay_ms": 10})
    assert r.status_code == 202, r.json
    job = wait_for(po_app.extensions["postalops.db"], r.json["id"], timeout=10)
    assert job.status == "succeeded", job.error
    assert (job.done, job.total) == (3, 3)
