"""Integration fixtures: stations in two cities, sorters with their own tokens, event builders.

The core's pytest plugin provides ``po_app``, ``tenants``, ``make_user``, ``login``,
``make_token``, ``as_unit`` and ``workers``.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

JINSHUI = "cn.henan.zhengzhou.jinshui"  # a station in Zhengzhou (from the core's test tree)
GULOU = "cn.henan.kaifeng.gulou"  # a station in Kaifeng, added here
SH = dt.timezone(dt.timedelta(hours=8))


def local(day: dt.date, hh: int, mm: int, ss: int = 0, ms: int = 0) -> str:
    """ISO time in Asia/Shanghai, as a machine would send it."""
    return dt.datetime(day.year, day.month, day.day, hh, mm, ss, ms * 1000, tzinfo=SH).isoformat()


def item(seq: int, ts: str, result: str = "sorted", chute: int = 3) -> dict[str, Any]:
    return {
        "seq": seq,
        "ts": ts,
        "type": "item",
        "barcode": f"B{seq:08d}",
        "chute": chute,
        "result": result,
    }


def state(seq: int, ts: str, value: str) -> dict[str, Any]:
    return {"seq": seq, "ts": ts, "type": "state", "state": value}


def beat(seq: int, ts: str) -> dict[str, Any]:
    return {"seq": seq, "ts": ts, "type": "heartbeat"}


@pytest.fixture
def stations(po_app: Any, tenants: list[str]) -> list[str]:
    from postalops.models import OrgUnit

    with po_app.extensions["postalops.db"].transaction(None) as s:
        s.add(
            OrgUnit(
                code=GULOU,
                parent_code="cn.henan.kaifeng",
                name_zh="鼓楼揽投部",
                name_en="Gulou station",
                level="station",
                depth=3,
            )
        )
    return [JINSHUI, GULOU]


@pytest.fixture
def make_device(po_app: Any, stations: list[str], make_token: Any) -> Any:
    """``make_device(station, code)`` -> (device id, ApiClient with that device's own token)."""
    from postalops.tenancy import Scope
    from postalops_sorter.models import Device, WaveWindow
    from sqlmodel import select

    def make(
        station: str = JINSHUI,
        code: str = "DS01",
        *,
        rated: int = 3600,
        commissioned: dt.date = dt.date(2020, 6, 1),
        **thresholds: int,
    ) -> tuple[int, Any]:
        with po_app.extensions["postalops.db"].transaction(Scope.system_scope()) as s:
            d = Device(
                tenant_code=station,
                code=code,
                model="YP-DS24",
                chutes=24,
                commissioned_on=commissioned,
                rated_per_hour=rated,
                **thresholds,
            )
            s.add(d)
            s.flush()
            if not s.exec(select(WaveWindow).where(WaveWindow.tenant_code == station)).first():
                s.add(
                    WaveWindow(
                        tenant_code=station, number=1, start=dt.time(6, 30), end=dt.time(10, 0)
                    )
                )
            device_id = d.id
        client = make_token(station, "sorter.ingest", subject=f"sorter:{device_id}")
        return device_id, client

    return make


def post_events(
    client: Any, device_id: int, events: list[dict[str, Any]], ndjson: bool = False
) -> Any:
    if ndjson:
        body = "\n".join(json.dumps(e) for e in events)
        return client.post(
            f"/api/v1/sorter/devices/{device_id}/events",
            data=body,
            content_type="application/x-ndjson",
        )
    return client.post(f"/api/v1/sorter/devices/{device_id}/events", json=events)


def run_rollup(po_app: Any, unit: str = "cn", now: dt.datetime | None = None) -> dict[str, int]:
    """What the scheduled rollup job does, run inline as ``unit``."""
    from postalops import context
    from postalops.testing import system_context
    from postalops_sorter.recompute import recompute_dirty

    with context.activate(system_context(po_app, unit)) as ctx:
        out = recompute_dirty(ctx.session, now=now or dt.datetime.now(dt.UTC), retention_days=90)
        ctx.session.commit()
    return out


# A recent local day, so API posts are inside raw-event retention whatever the date of the run.
DAY = (dt.datetime.now(SH) - dt.timedelta(days=2)).date()


@pytest.fixture
def tel(po_app: Any) -> Any:
    """Telemetry helpers in one object: ``tel.item(seq, tel.at(8, 0))``, ``tel.post(...)``."""
    from types import SimpleNamespace

    return SimpleNamespace(
        day=DAY,
        at=lambda hh, mm, ss=0, ms=0, day=DAY: local(day, hh, mm, ss, ms),
        item=item,
        state=state,
        beat=beat,
        post=post_events,
        rollup=lambda unit="cn", now=None: run_rollup(po_app, unit, now),
    )
