"""Fixtures for the payroll rule tests: one small rate card whose every number is in this table.

Door rates, urban tier (yuan/item): letter 0.20, registered 0.50, parcel 1.00, express 1.20,
gov_mail 2.00. Other tiers add: suburban +0.10, rural +0.30, mountain +0.60.
Per tier, the other modes derive from the door rate:
  pickup_point = door - agent fee - 0.10      (so agent fee + pickup rate = door - 0.10 <= door)
  locker       = door - 0.15
  counter      = door - 0.10
Agent fees: letter 0.05, registered 0.10, parcel 0.30, express 0.30, gov_mail 0.50.
Commission (fraction of postage): letter 0.05, registered 0.05, parcel 0.10, express 0.08,
gov_mail 0.
Quota bands: [0, 0.8) x0.9 ; [0.8, 1.0) x1.0 ; [1.0, inf) x1.1.
Volume tiers: items beyond 100 in the month +0.05 ; beyond 150 +0.10.
Monthly collection quota: grade A 1000 yuan, grade B 800 yuan.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal as D
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

CARD_JSON = Path(__file__).parent / "fixture_card.json"  # the table above, as JSON


def card_dict(**overrides: Any) -> dict[str, Any]:
    """The fixture card as the JSON an HR user would send (a fresh copy each time)."""
    data = json.loads(CARD_JSON.read_text(encoding="utf-8"))
    data.update(overrides)
    return data


@pytest.fixture
def card_data() -> dict[str, Any]:
    return card_dict()


@pytest.fixture
def card():
    from postalops_payroll.rate_card import rate_card_from_dict

    return rate_card_from_dict(card_dict(), version=1, unit_code="cn.henan.zhengzhou")


@pytest.fixture
def jan() -> date:
    return date(2022, 1, 1)


# --- integration fixtures (the core's pytest plugin provides po_app, tenants, as_unit, ...) -----

SEPT = "2022-09"
ZZ = "cn.henan.zhengzhou"
JINSHUI = "cn.henan.zhengzhou.jinshui"
KF = "cn.henan.kaifeng"

# Courier ZZ-0001's September: the 111 items of test_payslip.py's hand computation.
ZZ1_DELIVERIES = [
    ("parcel", "door", "urban", 40),
    ("express", "pickup_point", "rural", 30),
    ("letter", "locker", "mountain", 20),
    ("gov_mail", "counter", "suburban", 10),
    ("registered", "door", "mountain", 11),
]


def delivery_rows(
    courier: str, cells, month: str = SEPT, prefix: str = "W"
) -> list[tuple[int, dict]]:
    rows = []
    for category, mode, tier, count in cells:
        for n in range(count):
            day = 1 + len(rows) % 28
            rows.append(
                (
                    len(rows),
                    {
                        "waybill": f"{prefix}{courier}{category[:3]}{mode[:3]}{tier[:3]}{n:04d}",
                        "courier": courier,
                        "time": f"{month}-{day:02d}T10:00:00+08:00",
                        "category": category,
                        "mode": mode,
                        "tier": tier,
                        "pickup_point": "cn.henan.zhengzhou.pp1"
                        if mode == "pickup_point"
                        else None,
                    },
                )
            )
    return rows


def collection_rows(courier: str, postages, month: str = SEPT) -> list[tuple[int, dict]]:
    return [
        (
            i,
            {
                "waybill": f"C{courier}{i:04d}",
                "courier": courier,
                "time": f"{month}-0{i + 1}T09:00:00+08:00",
                "category": "parcel",
                "postage": postage,
            },
        )
        for i, postage in enumerate(postages)
    ]


@pytest.fixture
def pay() -> SimpleNamespace:
    """Helpers for the integration tests (test modules cannot import conftest)."""
    return SimpleNamespace(
        card_dict=card_dict,
        delivery_rows=delivery_rows,
        collection_rows=collection_rows,
        ZZ=ZZ,
        JINSHUI=JINSHUI,
        KF=KF,
        SEPT=SEPT,
    )


@pytest.fixture
def payroll_world(tenants, as_unit):
    """Zhengzhou with its own card; Kaifeng on Henan's provincial card; four couriers; no events."""
    from postalops_payroll.rate_card_store import publish_rate_card
    from postalops_payroll.roster import import_contract_terms, import_contractors, import_couriers

    with as_unit(None) as s:
        publish_rate_card(s, ZZ, card_dict(), "hr.zhang")
        publish_rate_card(s, "cn.henan", card_dict(), "hr.province")
        import_contractors(s, [(2, {"code": "WB1", "name": "顺利外包", "unit": ZZ})])
        import_contract_terms(
            s,
            [
                (
                    2,
                    {
                        "code": "WB1-2022-09",
                        "contractor": "WB1",
                        "start": "2022-09-01",
                        "end": "2022-09-30",
                        "unit_price": "1.10",
                    },
                )
            ],
        )
        import_couriers(
            s,
            [
                (
                    2,
                    {
                        "code": "ZZ-0001",
                        "name": "张一",
                        "kind": "own",
                        "station": JINSHUI,
                        "grade": "A",
                        "base_pay": "3000.00",
                        "username": "zz1",
                    },
                ),
                (
                    3,
                    {
                        "code": "ZZ-0002",
                        "name": "张二",
                        "kind": "own",
                        "station": JINSHUI,
                        "grade": "B",
                        "base_pay": "2500.00",
                        "username": "zz2",
                    },
                ),
                (
                    4,
                    {
                        "code": "ZZ-W01",
                        "name": "外包一",
                        "kind": "outsourced",
                        "station": JINSHUI,
                        "contractor": "WB1",
                    },
                ),
                (
                    5,
                    {
                        "code": "KF-0001",
                        "name": "开一",
                        "kind": "own",
                        "station": KF,
                        "grade": "A",
                        "base_pay": "2800.00",
                    },
                ),
            ],
        )
        s.commit()
    return tenants


@pytest.fixture
def september_events(payroll_world, as_unit):
    """ZZ-0001 as in the hand computation; ZZ-0002 10 parcels; ZZ-W01 20 parcels; KF-0001 5 express."""
    from postalops_payroll.ingest import ingest
    from postalops_payroll.payroll_run import add_adjustment
    from postalops_payroll.period import Month

    with as_unit(ZZ) as s:
        ingest(s, "delivery", delivery_rows("ZZ-0001", ZZ1_DELIVERIES))
        ingest(s, "delivery", delivery_rows("ZZ-0002", [("parcel", "door", "urban", 10)]))
        ingest(s, "delivery", delivery_rows("ZZ-W01", [("parcel", "door", "urban", 20)]))
        ingest(s, "collection", collection_rows("ZZ-0001", ["300.00", "300.00", "199.90"]))
        add_adjustment(
            s, "ZZ-0001", Month(2022, 9), D("-50.00"), "late returns on 3 days", "hr.zhang"
        )
        s.commit()
    with as_unit(KF) as s:
        ingest(s, "delivery", delivery_rows("KF-0001", [("express", "door", "rural", 5)]))
        s.commit()


@pytest.fixture(scope="session")
def po_app(tmp_path_factory):
    """The app with the dashboard host and this plugin only.

    Payroll's tests do not depend on the other plugins being importable at the same moment;
    cross-plugin behaviour is tested in the repository's top-level tests.
    """
    import postalops_payroll.models  # noqa: F401
    import postalops_payroll.plugin as plugin
    from postalops.app import create_app
    from postalops.testing import create_schema, import_all_models, make_settings

    extra: list = []
    try:
        import postalops_dashboards.plugin as dashboards

        extra.append(dashboards)
    except ImportError:  # pragma: no cover - the dashboards ship with the core distribution
        pass
    app = create_app(
        make_settings(tmp_path_factory.mktemp("payroll")),
        extra_plugins=(*extra, plugin),
        entry_points=False,
    )
    import_all_models(app)
    create_schema(app.extensions["postalops.db"])
    yield app
    app.extensions["postalops.jobs"].stop_workers()
    app.extensions["postalops.db"].dispose()
