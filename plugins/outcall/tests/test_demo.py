"""The demo hook reproduces DOMAIN.md §1 through the real queue, and a re-run adds nothing."""

import datetime as dt

from postalops.models import OrgUnit
from postalops.tenancy import Scope
from postalops.testing import count_rows, default_metrics
from postalops_outcall.call_policy import CaseStatus
from postalops_outcall.demo import build_demo
from postalops_outcall.metrics import outcall_metrics
from postalops_outcall.models import (
    OutcallAgentState,
    OutcallAttempt,
    OutcallCase,
    OutcallDisposition,
    OutcallDoNotCall,
    OutcallOrder,
)
from postalops_outcall.testing import GZ, LF
from sqlmodel import select


def test_guangzhou_fortnight_and_linfen_certificates(po_app, units, frozen_today):
    """The article's fortnight, then the rolling present up to a frozen today: the default
    period has calls and orders, today's queue is not empty, a same-day re-run adds nothing and
    a next-day run only adds the new day, leaving the article's figures as they were."""
    db = po_app.extensions["postalops.db"]
    steps = []
    with db.transaction(Scope.system_scope()) as s:
        unit_rows = {u.code: u for u in s.exec(select(OrgUnit)).all()}
        build_demo(s, unit_rows, lambda done, total, msg: steps.append(msg))
    assert steps  # progress was reported
    from postalops_outcall.dashboards import agent_names

    with db.transaction(Scope.system_scope()) as s:  # the story's agents are named people
        assert agent_names(s, ["user:gz_agent_01", "user:gz_agent_04"]) == ["陈晓燕", "梁家豪"]
    with db.transaction(Scope.system_scope()) as s:
        kpis = outcall_metrics(s, GZ, dt.date(2022, 8, 17), dt.date(2022, 8, 31))
        linfen = s.exec(
            select(OutcallOrder).where(
                OutcallOrder.tenant_code == LF,
                OutcallOrder.created_at < dt.datetime(2022, 9, 10, tzinfo=dt.UTC),
            )
        ).all()
    assert abs(kpis["calls"]["value"] - 2500) <= 50, kpis["calls"]  # within 2 %
    assert abs(float(kpis["success_rate"]["value"]) - 0.54) <= 0.01, kpis["success_rate"]
    assert (kpis["departments"]["value"], kpis["service_items"]["value"]) == (7, 22)
    assert len(linfen) == 1785 and {o.item for o in linfen} == {"教师资格证"}
    assert all(dt.date(2022, 8, 22) <= o.created_at.date() <= dt.date(2022, 9, 9) for o in linfen)

    gz_now = default_metrics(po_app, GZ, "outcall")
    assert gz_now["calls"] > 500 and 0.3 < float(gz_now["success_rate"]) < 0.8, gz_now
    assert default_metrics(po_app, LF, "outcall") != {}
    now = dt.datetime.combine(frozen_today.day, dt.time(10, 30), dt.UTC)
    with db.transaction(Scope.system_scope()) as s:
        waiting = s.exec(
            select(OutcallCase).where(
                OutcallCase.tenant_code == GZ,
                OutcallCase.status == CaseStatus.QUEUED.value,
                OutcallCase.deadline > now,
            )
        ).all()
        recent_orders = s.exec(
            select(OutcallOrder).where(
                OutcallOrder.tenant_code == LF,
                OutcallOrder.created_at >= now - dt.timedelta(days=30),
            )
        ).all()
    assert any(c.next_call_at <= now for c in waiting)  # an agent finds a case this morning
    assert len(recent_orders) > 100

    # issue 20 §2: every attempt has call times and a disposition, a few numbers are on the
    # do-not-call list, and the four agents are available, on a call, in wrap-up and paused.
    def issue20():
        with db.transaction(Scope.system_scope()) as s:
            attempts = s.exec(select(OutcallAttempt).where(OutcallAttempt.tenant_code == GZ)).all()
            untimed = [a.id for a in attempts if a.started_at is None or a.disposition is None]
            states = sorted(
                (x.state, x.pause_code or "")
                for x in s.exec(
                    select(OutcallAgentState).where(OutcallAgentState.tenant_code == GZ)
                ).all()
            )
            listed = len(s.exec(select(OutcallDoNotCall)).all())
            kinds = len(s.exec(select(OutcallDisposition)).all())
        return untimed, states, listed, kinds

    untimed, states, listed, kinds = issue20()
    assert untimed == []
    assert states == [("available", ""), ("on_call", ""), ("paused", "meal"), ("wrap_up", "")]
    assert listed == 6 and kinds == 8
    with db.transaction(Scope.system_scope()) as s:
        aug = outcall_metrics(s, GZ, dt.date(2022, 8, 17), dt.date(2022, 8, 31))
    # talk 45-224 s or ringing 20-44 s, plus wrap-up 15-74 s
    assert 35 <= float(aug["average_handle_seconds"]["value"]) <= 298
    assert {k: aug[k] for k in kpis} == kpis  # the article's figures are untouched

    def rerun():
        with db.transaction(Scope.system_scope()) as s:
            build_demo(s, {u.code: u for u in s.exec(select(OrgUnit)).all()}, lambda *a: None)

    before = {m: count_rows(po_app, m) for m in (OutcallCase, OutcallAttempt, OutcallOrder)}
    rerun()
    assert {m: count_rows(po_app, m) for m in before} == before
    assert issue20() == (untimed, states, listed, kinds)

    frozen_today.set(frozen_today.day + dt.timedelta(days=1))  # a Thursday
    rerun()
    after = {m: count_rows(po_app, m) for m in before}
    assert all(after[m] > before[m] for m in before), (before, after)
    assert issue20()[0] == []  # the new day's calls have times too
    with db.transaction(Scope.system_scope()) as s:
        again = outcall_metrics(s, GZ, dt.date(2022, 8, 17), dt.date(2022, 8, 31))
    assert again == kpis
