"""The outcall agent's workbench inbox (issue 14 §3), through the portal: cases to call, the
call-backs the agent promised (due, and later today) and the case they hold, each linking to
the call page; another unit's cases and other agents' call-backs are not theirs."""

from __future__ import annotations

import datetime as dt
import re

from postalops import clock
from postalops_outcall import service
from postalops_outcall.testing import GZ, SZ

WORK = "/p/outcall/work"


def tasks(html: str) -> dict[str, str]:
    """``{task key: the item's text}`` of the workbench's outcall entries."""
    out = {}
    for key, body in re.findall(r'data-task="outcall:([a-z_]+)">(.*?)</li>', html, re.S):
        out[key] = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)).strip()
    return out


def test_an_agent_sees_cases_to_call_and_call_backs_due(
    po_app, make_user, login, intake, hall, live
):
    intake([live(n) for n in range(1, 5)])
    intake([live(9)], unit=SZ)  # another city's case is not in Guangzhou's queue
    agent = login(make_user("agent1", GZ, "outcall_agent"))
    html = agent.get("/").get_data(as_text=True)
    assert tasks(html).keys() == {"cases_to_call"}
    assert "4 件" in tasks(html)["cases_to_call"] and "待外呼办件" in html
    assert f'href="{WORK}"' in html

    now = dt.datetime.now(dt.UTC)
    with hall() as s:  # agent1 calls two cases; each applicant asks for a call-back
        for minutes, back in ((5, -1), (4, 5)):
            case = service.claim_next(s, GZ, "user:agent1", now=now - dt.timedelta(minutes=minutes))
            service.record_outcome(
                s,
                GZ,
                case.id,
                "user:agent1",
                "callback",
                now=now - dt.timedelta(minutes=minutes),
                callback_at=now + dt.timedelta(minutes=back),
            )
        # and holds a third (claimed before the first call-back fell due)
        held = service.claim_next(s, GZ, "user:agent1", now=now - dt.timedelta(minutes=3))
    html = agent.get("/").get_data(as_text=True)
    got = tasks(html)
    local = clock.zone()
    later_today = (now + dt.timedelta(minutes=5)).astimezone(local).date() == now.astimezone(
        local
    ).date()
    # overdue first, then the held case (warning), then by when they are due
    expected = ["callbacks_due", "claimed_case", "callbacks_today", "cases_to_call"]
    assert list(got) == [k for k in expected if later_today or k != "callbacks_today"]
    assert "1 件" in got["callbacks_due"] and "已逾期" in got["callbacks_due"]
    assert held.case_no in got["claimed_case"]
    assert "1 件" in got["cases_to_call"]  # four, less the two promised and the one held

    # another agent does not see agent1's call-backs (held for agent1), only the free case
    other = login(make_user("agent2", GZ, "outcall_agent"))
    got = tasks(other.get("/").get_data(as_text=True))
    assert set(got) == {"cases_to_call"} and "1 件" in got["cases_to_call"]


def test_a_viewer_without_the_call_permission_has_no_outcall_tasks(
    po_app, make_user, login, intake, live
):
    intake([live(1)])
    viewer = login(make_user("sup", GZ, "viewer"))
    html = viewer.get("/").get_data(as_text=True)
    assert "待外呼办件" not in html and tasks(html) == {}
