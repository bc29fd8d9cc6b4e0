"""The delivery address an agent captures when the applicant accepts mail delivery."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from postalops.errors import PostalOpsError, ValidationError

from .identity import validate_phone

ADDRESS_FIELDS = ("province", "city", "district", "detail", "recipient", "phone")
_LABELS = {
    "province": "省",
    "city": "市",
    "district": "区/县",
    "detail": "详细地址",
    "recipient": "收件人",
    "phone": "收件人电话",
}


@dataclass(frozen=True)
class DeliveryAddress:
    province: str
    city: str
    district: str
    detail: str
    recipient: str
    phone: str

    def one_line(self) -> str:
        return f"{self.province}{self.city}{self.district}{self.detail}"

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def validate_address(data: Mapping[str, Any]) -> DeliveryAddress:
    """Return a complete address or raise one ``ValidationError`` listing every bad field."""
    values = {f: str(data.get(f) or "").strip() for f in ADDRESS_FIELDS}
    details: list[dict[str, str]] = [
        {"field": f"address.{f}", "message": f"{_LABELS[f]}必填 / required"}
        for f, v in values.items()
        if not v
    ]
    if values["phone"]:
        try:
            values["phone"] = validate_phone(values["phone"], field="address.phone")
        except PostalOpsError as exc:
            details.extend(exc.details)
    for f in ("detail", "recipient"):
        if len(values[f]) > 200:
            details.append({"field": f"address.{f}", "message": "at most 200 characters"})
    if details:
        missing = ", ".join(d["field"] for d in details)
        raise ValidationError(
            f"收件地址不完整或有误 / delivery address incomplete or invalid: {missing}",
            code="invalid_address",
            details=details,
        )
    return DeliveryAddress(**values)
