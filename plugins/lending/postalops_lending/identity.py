"""Borrower identity rules: unified social credit codes and legal representatives' ID numbers.

Checksums come from python-stdnum (GB 32100-2015 for the 18-character unified social credit
code, GB 11643-1999 for the resident identity card number). ID numbers are personal data: lists
and exports show them masked.
"""

from __future__ import annotations

from postalops.errors import ValidationError
from stdnum.cn import ric, uscc
from stdnum.exceptions import ValidationError as StdnumError


def validate_credit_code(code: str, field: str = "credit_code") -> str:
    """Return the compact, upper-case credit code, or raise ValidationError naming ``field``."""
    try:
        return uscc.validate(code or "")
    except StdnumError as exc:
        raise ValidationError(
            "unified social credit code is invalid",
            code="invalid_credit_code",
            details=[{"field": field, "message": _reason(exc)}],
        ) from None


def validate_id_number(number: str, field: str = "legal_rep_id_number") -> str:
    """Return the compact 18-character resident ID number, or raise ValidationError."""
    try:
        return ric.validate(number or "")
    except StdnumError as exc:
        reason = _reason(exc)
    except KeyError:
        # python-stdnum 2.2 raises KeyError for some region codes missing from its table
        reason = "unknown region code"
    raise ValidationError(
        "resident ID number is invalid",
        code="invalid_id_number",
        details=[{"field": field, "message": reason}],
    )


def mask_id_number(number: str) -> str:
    """Mask an ID number for lists: keep the 6-digit region and the last 4 characters.

    ``11010519491231002X`` -> ``110105********002X``. Anything shorter than 10 characters is
    masked completely, so a malformed value never leaks.
    """
    if len(number) < 10:
        return "*" * len(number)
    return number[:6] + "*" * (len(number) - 10) + number[-4:]


def _reason(exc: StdnumError) -> str:
    # stdnum's messages are stable English phrases ("The number's checksum or check digit
    # is invalid."); keep them as the detail so the client sees which check failed.
    return str(exc.message if hasattr(exc, "message") else exc)
