"""Helpers for outcall's tests (and for other plugins' tests that need outcall data):
units, a catalogue, a valid address and platform rows, and Guangzhou wall-clock times."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

SH = ZoneInfo("Asia/Shanghai")
GZ = "cn.guangdong.guangzhou"
SZ = "cn.guangdong.shenzhen"
LF = "cn.shanxi.linfen"

EXTRA_UNITS = [
    ("cn.guangdong", "cn", "广东", "Guangdong", "province"),
    (GZ, "cn.guangdong", "广州", "Guangzhou", "city"),
    (SZ, "cn.guangdong", "深圳", "Shenzhen", "city"),
    ("cn.shanxi", "cn", "山西", "Shanxi", "province"),
    (LF, "cn.shanxi", "临汾", "Linfen", "city"),
]

CATALOGUE = [
    {"department": "市教育局", "item": "教师资格认定", "participating": True},
    {"department": "市司法局", "item": "律师执业证", "participating": True},
    {"department": "市市场监督管理局", "item": "营业执照", "participating": False},
]

ADDRESS = {
    "province": "广东省",
    "city": "广州市",
    "district": "天河区",
    "detail": "天河路385号",
    "recipient": "高敏",
    "phone": "13812345678",
}


def sh(day: int, hour: int, minute: int = 0) -> dt.datetime:
    """Guangzhou wall-clock time in August 2022, as an aware datetime."""
    return dt.datetime(2022, 8, day, hour, minute, tzinfo=SH)


def case_row(n: int, **change) -> dict:
    """A valid platform row; ``n`` makes the case number and keeps the ID checksum valid."""
    from postalops_outcall.identity import id_check_char

    body = f"44010619900101{n % 1000:03d}"
    row = {
        "case_no": f"GZ{n:06d}",
        "department": "市教育局",
        "service_item": "教师资格认定",
        "applicant_type": "personal",
        "approval_level": "municipal",
        "applicant_name": "高敏",
        "phone": "13812345678",
        "id_number": body + id_check_char(body),
        "approved_at": "2022-08-17 09:00",
        "issuing_method": "window",
        "old_certificate_return": False,
        "ready_at": "2022-08-17 09:30",
    }
    row.update(change)
    return row
