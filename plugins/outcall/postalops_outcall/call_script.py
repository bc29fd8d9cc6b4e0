"""The call script an agent reads on the active call: the catalogue item's own script, or the
default, with the case's placeholders filled in.

Placeholders are ``{name}`` (the applicant), ``{item}`` (the service item) and ``{department}``.
Anything else in braces is left as written, so a script with a typo or a literal brace still
shows instead of failing the call.
"""

from __future__ import annotations

import re

from sqlmodel import Session, select

from .models import OutcallCase, OutcallCatalogueItem

DEFAULT_SCRIPT = (
    "您好，请问是{name}吗？这里是广州市政务服务中心96185。您办理的「{item}」已审批完成，"
    "可在窗口领取；如您不便到场，我们可以免费为您改为邮寄送达，请问需要吗？"
)

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def fill(template: str, case: OutcallCase) -> str:
    """``template`` with ``{name}``, ``{item}`` and ``{department}`` replaced from ``case``."""
    values = {
        "name": case.applicant_name,
        "item": case.service_item,
        "department": case.department,
    }
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)


def for_case(session: Session, case: OutcallCase) -> str:
    """The filled script of the case's catalogue item, or the filled default."""
    script = session.exec(
        select(OutcallCatalogueItem.script).where(
            OutcallCatalogueItem.tenant_code == case.tenant_code,
            OutcallCatalogueItem.department == case.department,
            OutcallCatalogueItem.item == case.service_item,
        )
    ).first()
    return fill(script or DEFAULT_SCRIPT, case)
