"""``postalops simulate`` for outcall: the platform sends approved cases, the agents call them.

During the hall's working hours (Monday to Friday, 09:10-18:00, Monday busiest), each tick the
platform posts the cases approved since the last one to ``POST /api/v1/outcall/cases`` with its
intake token (``outcall.intake``), for the halls of the demo. Items come from the hall's own
catalogue (``GET /api/v1/outcall/catalogue``), names, phones and resident IDs are drawn as the
demo draws them (valid GB 11643 check digits, Guangzhou district codes). Case numbers are made
from the tick's name, so a repeated tick re-sends the same cases and intake reports them
unchanged.

Meanwhile the hall's agents (``AGENTS`` seats, each its own ``outcall.call`` token) work the
queue: ``POST /queue/claim`` then ``POST /cases/<id>/outcome``, answers drawn around the
article's shares (54 % accepted, with a delivery address; declines, no answers, busy lines and
wrong numbers), a couple of calls a minute per agent within the plugin's calling hours. A call
changes the queue, so a repeated tick does not call again (the ticks called are kept in this
process).
"""

from __future__ import annotations

import datetime as dt
import threading

from postalops.simulate import SimulateError, Tick

from . import demo_plan as plan
from .demo_present import WEEKDAY_LOAD

HALLS = (plan.GUANGZHOU,)
OPEN, CLOSE = dt.time(9, 10), dt.time(18, 0)
PER_MINUTE = 0.2  # cases approved per minute in a hall on an average weekday
PLATFORM = ["outcall.intake", "outcall.view"]
AGENT = ["outcall.call", "outcall.view"]
AGENTS = 3
CALLS_PER_MINUTE = 0.5  # per agent: a call with its wrap-up takes about two minutes
ANSWERS = tuple((str(o), share) for o, share in plan.OUTCOME_SHARES if str(o) != "callback")
CACHE_TTL = 300.0
KEEP_TICKS = 1000

_called: dict[tuple[str, str], None] = {}  # (portal, tick) already called (insertion-ordered)
_lock = threading.Lock()


def agent_calls(t: Tick, hall: str) -> dict[str, int]:
    """The agents' calls of this tick: claim the next case, record an answer."""
    done = {"calls": 0, "accepted": 0}
    key = (t.base_url, f"{hall}|{t.key}")
    with _lock:
        if key in _called:
            return done
        _called[key] = None
        while len(_called) > KEEP_TICKS:
            _called.pop(next(iter(_called)))
    rng = t.rng(f"outcall:{hall}:calls")
    calls = t.draw(f"outcall:{hall}:calls", t.expected(CALLS_PER_MINUTE * AGENTS))
    for _ in range(calls):
        seat = rng.randrange(1, AGENTS + 1)
        agent = t.client(hall, permissions=AGENT, subject=f"outcall-seat:{hall}:{seat}")
        case = agent.post("/outcall/queue/claim", {}).get("case")
        if case is None:  # the queue is empty, or outside calling hours
            break
        answer = rng.choices([a for a, _ in ANSWERS], [w for _, w in ANSWERS])[0]
        body: dict = {"outcome": answer}
        if answer == "accepted":
            body["address"] = plan.demo_address(
                rng, case.get("applicant_name") or plan.make_name(rng), case.get("phone") or ""
            )
        agent.post(f"/outcall/cases/{case['id']}/outcome", body)
        done["calls"] += 1
        done["accepted"] += int(answer == "accepted")
    return done


def hall_cases(t: Tick, hall: str, catalogue: list[dict]) -> list[dict]:
    """The platform's rows for ``hall`` in this tick (none outside working hours)."""
    local = t.at.timetz().replace(tzinfo=None)
    if t.at.weekday() >= 5 or not OPEN <= local < CLOSE:
        return []
    items = [c for c in catalogue if c["participating"]] or catalogue
    if not items:
        return []
    rng = t.rng(f"outcall:{hall}")
    count = t.draw(f"outcall:{hall}:count", t.expected(PER_MINUTE * WEEKDAY_LOAD[t.at.weekday()]))
    rows = []
    for n in range(1, count + 1):
        entry = rng.choice(items)
        approved = t.at - dt.timedelta(minutes=rng.uniform(10, 60))
        rows.append(
            {
                "case_no": f"GZZW{t.at:%Y%m%d}S{t.at:%H%M%S}{n:02d}",
                "department": entry["department"],
                "service_item": entry["item"],
                "applicant_type": "enterprise" if rng.random() < 0.06 else "personal",
                "approval_level": "district" if rng.random() < 0.05 else "municipal",
                "applicant_name": plan.make_name(rng),
                "phone": plan.make_phone(rng),
                "id_number": plan.make_id_number(rng, rng.choice(plan._DISTRICT_CODES)),
                "approved_at": approved.replace(microsecond=0).isoformat(),
                "issuing_method": "mail" if rng.random() < 0.05 else "window",
                "old_certificate_return": rng.random() < 0.04,
                "ready_at": (t.at - dt.timedelta(seconds=rng.uniform(0, t.interval)))
                .replace(microsecond=0)
                .isoformat(),
            }
        )
    return rows


def tick(t: Tick) -> dict[str, int]:
    counts = {"cases": 0, "created": 0, "calls": 0, "accepted": 0}
    for hall in HALLS:
        if not t.wants(hall):
            continue
        try:
            platform = t.client(hall, permissions=PLATFORM)
            catalogue = t.cached(
                f"outcall.catalogue:{hall}",
                CACHE_TTL,
                lambda p=platform: p.get("/outcall/catalogue")["items"],
            )
        except SimulateError as exc:
            if exc.status in (403, 404):  # no such hall here, or outcall is off there
                continue
            raise
        rows = hall_cases(t, hall, catalogue)
        if rows:
            report = platform.post("/outcall/cases", rows)
            counts["cases"] += len(rows)
            counts["created"] += int(report.get("summary", {}).get("created", 0))
        local = t.at.timetz().replace(tzinfo=None)
        if t.at.weekday() < 5 and OPEN <= local < CLOSE:
            for name, value in agent_calls(t, hall).items():
                counts[name] += value
    return counts
