"""Outcall's per-unit settings: the queue policy and waybill numbering (a core settings schema).

Stored by the core (``postalops.plugin_settings``), inherited down the tree, edited on
``/admin/settings/outcall`` and ``/api/v1/settings/outcall``. The platform's webhook is a core
webhook endpoint taking ``outcall.*`` events, not a setting.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from postalops.plugin_settings import label
from pydantic import BaseModel, Field, field_validator


class OutcallSettings(BaseModel):
    """A unit's queue policy (the supervisor edits it)."""

    retry_delay_minutes: int = Field(
        120,
        ge=0,
        le=10080,
        title="Retry delay (minutes)",
        json_schema_extra=label("重拨间隔（分钟）"),
    )
    max_attempts: int = Field(
        3, ge=1, le=20, title="Maximum attempts", json_schema_extra=label("最多外呼次数")
    )
    claim_minutes: int = Field(
        10,
        ge=1,
        le=1440,
        title="Claim expires after (minutes)",
        json_schema_extra=label("领取后保留（分钟）"),
    )
    calling_start: str = Field(
        "09:00",
        pattern=r"^([01]\d|2[0-3]):[0-5]\d$",
        title="Calling hours start (HH:MM)",
        json_schema_extra=label("外呼开始时间（时:分）"),
    )
    calling_end: str = Field(
        "20:00",
        pattern=r"^([01]\d|2[0-3]):[0-5]\d$",
        title="Calling hours end (HH:MM)",
        json_schema_extra=label("外呼结束时间（时:分）"),
    )
    timezone: str = Field(
        "Asia/Shanghai", max_length=40, title="Time zone", json_schema_extra=label("时区")
    )
    queue_days: int = Field(
        7,
        ge=1,
        le=365,
        title="Days a case stays in the queue",
        json_schema_extra=label("办件在队列中保留天数"),
    )
    callback_hold_minutes: int = Field(
        30,
        ge=0,
        le=1440,
        title="Call-back held for the same agent (minutes)",
        json_schema_extra=label("约定回拨为同一坐席保留（分钟）"),
    )
    waybill_prefix: str = Field(
        "RA",
        pattern=r"^[A-Z]{2}$",
        title="Waybill prefix (2 capital letters)",
        json_schema_extra=label("运单前缀（两位大写字母）"),
    )
    daily_calls_per_phone: int = Field(
        3,
        ge=1,
        le=50,
        title="Calls per phone number per day (all cases)",
        json_schema_extra=label(
            "每个号码每天最多外呼次数",
            help_zh="同一号码在本单位所有办件上的当天外呼合计，达到后当天不再派发",
            help_en="All cases of the unit together; at the cap the number is not offered again that day",
        ),
    )
    service_level_hours: int = Field(
        24,
        ge=1,
        le=720,
        title="Service level: first call within (hours of approval)",
        json_schema_extra=label(
            "服务水平：审批后多少小时内首呼",
            help_zh="统计符合条件办件在该时长内完成首呼的占比",
            help_en="The share of eligible cases first called within this many hours of approval",
        ),
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    def start(self) -> dt.time:
        return dt.time.fromisoformat(self.calling_start)

    def end(self) -> dt.time:
        return dt.time.fromisoformat(self.calling_end)


FIELDS = tuple(OutcallSettings.model_fields)
