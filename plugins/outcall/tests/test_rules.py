"""service.py's pure rules (rules.py), called without a session or a database."""

import datetime as dt

import pytest
from postalops.errors import Conflict, ValidationError
from postalops_outcall import rules
from postalops_outcall.call_policy import Outcome
from postalops_outcall.eligibility import CatalogueEntry
from postalops_outcall.intake import IntakeAction
from postalops_outcall.settings import OutcallSettings

UTC = dt.UTC


def test_policy_of_the_default_settings():
    policy = rules.policy_of(OutcallSettings())
    # defaults: 2 h retry delay, 3 attempts (README: queue rules in one place)
    assert policy.retry_delay == dt.timedelta(hours=2)
    assert policy.max_attempts == 3


def test_period_bounds_are_shanghai_midnights_in_utc():
    # 1 August 00:00 +08:00 = 31 July 16:00 UTC; the day after 31 August, 00:00 +08:00 =
    # 31 August 16:00 UTC
    assert rules.period_bounds(dt.date(2022, 8, 1), dt.date(2022, 8, 31)) == (
        dt.datetime(2022, 7, 31, 16, tzinfo=UTC),
        dt.datetime(2022, 8, 31, 16, tzinfo=UTC),
    )


def test_a_catalogue_entry_is_read_stripped_with_participating_by_default():
    assert rules.read_catalogue_entry({"department": " 公安局 ", "item": "护照 "}) == (
        "公安局",
        "护照",
        True,
        None,
    )
    assert rules.read_catalogue_entry(CatalogueEntry("公安局", "护照", False)) == (
        "公安局",
        "护照",
        False,
        None,
    )


def test_claim_checks_name_the_local_day_of_collection_then_the_claim():
    now = dt.datetime(2022, 8, 3, 2, tzinfo=UTC)
    # collected 2 August 17:00 UTC = 3 August 01:00 in Guangzhou
    with pytest.raises(Conflict) as exc:
        rules.check_claim(dt.datetime(2022, 8, 2, 17, tzinfo=UTC), "a1", None, "a1", now)
    assert exc.value.code == "collected_at_window"
    assert "2022-08-03" in exc.value.message
    with pytest.raises(Conflict) as exc:
        rules.check_claim(None, "a2", now + dt.timedelta(minutes=5), "a1", now)
    assert exc.value.code == "not_claimed"
    with pytest.raises(Conflict) as exc:
        rules.check_claim(None, "a1", now, "a1", now)  # expires at now: expired
    assert exc.value.code == "claim_expired"
    rules.check_claim(None, "a1", now + dt.timedelta(seconds=1), "a1", now)


def test_an_outcome_is_one_of_six_and_only_an_accepted_call_takes_an_address():
    assert rules.read_outcome("busy") is Outcome.BUSY
    with pytest.raises(ValidationError) as exc:
        rules.read_outcome("hung_up")
    assert exc.value.code == "invalid_outcome"
    assert rules.delivery_address(Outcome.DECLINED, None) is None
    with pytest.raises(ValidationError) as exc:
        rules.delivery_address(Outcome.ACCEPTED, None)
    assert exc.value.details == [{"field": "address", "message": "required"}]


def test_the_intake_report_counts_rows_per_action():
    class R:
        def __init__(self, no):
            self.case_no = no

    plans = [
        (2, IntakeAction.CREATED, R("A")),
        (3, IntakeAction.CREATED, R("B")),
        (4, IntakeAction.UNCHANGED, R("A")),
    ]
    outcome = {"A": (True, [], "queued"), "B": (False, ["level"], "ineligible")}
    report = rules.intake_report(plans, outcome)
    # 2 created (rows 2, 3), 1 unchanged (row 4)
    assert report["summary"] == {"created": 2, "unchanged": 1}
    assert report["rows"][1] == {
        "row": 3,
        "status": "created",
        "key": "B",
        "eligible": False,
        "case_status": "ineligible",
        "failed_rules": ["level"],
    }
