"""The order import's refused rows in the user's language: each file column's label, each row
message's msgid (the English messages of order_rows.py and ingest.py, their values as
``%(name)s``), and an order line's path (``lines[0].unit_price``) read as "第1行商品 单价", for
``postalops.i18n.row_problems``."""

from __future__ import annotations

import re
from typing import Any

from postalops.i18n import N_, Messages, row_problems, translations

t = translations(__name__)

COLUMNS = {
    "order_no": N_("Order number"),
    "paid_at": N_("Paid at"),
    "channel": N_("Channel"),
    "branch": N_("Branch"),
    "leader": N_("Leader"),
    "session": N_("Session"),
    "pickup_point": N_("Pickup point"),
    "campaign": N_("Campaign"),
    "sku": N_("SKU"),
    "quantity": N_("Quantity"),
    "unit_price": N_("Unit price"),
    "lines": N_("Order lines"),
    "amount": N_("Amount"),
    "type": N_("Event type"),
    "refund_no": N_("Refund number"),
    "at": N_("Time"),
}

MESSAGES = Messages(
    t,
    N_("required"),
    N_("must be a string"),
    N_("longer than %(n)s"),
    N_("retail or groupbuy"),
    N_("an ISO 8601 date-time"),
    N_("retail orders have no session"),
    N_("required for retail orders"),
    N_("at least one line"),
    N_("must be an object"),
    N_("must be a JSON object"),
    N_("a whole number ≥ 1"),
    N_("must be positive"),
    N_("not a number: %(value)s"),
    N_("not a number"),
    N_("not finite"),
    N_("declared %(declared)s, lines sum to %(total)s"),
    N_("refund or cancel"),
    N_("unknown leader (or outside your scope)"),
    N_("unknown session (or outside your scope)"),
    N_("session belongs to another leader"),
    N_("leader's branch is %(branch)s"),
    N_("differs from the session's campaign"),
    N_("unknown unit (or outside your scope)"),
    N_("unknown campaign for this branch"),
    N_("not an active pickup point of this unit"),
    N_("unknown order (or outside your scope)"),
    N_("differs from row %(row)s"),
    N_("missing column"),
)

_LINE = re.compile(r"lines\[(\d+)\](?:\.(\w+))?")


def _readable(error: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """One error with its field as the file's column and that field's label: an order line's
    ``lines[0].unit_price`` becomes the column ``unit_price`` labelled 第1行商品 单价; a money
    message that repeats its path (``lines[0].unit_price is not a number``) loses the path."""
    field = str(error.get("field") or "")
    message = str(error.get("message") or "")
    if field and message.startswith(field + " is "):
        message = message[len(field) + 4 :]
    m = _LINE.fullmatch(field)
    if m is None:
        return {**error, "message": message}, COLUMNS
    n, column = int(m[1]) + 1, m[2] or "sku"
    label = (
        t.gettext("Line %(n)s item %(label)s", n=n, label=t.gettext(COLUMNS[column]))
        if column in COLUMNS
        else t.gettext("Line %(n)s item", n=n)
    )
    return {**error, "field": column, "message": message}, {column: label}


def problems(details: Any) -> list[dict[str, Any]]:
    """The refused rows of an order import for ``ui.row_problems``: row, readable field label
    (its column as code) and the message in the user's language."""
    out: list[dict[str, Any]] = []
    for detail in details or []:
        if not isinstance(detail, dict):
            out.extend(row_problems([detail], COLUMNS, MESSAGES))
            continue
        errors = detail.get("errors")
        if errors is None:
            errors = [detail]
        elif isinstance(errors, dict):
            errors = [{"field": f, "message": m} for f, m in errors.items()]
        found: list = []
        for error in errors:
            one, columns = _readable(error)
            found += row_problems([{"row": detail.get("row"), "errors": [one]}], columns, MESSAGES)[
                0
            ]["problems"]
        if out and detail.get("row") is not None and out[-1]["row"] == detail.get("row"):
            out[-1]["problems"] += found  # a row's shape and reference problems: one line
        else:
            out.append({"row": detail.get("row"), "problems": found})
    return out
