"""The demo hook reproduces DOMAIN.md §1 through the real queue, and a re-run adds nothing."""

import datetime as dt

from postalops.models import OrgUnit
from postalops.tenancy import Scope
from postalops.testing import count_rows
from postalops_outcall.demo import build_demo
from postalops_outcall.metrics import outcall_metrics
from postalops_outcall.models import OutcallAttempt, OutcallCase, OutcallOrder
from postalops_outcall.testing import GZ, LF
from sqlmodel import select


def test_guangzhou_fortnight_and_linfen_certificates(po_app, units):
    db = po_app.extensions["postalops.db"]
    steps = []
    with db.transaction(Scope.system_scope()) as s:
        unit_rows = {u.code: u for u in s.exec(select(OrgUnit)).all()}
        build_demo(s, unit_rows, lambda done, total, msg: steps.append(msg))
    assert steps  # progress was reported
    with db.transaction(Scope.system_scope()) as s:
        kpis = outcall_metrics(s, GZ, dt.date(2022, 8, 17), dt.date(2022, 8, 31))
        linfen = s.exec(select(OutcallOrder).where(OutcallOrder.tenant_code == LF)).all()
    assert abs(kpis["calls"]["value"] - 2500) <= 50, kpis["calls"]  # within 2 %
    assert abs(float(kpis["success_rate"]["value"]) - 0.54) <= 0.01, kpis["success_rate"]
    assert (kpis["departments"]["value"], kpis["service_items"]["value"]) == (7, 22)
    assert len(linfen) == 1785 and {o.item for o in linfen} == {"教师资格证"}
    assert all(dt.date(2022, 8, 22) <= o.created_at.date() <= dt.date(2022, 9, 9) for o in linfen)

    before = {m: count_rows(po_app, m) for m in (OutcallCase, OutcallAttempt, OutcallOrder)}
    with db.transaction(Scope.system_scope()) as s:
        build_demo(s, {u.code: u for u in s.exec(select(OrgUnit)).all()}, lambda *a: None)
    assert {m: count_rows(po_app, m) for m in before} == before
