"""Per-unit loan-loss provision rates, as a core settings schema (``postalops_settings_schema``).

Stored by the core per unit; a unit inherits the nearest ancestor's values, then the People's
Bank of China guideline below. A product may set its own rates (``Product.accounting``), which
win over the unit's. Edited on ``/admin/settings/lending`` and ``/api/v1/settings/lending``.
"""

from __future__ import annotations

from decimal import Decimal

from postalops.plugin_settings import label
from pydantic import BaseModel, Field

from postalops_lending.accounting import ProvisionRates


def _rate(default: str, title: str, zh: str) -> Decimal:
    return Field(
        Decimal(default), ge=0, le=1, title=title,
        json_schema_extra=label(zh, help_zh="小数，如 0.02 即 2%", help_en="a fraction: 0.02 is 2%"),
    )  # fmt: skip


class ProvisionSettings(BaseModel):
    provision_general: Decimal = _rate("0.01", "General provision rate", "一般准备计提比例")
    provision_special_mention: Decimal = _rate("0.02", "Special provision, special mention", "关注类专项准备比例")  # fmt: skip
    provision_substandard: Decimal = _rate("0.25", "Special provision, substandard", "次级类专项准备比例")  # fmt: skip
    provision_doubtful: Decimal = _rate("0.50", "Special provision, doubtful", "可疑类专项准备比例")
    provision_loss: Decimal = _rate("1.00", "Special provision, loss", "损失类专项准备比例")

    def rates(self) -> ProvisionRates:
        return ProvisionRates(
            self.provision_general,
            {
                "normal": Decimal("0"),
                "special_mention": self.provision_special_mention,
                "substandard": self.provision_substandard,
                "doubtful": self.provision_doubtful,
                "loss": self.provision_loss,
            },
        )
