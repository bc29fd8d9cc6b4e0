"""The demo's rolling present for the sorters: the 29 Henan machines of the article keep sorting
their two waves a day, up to now (issue 16 §2).

Window: the last 90 days up to ``postalops.clock.today()`` (never more than raw-event retention,
so every day can be rolled up from its raw events). Each device-day's runs are drawn from an rng
seeded by station and day, so a day's telemetry is the same whichever day the demo runs on.

Everything goes through the plugin's own code, as the article's month does: the simulated
machines' raw JSON through :func:`~postalops_sorter.ingest.ingest` (the bulk path: one
``INSERT`` per batch on SQLite, ``COPY`` on PostgreSQL), rollups and departures through
:func:`~postalops_sorter.recompute.recompute_dirty`, alerts through
:func:`~postalops_sorter.alerting.evaluate_device` at the moments the alert job would have run
and, at the end, :func:`~postalops_sorter.alerting.evaluate_all` at now.

Variety (raw events are one per item, so volumes stay at the article's county-station scale):

- station size (0.7–1.5× the article's station), weekday pattern (Monday heaviest after the
  weekend's online orders, Sunday lightest) and the shopping festivals (双十一, 双十二);
- a jam now and then; on about 1 % of device-days a jam spike (``jam_spike`` alert, resolved when
  it clears), on 1 % a worn belt running under 2,000 items/h (``low_throughput``), on 2 % a fault
  mid-wave repaired within the hour (``silent`` while down), and each day one machine of the 29
  breaks down in its first wave and stays silent for 4–7 hours until repaired (its ``silent``
  alert open meanwhile, resolved when it reports again);
- one station's planned night shift (夜班 22:00-06:00, Monday to Friday nights,
  :data:`~postalops_sorter.demo_losses.NIGHT_SHIFT`) is worked: over the last
  :data:`NIGHT_DAYS` days its machine sorts two truckloads a night at a slower pace, with a break
  between them and a jam or two (:func:`night_runs`), so its OEE per shift reads about 0.6-0.7
  rather than a machine that is down all night;
- today's runs up to the current minute only, so the live page shows a machine that is sorting
  now or finished its wave this morning.

Hours that ``postalops simulate`` already posted live telemetry for (its own sequence numbers,
from ``simulate.SEQ_BASE``) are left out, so a re-run after a simulated morning does not sort the
same hours twice (:func:`live_spans`).

Idempotent: sequence numbers are a function of day, wave and part (ingest skips what is stored);
a device-day with its last wave rolled up is not simulated again, and alert checks run only for
runs whose events were new. A re-run on the same day (at the same time) adds nothing; a later
run adds the days since, and never touches October 2020 (outside retention, never recomputed).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from postalops import clock
from postalops.demo import PRESENT_DAYS, day_rng, present_days
from sqlmodel import Session, select

from . import alerting
from .demo import STATIONS_WITH_SORTERS, _ingest, pick_stations, seq_base
from .demo_losses import NIGHT_SHIFT, night_station
from .ingest import retention_days
from .models import Device, Event, Rollup
from .recompute import recompute_dirty
from .simulation import (
    BASELINE_DEPARTURE,
    DEMO_MONTH,
    DEMO_WAVES,
    SHANGHAI,
    Run,
    StationPlan,
    demo_plan,
    rng_for,
    simulate_run,
)

ARTICLE_END = dt.date(DEMO_MONTH[0], DEMO_MONTH[1], 31)  # the last day of the article's month
WEEKDAY_LOAD = (1.25, 1.1, 1.0, 1.0, 0.95, 0.75, 0.6)  # Monday .. Sunday
BATCH = 10_000
LAST_WAVE = max(n for n, _, _ in DEMO_WAVES)
# Seq offsets of a run's parts inside its wave's 5,000 (a fault splits a run in two).
PART_OFFSET = 2_500
# The night shift's telemetry: the last NIGHT_DAYS days only (a night is ~18,000 items, as many
# raw events as the 29 machines' two waves over two and a half days), with sequence numbers of
# their own: NIGHT_SEQ + day × NIGHT_DAY_SEQS + part × NIGHT_PART_SEQS, far above the waves'
# (``seq_base``) and below ``simulate.SEQ_BASE``.
NIGHT_DAYS = 14
NIGHT_SEQ = 100_000_000_000
NIGHT_DAY_SEQS = 100_000
NIGHT_PART_SEQS = 40_000


def season(day: dt.date) -> float:
    """Festival peaks: 双十一 (11–20 Nov) and 双十二 (12–16 Dec), the pre-Spring-Festival rush."""
    if day.month == 11 and 11 <= day.day <= 20:
        return 1.6 - 0.05 * (day.day - 11)
    if day.month == 12 and 12 <= day.day <= 16:
        return 1.2
    if day.month == 1 and day.day >= 10:
        return 1.15
    return 1.0


def station_size(station: str) -> float:
    """How much busier than the article's small county station this one is (0.7–1.5)."""
    return 0.7 + 0.8 * rng_for("sorter-present-size", station).random() ** 1.5


@dataclass
class Part:
    """A piece of a wave's run, ingested on its own when it carries alert checks."""

    wave: int
    run: Run
    first_seq: int
    checks: list[dt.datetime] = field(default_factory=list)
    spike: bool = False  # checks after its last jam and once it has cleared


def down_on(day: dt.date, stations: list[str]) -> str:
    """The station whose machine breaks down in the first wave of ``day`` and stays silent until
    a technician repairs it hours later: one a day across the province (each machine about once
    a month), so the alerts page has an open alert most of the working day."""
    return day_rng("sorter.down", day).choice(sorted(stations))


def present_runs(plan: StationPlan, day: dt.date, down: str = "") -> list[Part]:
    """The runs of one station-day of the present, with the moments the alert rules should be
    evaluated at (where a jam spike, a slow belt or a fault happens). ``down`` is the station
    whose machine breaks down that day (:func:`down_on`)."""
    rng = day_rng(f"sorter.{plan.station}", day)
    load = WEEKDAY_LOAD[day.weekday()] * season(day) * station_size(plan.station)
    draw = rng.random()
    spike, slow, fault = draw < 0.01, 0.01 <= draw < 0.02, 0.02 <= draw < 0.04
    down = plan.station == down
    parts: list[Part] = []
    for number, _, _ in DEMO_WAVES:
        base = BASELINE_DEPARTURE[number]
        items = rng.randint(130, 200) if number == 1 else rng.randint(45, 75)
        items = max(30, round(items * load * rng.uniform(0.9, 1.1)))
        rate = plan.rate_per_hour
        if slow and number == 1:
            rate = rng.randint(1400, 1800)  # a worn belt: under the 2,000 items/h threshold
            items = max(items, rate * 14 // 60)  # long enough for the 10-minute rule
        run_minutes = items * 60 / rate
        # as in the article: the run ends about an hour before the old departure time
        start_minute = base.hour * 60 + base.minute - 60 - run_minutes + rng.uniform(-8, 8)
        start = dt.datetime.combine(day, dt.time(0), tzinfo=SHANGHAI) + timedelta(
            minutes=start_minute
        )
        jams = 0
        roll = rng.random()
        if roll < 0.03:
            jams = 2
        elif roll < 0.15:
            jams = 1
        first = seq_base(day, number)
        run = Run(start=start, items=items, rate_per_hour=rate, jams=jams, end_state="planned_stop")
        if spike and number == 1:
            run = replace(run, jams=4)
            parts.append(Part(number, run, first, spike=True))
            continue
        if slow and number == 1:
            parts.append(
                Part(
                    number,
                    run,
                    first,
                    [start + timedelta(minutes=12), start + timedelta(minutes=run_minutes + 5)],
                )
            )
            continue
        if (fault or down) and number == 1:
            done = rng.randint(items // 4, items * 3 // 4)
            broke = start + timedelta(minutes=done * 60 / rate)
            parts.append(
                Part(
                    number,
                    replace(run, items=done, jams=0, end_state="fault"),
                    first,
                    [broke + timedelta(minutes=10)],
                )
            )
            if down:
                # silent until the technician has repaired it and switched it off for the day
                fixed = broke + timedelta(minutes=rng.randint(240, 420))
                parts.append(Part(number, replace(run, start=fixed, items=0), first + PART_OFFSET))
                parts[-1].checks.append(fixed + timedelta(minutes=1))
                return parts  # the couriers hand-sort the second wave
            back = broke + timedelta(minutes=rng.randint(15, 50))
            parts.append(
                Part(
                    number,
                    replace(run, start=back, items=items - done, jams=0),
                    first + PART_OFFSET,
                    [back + timedelta(minutes=2)],
                )
            )
            continue
        parts.append(Part(number, run, first))
    return parts


def night_seq(day: dt.date, part: int = 0) -> int:
    """First sequence number of a night's part (the night that starts on ``day``)."""
    return NIGHT_SEQ + (day - dt.date(2019, 1, 1)).days * NIGHT_DAY_SEQS + part * NIGHT_PART_SEQS


def night_runs(plan: StationPlan, day: dt.date) -> list[Part]:
    """The night shift that starts on ``day`` at the night station: two truckloads, the first
    from about 22:10 for 3.2-3.4 running hours, a 30-45 minute break (the machine idle: a stop
    inside the shift), the second for 2.8-3.0 hours, then switched off before 06:00; a night
    crew feeds it at 86-92 % of its day pace, with one to three jams. About 6.2 of the 8
    planned hours run (availability ≈ 0.75) at ≈ 2,900 of 3,500 rated items/h (performance
    ≈ 0.84): OEE ≈ 0.63."""
    rng = day_rng(f"sorter.night.{plan.station}", day)
    rate = round(plan.rate_per_hour * rng.uniform(0.86, 0.92))
    start = dt.datetime.combine(day, NIGHT_SHIFT.start, tzinfo=SHANGHAI) + timedelta(
        minutes=rng.uniform(6, 15)
    )
    first = round(rate * rng.uniform(3.2, 3.4))
    jams = rng.randint(1, 2)
    # its end: the items at the pace, the jams (1-3 min each, simulate_run), then the break
    gap = timedelta(hours=first / rate, minutes=2 * jams + rng.uniform(30, 45))
    second = round(rate * rng.uniform(2.8, 3.0))
    return [
        Part(0, Run(start, first, rate, jams=jams, end_state="idle"), night_seq(day)),
        Part(
            0,
            Run(start + gap, second, rate, jams=rng.randint(0, 1), end_state="planned_stop"),
            night_seq(day, 1),
        ),
    ]


def nights_done(session: Session, device_id: int, since: dt.date) -> set[dt.date]:
    """Nights whose machine was switched off at the end (their last part is stored)."""
    from .simulate import SEQ_BASE

    first = night_seq(since)
    return {
        dt.date(2019, 1, 1) + timedelta(days=(seq - NIGHT_SEQ) // NIGHT_DAY_SEQS)
        for (seq,) in session.execute(
            sa.select(Event.seq).where(
                Event.device_id == device_id,
                Event.seq >= first,
                Event.seq < SEQ_BASE,
                Event.state == "planned_stop",
            )
        )
    }


def part_events(part: Part, station: str, now: dt.datetime) -> list[dict]:
    """The part's raw events up to ``now``; a run of no items is the machine reporting a
    planned stop (switched off after a repair)."""
    if part.run.items:
        events = simulate_run(part.run, seed=station, first_seq=part.first_seq)
    else:
        at = part.run.start.astimezone(dt.UTC).isoformat(timespec="milliseconds")
        events = [{"seq": part.first_seq, "ts": at, "type": "state", "state": "planned_stop"}]
    if part.spike:
        # evaluate just after the last jam, and again once the spike has cleared
        jammed = [dt.datetime.fromisoformat(e["ts"]) for e in events if e.get("state") == "jammed"]
        part.checks += [jammed[-1] + timedelta(seconds=61), jammed[-1] + timedelta(minutes=20)]
    cut = now.astimezone(dt.UTC).isoformat(timespec="milliseconds")
    return [e for e in events if e["ts"] <= cut]


def live_spans(session: Session, device_id: int, since: dt.datetime) -> list[tuple[str, str]]:
    """Per local day, the first and last time of the telemetry ``postalops simulate`` posted for
    this device (sequence numbers from ``simulate.SEQ_BASE``), as the ISO UTC text events carry:
    the demo leaves those spans to it, so a later ``postalops demo`` on the same day does not
    sort the same hours twice."""
    from .simulate import SEQ_BASE

    spans: dict[dt.date, list[dt.datetime]] = {}
    for (at,) in session.execute(
        sa.select(Event.at).where(
            Event.device_id == device_id, Event.seq >= SEQ_BASE, Event.at >= since
        )
    ):
        at = at if at.tzinfo else at.replace(tzinfo=dt.UTC)
        day = spans.setdefault(at.astimezone(SHANGHAI).date(), [at, at])
        day[0], day[1] = min(day[0], at), max(day[1], at)
    return [
        tuple(t.astimezone(dt.UTC).isoformat(timespec="milliseconds") for t in pair)  # type: ignore[misc]
        for pair in spans.values()
    ]


def build_present(
    session: Session,
    units: dict[str, Any],
    progress: Callable[[int, int, str], None] = lambda *a: None,
    today: dt.date | None = None,
    days: int = PRESENT_DAYS,
) -> dict[str, int]:
    """Telemetry, rollups, departures and alerts of the 29 demo sorters up to now."""
    today = today or clock.today()
    now = clock.now().astimezone(dt.UTC)
    keep = min(days, retention_days())  # older days could not be rolled up again
    the_days = present_days(ARTICLE_END, today, keep)
    plans = demo_plan(pick_stations(units, STATIONS_WITH_SORTERS))
    devices = {
        d.tenant_code: d
        for d in session.exec(
            select(Device).where(Device.tenant_code.in_([p.station for p in plans]))
        ).all()
    }
    out = {"present_events": 0, "present_alert_checks": 0}
    if not the_days:
        return out
    stations = [p.station for p in plans]
    down = {d: down_on(d, stations) for d in the_days}
    night = night_station(pick_stations(units))
    nights = [
        d for d in the_days if d > today - timedelta(days=NIGHT_DAYS) and NIGHT_SHIFT.works_on(d)
    ]
    for i, plan in enumerate(plans, 1):
        device = devices.get(plan.station)
        if device is None:
            continue
        # a device-day whose last wave is rolled up is complete: nothing to simulate
        complete = set(
            session.exec(
                select(Rollup.day).where(
                    Rollup.device_id == device.id,
                    Rollup.grain == "wave",
                    Rollup.wave == LAST_WAVE,
                    Rollup.day >= the_days[0],
                )
            ).all()
        )
        pending: list[dict] = []
        since = dt.datetime.combine(the_days[0], dt.time(0), SHANGHAI).astimezone(dt.UTC)
        live = live_spans(session, device.id, since)
        worked = set()
        if plan.station == night and nights:
            worked = set(nights) - nights_done(session, device.id, nights[0])
        for day in the_days:
            if day < device.commissioned_on:
                continue
            runs = [] if day in complete else present_runs(plan, day, down[day])
            if day in worked:
                runs += night_runs(plan, day)
            for part in runs:
                if part.run.start >= now:
                    break
                events = part_events(part, plan.station, now)
                if live:  # hours the live simulation already covered
                    events = [e for e in events if not any(a <= e["ts"] <= b for a, b in live)]
                if not part.checks:
                    pending += events
                    if len(pending) >= BATCH:
                        out["present_events"] += _ingest(session, device, pending, now)
                        pending = []
                    continue
                # checks see the device as the alert job would have then: flush what came
                # before, store this part alone, evaluate only if it was new
                if pending:
                    out["present_events"] += _ingest(session, device, pending, now)
                    pending = []
                new = _ingest(session, device, events, now) if events else 0
                out["present_events"] += new
                if new:
                    for at in part.checks:
                        if at <= now:
                            alerting.evaluate_device(session, device, at.astimezone(dt.UTC))
                            out["present_alert_checks"] += 1
        if pending:
            out["present_events"] += _ingest(session, device, pending, now)
        session.commit()
        progress(i, len(plans) + 1, f"present {plan.station}")
    out.update(
        {
            f"present_{k}": v
            for k, v in recompute_dirty(session, now=now, retention_days=retention_days()).items()
        }
    )
    alerts = alerting.evaluate_all(session, now)
    out["present_alerts_raised_now"] = alerts["raised"]
    session.commit()
    progress(len(plans) + 1, len(plans) + 1, "present rollups and alerts")
    return out
