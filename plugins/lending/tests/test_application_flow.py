"""Application steps in order, maker-checker, and the hours-to-disbursement figure."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from postalops.errors import Conflict, Forbidden, ValidationError
from postalops_lending.application_flow import (
    Status,
    check_maker_checker,
    hours_between,
    next_status,
)

SHANGHAI = timezone(timedelta(hours=8))


def test_the_happy_path_runs_in_order():
    status = Status.SUBMITTED
    for action in ("precheck_pass", "review", "approve", "contract", "disburse"):
        status = next_status(status, action)
    assert status is Status.DISBURSED


@pytest.mark.parametrize(
    ("status", "action"),
    [
        (Status.SUBMITTED, "approve"),  # no approval before review
        (Status.PRECHECKED, "approve"),
        (Status.REVIEWED, "disburse"),  # no money before a contract
        (Status.APPROVED, "disburse"),
        (Status.DECLINED, "review"),
        (Status.DISBURSED, "approve"),
    ],
)
def test_steps_out_of_order_conflict(status, action):
    with pytest.raises(Conflict) as err:
        next_status(status, action)
    assert err.value.status == 409


def test_unknown_action_is_bad_input():
    with pytest.raises(ValidationError):
        next_status(Status.SUBMITTED, "fast_track")


def test_the_reviewer_cannot_approve_their_own_case():
    with pytest.raises(Forbidden) as err:
        check_maker_checker(7, {"lending.approve"}, makers=[3, 7])
    assert err.value.code == "maker_cannot_check"


def test_whoever_entered_the_application_cannot_approve_it():
    with pytest.raises(Forbidden):
        check_maker_checker(3, {"lending.approve"}, makers=[3, 7])


def test_approving_needs_the_permission():
    with pytest.raises(Forbidden) as err:
        check_maker_checker(9, {"lending.review"}, makers=[3, 7])
    assert err.value.code == "missing_permission"


def test_a_different_user_with_the_permission_approves():
    check_maker_checker(9, {"lending.approve"}, makers=[None, 7])  # online applicant: no maker


def test_hours_to_disbursement_hand_computed():
    # applied 09:30 on 9 May, disbursed 09:00 next day (Shanghai): 23.5 hours
    applied = datetime(2022, 5, 9, 9, 30, tzinfo=SHANGHAI)
    paid = datetime(2022, 5, 10, 9, 0, tzinfo=SHANGHAI)
    assert str(hours_between(applied, paid)) == "23.50"
    assert str(hours_between(applied, paid.astimezone(UTC))) == "23.50"
