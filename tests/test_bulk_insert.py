"""postalops.bulk.insert_rows: many rows in a few statements (COPY on PostgreSQL), under the
same tenant checks as any write: every row's unit against the scope, and on PostgreSQL the
row-level security policy on the one INSERT ... SELECT (issue 17 §5)."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from postalops.builtin.probe import JobProbe
from postalops.bulk import insert_rows
from postalops.errors import ScopeError
from postalops.models import AuditRecord
from postalops.testing import count_rows
from sqlmodel import select

ZZ, KF = "cn.henan.zhengzhou", "cn.henan.kaifeng"
AT = dt.datetime(2022, 9, 1, 2, 30, tzinfo=dt.UTC)


def test_rows_are_written_with_their_types_and_counted(tenants, as_unit, po_app):
    rows = [
        {
            "tenant_code": ZZ if n % 2 else ZZ + ".jinshui",
            "at": AT + dt.timedelta(minutes=n),
            "actor": f"u{n}",
            "action": "bulk.test",
            "target_type": "probe",
            "target_id": str(n),
            "before": None,
            "after": {"n": n, "名": "郑州"},
        }
        for n in range(1, 7_001)  # more than one COPY / executemany chunk
    ]
    with as_unit(ZZ) as s:
        assert insert_rows(s, AuditRecord, rows) == 7_000
        s.commit()
    assert count_rows(po_app, AuditRecord) == 7_000
    with as_unit(None) as s:
        last = s.exec(select(AuditRecord).where(AuditRecord.target_id == "7000")).one()
    assert last.at == AT + dt.timedelta(minutes=7_000)  # aware, UTC on both backends
    assert last.after == {"n": 7_000, "名": "郑州"}
    assert last.before is None and last.tenant_code == ZZ + ".jinshui"


def test_a_row_outside_the_scope_refuses_the_batch_naming_it(tenants, as_unit, po_app):
    rows = [{"tenant_code": ZZ, "job_id": "a", "step": n} for n in range(5)]
    rows[3]["tenant_code"] = KF
    with as_unit(ZZ) as s:
        with pytest.raises(ScopeError) as refused:
            insert_rows(s, JobProbe, rows)
        s.rollback()
    assert refused.value.details == [{"row": 3, "field": "tenant_code", "message": "outside scope"}]
    assert count_rows(po_app, JobProbe) == 0


def test_a_replayed_batch_inserts_only_the_new_rows_and_returns_them(tenants, as_unit, po_app):
    first = [{"tenant_code": ZZ, "job_id": "a", "step": n} for n in range(3)]
    with as_unit(ZZ) as s:
        assert insert_rows(s, JobProbe, first) == 3
        s.commit()
        replay = [*first, {"tenant_code": ZZ, "job_id": "a", "step": 3}]
        added = insert_rows(
            s, JobProbe, replay, on_conflict_do_nothing=True, returning=("job_id", "step")
        )
        s.commit()
    assert [tuple(r) for r in added] == [("a", 3)]
    assert count_rows(po_app, JobProbe) == 4


def test_several_batches_in_one_transaction_and_a_rollback_leave_nothing_behind(
    tenants, as_unit, po_app
):
    with as_unit(None) as s:
        insert_rows(s, JobProbe, [{"tenant_code": KF, "job_id": "b", "step": 1}])
        insert_rows(s, JobProbe, [{"tenant_code": KF, "job_id": "b", "step": 2}])
        s.rollback()
        assert s.execute(sa.select(sa.func.count()).select_from(JobProbe)).scalar() == 0
        insert_rows(s, JobProbe, [{"tenant_code": KF, "job_id": "c", "step": 1}])
        insert_rows(s, JobProbe, [{"tenant_code": KF, "job_id": "c", "step": 2}])
        s.commit()
    assert count_rows(po_app, JobProbe) == 2


def test_the_bulk_writer_stores_what_the_orm_stores(tenants, as_unit, po_app):
    """Values go through the columns' own conversions (issue 17 §4: on SQLite without Core's
    per-row dictionaries, times in one step): the same values written by the ORM and by
    insert_rows are stored alike: times as the same text in the database, JSON read back the
    same."""
    shanghai = dt.timezone(dt.timedelta(hours=8))
    times = [
        dt.datetime(2022, 9, 1, 10, 30, tzinfo=shanghai),
        dt.datetime(2022, 9, 1, 2, 30, 0, 123456, tzinfo=dt.UTC),
        dt.datetime(2022, 12, 31, 23, 59, 59, 999999, tzinfo=dt.timezone(-dt.timedelta(hours=5))),
    ]
    values = [
        {"at": at, "after": after}
        for at in times
        for after in ({"n": 1}, None, {"名": "郑州", "x": [1, 2.5]})
    ]
    common = {"tenant_code": ZZ, "action": "a", "target_type": "t"}
    with as_unit(ZZ) as s:
        for n, v in enumerate(values):
            s.add(AuditRecord(actor="orm", target_id=str(n), **common, **v))
        s.flush()
        rows = [{**common, "actor": "bulk", "target_id": str(n), **v} for n, v in enumerate(values)]
        insert_rows(s, AuditRecord, rows)
        s.commit()
    text = sa.text("SELECT actor, target_id, CAST(at AS TEXT) FROM core_audit ORDER BY actor, id")
    with po_app.extensions["postalops.db"].engine.connect() as conn:
        stored = conn.execute(text).all()
    assert [r[1:] for r in stored if r[0] == "bulk"] == [r[1:] for r in stored if r[0] == "orm"]
    with as_unit(None) as s:
        read = s.exec(select(AuditRecord).order_by(AuditRecord.actor, AuditRecord.id)).all()
    by_actor = {
        actor: [(r.target_id, r.at, r.after) for r in read if r.actor == actor]
        for actor in ("orm", "bulk")
    }
    assert len(by_actor["orm"]) == len(values) and by_actor["bulk"] == by_actor["orm"]
