"""Applicant identity fields: mainland ID numbers (GB 11643) and phone numbers.

Both validators return the normalised value or raise ``ValidationError`` whose details name the
field, so the API can point at the exact column of the exact row.
"""

from __future__ import annotations

import datetime as dt
import re

from postalops.errors import ValidationError

# GB 11643-1999 §8.2: weights W_i = 2^(17-i) mod 11 for the 17 body digits.
ID_WEIGHTS: tuple[int, ...] = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
# Check character indexed by (sum of weighted digits) mod 11.
ID_CHECK_CHARS = "10X98765432"

_MOBILE = re.compile(r"^1[3-9]\d{9}$")
# Fixed lines: area code 0xx / 0xxx then a 7–8 digit subscriber number (e.g. 020-83331234),
# i.e. 10–12 digits once separators are gone.
_LANDLINE = re.compile(r"^0\d{9,11}$")


def id_check_char(body17: str) -> str:
    """Return the GB 11643 check character for the first 17 digits of an ID number."""
    if len(body17) != 17 or not body17.isdigit():
        raise ValueError("the ID body must be 17 digits")
    total = sum(int(d) * w for d, w in zip(body17, ID_WEIGHTS, strict=True))
    return ID_CHECK_CHARS[total % 11]


def validate_id_number(value: object, *, field: str = "id_number") -> str:
    """Validate an 18-character resident ID number and return it upper-cased.

    Checks length and digits, a real birth date (positions 7–14) and the check character.
    """
    text = str(value or "").strip().upper()
    if len(text) != 18 or not text[:17].isdigit() or not (text[17].isdigit() or text[17] == "X"):
        raise ValidationError(
            "身份证号须为18位 / ID number must be 18 characters (17 digits + digit or X)",
            code="invalid_id_number",
            details=[{"field": field, "message": "malformed"}],
        )
    try:
        dt.date(int(text[6:10]), int(text[10:12]), int(text[12:14]))
    except ValueError:
        raise ValidationError(
            "身份证号出生日期无效 / ID number carries no valid birth date",
            code="invalid_id_number",
            details=[{"field": field, "message": "birth date"}],
        ) from None
    if id_check_char(text[:17]) != text[17]:
        raise ValidationError(
            "身份证号校验位错误 / ID number fails the GB 11643 checksum",
            code="invalid_id_number",
            details=[{"field": field, "message": "checksum"}],
        )
    return text


def normalise_phone(value: object) -> str:
    """Strip spaces, hyphens, dots, brackets and a +86/0086 country prefix."""
    text = re.sub(r"[\s.()\-]", "", str(value or ""))
    for prefix in ("+86", "0086"):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    if text.startswith("86") and len(text) == 13:
        text = text[2:]
    return text


def validate_phone(value: object, *, field: str = "phone") -> str:
    """Return a mainland mobile (11 digits, 1[3-9]…) or fixed-line number, normalised.

    Fixed lines keep no hyphen: ``020-83331234`` becomes ``02083331234``.
    """
    text = normalise_phone(value)
    if _MOBILE.match(text):
        return text
    if _LANDLINE.match(text):
        return text
    raise ValidationError(
        "电话号码格式错误 / malformed phone number",
        code="invalid_phone",
        details=[
            {"field": field, "message": "expected an 11-digit mobile or an area-code landline"}
        ],
    )
