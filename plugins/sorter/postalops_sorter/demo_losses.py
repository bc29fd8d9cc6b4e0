"""Demo data of issue 20 §1 on the 29 demo sorters, for October 2020 and the rolling present:
production calendars (two sorting shifts a day, 国庆节 as a holiday, a monthly planned
maintenance), station heads' reasons on part of the stops (worn belt, power cut, scanner,
changeover) and a station's own reason, alarm rules at the province, alarms in every state
(open, acknowledged, escalated, snoozed, resolved) with their timelines, and a maintenance log
linked to the stops it explains.

Calendars are written before the telemetry is rolled up (:func:`prepare`), so the rollups carry
their shift buckets; the rest (:func:`build_losses`) runs after. Everything goes through the
plugin's own functions and is idempotent: a re-run finds what it made and adds nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from postalops import clock
from postalops.demo import present_days
from sqlmodel import Session, select

from . import alerting, maintenance, reasons, shifts
from .alerts import AlertKind, AlertStatus
from .calendar import Shift
from .demo import pick_stations
from .models import AlarmRule, Alert, CalendarEntry, Device, Maintenance, Stop
from .models import Shift as ShiftRow
from .timeline import LOCAL_TZ

HEAD = "演示·揽投部主任"
# the demo's runs end about an hour before the old departures (09:30, 13:45)
DEMO_SHIFTS = (
    Shift(1, "一频分拣", dt.time(8, 15), dt.time(8, 40)),
    Shift(2, "二频分拣", dt.time(12, 35), dt.time(12, 50)),
)
# one station also plans a night shift (Monday to Friday nights into the next morning): its
# machine sorts the night's mail over the present's last 14 days (demo_present.night_runs);
# shifts have no effective-from date, so its earlier nights read as down (availability 0)
NIGHT_SHIFT = Shift(3, "夜班", dt.time(22, 0), dt.time(6, 0), "12345")
OCTOBER_HOLIDAY = dt.date(2020, 10, 1)
OCTOBER_MAINTENANCE = dt.date(2020, 10, 15)
PROVINCE = "cn.henan"
ESCALATE_TO = "河南省分公司设备值班 0371-6000-0000"


def _local(day: dt.date, hh: int, mm: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hh, mm), LOCAL_TZ)


def prepare(session: Session, units: dict[str, Any]) -> int:
    """Shifts, holidays and planned maintenance of the demo stations (before the rollups)."""
    from .demo_present import ARTICLE_END
    from .simulation import DEMO_MONTH

    assert DEMO_MONTH == (2020, 10)
    present = present_days(ARTICLE_END, clock.today())
    holidays = [OCTOBER_HOLIDAY] + [d for d in present if (d.month, d.day) == (10, 1)]
    maint_days = [OCTOBER_MAINTENANCE] + [d for d in present if d.day == 15]
    made = 0
    stations = pick_stations(units)
    night = night_station(stations)
    for station in stations:
        if session.exec(select(ShiftRow.id).where(ShiftRow.tenant_code == station)).first():
            continue
        extra = [NIGHT_SHIFT] if station == night else []
        shifts.replace_shifts(session, station, [*DEMO_SHIFTS, *extra])
        for d in holidays:
            shifts.add_entry(session, station, "holiday", day=d, note="国庆节")
        for d in maint_days:
            shifts.add_entry(
                session,
                station,
                "maintenance",
                starts_at=_local(d, 12, 30),
                ends_at=_local(d, 13, 0),
                note="月度保养",
            )
        made += 1
    session.commit()
    return made


def night_station(stations: list[str]) -> str:
    """The demo station with a night shift: Zhengzhou's first, else the first."""
    return next((s for s in stations if ".zhengzhou." in s), stations[0] if stations else "")


def build_losses(
    session: Session, units: dict[str, Any], progress: Callable[..., None] = lambda *a: None
) -> dict[str, int]:
    stations = pick_stations(units)
    out = {"demo_reasons": 0, "demo_alarms": 0, "demo_maintenance": 0}
    _rules(session)
    # a province reason every station inherits (继承自 河南), next to the built-in catalogue
    if "net" not in {c for c, e in reasons.catalogue(session, PROVINCE).items() if not e.builtin}:
        reasons.save_reasons(
            session,
            PROVINCE,
            [
                {
                    "code": "net",
                    "name_zh": "网络中断",
                    "name_en": "Network down",
                    "loss": "breakdown",
                }
            ],
        )
    # a station's own reason, next to the built-in catalogue
    for station in stations[:3]:
        if "chute_full" not in {
            c for c, e in reasons.catalogue(session, station).items() if not e.builtin
        }:
            reasons.save_reasons(
                session,
                station,
                [
                    {
                        "code": "chute_full",
                        "name_zh": "格口满袋",
                        "name_en": "Chute full",
                        "loss": "small_stops",
                    }
                ],
            )
    out["demo_reasons"] = _reasons(session, stations)
    session.commit()
    progress(1, 3, "sorter reasons")
    out["demo_maintenance"] = _maintenance(session, stations)
    session.commit()
    progress(2, 3, "sorter maintenance")
    out["demo_alarms"] = _alarms(session, stations)
    session.commit()
    progress(3, 3, "sorter alarms")
    return out


def _rules(session: Session) -> None:
    if session.exec(select(AlarmRule.id).where(AlarmRule.unit_code == PROVINCE)).first():
        return
    session.add_all(
        [
            AlarmRule(
                unit_code=PROVINCE,
                kind="silent",
                severity="critical",
                minutes=5,
                escalate_after_minutes=30,
                escalate_to=ESCALATE_TO,
            ),
            AlarmRule(
                unit_code=PROVINCE,
                kind="jam_spike",
                severity="warning",
                escalate_after_minutes=60,
                escalate_to=ESCALATE_TO,
            ),
            AlarmRule(unit_code=PROVINCE, kind="low_throughput", severity="warning"),
            AlarmRule(
                unit_code=PROVINCE,
                kind="oee_below_target",
                severity="info",
                threshold=Decimal("0.10"),
            ),
        ]
    )
    session.flush()


CORRECTIONS = {
    "fault": ("belt", "power", "net"),
    "jammed": ("jam", "jam", "scanner"),
    "emergency_stop": ("changeover",),
}


def _reasons(session: Session, stations: list[str]) -> int:
    """A station head gives part of the machine-reported stops their real reason: faults
    rotate worn belt / power cut / network down (the province's reason), one jam in three was the scanner, emergency stops were
    changeovers. Only stops nobody has touched yet."""
    changed = 0
    # counted over every stop, so a re-run picks the same ones whatever was assigned already
    stops = session.exec(
        select(Stop)
        .where(Stop.tenant_code.in_(stations))  # type: ignore[attr-defined]
        .order_by(Stop.started_at, Stop.id)
    ).all()
    seen: dict[tuple[str, str], int] = {}
    for st in stops:
        choices = CORRECTIONS.get(st.state)
        if not choices:
            continue
        n = seen.get((st.tenant_code, st.state), 0)
        seen[(st.tenant_code, st.state)] = n + 1
        code = choices[n % len(choices)]
        if st.tenant_code in stations[:3] and st.state == "jammed" and n % 5 == 4:
            code = "chute_full"
        if st.reason_by is not None or code == st.reason_code:
            continue
        reasons.assign_reason(session, st.id, code, HEAD)
        changed += 1
    return changed


def _maintenance(session: Session, stations: list[str]) -> int:
    """Corrective work for every worn belt (linked to its stop); the monthly planned service
    in its calendar window."""
    made = 0
    devices = {
        d.tenant_code: d
        for d in session.exec(select(Device).where(Device.tenant_code.in_(stations))).all()
    }  # type: ignore[attr-defined]
    for st in session.exec(
        select(Stop).where(
            Stop.tenant_code.in_(stations),  # type: ignore[attr-defined]
            Stop.reason_code == "belt",
            Stop.maintenance_id.is_(None),  # type: ignore[union-attr]
        )
    ).all():
        device = session.get(Device, st.device_id)
        maintenance.log_maintenance(
            session,
            device,
            kind="corrective",
            started_at=st.started_at,
            duration_minutes=max(1, -(-st.duration_ms // 60_000)),
            parts="传送皮带 ×1",
            note="更换磨损皮带",
            who=HEAD,
            stop_ids=[st.id],
        )
        made += 1
    for e in session.exec(
        select(CalendarEntry).where(
            CalendarEntry.tenant_code.in_(stations),  # type: ignore[attr-defined]
            CalendarEntry.kind == "maintenance",
        )
    ).all():
        device = devices.get(e.tenant_code)
        if device is None or e.starts_at > clock.now():
            continue
        if session.exec(
            select(Maintenance.id).where(
                Maintenance.device_id == device.id, Maintenance.started_at == e.starts_at
            )
        ).first():
            continue
        maintenance.log_maintenance(
            session,
            device,
            kind="planned",
            started_at=e.starts_at,
            duration_minutes=30,
            parts="润滑油、清洁布",
            note="月度保养",
            who=HEAD,
            stop_ids=[],
        )
        made += 1
    session.flush()
    return made


# (station index, final state) of the present's demo alarms; one October 2020 alarm, resolved
STATES = ("raised", "acknowledged", "escalated", "snoozed", "resolved")


def _alarms(session: Session, stations: list[str]) -> int:
    """One ``oee_below_target`` alarm per state on yesterday's first shift of five stations
    (these are not auto-resolved, so their states hold), and a resolved one in October 2020."""
    now = clock.now().astimezone(dt.UTC)
    yesterday = clock.today() - dt.timedelta(days=1)
    made = 0
    plan = [(stations[i], yesterday, state) for i, state in enumerate(STATES)]
    plan.append((stations[5], dt.date(2020, 10, 20), "resolved"))
    rules = alerting.unit_rules(session, stations[0])
    for station, day, state in plan:
        device = session.exec(select(Device).where(Device.tenant_code == station)).first()
        if device is None:
            continue
        subject = f"{day.isoformat()}#1"
        if session.exec(
            select(Alert.id).where(Alert.device_id == device.id, Alert.subject == subject)
        ).first():
            continue
        at = _local(day, 8, 45).astimezone(dt.UTC)
        results = [
            r
            for r in shifts.shift_results(session, station, day, day, now, device.id)
            if r.shift == 1
        ]
        oee = results[0].kpis()["oee"] if results else None
        message = (
            f"shift 1 of {day.isoformat()}: OEE {oee if oee is not None else '0.0000'} "
            f"under target 0.10"
        )
        rule = rules[AlertKind.OEE_BELOW_TARGET]
        # the open and snoozed ones have no escalation, so the escalation job leaves them so
        escalate = 30 if state in ("escalated", "acknowledged", "resolved") else None
        rule = type(rule)(
            rule.kind, True, rule.severity, Decimal("0.10"), None, escalate, ESCALATE_TO
        )
        a = alerting.raise_alert(
            session, device, AlertKind.OEE_BELOW_TARGET, message, at, rule, subject
        )
        later = at + dt.timedelta(minutes=10)
        if state == "acknowledged":
            alerting.move(session, a.id, AlertStatus.ACKNOWLEDGED, HEAD, later)
            alerting.comment(session, a.id, HEAD, "一频到件晚，分拣时间短，已和邮路协调", later)
        elif state == "escalated":
            alerting.escalate(session, a, at + dt.timedelta(minutes=30))
        elif state == "snoozed":
            alerting.move(session, a.id, AlertStatus.SNOOZED, HEAD, now, snooze_minutes=720)
        elif state == "resolved":
            alerting.move(session, a.id, AlertStatus.ACKNOWLEDGED, HEAD, later)
            alerting.comment(session, a.id, HEAD, "皮带更换后恢复正常", later)
            alerting.move(session, a.id, AlertStatus.RESOLVED, HEAD, later + dt.timedelta(hours=2))
        made += 1
    session.flush()
    return made
