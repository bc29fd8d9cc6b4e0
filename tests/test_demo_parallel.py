"""``postalops demo --jobs N``: the plugins' demo data built in N worker processes (issue 16 §6,
`make run` under 4 min on two cores). Each plugin's build runs whole in one worker, seeded by its
key alone, so the data are those of a one-process build; a plugin's failure stops the build and is
raised in the parent with its own error."""

from __future__ import annotations

import functools
import os

import pytest
from postalops.errors import ValidationError
from postalops.models import AuditRecord
from postalops.testing import system_scope
from sqlmodel import select

from tests.fixtures.toy_plugins import demo_writer_app


def _built(app) -> dict[str, dict]:
    with app.extensions["postalops.db"].session(system_scope()) as s:
        rows = s.exec(select(AuditRecord).where(AuditRecord.action == "toy.demo.built")).all()
    return {r.target_id: r.after for r in rows}


@pytest.fixture(autouse=True)
def _importable_tests(monkeypatch):
    # The workers are spawned interpreters: they import the toy factory by module name, which
    # pytest's importlib mode does not put on sys.path (the workers get the parent's sys.path).
    from pathlib import Path

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1]))


def _app(po_app, specs):
    settings = po_app.extensions["postalops.settings"]
    return demo_writer_app(settings, specs), functools.partial(demo_writer_app, settings, specs)


def test_two_workers_build_each_plugin_once_and_a_failure_is_raised_with_its_own_error(
    po_app, po_db
):
    from postalops.demo import build

    # beta (the heaviest, started first) waits for gamma's record: only a second worker can
    # write it meanwhile, so the build cannot pass in one process. omega (the lightest, so the
    # last) waits for beta, then refuses: its own error reaches the caller.
    specs = (
        ("alpha", False, 1.0),
        ("beta", False, 3.0, "gamma"),
        ("gamma", False, 2.0),
        ("omega", True, 0.5, "beta"),
    )
    app, factory = _app(po_app, specs)
    seen: list[tuple[int, int, str]] = []
    with pytest.raises(ValidationError) as err:
        build(app, jobs=2, app_factory=factory, progress=lambda d, t, m="": seen.append((d, t, m)))
    assert err.value.code == "toy_demo_failed"
    assert err.value.details == [{"field": "demo", "message": "omega"}]
    built = _built(app)
    assert sorted(built) == ["alpha", "beta", "gamma"]
    pids = {built[k]["pid"] for k in built}
    assert os.getpid() not in pids  # built by the workers, not the parent ...
    assert len(pids) == 2 and built["beta"]["pid"] != built["gamma"]["pid"]  # ... by two
    assert (5, 6, "beta: written 1/1") in seen or any("beta: written 1/1" in m for _, _, m in seen)

    # The same random draws as a one-process build (each plugin seeded by the seed and its key).
    import random

    for key in ("alpha", "beta", "gamma"):
        assert built[key]["draw"] == random.Random(f"20221017:{key}").random()


def test_jobs_must_be_positive(po_app, po_db):
    from postalops.demo import build

    app, _ = _app(po_app, (("alpha", False, 1.0),))
    with pytest.raises(ValueError):
        build(app, jobs=0)
