"""The references bench/bench_portal.py measures PostalOps against, served by gunicorn with the
same settings: a bare Flask JSON hello, and bare Flask + SQLAlchemy Core running the SQL the
case list runs (the page of 50 and, as the page is full, the count) and answering the rows as
JSON. No PostalOps code: no token, scope, enablement or permission check, no ORM objects.

    BENCH_REFERENCE_DB=sqlite:////path/postalops.sqlite \
        gunicorn --pythonpath bench 'bench_portal_reference:create_app()'
"""

from __future__ import annotations

import datetime as dt
import decimal
import os
from typing import Any

import sqlalchemy as sa
from flask import Flask, jsonify
from flask.json.provider import DefaultJSONProvider

UNIT = "cn.guangdong.guangzhou"


class _JSON(DefaultJSONProvider):
    """Datetimes as ISO 8601, decimals as strings: what PostalOps answers."""

    @staticmethod
    def default(o: Any) -> Any:  # type: ignore[override]
        if isinstance(o, dt.datetime | dt.date):
            return o.isoformat()
        if isinstance(o, decimal.Decimal):
            return str(o)
        return DefaultJSONProvider.default(o)


def create_app() -> Flask:
    engine = sa.create_engine(os.environ["BENCH_REFERENCE_DB"])
    case = sa.Table("outcall_case", sa.MetaData(), autoload_with=engine)
    where = sa.or_(case.c.tenant_code == UNIT, case.c.tenant_code.like(UNIT + ".%"))
    page = (
        sa.select(case)
        .where(where)
        .order_by(case.c.approved_at.desc(), case.c.id.desc())
        .limit(50)
        .offset(0)
    )
    count = sa.select(sa.func.count()).select_from(case).where(where)
    app = Flask("bench_reference")
    app.json = _JSON(app)

    @app.get("/hello")
    def hello() -> Any:
        return jsonify(status="ok", version="0")

    @app.get("/cases")
    def cases() -> Any:
        with engine.connect() as conn:
            items = [dict(r._mapping) for r in conn.execute(page)]
            total = conn.execute(count).scalar_one() if len(items) == 50 else len(items)
        return jsonify(items=items, page=1, per_page=50, total=total)

    return app
