"""Core tests use the fixtures of postalops.testing (registered as a pytest plugin)."""

import pytest

from tests.fixtures import demo_site


@pytest.hookimpl(trylast=True)  # after -m/-k deselection
def pytest_collection_modifyitems(session, config, items):
    """The browser page suite needs the full demo network: start building it now, in the
    background, so it is ready by the time those tests run (tests/fixtures/demo_site.py)."""
    needs = [item for item in items if "demo_site" in getattr(item, "fixturenames", ())]
    if needs:
        demo_site.start_build()
        # ... and run them last, so the build overlaps the rest of the suite instead of the
        # first of them waiting for it
        items[:] = [item for item in items if item not in needs] + needs


def pytest_sessionfinish(session, exitstatus):
    demo_site.stop_build()
