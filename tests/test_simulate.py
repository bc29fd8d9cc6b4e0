"""``postalops simulate`` (issue 16 §3): a live portal kept busy through the plugins' public APIs.

The app is served on a free local port over a small dataset (a sorter at Jinshui, Guangzhou's
hall catalogue, a live campaign in Hebei, a pickup point in Zhengzhou, a loan with interest due)
with the clock frozen on a Wednesday at 11:30 (in the sorters' second wave, the hall open).
The CLI runs a few ticks against it; every plugin's records arrive through its API, the
metrics move, a repeated tick adds nothing, the job is cancelled through the API, and
``postalops serve`` starts the simulation in the embedded mode only.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from decimal import Decimal
from typing import Any

import pytest
import requests
from click.testing import CliRunner

for _plugin in ("sorter", "outcall", "ecommerce", "pickup_points", "lending"):
    pytest.importorskip(f"postalops_{_plugin}")


def _weekday() -> dt.date:
    """The last working day whose 11:30 has passed (the sorters' ingest keeps only recent
    telemetry and refuses future times, by the real clock: the simulated hour must be a recent
    past one; before 11:35 in China that is an earlier day)."""
    from postalops import clock

    now = clock.now().astimezone(clock.zone())
    day = now.date()
    if now.time() < dt.time(11, 35):
        day -= dt.timedelta(days=1)
    while day.weekday() >= 5:
        day -= dt.timedelta(days=1)
    return day


DAY = _weekday()
NOW = f"{DAY} 11:30"  # in wave 2 (11:00-14:30), the hall open
DISBURSED = DAY - dt.timedelta(days=61)  # two monthly interest instalments due by DAY
JINSHUI = "cn.henan.zhengzhou.jinshui"
GZ = "cn.guangdong.guangzhou"
SJZ = "cn.hebei.shijiazhuang"
EXTRA_TREE = [
    ("cn.guangdong", "cn", "广东", "Guangdong", "province"),
    (GZ, "cn.guangdong", "广州", "Guangzhou", "city"),
]


def _lending_loan(s: Any) -> None:
    """A 100,000 loan at Jinshui disbursed 61 days before DAY: two instalments due."""
    from postalops.context import Principal
    from postalops_lending import service
    from postalops_lending.credit_line import TaxModePolicy
    from postalops_lending.product import DayCount, ProductTerms, RepaymentMethod

    def person(uid: int, *perms: str) -> Principal:
        return Principal(
            kind="user",
            name=f"user:u{uid}",
            home_unit=JINSHUI,
            permissions=frozenset(perms),
            user_id=uid,
        )

    cm = person(2, "lending.view", "lending.apply", "lending.review", "lending.service")
    approver = person(3, "lending.view", "lending.approve")
    product = service.create_product(
        s,
        cm,
        code="SIM-TAX",
        name_zh="小微E贷(税务模式)",
        name_en="Micro E-loan tax",
        terms=ProductTerms(
            "SIM-TAX", Decimal("0.0435"), 12, DayCount.ACT_360, RepaymentMethod.EQUAL_INSTALMENTS
        ),
        policy=TaxModePolicy(),
    )
    b = service.register_borrower(
        s,
        cm,
        service.BorrowerData(
            name="郑州某粮油贸易有限公司",
            credit_code="91110000600037341L",
            legal_rep_name="王建国",
            legal_rep_id_number="11010519491231002X",
            industry="粮油贸易",
            established_on=dt.date(2016, 3, 1),
            customer_manager="u2",
        ),
        today=DISBURSED - dt.timedelta(days=2),
    )
    applied = DISBURSED - dt.timedelta(days=2)
    first = applied.year * 12 + applied.month - 1 - 13  # the 13 months before the application
    months = [
        service.TaxMonthData(
            dt.date((first + i) // 12, (first + i) % 12 + 1, 1),
            Decimal("14433.34"),
            Decimal("150000"),
            "A",
        )
        for i in range(13)
    ]
    service.store_tax_months(s, b, months, "import")
    sh = dt.timezone(dt.timedelta(hours=8))
    at = dt.datetime.combine(DISBURSED - dt.timedelta(days=2), dt.time(10), sh)
    app = service.submit_application(
        s, cm, borrower_id=b.id, product_id=product.id, requested_amount=Decimal("100000.00"), at=at
    )
    service.review_application(s, cm, app.id, accept=True, at=at + dt.timedelta(hours=1))
    service.decide_application(s, approver, app.id, approve=True, at=at + dt.timedelta(hours=3))
    service.sign_contract(s, cm, app.id, at=at + dt.timedelta(days=2))
    service.disburse(s, cm, app.id, at=at + dt.timedelta(days=2))


def build_dataset(app: Any) -> None:
    from postalops import context
    from postalops.testing import build_tree, system_context
    from postalops_ecommerce import campaigns, catalogue, community
    from postalops_outcall import service as outcall
    from postalops_sorter import registry

    build_tree(app, EXTRA_TREE, enable_all=False)
    with context.activate(system_context(app)) as ctx:
        s = ctx.session
        registry.upsert_device(
            s,
            JINSHUI,
            "ZZ-SORT-01",
            {
                "name": "金水圆盘分拣机",
                "model": "YP-2000",
                "chutes": 24,
                "commissioned_on": dt.date(2024, 6, 1),
                "rated_per_hour": 5000,
            },
        )
        outcall.save_catalogue_entries(
            s,
            GZ,
            [
                {"department": "公安局", "item": "居民身份证换领", "participating": True},
                {"department": "市场监管局", "item": "营业执照", "participating": True},
            ],
        )
        campaigns.create_campaign(
            s,
            owner_code="cn.hebei",
            code=f"LIVE{DAY:%Y%m}",
            name="电商节",
            starts_on=DAY.replace(day=1),
            ends_on=DAY + dt.timedelta(days=20),
        )
        community.add_leader(s, branch=SJZ, code="SJZ-L1", name="张团长", pickup_point="PP-1")
        shop = catalogue.add_merchant(s, unit_code="cn.hebei", code="M1", name="赞皇大枣合作社")
        catalogue.add_product(
            s, merchant=shop, sku="ZH-DATE-1", name="赞皇大枣", category="dried_fruit",
            agreed_price="39.90",
        )  # fmt: skip
        catalogue.add_product(
            s, merchant=shop, sku="ZH-OIL-5L", name="压榨花生油 5L", category="grain_oil",
            agreed_price="89.00",
        )  # fmt: skip
        s.commit()
    with context.activate(system_context(app, JINSHUI)) as ctx:
        _lending_loan(ctx.session)
        ctx.session.commit()


@pytest.fixture
def live(po_app: Any, tenants: Any, frozen_today: Any, make_token: Any) -> Any:
    """The app served on a free port over the small dataset, the clock at ``NOW``."""
    from werkzeug.serving import make_server

    frozen_today.set(f"{DISBURSED - dt.timedelta(days=2)} 10:00")
    build_dataset(po_app)
    frozen_today.set(NOW)
    admin = make_token("cn.henan.zhengzhou", "pickup_points.manage", "pickup_points.view")
    row = {"code": "ZZ-PP-1", "name": "金水路易邮驿站", "point_type": "own",
           "lon": 113.66, "lat": 34.77, "county": "jinshui", "opened_on": "2024-05-01"}  # fmt: skip
    r = admin.post("/api/v1/pickup_points/points/import", json=[row])
    assert r.status_code == 200, r.get_json()
    server = make_server("127.0.0.1", 0, po_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


def counts(app: Any) -> dict[str, int]:
    from postalops.testing import count_rows
    from postalops_ecommerce.models import Order, Refund
    from postalops_lending.models import Repayment
    from postalops_outcall.models import OutcallCase
    from postalops_pickup_points.models import PickupItem
    from postalops_sorter.models import Event

    models = {
        "sorter_events": Event,
        "outcall_cases": OutcallCase,
        "ecommerce_orders": Order,
        "ecommerce_refunds": Refund,
        "pickup_items": PickupItem,
        "lending_repayments": Repayment,
    }
    return {name: count_rows(app, model) for name, model in models.items()}


def picked_up(app: Any) -> int:
    from postalops_pickup_points.models import PickupItem
    from sqlmodel import func, select

    db = app.extensions["postalops.db"]
    with db.engine.connect() as conn:
        stmt = (
            select(func.count()).select_from(PickupItem).where(PickupItem.picked_up_at.isnot(None))
        )
        return int(conn.execute(stmt).scalar_one())


def metrics(app: Any, token: Any, tenant: str) -> dict[str, Any]:
    frm = DAY - dt.timedelta(days=29)
    body = token.get(f"/api/v1/metrics?tenant={tenant}&from={frm}&to={DAY}").get_json()
    return {
        f"{plugin}.{name}": kpi["value"]
        for plugin, kpis in body["metrics"].items()
        for name, kpi in kpis.items()
    }


def cli(app: Any, *args: str) -> Any:
    from postalops.cli import main

    settings = app.extensions["postalops.settings"]
    env = {
        "POSTALOPS_DATABASE_URL": settings.database_url,
        "POSTALOPS_INSTANCE_PATH": str(settings.instance_path),
        "POSTALOPS_SECRET_KEY": settings.secret_key,
    }
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def test_cli_ticks_arrive_through_every_api_and_move_the_metrics(po_app, live, make_token, workers):
    reader = make_token("cn", "core.metrics.read")
    before, kpis_before = counts(po_app), metrics(po_app, reader, "cn")
    result = cli(
        po_app, "simulate", "--url", live, "--interval", "1", "--duration", "4", "--speed", "3000"
    )
    assert result.exit_code == 0, result.output
    assert result.output.count("tick ") >= 2, result.output
    assert "error" not in result.output, result.output
    after = counts(po_app)
    grown = {name for name in before if after[name] > before[name]}
    assert grown == set(before), (before, after)
    assert picked_up(po_app) > 0  # later ticks collect items that arrived in earlier ones
    # what the scheduler runs every minute in the embedded mode: the sorters' rollup and the
    # e-commerce figures; then the overview's metrics have moved for every plugin
    from postalops.jobs import wait_for

    db = po_app.extensions["postalops.db"]
    sorter = make_token("cn", "sorter.manage").post("/api/v1/sorter/jobs/rollup").get_json()
    shop = make_token("cn", "ecommerce.refresh").post("/api/v1/ecommerce/refresh").get_json()
    for job_id in (sorter["job_id"], shop["job"]):
        assert wait_for(db, job_id, timeout=20).status == "succeeded"
    kpis_after = metrics(po_app, reader, "cn")
    moved = {k: (kpis_before.get(k), v) for k, v in kpis_after.items() if v != kpis_before.get(k)}
    # outcall's figures are its calls: the agents call only within the calling hours, which the
    # plugin reads from the real clock (08:30-20:00 in Guangzhou by default), so at night only
    # its queue grows
    calls = json.loads(result.output.splitlines()[-1])["counts"]["outcall"]["calls"]
    expected = {"sorter", "ecommerce", "pickup_points", "lending"} | (
        {"outcall"} if calls else set()
    )
    assert {k.split(".")[0] for k in moved} == expected, moved
    # the clients used tokens of their own, made once: a second run adds none
    from postalops.models import ApiToken
    from postalops.testing import count_rows

    tokens = count_rows(po_app, ApiToken)
    assert cli(po_app, "simulate", "--url", live, "--duration", "0").exit_code == 0
    assert count_rows(po_app, ApiToken) == tokens
    # only the simulated day was written: nothing dated before it
    from postalops_outcall.models import OutcallCase
    from sqlmodel import func, select

    with po_app.extensions["postalops.db"].engine.connect() as conn:
        early = conn.execute(
            select(func.min(OutcallCase.approved_at)).where(OutcallCase.case_no.like("GZZW%S%"))
        ).scalar_one()
    assert early is not None and early.date() == DAY


def test_a_repeated_tick_adds_nothing(po_app, live):
    from postalops import clock
    from postalops.simulate import Tick, TokenBank, run_tick

    bank = TokenBank(po_app)
    at = clock.now().replace(second=0, microsecond=0)
    tick = Tick(at, live, bank, interval=5, speed=3000)
    first = run_tick(po_app, tick)
    assert not [k for k, v in first.items() if "error" in v], first
    once = counts(po_app)
    again = run_tick(po_app, Tick(at, live, bank, interval=5, speed=3000))
    assert not [k for k, v in again.items() if "error" in v], again
    assert counts(po_app) == once
    assert once["sorter_events"] and once["outcall_cases"] and once["ecommerce_orders"]


def test_the_job_is_listed_and_cancelled_through_the_api(
    po_app, live, workers, make_token, login, make_user
):
    from postalops.jobs import wait_for
    from postalops.simulate import JOB_KIND, submit_job

    db = po_app.extensions["postalops.db"]
    job_id = submit_job(po_app, url=live, interval=1)
    running = wait_for(db, job_id, timeout=15, statuses=("running", "failed", "succeeded"))
    assert running.status == "running", running.error
    time.sleep(1.5)
    admin = login(make_user("boss", "cn", "admin"))
    page = admin.get("/jobs").get_data(as_text=True)
    assert "模拟网点运行" in page
    assert po_app.extensions["postalops.jobs"].label(JOB_KIND, zh=False) == "Network simulation"
    ops = make_token("cn", "core.jobs.cancel", "core.jobs.view")
    r = ops.post(f"/api/v1/jobs/{job_id}/cancel")
    assert r.status_code == 200, r.get_json()
    done = wait_for(db, job_id, timeout=10)
    assert done.status == "cancelled"
    assert done.done >= 1  # it ticked before it was stopped


def test_serve_starts_it_in_the_embedded_mode_only(po_app, tmp_path):
    from postalops.config import Settings
    from postalops.simulate import wanted_by_serve

    embedded = Settings.from_env(
        database_url=f"sqlite:///{tmp_path / 'x.sqlite'}", redis_url=None, simulate=True
    )
    assert wanted_by_serve(embedded)
    assert not wanted_by_serve(Settings.from_env(**{**embedded.__dict__, "simulate": False}))
    pg = "postgresql+psycopg://postalops@127.0.0.1/postalops"
    assert not wanted_by_serve(Settings.from_env(**{**embedded.__dict__, "database_url": pg}))
    redis = "redis://127.0.0.1:6379/0"
    assert not wanted_by_serve(Settings.from_env(**{**embedded.__dict__, "redis_url": redis}))

    # the real command: `postalops serve` on two new embedded instances, started together: the
    # default one submits the job by itself, the one with POSTALOPS_SIMULATE=0 does not
    from postalops.db import Database
    from postalops.models import OrgUnit
    from postalops.tenancy import Scope
    from postalops.testing import create_schema

    env = {k: v for k, v in os.environ.items() if not k.startswith("POSTALOPS_")}
    cmd = [sys.executable, "-c", "from postalops.cli import main; main()", "serve", "--no-upgrade"]
    servers = []
    for setting in ("1", "0"):
        folder = tmp_path / f"simulate-{setting}"
        folder.mkdir()
        db = Database(f"sqlite:///{folder / 'postalops.sqlite'}", runtime_role=None)
        create_schema(db)  # the schema the migrations make (their own tests check that)
        with db.transaction(Scope.system_scope()) as s:
            s.add(
                OrgUnit(code="cn", parent_code=None, name_zh="集团", name_en="Group", level="group")
            )
        db.dispose()
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        proc = subprocess.Popen(
            [*cmd, "--port", str(port)],
            env={**env, "POSTALOPS_INSTANCE_PATH": str(folder), "POSTALOPS_SIMULATE": setting},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        servers.append((setting, folder, port, proc))

    def simulation_jobs(folder: Any) -> int:
        with sqlite3.connect(folder / "postalops.sqlite") as conn:
            sql = "SELECT count(*) FROM core_job WHERE kind = 'core.simulate'"
            return int(conn.execute(sql).fetchone()[0])

    try:
        deadline = time.monotonic() + 120  # generous: a loaded CI box starts Python slowly
        for _, _, port, _ in servers:
            while time.monotonic() < deadline:
                try:
                    if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).ok:
                        break
                except requests.RequestException:
                    time.sleep(0.2)
        on, off = servers[0][1], servers[1][1]
        while time.monotonic() < deadline and not simulation_jobs(on):
            time.sleep(0.2)
        assert simulation_jobs(on) == 1
        assert simulation_jobs(off) == 0  # both were up for as long
    finally:
        for *_, proc in servers:
            proc.terminate()
            proc.wait(timeout=10)


def test_a_revoked_token_is_replaced_by_the_next_tick(po_app, live, make_token):
    from postalops import clock
    from postalops.models import ApiToken
    from postalops.simulate import Tick, TokenBank, run_tick
    from sqlmodel import select

    bank = TokenBank(po_app)
    at = clock.now().replace(second=0, microsecond=0)
    assert "error" not in run_tick(po_app, Tick(at, live, bank, interval=5))["sorter"]
    from postalops.tenancy import Scope
    from postalops_sorter.models import Device

    db = po_app.extensions["postalops.db"]
    with db.session(Scope.system_scope()) as s:
        device = s.exec(select(Device).where(Device.code == "ZZ-SORT-01")).one()
        subject = f"sorter:{device.id}"
        device_token = s.exec(select(ApiToken).where(ApiToken.subject == subject)).one()
    admin = make_token("cn", "core.tokens.manage")
    assert admin.delete(f"/api/v1/tokens/{device_token.id}").status_code in (200, 204)
    later = at + dt.timedelta(seconds=5)
    refused = run_tick(po_app, Tick(later, live, bank, interval=5))["sorter"]
    assert "401" in refused["error"]
    again = run_tick(po_app, Tick(later + dt.timedelta(seconds=5), live, bank, interval=5))
    assert "error" not in again["sorter"] and again["sorter"]["accepted"] > 0
    with db.session(Scope.system_scope()) as s:
        assert len(s.exec(select(ApiToken).where(ApiToken.subject == subject)).all()) == 2
