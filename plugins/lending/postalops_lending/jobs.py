"""Tracked jobs of the lending plugin."""

from __future__ import annotations

import datetime as dt
from typing import Any

from postalops import clock
from postalops.jobs import JobContext, job

from postalops_lending import service
from postalops_lending.classification import Bands


@job(
    "lending.close_of_business",
    max_retries=3,
    label_zh="小微贷款日终处理",
    label_en="Lending close of business",
    result_url="/p/lending/loans",
)
def close_of_business(
    ctx: JobContext, as_of: str | None = None, bands: list[int] | None = None
) -> dict[str, Any]:
    """Days past due, classification and the portfolio snapshot for the starter's subtree.

    Set-based and idempotent: a retry or a second run for the same date changes nothing.
    ``as_of`` defaults to today in the network's zone (``postalops.clock``); ``bands`` are the lower DPD edges of
    关注, 次级, 可疑, 损失 (default 1, 91, 181, 361).
    """
    day = dt.date.fromisoformat(as_of) if as_of else clock.today()
    ctx.progress(0, 1, f"close of business {day}")
    result = service.close_of_business(
        ctx.session, ctx.tenant, day, Bands(*bands) if bands else Bands()
    )
    ctx.session.commit()
    ctx.progress(1, 1, f"{result['loans']} loans classified")
    return result
