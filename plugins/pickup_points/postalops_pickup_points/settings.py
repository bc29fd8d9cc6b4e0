"""The rules a unit runs with, as a core settings schema (``postalops_settings_schema``).

Stored by the core per unit (``core_plugin_setting``); a unit without its own value inherits
the nearest ancestor's, then the defaults below. Edited on ``/admin/settings/pickup_points`` and
``GET/PUT /api/v1/settings/pickup_points`` (the old ``/api/v1/pickup_points/settings`` is kept
for one release).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from postalops.plugin_settings import label
from pydantic import BaseModel, Field, ValidationInfo, field_validator


class PickupRules(BaseModel):
    radius_urban_m: float = Field(
        500, ge=0, le=100000, title="Service radius, urban community (m)",
        json_schema_extra=label("城市社区服务半径（米）"),
    )  # fmt: skip
    radius_village_m: float = Field(
        2000, ge=0, le=100000, title="Service radius, village (m)",
        json_schema_extra=label("行政村服务半径（米）"),
    )  # fmt: skip
    radius_mailroom_m: float = Field(
        500, ge=0, le=100000, title="Service radius, mailroom (m)",
        json_schema_extra=label("收发室服务半径（米）"),
    )  # fmt: skip
    feedback_hours: Decimal = Field(
        Decimal("24"), gt=0, le=720, title="Arrival feedback within (hours)",
        json_schema_extra=label("到件反馈时限（小时）"),
    )  # fmt: skip
    uncollected_days: int = Field(
        3, ge=1, le=60, title="Uncollected after (days)", json_schema_extra=label("滞留判定（天）")
    )
    return_days: int = Field(
        7, ge=1, le=120, title="Returned to sender after (days)",
        json_schema_extra=label("退回判定（天）"),
    )  # fmt: skip
    day_basis: Literal["calendar", "working"] = Field(
        "calendar", title="Days counted as",
        json_schema_extra=label("天数计算口径", option_labels={"calendar": "自然日 / calendar", "working": "营业日 / working"}),
    )  # fmt: skip
    direct_threshold_per_day: Decimal = Field(
        Decimal("40"), gt=0, title="Direct delivery from (items a day)",
        json_schema_extra=label("转直投阈值（件/天）"),
    )  # fmt: skip
    direct_window_days: int = Field(
        30, ge=1, le=366, title="Direct delivery window (days)",
        json_schema_extra=label("直投判定窗口（天）"),
    )  # fmt: skip

    @field_validator("return_days")
    @classmethod
    def _after_uncollected(cls, value: int, info: ValidationInfo) -> int:
        uncollected = info.data.get("uncollected_days")
        if uncollected is not None and value < uncollected:
            raise ValueError("cannot be shorter than uncollected_days")
        return value
