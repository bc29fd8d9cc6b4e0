"""The outcall KPIs: definitions (the single source for labels, units and documentation) and
the arithmetic that turns counts into rates.

The metrics hook aggregates counts in SQL and passes them to ``kpi_values``; tests may also
feed plain attempt records to ``counts_from_attempts`` to check the SQL against hand tables.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from .call_policy import REACHED_OUTCOMES, Outcome

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
RATE_PLACES = Decimal("0.0001")
MINUTE_PLACES = Decimal("0.1")


@dataclass(frozen=True)
class KpiDef:
    key: str
    unit: str
    label_zh: str
    label_en: str
    definition: str


KPI_DEFS: tuple[KpiDef, ...] = (
    KpiDef(
        "calls",
        "calls",
        "外呼次数",
        "Call attempts",
        "Call attempts recorded in the period (attempt time, Asia/Shanghai date), any outcome.",
    ),
    KpiDef(
        "cases_called",
        "cases",
        "已呼办件数",
        "Cases called",
        "Distinct cases with at least one attempt in the period.",
    ),
    KpiDef(
        "reached",
        "calls",
        "接通次数",
        "Attempts reaching the applicant",
        "Attempts in the period whose outcome is accepted, declined or call-back "
        "(the applicant answered; busy, no answer and wrong number did not).",
    ),
    KpiDef(
        "accepted",
        "cases",
        "改邮寄办件数",
        "Cases accepted",
        "Distinct cases with an accepted attempt in the period (each became a delivery order).",
    ),
    KpiDef(
        "success_rate",
        "ratio",
        "外呼成功率",
        "Success rate",
        "Accepted attempts ÷ calls, both in the period; 0 when there were no calls.",
    ),
    KpiDef(
        "conversion_rate",
        "ratio",
        "办件转化率",
        "Conversion rate",
        "Accepted cases ÷ cases_called, both in the period; 0 when no case was called.",
    ),
    KpiDef(
        "departments",
        "departments",
        "参与部门数",
        "Participating departments",
        "Departments with at least one participating item in the unit's catalogue (as of now).",
    ),
    KpiDef(
        "service_items",
        "items",
        "参与事项数",
        "Participating service items",
        "Participating (department, item) pairs in the unit's catalogue (as of now).",
    ),
    KpiDef(
        "median_minutes_to_first_call",
        "minutes",
        "审批至首呼中位时长",
        "Median minutes to first call",
        "Median over cases whose first-ever attempt falls in the period of (first attempt − approval "
        "time) in minutes, 1 decimal; 0 when no case had its first call in the period.",
    ),
    KpiDef(
        "average_handle_seconds",
        "seconds",
        "平均处理时长",
        "Average handle time",
        "Mean over the period's attempts that recorded a call start and end of (end − start + "
        "wrap-up) in seconds, 1 decimal; 0 when no attempt has times.",
    ),
    KpiDef(
        "average_talk_seconds",
        "seconds",
        "平均通话时长",
        "Average talk time",
        "Mean (end − start) in seconds over the same attempts, 1 decimal; 0 when none.",
    ),
    KpiDef(
        "average_wrapup_seconds",
        "seconds",
        "平均话后处理时长",
        "Average wrap-up time",
        "Mean wrap-up seconds (from the call's end to the saved outcome) over the same attempts, "
        "1 decimal; 0 when none.",
    ),
    KpiDef(
        "attempts_per_conversion",
        "calls",
        "每单转化外呼次数",
        "Attempts per conversion",
        "calls ÷ accepted (distinct cases accepted), both in the period, 2 decimals; 0 when "
        "nothing was accepted.",
    ),
    KpiDef(
        "service_level",
        "ratio",
        "服务水平（审批后按时首呼）",
        "Service level (first call in time)",
        "Eligible cases approved in the period (Asia/Shanghai date) whose first call came within "
        "the unit's service_level_hours of approval ÷ those cases, leaving out a case still "
        "inside its window and not called yet; 0 when none.",
    ),
)
KPI_KEYS = tuple(k.key for k in KPI_DEFS)


@dataclass(frozen=True)
class KpiCounts:
    calls: int = 0
    cases_called: int = 0
    reached: int = 0
    accepted_attempts: int = 0
    accepted_cases: int = 0
    departments: int = 0
    service_items: int = 0
    minutes_to_first_call: tuple[float | Decimal, ...] = ()
    # handle time (issue 20): per timed attempt, seconds
    talk_seconds: tuple[int, ...] = ()
    wrapup_seconds: tuple[int, ...] = ()
    service_level_met: int = 0
    service_level_cases: int = 0


def ratio(numerator: int, denominator: int) -> Decimal:
    """numerator ÷ denominator to 4 places (half-up), 0 for an empty denominator."""
    if denominator == 0:
        return Decimal("0.0000")
    return (Decimal(numerator) / Decimal(denominator)).quantize(RATE_PLACES, rounding=ROUND_HALF_UP)


def median_minutes(values: Iterable[float | Decimal]) -> Decimal:
    """Median of minute values to 1 decimal; 0 for none."""
    vals = sorted(Decimal(str(v)) for v in values)
    if not vals:
        return Decimal("0.0")
    return Decimal(statistics.median(vals)).quantize(MINUTE_PLACES, rounding=ROUND_HALF_UP)


def _mean(values: list[int]) -> Decimal:
    if not values:
        return Decimal("0.0")
    return (Decimal(sum(values)) / len(values)).quantize(MINUTE_PLACES, rounding=ROUND_HALF_UP)


def _per(calls: int, conversions: int) -> Decimal:
    if conversions == 0:
        return Decimal("0.00")
    return (Decimal(calls) / conversions).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def kpi_values(counts: KpiCounts) -> dict[str, dict[str, Any]]:
    """The metrics-contract payload: counts as ints, rates and minutes as decimal strings."""
    raw: dict[str, int | Decimal] = {
        "calls": counts.calls,
        "cases_called": counts.cases_called,
        "reached": counts.reached,
        "accepted": counts.accepted_cases,
        "success_rate": ratio(counts.accepted_attempts, counts.calls),
        "conversion_rate": ratio(counts.accepted_cases, counts.cases_called),
        "departments": counts.departments,
        "service_items": counts.service_items,
        "median_minutes_to_first_call": median_minutes(counts.minutes_to_first_call),
        "average_handle_seconds": _mean(
            [t + w for t, w in zip(counts.talk_seconds, counts.wrapup_seconds, strict=True)]
        ),
        "average_talk_seconds": _mean(list(counts.talk_seconds)),
        "average_wrapup_seconds": _mean(list(counts.wrapup_seconds)),
        "attempts_per_conversion": _per(counts.calls, counts.accepted_cases),
        "service_level": ratio(counts.service_level_met, counts.service_level_cases),
    }
    return {
        d.key: {
            "value": str(raw[d.key]) if isinstance(raw[d.key], Decimal) else raw[d.key],
            "unit": d.unit,
            "label_zh": d.label_zh,
            "label_en": d.label_en,
        }
        for d in KPI_DEFS
    }


@dataclass(frozen=True)
class AttemptFact:
    case_no: str
    outcome: Outcome
    at: dt.datetime
    approved_at: dt.datetime


def local_date(at: dt.datetime) -> dt.date:
    return at.astimezone(LOCAL_TZ).date()


def counts_from_attempts(
    attempts: Iterable[AttemptFact],
    *,
    start: dt.date,
    end: dt.date,
    departments: int = 0,
    service_items: int = 0,
) -> KpiCounts:
    """Reference computation of the counts over plain records (the SQL must agree with it)."""
    attempts = list(attempts)
    first: dict[str, AttemptFact] = {}
    for a in sorted(attempts, key=lambda a: a.at):
        first.setdefault(a.case_no, a)
    inside = [a for a in attempts if start <= local_date(a.at) <= end]
    accepted = [a for a in inside if a.outcome == Outcome.ACCEPTED]
    minutes = [
        Decimal((f.at - f.approved_at).total_seconds()) / 60
        for f in first.values()
        if start <= local_date(f.at) <= end
    ]
    return KpiCounts(
        calls=len(inside),
        cases_called=len({a.case_no for a in inside}),
        reached=sum(1 for a in inside if a.outcome in REACHED_OUTCOMES),
        accepted_attempts=len(accepted),
        accepted_cases=len({a.case_no for a in accepted}),
        departments=departments,
        service_items=service_items,
        minutes_to_first_call=tuple(minutes),
    )
