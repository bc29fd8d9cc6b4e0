"""The plugin surface behaves as docs/plugins.md says (issue 18, "Docs that do not match the code"):
``paginate`` hands its serializer the model for a one-entity select, whichever ``select``."""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from postalops.api import paginate
from postalops.builtin.probe import JobProbe


def _page(po_app, as_unit, stmt):
    with po_app.test_request_context("/?page=1&per_page=10"), as_unit("cn") as s:
        s.add_all([JobProbe(job_id="j", step=n, tenant_code="cn") for n in (1, 2)])
        s.flush()
        return paginate(s, stmt, lambda r: (type(r).__name__, r.step))


def test_paginate_serializer_gets_the_model_from_a_sqlalchemy_select(po_app, tenants, as_unit):
    got = _page(po_app, as_unit, sa.select(JobProbe).order_by(JobProbe.step))
    assert got["items"] == [("JobProbe", 1), ("JobProbe", 2)] and got["total"] == 2


def test_paginate_serializer_gets_the_model_from_a_sqlmodel_select(po_app, tenants, as_unit):
    got = _page(po_app, as_unit, sqlmodel.select(JobProbe).order_by(JobProbe.step))
    assert got["items"] == [("JobProbe", 1), ("JobProbe", 2)]


def test_paginate_serializer_gets_a_row_for_several_columns(po_app, tenants, as_unit):
    got = _page(po_app, as_unit, sa.select(JobProbe.step, JobProbe.job_id).order_by(JobProbe.step))
    assert got["items"] == [("Row", 1), ("Row", 2)]
