"""Masks for personal numbers shown anywhere but the agent's active call or an audited reveal."""

from __future__ import annotations


def mask_phone(phone: str | None) -> str:
    """``13812345678`` → ``138****5678``; short or empty values are fully starred."""
    if not phone:
        return ""
    if len(phone) < 8:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


def mask_id_number(id_number: str | None) -> str:
    """``44010619900101123X`` → ``4401**********123X``.

    Keeps the province+city code (which the unit knows anyway) and the last four for matching
    at the window; hides the county, the birth date and the sequence number.
    """
    if not id_number:
        return ""
    if len(id_number) < 10:
        return "*" * len(id_number)
    return id_number[:4] + "*" * (len(id_number) - 8) + id_number[-4:]


def mask_name(name: str | None) -> str:
    """``张三`` → ``张*``, ``欧阳娜娜`` → ``欧***``: exports carry only the surname initial."""
    if not name:
        return ""
    return name[0] + "*" * (len(name) - 1)
