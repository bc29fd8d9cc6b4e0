"""The call queue against the real database, with a controlled clock."""

import threading

import pytest
from postalops.errors import Conflict, ValidationError
from postalops.testing import count_rows
from postalops_outcall import rules, service
from postalops_outcall.models import OutcallAttempt, OutcallCase, OutcallOrder
from postalops_outcall.testing import ADDRESS, GZ, case_row, sh


def claim(hall, agent, now, unit=GZ):
    with hall(unit) as s:
        case = service.claim_next(s, unit, agent, now=now)
        return None if case is None else case.id


def outcome(hall, case_id, agent, what, now, unit=GZ, **kw):
    with hall(unit) as s:
        case, order = service.record_outcome(s, unit, case_id, agent, what, now=now, **kw)
        return case.status, order.waybill_no if order else None


def test_only_eligible_cases_enter_the_queue_and_each_stores_its_rules(intake, hall):
    report = intake(
        [
            case_row(1),
            case_row(2, applicant_type="enterprise"),
            case_row(3, service_item="营业执照", department="市市场监督管理局"),
        ]
    )
    assert [(r["status"], r["eligible"], r["failed_rules"]) for r in report["rows"]] == [
        ("created", True, []),
        ("created", False, ["personal_applicant"]),
        ("created", False, ["department_participates", "item_participates"]),
    ]
    with hall() as s:
        statuses = sorted(c.status for c in s.exec(service.select(OutcallCase)).all())
    assert statuses == ["ineligible", "ineligible", "queued"]


def test_a_case_is_claimed_once_and_comes_back_when_the_claim_expires(intake, hall):
    intake([case_row(1)])
    first = claim(hall, "a1", sh(17, 10))
    assert first is not None
    assert claim(hall, "a2", sh(17, 10, 5)) is None  # held by a1
    assert claim(hall, "a1", sh(17, 10, 5)) == first  # a1 gets its own claim back
    assert claim(hall, "a2", sh(17, 10, 10)) == first  # 10-minute claim expired at 10:10
    with pytest.raises(Conflict) as err:
        outcome(hall, first, "a1", "declined", sh(17, 10, 11))
    assert err.value.code == "not_claimed"


def test_an_outcome_after_the_claim_expired_is_refused_and_nothing_is_written(po_app, intake, hall):
    intake([case_row(1)])
    cid = claim(hall, "a1", sh(17, 10))
    with pytest.raises(Conflict) as err:
        outcome(hall, cid, "a1", "declined", sh(17, 10, 10))
    assert err.value.code == "claim_expired"
    assert count_rows(po_app, OutcallAttempt) == 0


def test_an_outcome_on_a_case_never_claimed_is_refused(po_app, intake, hall):
    intake([case_row(1)])
    with hall() as s:
        cid = s.exec(service.select(OutcallCase.id)).one()
    with pytest.raises(Conflict) as err:
        outcome(hall, cid, "a1", "busy", sh(17, 10))
    assert err.value.status == 409 and err.value.code == "not_claimed"
    assert count_rows(po_app, OutcallAttempt) == 0


def test_no_answer_comes_back_after_two_hours_and_three_attempts_exhaust_the_case(intake, hall):
    intake([case_row(1)])
    cid = claim(hall, "a1", sh(17, 10))
    assert outcome(hall, cid, "a1", "no_answer", sh(17, 10, 1)) == ("queued", None)
    assert claim(hall, "a2", sh(17, 12, 0)) is None  # due at 12:01
    assert claim(hall, "a2", sh(17, 12, 1)) == cid
    assert outcome(hall, cid, "a2", "busy", sh(17, 12, 2)) == ("queued", None)
    assert claim(hall, "a1", sh(17, 14, 2)) == cid
    assert outcome(hall, cid, "a1", "no_answer", sh(17, 14, 3)) == ("exhausted", None)
    assert claim(hall, "a1", sh(18, 10)) is None


def test_nothing_is_handed_out_outside_calling_hours(intake, hall):
    intake([case_row(1)])
    assert claim(hall, "a1", sh(17, 20, 0)) is None
    assert claim(hall, "a1", sh(18, 8, 59)) is None
    assert claim(hall, "a1", sh(18, 9, 0)) is not None


def test_a_callback_returns_at_its_time_to_the_same_agent_first(intake, hall):
    intake([case_row(1), case_row(2, approved_at="2022-08-17 11:00", ready_at="2022-08-17 11:00")])
    cid = claim(hall, "a1", sh(17, 10))
    outcome(hall, cid, "a1", "callback", sh(17, 10, 1), callback_at=sh(17, 15))
    other = claim(hall, "a2", sh(17, 15, 5))
    assert other is not None and other != cid  # a2 gets the other case, not a1's callback
    assert claim(hall, "a1", sh(17, 15, 6)) == cid  # a1's own callback comes first


def test_accepting_needs_a_district_and_then_creates_an_s10_order(po_app, intake, hall):
    from postalops_outcall.waybill import is_valid_waybill

    intake([case_row(1)])
    cid = claim(hall, "a1", sh(17, 10))
    with pytest.raises(ValidationError) as err:
        outcome(hall, cid, "a1", "accepted", sh(17, 10, 2), address={**ADDRESS, "district": ""})
    assert err.value.details[0]["field"] == "address.district"
    assert count_rows(po_app, OutcallAttempt) == 0 and count_rows(po_app, OutcallOrder) == 0
    status, waybill = outcome(hall, cid, "a1", "accepted", sh(17, 10, 3), address=ADDRESS)
    assert status == "converted" and is_valid_waybill(waybill) and waybill.startswith("RA")


def test_a_collected_at_window_update_takes_the_case_out_of_the_queue(intake, hall):
    intake([case_row(1)])
    report = intake([case_row(1, collected_at="2022-08-17 09:45")])
    assert report["rows"][0]["status"] == "closed"
    assert claim(hall, "a1", sh(17, 10)) is None


def test_cases_leave_the_queue_after_the_units_days(intake, hall):
    intake([case_row(1)])  # ready 17 Aug 09:30, 7 days in the queue
    assert claim(hall, "a1", sh(24, 9, 29)) is not None
    with hall() as s:
        s.exec(service.select(OutcallCase)).one().claimed_by = None
    assert claim(hall, "a2", sh(24, 9, 31)) is None


def test_two_agents_claiming_at_the_same_time_never_get_the_same_case(po_app, intake, hall):
    # one number per applicant: the daily cap per number (dnc.py) is not what this race tests
    intake([case_row(n, phone=f"138{n:08d}") for n in range(1, 41)])
    agents = [f"agent{i}" for i in range(8)]
    barrier = threading.Barrier(len(agents))
    got: dict[str, list[int]] = {a: [] for a in agents}
    errors: list[BaseException] = []

    def work(agent: str) -> None:
        try:
            barrier.wait()
            now = sh(17, 10)  # one shared instant: no claim can expire during the race
            for _ in range(5):
                cid = claim(hall, agent, now)
                if cid is not None:
                    got[agent].append(cid)
                    outcome(hall, cid, agent, "declined", now)
        except BaseException as exc:  # noqa: BLE001 - surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(a,)) for a in agents]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    claimed = [c for ids in got.values() for c in ids]
    assert len(claimed) == 40  # 8 agents × 5 rounds, each case once
    assert len(set(claimed)) == len(claimed)
    assert count_rows(po_app, OutcallAttempt) == 40


def test_the_same_new_case_twice_in_one_batch_is_created_once_then_updated(po_app, intake):
    report = intake([case_row(1), case_row(1, phone="13900001111")])
    assert [r["status"] for r in report["rows"]] == ["created", "updated"]
    assert count_rows(po_app, OutcallCase) == 1


def test_on_postgresql_a_claim_is_one_statement(po_app, intake, hall):
    """Issue 17 §5: on PostgreSQL the claim is one round trip (UPDATE … WHERE id = (SELECT …
    FOR UPDATE OF outcall_case SKIP LOCKED) RETURNING …, the do-not-call and daily-cap
    exclusions inside); an empty queue is answered by the same one statement."""
    import sqlalchemy as sa

    db = po_app.extensions["postalops.db"]
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite keeps its candidates + compare-and-set path")
    intake([case_row(1), case_row(2)])
    seen: list[str] = []

    def count(conn, cursor, statement, *args):
        seen.append(statement)

    with hall() as s:
        s.connection()  # the scope's SET statements are not the claim's
        # the unit's settings, read once as the demo's agents do
        policy = rules.policy_of(service.get_settings(s, GZ))
        sa.event.listen(db.engine, "before_cursor_execute", count)
        try:
            first = service.claim_next(s, GZ, "a1", now=sh(17, 10), policy=policy, resume=False)
            second = service.claim_next(s, GZ, "a2", now=sh(17, 10), policy=policy, resume=False)
            none = service.claim_next(s, GZ, "a3", now=sh(17, 10), policy=policy, resume=False)
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", count)
        # the two cases, oldest first (case_row 1 was approved first), then nothing: 3 claims,
        # 1 statement each
        assert (first.claimed_by, second.claimed_by, none) == ("a1", "a2", None)
        assert first.claim_expires_at == sh(17, 10, 10)  # the 10-minute claim
        assert first.case_no < second.case_no
    assert len(seen) == 3, seen
    assert all("FOR UPDATE OF outcall_case SKIP LOCKED" in q and "RETURNING" in q for q in seen)
