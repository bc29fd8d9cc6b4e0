"""Migration payroll_0003: pay lines move into their slips and back; tallies are re-keyed.

Runs on the test backend (SQLite, or a PostgreSQL database created for the test).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import sqlalchemy as sa
from alembic import command
from postalops import migrate
from postalops.tenancy import Scope
from postalops_payroll.models import PayrollPayslip
from postalops_payroll.payroll_run import payslip_lines
from sqlmodel import select

STATION = "cn.henan.zhengzhou.jinshui"
# (courier, position, kind, category, mode, tier, volume_tier, quantity, unit_rate, amount,
#  rate_card_version, contract_term, reason, author), as payroll_0002 stored them
LINES = [
    (1, 0, "base", None, None, None, None, "1", "3000", "3000.00", 2, None, None, None),
    (1, 56, "delivery", "parcel", "door", "urban", 0, "30", "0.99", "29.70", 2, None, None, None),
    (1, 1001, "volume_tier", None, None, None, 1, "20", "0.045", "0.90", 2, None, None, None),
    (
        1,
        2003,
        "commission",
        "parcel",
        None,
        None,
        None,
        "800.00",
        "0.1",
        "80.00",
        2,
        None,
        None,
        None,
    ),
    (
        1,
        3003,
        "agent_fee",
        "parcel",
        "pickup_point",
        None,
        None,
        "10",
        "-0.3",
        "-3.00",
        2,
        None,
        None,
        None,
    ),
    (
        1,
        4000,
        "adjustment",
        None,
        None,
        None,
        None,
        "1",
        "-50",
        "-50.00",
        None,
        None,
        '迟到扣款, "late"',
        "hr.zhang",
    ),
    (
        2,
        1,
        "outsourced",
        None,
        None,
        None,
        None,
        "20",
        "1.1",
        "22.00",
        None,
        "WB1-2022-09",
        None,
        None,
    ),
]
TALLY = {
    "tenant_code": STATION,
    "courier_id": 1,
    "month": 202209,
    "category": "parcel",
    "mode": "door",
    "tier": "urban",
    "items": 30,
}


NAMES = ("payroll_run", "payroll_payslip", "payroll_pay_line", "payroll_delivery_tally")


def _tables(conn):
    meta = sa.MetaData()
    meta.reflect(conn, only=lambda name, _: name in NAMES)
    return meta.tables


def _seed(conn) -> None:
    t = _tables(conn)
    conn.execute(
        t["payroll_run"]
        .insert()
        .values(
            id=1,
            tenant_code="cn.henan.zhengzhou",
            month=202209,
            status="approved",
            started_by="hr",
            computed_at=dt.datetime(2022, 10, 3, tzinfo=dt.UTC),
            couriers=2,
            own_items=30,
            outsourced_items=20,
            pickup_point_items=10,
            own_total="3057.60",
            agent_fees="3.00",
            outsourced_total="22.00",
            payroll_total="3079.60",
            rate_card_versions=[2],
        )
    )
    for courier, kind, total in ((1, "own", "3057.60"), (2, "outsourced", "22.00")):
        conn.execute(
            t["payroll_payslip"]
            .insert()
            .values(
                tenant_code=STATION,
                run_id=1,
                month=202209,
                courier_id=courier,
                courier_code=f"ZZ-{courier}",
                kind=kind,
                delivered_items=30,
                pickup_point_items=10,
                rate_card_version=2 if kind == "own" else None,
                agent_fees="0.00",
                total=total,
            )
        )
    names = [c.name for c in t["payroll_pay_line"].columns if c.name != "tenant_code"]
    conn.execute(
        t["payroll_pay_line"].insert(),
        [
            {"tenant_code": STATION, "run_id": 1, **dict(zip(names[1:], line, strict=True))}
            for line in LINES
        ],
    )
    conn.execute(t["payroll_delivery_tally"].insert().values(**TALLY))


def _stored_lines(conn) -> list[tuple]:
    line = _tables(conn)["payroll_pay_line"]
    rows = conn.execute(sa.select(line).order_by(line.c.courier_id, line.c.position)).mappings()
    return [
        (
            r["courier_id"],
            r["position"],
            r["kind"],
            r["category"],
            r["mode"],
            r["tier"],
            r["volume_tier"],
            D(str(r["quantity"])),
            D(str(r["unit_rate"])),
            D(str(r["amount"])),
            r["rate_card_version"],
            r["contract_term"],
            r["reason"],
            r["author"],
        )
        for r in rows
    ]


def _expected() -> list[tuple]:
    return [(*line[:7], *(D(x) for x in line[7:10]), *line[10:]) for line in LINES]


def test_lines_move_into_their_slips_and_back(po_app, empty_db):
    registry = po_app.extensions["postalops.plugins"]
    migrate.upgrade(empty_db, registry, target="payroll_0002")
    with empty_db.engine.begin() as conn:
        _seed(conn)
        before = _stored_lines(conn)
    assert before == _expected()

    migrate.upgrade(empty_db, registry)
    with empty_db.session(Scope.system_scope(), owner=True) as s:
        slips = {slip.courier_id: slip for slip in s.exec(select(PayrollPayslip))}
        read = [
            (courier, *line) for courier in sorted(slips) for line in payslip_lines(slips[courier])
        ]
    # The lines as the API shows them: same kinds, cells, numbers, versions and texts.
    assert read == before
    with empty_db.engine.connect() as conn:
        assert "payroll_pay_line" not in sa.inspect(conn).get_table_names()
        tally = _tables(conn)["payroll_delivery_tally"]
        assert [dict(r) for r in conn.execute(sa.select(tally)).mappings()] == [TALLY]
        key = sa.inspect(conn).get_pk_constraint("payroll_delivery_tally")["constrained_columns"]
        assert key[:2] == ["month", "courier_id"]

    with empty_db.engine.begin() as conn:
        command.downgrade(migrate.alembic_config(registry, conn), "payroll_0002")
    with empty_db.engine.connect() as conn:
        assert _stored_lines(conn) == before
        tally = _tables(conn)["payroll_delivery_tally"]
        assert [dict(r) for r in conn.execute(sa.select(tally)).mappings()] == [TALLY]
        key = sa.inspect(conn).get_pk_constraint("payroll_delivery_tally")["constrained_columns"]
        assert key[:2] == ["courier_id", "month"]
        assert "lines" not in {c["name"] for c in sa.inspect(conn).get_columns("payroll_payslip")}
