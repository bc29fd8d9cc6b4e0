"""Outcall test fixtures on top of ``postalops.testing``: Guangzhou, Shenzhen and Linfen units,
a catalogue, a controllable clock and helpers to make cases."""

from __future__ import annotations

import pytest
from postalops_outcall.testing import CATALOGUE, EXTRA_UNITS, GZ, SZ


@pytest.fixture
def units(po_app, tenants):
    """The test tree plus Guangdong (Guangzhou, Shenzhen) and Shanxi (Linfen), outcall enabled."""
    from postalops.models import OrgUnit

    db = po_app.extensions["postalops.db"]
    with db.transaction(None) as s:
        for code, parent, zh, en, level in EXTRA_UNITS:
            s.add(
                OrgUnit(
                    code=code,
                    parent_code=parent,
                    name_zh=zh,
                    name_en=en,
                    level=level,
                    depth=code.count("."),
                )
            )
    return [*tenants, *(u[0] for u in EXTRA_UNITS)]


@pytest.fixture
def hall(po_app, units):
    """Guangzhou and Shenzhen with the same small catalogue; returns a transaction factory."""
    from postalops.tenancy import Scope
    from postalops_outcall import service

    db = po_app.extensions["postalops.db"]
    for unit in (GZ, SZ):
        with db.transaction(Scope.unit(unit)) as s:
            service.save_catalogue_entries(s, unit, CATALOGUE, actor="test")

    def tx(unit: str | None = GZ):
        return db.transaction(Scope.unit(unit) if unit else Scope.system_scope())

    return tx


@pytest.fixture
def intake(hall):
    """``intake(rows, unit=GZ)``: run the service intake in its own committed transaction."""
    from postalops_outcall import service

    def run(rows, unit: str = GZ, now=None):
        with hall(unit) as s:
            return service.intake_cases(s, unit, list(enumerate(rows, 1)), now=now)

    return run


@pytest.fixture
def live(hall):
    """For tests on the real clock: Guangzhou calls all day, and ``live_row(n)`` is a case
    approved an hour ago (so it is callable now and far from its deadline)."""
    import datetime as dt

    from postalops_outcall import service
    from postalops_outcall.testing import case_row

    with hall(GZ) as s:
        service.update_settings(
            s, GZ, {"calling_start": "00:00", "calling_end": "23:59"}, actor="test"
        )
    approved = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).isoformat()

    def live_row(n: int, **change):
        return case_row(n, approved_at=approved, ready_at=approved, **change)

    return live_row
