"""The demo's rolling present for payroll: Henan's couriers keep delivering and collecting up to
now, every closed month is run and approved, and the current month has a draft (issue 16 §2).

Months: every month that overlaps the last 90 days up to ``postalops.clock.today()``, each
from its first day (a pay month is whole), the current one up to now. Each courier-day's scans
are drawn from an rng seeded by courier and day, so a day's records are the same whichever day
the demo runs on. Everything goes through the plugin's services as in the article's months:
budgets (``set_budget``) and the outsourcing contracts' monthly terms
(``import_contract_terms``), scans and collection records through ``ingest``, runs through
``run_payroll`` by the demo's maker and ``approve`` by its checker (maker-checker is on). The
rate card in force is the article's July 2022 card.

One closed month is left for people to close: last month's run of Zhengzhou (``TASK_CITY``)
stays a draft, so the user guide's first task (``payroll_hr_city`` runs last month's payroll,
``payroll_hr_province`` approves it) can be done on any day. The next month's ``postalops demo``
approves it like the others once it is no longer last month.

- Own couriers deliver 4–8 items a working day (same 1:20 scale as the article's months), less
  on Saturdays and Sundays, more in the 双十一 weeks; the outsourced courier 3–5; own couriers
  collect now and then. Cities keep the article's mix of urban and rural routes.
- The outsourced unit price stays at the city's September 2022 price (1.00–1.15 yuan/item).

Idempotent: scans are keyed by waybill (ingest drops what is stored), an approved month is
never sent scans or run again, and the current month's draft is run again only when scans
were added. A same-day re-run adds nothing; a next-day run adds that day's scans and reruns
the draft; when a month ends, the next run approves it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from postalops import clock
from postalops.demo import PRESENT_DAYS, day_rng, present_window, scaled
from sqlmodel import Session, select

from .demo import ACTOR, APPROVER, CATEGORY_MIX, HENAN_CITIES, MODE_MIX, _pick, target_price
from .ingest import ingest
from .models import PayrollCourier, PayrollRun
from .payroll_run import approve, run_payroll
from .period import SHANGHAI, Month
from .roster import import_contract_terms, set_budget

TASK_CITY = "cn.henan.zhengzhou"  # its last closed month waits for payroll_hr_city (see above)
ARTICLE_END = dt.date(2022, 9, 30)  # the article's last pay month ends here
WEEKDAY_LOAD = (1.1, 1.0, 1.0, 1.0, 1.0, 0.8, 0.6)  # Monday .. Sunday
PRICE_CAP = Decimal("1.20")


def present_months(today: dt.date, days: int = PRESENT_DAYS) -> list[Month]:
    first, last = present_window(ARTICLE_END, today, days)
    months, m = [], Month(first.year, first.month)
    while m <= Month(last.year, last.month):
        months.append(m)
        m = m.next()
    return months


def season(day: dt.date) -> float:
    return 1.4 if day.month == 11 and 11 <= day.day <= 20 else 1.0


def day_rows(
    city_index: int, courier: PayrollCourier, day: dt.date, now: dt.datetime
) -> tuple[list[dict], list[dict]]:
    """One courier's delivery scans and collection records of ``day`` up to ``now``."""
    rng = day_rng(f"payroll.{courier.code}", day)
    rural = city_index % 3
    tiers = [
        ("urban", 6 - 2 * rural),
        ("suburban", 3),
        ("rural", 1 + 2 * rural),
        ("mountain", rural),
    ]
    load = WEEKDAY_LOAD[day.weekday()] * season(day)
    outsourced = courier.kind == "outsourced"
    count = round(scaled(rng.randint(3, 5) if outsourced else rng.randint(4, 8)) * load)
    deliveries, collections = [], []
    for n in range(count):
        mode = _pick(rng, MODE_MIX)
        at = dt.datetime.combine(day, dt.time(8 + rng.randrange(10), rng.randrange(60)), SHANGHAI)
        row = {
            "waybill": f"DP{day:%Y%m%d}{courier.code}{n:03d}",
            "courier": courier.code,
            "time": at.isoformat(),
            "category": _pick(rng, CATEGORY_MIX),
            "mode": mode,
            "tier": _pick(rng, tiers),
            "pickup_point": (
                f"cn.henan.{HENAN_CITIES[city_index]}.pp{rng.randrange(1, 6)}"
                if mode == "pickup_point"
                else None
            ),
        }
        if at <= now:
            deliveries.append(row)
    if not outsourced:
        for n in range(rng.choice((0, 0, 1, 1, 2))):
            at = dt.datetime.combine(
                day, dt.time(9 + rng.randrange(8), rng.randrange(60)), SHANGHAI
            )
            row = {
                "waybill": f"CP{day:%Y%m%d}{courier.code}{n:03d}",
                "courier": courier.code,
                "time": at.isoformat(),
                "category": _pick(rng, [("parcel", 45), ("express", 50), ("registered", 5)]),
                "postage": f"{rng.randint(600, 1500) / 100:.2f}",
            }
            if at <= now:
                collections.append(row)
    return deliveries, collections


def build_present(
    session: Session,
    units: dict[str, Any],
    progress: Callable[[int, int, str], None] = lambda *a: None,
    today: dt.date | None = None,
    days: int = PRESENT_DAYS,
) -> dict[str, int]:
    """Scans, budgets, contract terms and runs of Henan's cities up to today."""
    today = today or clock.today()
    now = clock.now()
    months = present_months(today, days)
    current = Month(today.year, today.month)
    last_month = Month.parse(today.replace(day=1) - dt.timedelta(days=1))
    cities = [(i, f"cn.henan.{c}") for i, c in enumerate(HENAN_CITIES) if f"cn.henan.{c}" in units]
    out = {"present_scans": 0, "present_runs": 0, "present_approved": 0}
    for ci, (index, city) in enumerate(cities, 1):
        couriers = session.exec(
            select(PayrollCourier)
            .where(PayrollCourier.code.like(f"HA{index + 1:02d}-%"))  # type: ignore[attr-defined]
            .order_by(PayrollCourier.code)  # type: ignore[attr-defined]
        ).all()
        contractor = f"HA{index + 1:02d}-WB"
        for month in months:
            run = session.exec(
                select(PayrollRun).where(
                    PayrollRun.tenant_code == city,
                    PayrollRun.month == month.year * 100 + month.month,
                )
            ).first()
            if run is not None and run.status != "draft":
                continue  # approved: closed for good
            outsourced = sum(1 for c in couriers if c.kind == "outsourced")
            set_budget(session, city, month, 110 * outsourced + 5 * (index % 4), PRICE_CAP)
            import_contract_terms(
                session,
                [
                    (
                        1,
                        {
                            "code": f"{contractor}-{month}",
                            "contractor": contractor,
                            "start": month.first_day.isoformat(),
                            "end": month.last_day.isoformat(),
                            "unit_price": str(target_price(index)),
                        },
                    )
                ],
            )
            added = _scans(session, index, couriers, month, min(today, month.last_day), now)
            out["present_scans"] += added
            if run is None or added:
                run_payroll(session, city, month, ACTOR)
                out["present_runs"] += 1
            if month < current and not (city == TASK_CITY and month == last_month):
                approve(session, city, month, APPROVER)
                out["present_approved"] += 1
            session.commit()
        progress(ci, len(cities), f"present {city}")
    return out


def _scans(
    session: Session,
    index: int,
    couriers: list[PayrollCourier],
    month: Month,
    last: dt.date,
    now: dt.datetime,
) -> int:
    deliveries: list[dict] = []
    collections: list[dict] = []
    day = month.first_day
    while day <= last:
        for courier in couriers:
            d, c = day_rows(index, courier, day, now)
            deliveries += d
            collections += c
        day += dt.timedelta(days=1)
    added = 0
    for kind, rows in (("delivery", deliveries), ("collection", collections)):
        if rows:
            report = ingest(session, kind, list(enumerate(rows)))
            added += report["counts"]["accepted"]
    return added
