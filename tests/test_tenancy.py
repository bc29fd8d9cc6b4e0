"""Tenant isolation: central scope on every ORM read/update/delete, refused writes outside the
scope, and on PostgreSQL row-level security for raw SQL."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from postalops.builtin.probe import JobProbe
from postalops.errors import ScopeError
from postalops.testing import count_rows
from sqlmodel import select

ZZ, KF = "cn.henan.zhengzhou", "cn.henan.kaifeng"


@pytest.fixture
def rows(as_unit):
    """Two probe rows in Zhengzhou (one at its station) and one in Kaifeng."""
    with as_unit(None) as s:
        s.add_all(
            [
                JobProbe(job_id="a", step=1, tenant_code=ZZ),
                JobProbe(job_id="a", step=2, tenant_code=ZZ + ".jinshui"),
                JobProbe(job_id="b", step=1, tenant_code=KF),
            ]
        )
        s.commit()


def test_city_user_lists_only_own_subtree(tenants, rows, as_unit):
    with as_unit(ZZ) as s:
        assert sorted(r.tenant_code for r in s.exec(select(JobProbe)).all()) == [
            ZZ,
            ZZ + ".jinshui",
        ]


def test_province_user_sees_both_cities(tenants, rows, as_unit):
    with as_unit("cn.henan") as s:
        assert len(s.exec(select(JobProbe)).all()) == 3


def test_other_province_sees_nothing(tenants, rows, as_unit):
    with as_unit("cn.hebei") as s:
        assert s.exec(select(JobProbe)).all() == []


def test_get_by_primary_key_outside_scope_returns_nothing(tenants, rows, as_unit):
    with as_unit(None) as s:
        kf_id = s.exec(select(JobProbe.id).where(JobProbe.tenant_code == KF)).one()
    with as_unit(ZZ) as s:
        assert s.get(JobProbe, kf_id) is None


def test_bulk_update_and_delete_touch_only_scope(tenants, rows, as_unit, po_app):
    with as_unit(ZZ) as s:
        s.execute(sa.update(JobProbe).values(job_id="moved"))
        s.execute(sa.delete(JobProbe).where(JobProbe.job_id == "b"))
        s.commit()
    with as_unit(None) as s:
        kf = s.exec(select(JobProbe).where(JobProbe.tenant_code == KF)).one()
        assert kf.job_id == "b"  # neither updated nor deleted
        assert [
            r.job_id for r in s.exec(select(JobProbe).where(JobProbe.tenant_code != KF)).all()
        ] == ["moved", "moved"]


def test_writing_a_row_into_another_city_is_refused(tenants, as_unit, po_app):
    before = count_rows(po_app, JobProbe)
    with as_unit(ZZ) as s:
        s.add(JobProbe(job_id="x", step=1, tenant_code=KF))
        with pytest.raises(ScopeError):
            s.commit()
        s.rollback()
    assert count_rows(po_app, JobProbe) == before


def test_moving_a_row_out_of_scope_is_refused(tenants, rows, as_unit):
    with as_unit(ZZ) as s:
        row = s.exec(select(JobProbe).where(JobProbe.tenant_code == ZZ)).one()
        row.tenant_code = KF
        s.add(row)
        with pytest.raises(ScopeError):
            s.commit()


def test_bulk_insert_outside_scope_is_refused(tenants, as_unit, po_app):
    with as_unit(ZZ) as s:
        with pytest.raises(ScopeError):
            s.execute(
                sa.insert(JobProbe),
                [
                    {"job_id": "y", "step": 1, "tenant_code": ZZ},
                    {"job_id": "y", "step": 2, "tenant_code": KF},
                ],
            )
    assert count_rows(po_app, JobProbe) == 0


def test_new_row_without_tenant_takes_the_callers_unit(tenants, as_unit):
    with as_unit(ZZ) as s:
        row = JobProbe(job_id="z", step=1)
        s.add(row)
        s.commit()
        assert row.tenant_code == ZZ


def test_session_without_scope_fails_closed(po_app, tenants):
    db = po_app.extensions["postalops.db"]
    with db.session(None) as s, pytest.raises(ScopeError):
        s.exec(select(JobProbe)).all()


def test_http_isolation_city_user_cannot_read_other_city_jobs(tenants, make_user, login, as_unit):
    from postalops.models import Job

    with as_unit(None) as s:
        s.add(Job(id="job-kf", kind="core.probe", tenant_code=KF, params={}))
        s.add(Job(id="job-zz", kind="core.probe", tenant_code=ZZ, params={}))
        s.commit()
    zz = login(make_user("zz_ops", ZZ, "ops"))
    page = zz.get("/api/v1/jobs").json
    assert [j["id"] for j in page["items"]] == ["job-zz"]
    assert page["total"] == 1  # the count is scoped too

    assert zz.get("/api/v1/jobs/job-kf").status_code == 404
    assert zz.post("/api/v1/jobs/job-kf/cancel").status_code == 404
    henan = login(make_user("hn_ops", "cn.henan", "ops"))
    assert sorted(j["id"] for j in henan.get("/api/v1/jobs").json["items"]) == ["job-kf", "job-zz"]


def test_query_tenant_outside_scope_is_forbidden(tenants, make_user, login):
    zz = login(make_user("zz_ops", ZZ, "ops"))
    resp = zz.get(f"/api/v1/metrics?tenant={KF}")
    assert resp.status_code == 403
    assert resp.json["error"]["details"][0]["field"] == "query.tenant"


def test_tree_shows_only_the_users_subtree(tenants, make_user, login):
    zz = login(make_user("zz_ops", ZZ, "ops"))
    codes = [u["code"] for u in zz.get("/api/v1/tree").json["items"]]
    assert codes == [ZZ, ZZ + ".jinshui"]


def test_tenant_switcher_cannot_leave_the_subtree(tenants, make_user, login):
    zz = login(make_user("zz_ops", ZZ, "ops"))
    zz.switch_unit("cn.henan")  # above: refused, stays at home unit
    assert zz.get("/api/v1/tree").json["active"] == ZZ
    zz.switch_unit(ZZ + ".jinshui")  # below: allowed
    assert zz.get("/api/v1/tree").json["active"] == ZZ + ".jinshui"


@pytest.mark.postgres
def test_row_level_security_filters_raw_sql(po_app, tenants, rows):
    db = po_app.extensions["postalops.db"]
    if not db.is_postgres:
        pytest.skip("row-level security is PostgreSQL only")
    from postalops.tenancy import Scope

    with db.session(Scope.unit(ZZ)) as s:
        # Raw SQL bypasses the ORM criteria entirely: only RLS stands in the way.
        tenants_seen = s.execute(sa.text("SELECT tenant_code FROM core_job_probe")).scalars().all()
        assert sorted(tenants_seen) == [ZZ, ZZ + ".jinshui"]
        with pytest.raises(sa.exc.ProgrammingError):
            s.execute(
                sa.text(
                    "INSERT INTO core_job_probe (job_id, step, tenant_code) VALUES ('raw', 1, :t)"
                ),
                {"t": KF},
            )
    with db.session(None) as s:  # no scope at all: RLS fails closed
        assert s.execute(sa.text("SELECT count(*) FROM core_job_probe")).scalar_one() == 0
    with db.session(Scope.unit(ZZ)) as s:  # the scope does not leak to the next transaction
        s.execute(sa.text("SELECT 1"))
        s.commit()
        setting = s.execute(sa.text("SELECT current_setting('postalops.scope', true)")).scalar()
        assert setting == ZZ  # re-applied for the new transaction, from this session's scope


def test_count_through_select_from_is_scoped(tenants, rows, as_unit):
    import sqlalchemy as sa

    with as_unit(ZZ) as s:
        assert s.exec(sa.select(sa.func.count()).select_from(JobProbe)).one()[0] == 2
    with as_unit("cn.hebei") as s:
        assert s.exec(sa.select(sa.func.count()).select_from(JobProbe)).one()[0] == 0


def test_subquery_and_join_are_scoped(tenants, rows, as_unit):
    import sqlalchemy as sa

    sub = sa.select(JobProbe.job_id).subquery()
    with as_unit(ZZ) as s:
        assert sorted(s.exec(sa.select(sub.c.job_id)).all()) == [("a",), ("a",)]


def test_a_statement_carries_criteria_only_for_the_tenant_tables_it_touches(tenants, rows, as_unit):
    """Issue 17 §1: the scope's cost must not grow with the number of installed plugins. A
    query on one tenant table gets one loader criterion, not one per tenant class of every
    plugin (62 with the six plugins); a join gets one per table joined, aliases included."""
    import sqlalchemy as sa
    from postalops.db import _tenant_classes
    from sqlalchemy import event
    from sqlalchemy.orm import Session
    from sqlalchemy.orm.util import LoaderCriteriaOption

    assert len(_tenant_classes()) > 10  # every installed plugin's tenant models are mapped
    seen: list[list[str]] = []

    def record(state):
        opts = [o for o in state.statement._with_options if isinstance(o, LoaderCriteriaOption)]
        seen.append(sorted(o.entity.class_.__name__ for o in opts))

    # registered after the scope listener, so it sees the statement the scope built
    event.listen(Session, "do_orm_execute", record)
    try:
        with as_unit(ZZ) as s:
            assert len(s.exec(select(JobProbe)).all()) == 2
            other = sa.orm.aliased(JobProbe)
            joined = select(JobProbe.job_id).join(other, other.job_id == JobProbe.job_id)
            assert len(s.exec(joined).all()) == 4  # a×a pairs in Zhengzhou, Kaifeng left out
    finally:
        event.remove(Session, "do_orm_execute", record)
    assert seen == [["JobProbe"], ["JobProbe"]]
