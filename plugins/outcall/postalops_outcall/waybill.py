"""UPU S10 item identifiers for government-mail delivery orders.

Form: two service letters, an 8-digit serial, a check digit, the ISO country code — e.g.
``RA123456785CN``. The check digit uses weights 8 6 4 2 3 5 9 7 (UPU S10 §5).
"""

from __future__ import annotations

import re

from postalops.errors import ValidationError

S10_WEIGHTS: tuple[int, ...] = (8, 6, 4, 2, 3, 5, 9, 7)
_S10 = re.compile(r"^([A-Z]{2})(\d{8})(\d)([A-Z]{2})$")


def s10_check_digit(serial: str) -> int:
    """Check digit for an 8-digit serial: 11 − (Σ wᵢdᵢ mod 11), with 10 → 0 and 11 → 5."""
    if len(serial) != 8 or not serial.isdigit():
        raise ValueError("an S10 serial is exactly 8 digits")
    check = 11 - sum(int(d) * w for d, w in zip(serial, S10_WEIGHTS, strict=True)) % 11
    if check == 10:
        return 0
    if check == 11:
        return 5
    return check


def make_waybill(prefix: str, serial: int, country: str = "CN") -> str:
    """Build a waybill number from a 2-letter service prefix and a serial 0–99 999 999."""
    if not (len(prefix) == 2 and prefix.isalpha() and prefix.isupper()):
        raise ValueError("the S10 service indicator is two upper-case letters")
    if not 0 <= serial <= 99_999_999:
        raise ValueError("the S10 serial has 8 digits")
    digits = f"{serial:08d}"
    return f"{prefix}{digits}{s10_check_digit(digits)}{country}"


def is_valid_waybill(number: str) -> bool:
    """True when ``number`` has S10 form and a correct check digit."""
    m = _S10.match(number or "")
    return bool(m) and s10_check_digit(m.group(2)) == int(m.group(3))


def validate_waybill(number: str, *, field: str = "waybill_no") -> str:
    """Return ``number`` or raise ``ValidationError`` naming the field."""
    if not is_valid_waybill(number):
        raise ValidationError(
            "运单号不符合 S10 / waybill number is not a valid UPU S10 identifier",
            code="invalid_waybill",
            details=[{"field": field, "message": number}],
        )
    return number
