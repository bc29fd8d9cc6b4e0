"""Demo data: Henan's 18 cities, January-September 2022, priced by the plugin's own run.

Everything goes through the plugin's services: contractors, contract terms, budgets and couriers
are imported, rate cards published, delivery scans and collection records ingested in batches,
and every city-month is run by ``run_payroll`` and approved by the demo's checker, September
too, so finance's journal for September 2022 has its payroll accrual (issue 19; DOMAIN.md asks
for no draft). No total is ever written directly, so the metrics reproduce DOMAIN.md because
the pricing does: the outsourced all-in unit price of ``cn.henan`` is 1.30 yuan/item in January (the
contractors' start-of-year price) and falls city by city to 1.00-1.15 by September.

Volumes are scaled down about 1:20 to keep the demo quick (100-200 items per courier a month);
base pay, collection quotas and volume tiers are scaled the same way so cost per item stays
realistic.
Deterministic (seeded ``rng``, fixed waybills) and idempotent: a city-month whose events exist
is not generated again, and approved months are not re-run.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from sqlmodel import Session, func, select

from .ingest import ingest
from .models import PayrollCourier, PayrollDelivery, PayrollRateCard, PayrollRun
from .payroll_run import approve, run_payroll
from .period import SHANGHAI, Month
from .rate_card_store import publish_rate_card
from .roster import import_contract_terms, import_contractors, import_couriers, set_budget

HENAN_CITIES = [
    "zhengzhou",
    "kaifeng",
    "luoyang",
    "pingdingshan",
    "anyang",
    "hebi",
    "xinxiang",
    "jiaozuo",
    "puyang",
    "xuchang",
    "luohe",
    "sanmenxia",
    "nanyang",
    "shangqiu",
    "xinyang",
    "zhoukou",
    "zhumadian",
    "jiyuan",
]
MONTHS = [Month(2022, m) for m in range(1, 10)]
START_PRICE = Decimal("1.30")
OWN_PER_CITY = 3
OUTSOURCED_PER_CITY = 1
ACTOR = "demo"
APPROVER = "demo.checker"  # maker-checker: the months are approved by someone else

CATEGORY_MIX = [("letter", 8), ("registered", 5), ("parcel", 35), ("express", 47), ("gov_mail", 5)]
MODE_MIX = [("door", 68), ("pickup_point", 17), ("locker", 10), ("counter", 5)]
DOOR_URBAN = {
    "letter": "0.30",
    "registered": "0.60",
    "parcel": "0.90",
    "express": "0.95",
    "gov_mail": "1.50",
}
TIER_ADD = {"urban": "0", "suburban": "0.10", "rural": "0.30", "mountain": "0.50"}
AGENT_FEES = {
    "letter": "0.05",
    "registered": "0.10",
    "parcel": "0.30",
    "express": "0.30",
    "gov_mail": "0.40",
}


def demo_card(effective_from: str, parcel_cut: Decimal = Decimal("0")) -> dict[str, Any]:
    """The demo's rate card; July's version cuts parcel/express door rates toward the market."""
    grid: dict[str, dict[str, dict[str, str]]] = {}
    for category, urban in DOOR_URBAN.items():
        cut = parcel_cut if category in ("parcel", "express") else Decimal("0")
        fee = Decimal(AGENT_FEES[category])
        for tier, add in TIER_ADD.items():
            door = Decimal(urban) + Decimal(add) - cut
            rates = {
                "door": door,
                "pickup_point": door - fee - Decimal("0.05"),
                "locker": door - Decimal("0.20"),
                "counter": door - Decimal("0.15"),
            }
            for mode, rate in rates.items():
                grid.setdefault(category, {}).setdefault(mode, {})[tier] = str(rate)
    return {
        "effective_from": effective_from,
        "delivery_rates": grid,
        "volume_tiers": [{"above": 150, "uplift": "0.05"}, {"above": 200, "uplift": "0.10"}],
        "commission_rates": {
            "letter": "0.05",
            "registered": "0.05",
            "parcel": "0.10",
            "express": "0.10",
            "gov_mail": "0",
        },
        "quota_bands": [
            {"lower": "0", "upper": "0.8", "multiplier": "0.9"},
            {"lower": "0.8", "upper": "1.0", "multiplier": "1.0"},
            {"lower": "1.0", "upper": None, "multiplier": "1.1"},
        ],
        "agent_fees": dict(AGENT_FEES),
        "quotas_by_grade": {"A": "300", "B": "225"},
        "market_rates": {"parcel": "1.00", "express": "1.00", "registered": "0.70"},
    }


def target_price(index: int) -> Decimal:
    """September price of the ``index``-th city: spread over 1.00-1.15 yuan/item."""
    return (Decimal("1.00") + Decimal("0.15") * (index % 6) / 5).quantize(Decimal("0.01"))


def month_price(index: int, month: Month) -> Decimal:
    """1.30 in January, falling linearly to the city's September price."""
    step = Decimal(month.month - 1) / 8
    return (START_PRICE - (START_PRICE - target_price(index)) * step).quantize(Decimal("0.01"))


def _pick(rng: Any, mix: list[tuple[str, int]]) -> str:
    point = rng.random() * sum(weight for _, weight in mix)
    for key, weight in mix:
        point -= weight
        if point < 0:
            return key
    return mix[-1][0]


def _stations(units: dict[str, Any], city: str) -> list[str]:
    below = sorted(code for code in units if code.startswith(city + "."))
    return below or [city]


def build_demo(
    session: Session, units: dict[str, Any], rng: Any, progress: Callable[[int, int, str], None]
) -> None:
    cities = [f"cn.henan.{name}" for name in HENAN_CITIES if f"cn.henan.{name}" in units]
    total = len(cities) * len(MONTHS)
    done = 0
    _roster(session, units, cities)
    for index, city in enumerate(cities):
        if (
            session.exec(
                select(func.count())
                .select_from(PayrollRateCard)
                .where(PayrollRateCard.tenant_code == city)
            ).one()
            == 0
        ):
            publish_rate_card(session, city, demo_card("2022-01-01"), ACTOR)
            publish_rate_card(session, city, demo_card("2022-07-01", Decimal("0.05")), ACTOR)
        couriers = session.exec(
            select(PayrollCourier)
            .where(PayrollCourier.code.like(f"HA{index + 1:02d}-%"))
            .order_by(PayrollCourier.code)  # type: ignore[attr-defined]
        ).all()
        for month in MONTHS:
            _events(session, city, index, couriers, month, rng)
            run = session.exec(
                select(PayrollRun).where(
                    PayrollRun.tenant_code == city,
                    PayrollRun.month == month.year * 100 + month.month,
                )
            ).first()
            if run is None or run.status == "draft":
                run_payroll(session, city, month, ACTOR)
                approve(session, city, month, APPROVER)
            session.commit()
            done += 1
            progress(done, total, f"payroll {city} {month}")


def _roster(session: Session, units: dict[str, Any], cities: list[str]) -> None:
    contractors, terms, couriers = [], [], []
    row = 1
    for index, city in enumerate(cities):
        contractor = f"HA{index + 1:02d}-WB"
        contractors.append(
            (row, {"code": contractor, "name": f"{city.split('.')[-1]} 外包投递", "unit": city})
        )
        for month in MONTHS:
            terms.append(
                (
                    row,
                    {
                        "code": f"{contractor}-{month}",
                        "contractor": contractor,
                        "start": month.first_day.isoformat(),
                        "end": month.last_day.isoformat(),
                        "unit_price": str(month_price(index, month)),
                    },
                )
            )
            row += 1
        stations = _stations(units, city)
        # The core's demo users courier_city / courier_city2 work in Zhengzhou and Kaifeng: each is
        # linked to the first courier there, so signing in as them shows one courier's payslips.
        login = {"cn.henan.zhengzhou": "courier_city", "cn.henan.kaifeng": "courier_city2"}.get(
            city
        )
        for n in range(OWN_PER_CITY):
            couriers.append(
                (
                    row,
                    {
                        "code": f"HA{index + 1:02d}-{n + 1:03d}",
                        "name": f"揽投员{index + 1:02d}{n + 1:02d}",
                        "kind": "own",
                        "station": stations[n % len(stations)],
                        "grade": "A" if n % 3 else "B",
                        "base_pay": "75.00" if n % 3 else "60.00",
                        "username": login if n == 0 else None,
                        # salary account for the bank payment file (demo_net.py)
                        "bank_account": f"621799{index + 1:04d}{n + 1:09d}",
                        "bank_name": f"中国邮政储蓄银行{city.split('.')[-1]}支行",
                    },
                )
            )
            row += 1
        for n in range(OUTSOURCED_PER_CITY):
            couriers.append(
                (
                    row,
                    {
                        "code": f"HA{index + 1:02d}-W{n + 1:02d}",
                        "name": f"外包员{index + 1:02d}{n + 1:02d}",
                        "kind": "outsourced",
                        "station": stations[0],
                        "contractor": contractor,
                    },
                )
            )
            row += 1
    import_contractors(session, contractors)
    for index, city in enumerate(cities):
        for month in MONTHS:
            # The budget sits a little above the expected volume so some months cross 90%.
            set_budget(
                session, city, month, 120 * OUTSOURCED_PER_CITY + 5 * (index % 4), START_PRICE
            )
    import_contract_terms(session, terms)
    import_couriers(session, couriers)
    session.flush()


def _events(
    session: Session, city: str, index: int, couriers: list[PayrollCourier], month: Month, rng: Any
) -> None:
    key = month.year * 100 + month.month
    ids = [c.id for c in couriers]
    exists = session.exec(
        select(func.count())
        .select_from(PayrollDelivery)
        .where(PayrollDelivery.month == key, PayrollDelivery.courier_id.in_(ids))  # type: ignore[attr-defined]
    ).one()
    if exists:
        return
    rural = index % 3  # cities differ in how rural their routes are
    tiers = [
        ("urban", 6 - 2 * rural),
        ("suburban", 3),
        ("rural", 1 + 2 * rural),
        ("mountain", rural),
    ]
    deliveries: list[tuple[int, dict[str, Any]]] = []
    collections: list[tuple[int, dict[str, Any]]] = []
    days = (month.last_day - month.first_day).days + 1
    for courier in couriers:
        outsourced = courier.kind == "outsourced"
        count = rng.randint(100, 125) if outsourced else rng.randint(130, 210)
        for n in range(count):
            mode = _pick(rng, MODE_MIX)
            moment = dt.datetime.combine(
                month.first_day + dt.timedelta(days=rng.randrange(days)),
                dt.time(8 + rng.randrange(10), rng.randrange(60)),
                SHANGHAI,
            )
            deliveries.append(
                (
                    len(deliveries),
                    {
                        "waybill": f"D{key}{courier.code}{n:05d}",
                        "courier": courier.code,
                        "time": moment.isoformat(),
                        "category": _pick(rng, CATEGORY_MIX),
                        "mode": mode,
                        "tier": _pick(rng, tiers),
                        "pickup_point": f"{city}.pp{rng.randrange(1, 6)}"
                        if mode == "pickup_point"
                        else None,
                    },
                )
            )
        if not outsourced:
            for n in range(rng.randint(15, 33)):
                moment = dt.datetime.combine(
                    month.first_day + dt.timedelta(days=rng.randrange(days)),
                    dt.time(9 + rng.randrange(8), rng.randrange(60)),
                    SHANGHAI,
                )
                collections.append(
                    (
                        len(collections),
                        {
                            "waybill": f"C{key}{courier.code}{n:05d}",
                            "courier": courier.code,
                            "time": moment.isoformat(),
                            "category": _pick(
                                rng, [("parcel", 45), ("express", 50), ("registered", 5)]
                            ),
                            "postage": f"{rng.randint(600, 1500) / 100:.2f}",
                        },
                    )
                )
    for start in range(0, len(deliveries), 5000):
        ingest(session, "delivery", deliveries[start : start + 5000])
    if collections:
        ingest(session, "collection", collections)
