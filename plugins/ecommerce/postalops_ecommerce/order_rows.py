"""Order and order-event rows from the e-shop (邮乐): validation of JSON objects and CSV rows.

Every row is checked completely and every problem is reported with its row number and field, so a
batch can be answered row by row. Nothing here touches the database: existence of the leader,
session or pickup point and idempotency on the order number are the service's job.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from postalops.errors import PostalOpsError
from postalops.imports import parse_csv
from postalops.money import FEN, line_amount, parse_amount, sum_lines

SHANGHAI = ZoneInfo("Asia/Shanghai")
AMOUNT_RULES: dict[str, Any] = {
    "extra_places": "round",
    "code": "money_invalid",
    "float_code": "money_not_decimal",
}
"""How ecommerce reads a client's amount with the core's ``parse_amount``: str, int or Decimal
(never float: 422 ``money_not_decimal``) to the fen half up, else 422 ``money_invalid``."""
CHANNELS = ("retail", "groupbuy")
MAX_CODE = 64
CSV_COLUMNS = (
    "order_no",
    "paid_at",
    "channel",
    "branch",
    "leader",
    "session",
    "pickup_point",
    "campaign",
    "sku",
    "quantity",
    "unit_price",
)


def shanghai_day(moment: datetime) -> date:
    """The business day of a moment: its calendar date in Asia/Shanghai."""
    return moment.astimezone(SHANGHAI).date()


def parse_moment(raw: object) -> datetime:
    """ISO 8601 moment; a moment without offset is the e-shop's local time (Asia/Shanghai)."""
    if isinstance(raw, datetime):
        moment = raw
    elif isinstance(raw, str) and raw.strip():
        moment = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    else:
        raise ValueError("an ISO 8601 date-time is required")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=SHANGHAI)
    return moment.astimezone(ZoneInfo("UTC"))


@dataclass(frozen=True)
class LineIn:
    sku: str
    quantity: int
    unit_price: Decimal

    @property
    def amount(self) -> Decimal:
        return line_amount(self.unit_price, self.quantity)


@dataclass(frozen=True)
class OrderIn:
    """A validated order as pushed by the e-shop; codes are not yet resolved."""

    order_no: str
    channel: str
    paid_at: datetime
    lines: tuple[LineIn, ...]
    branch: str | None = None
    leader: str | None = None
    session: str | None = None
    pickup_point: str | None = None
    campaign: str | None = None
    complete: bool = True
    """False for the readable part of a row that failed its shape check (``RowErrors.partial``):
    reference-checked, never written; any field may then be ``None`` or invalid."""

    @cached_property
    def amount(self) -> Decimal:
        """The order amount: sum of its rounded lines."""
        return sum_lines([line.amount for line in self.lines])

    @cached_property
    def day(self) -> date:
        return shanghai_day(self.paid_at)


@dataclass(frozen=True)
class EventIn:
    """A later event on an order: a refund (with its own number, for idempotency) or a cancel."""

    kind: str  # "refund" | "cancel"
    order_no: str
    at: datetime
    refund_no: str | None = None
    amount: Decimal | None = None
    complete: bool = True
    """False for the readable part of a row that failed its shape check (see ``OrderIn``)."""


class RowErrors(PostalOpsError):
    """Collected problems of one row; ``details`` is a list of {row, field, message}.

    ``partial`` is what could be read of a row that failed its shape check (an ``OrderIn`` or
    ``EventIn`` with ``complete=False``), so its reference errors come in the same answer."""

    status = 422
    code = "row_invalid"

    def __init__(self, message: str, *, partial: Any = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.partial = partial


def _code(raw: Mapping[str, Any], field: str, errors: list[dict], row: int, *, required: bool):
    value = raw.get(field)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            errors.append({"row": row, "field": field, "message": "required"})
        return None
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        errors.append({"row": row, "field": field, "message": "must be a string"})
        return None
    value = str(value).strip()
    if len(value) > MAX_CODE:
        errors.append({"row": row, "field": field, "message": f"longer than {MAX_CODE}"})
        return None
    return value


def _quantity(raw: object) -> int:
    if isinstance(raw, bool):
        raise ValueError
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, str) and raw.strip().isdigit():
        value = int(raw.strip())
    else:
        raise ValueError
    if value < 1:
        raise ValueError
    return value


def parse_order(raw: object, row: int) -> OrderIn:
    """Validate one order object; raise ``RowErrors`` naming every bad field of the row."""
    good = _good_order(raw)
    if good is not None:
        return good
    return _parse_each(raw, row)


# --- the good order's short way (issue 17 §4) -------------------------------------------------
# Most orders of a push are good and in canonical form (codes as trimmed strings, quantities as
# numbers, prices as decimal strings). Such an order is read at once, to the very values the
# field-by-field reading below gives; any other order, valid or not, is read field by field, so
# its errors are exactly those it reports.


def _good_code(value: object) -> str | None:
    """A code sent as a trimmed-able string of at most ``MAX_CODE`` characters; else None."""
    if type(value) is str:
        value = value.strip()
        if value and len(value) <= MAX_CODE:
            return value
    return None


def _good_money(value: object) -> Decimal | None:
    """A positive decimal string, to the fen half up (as ``parse_amount`` with ``AMOUNT_RULES``); else None."""
    if type(value) is not str:
        return None
    try:
        amount = Decimal(value.strip())
        if not amount.is_finite():
            return None
        amount = amount.quantize(FEN, rounding=ROUND_HALF_UP)
    except InvalidOperation:
        return None
    return amount if amount > 0 else None


def _good_order(raw: object) -> OrderIn | None:
    """The order as :func:`_parse_each` reads it, if it is good and plainly so; else None."""
    if type(raw) is not dict:
        return None
    get = raw.get
    order_no = _good_code(get("order_no"))
    channel = get("channel")
    if order_no is None or channel not in CHANNELS:
        return None
    codes = []
    for field in ("branch", "leader", "session", "pickup_point", "campaign"):
        value = get(field)
        if value is None or (type(value) is str and not value.strip()):
            codes.append(None)
            continue
        value = _good_code(value)
        if value is None:
            return None
        codes.append(value)
    branch, leader, session, pickup_point, campaign = codes
    if channel == "groupbuy" and (leader is None or session is None):
        return None
    if channel == "retail" and (session or not branch):
        return None
    raw_lines = get("lines")
    if type(raw_lines) is not list or not raw_lines:
        return None
    lines = []
    for raw_line in raw_lines:
        if type(raw_line) is not dict:
            return None
        sku = _good_code(raw_line.get("sku"))
        quantity = raw_line.get("quantity")
        price = _good_money(raw_line.get("unit_price"))
        if sku is None or type(quantity) is not int or quantity < 1 or price is None:
            return None
        lines.append(LineIn(sku, quantity, price))
    try:
        paid_at = parse_moment(get("paid_at"))
    except (ValueError, TypeError):
        return None
    order = OrderIn(
        order_no=order_no,
        channel=channel,
        paid_at=paid_at,
        lines=tuple(lines),
        branch=branch,
        leader=leader,
        session=session,
        pickup_point=pickup_point,
        campaign=campaign,
    )
    declared = get("amount")
    if declared is not None and _good_money(declared) != order.amount:
        return None
    return order


def _parse_each(raw: object, row: int) -> OrderIn:
    """:func:`parse_order` field by field, collecting every error of the row."""
    if not isinstance(raw, Mapping):
        raise RowErrors(
            f"row {row} is not an object",
            details=[{"row": row, "field": None, "message": "must be a JSON object"}],
        )
    errors: list[dict] = []
    order_no = _code(raw, "order_no", errors, row, required=True)
    channel = raw.get("channel")
    if channel not in CHANNELS:
        errors.append({"row": row, "field": "channel", "message": "retail or groupbuy"})
    paid_at = None
    try:
        paid_at = parse_moment(raw.get("paid_at"))
    except (ValueError, TypeError):
        errors.append({"row": row, "field": "paid_at", "message": "an ISO 8601 date-time"})
    branch = _code(raw, "branch", errors, row, required=False)
    leader = _code(raw, "leader", errors, row, required=channel == "groupbuy")
    session = _code(raw, "session", errors, row, required=channel == "groupbuy")
    pickup_point = _code(raw, "pickup_point", errors, row, required=False)
    campaign = _code(raw, "campaign", errors, row, required=False)
    if channel == "retail" and session:
        errors.append({"row": row, "field": "session", "message": "retail orders have no session"})
    if channel == "retail" and not branch:
        errors.append({"row": row, "field": "branch", "message": "required for retail orders"})

    lines: list[LineIn] = []
    raw_lines = raw.get("lines")
    if not isinstance(raw_lines, list) or not raw_lines:
        errors.append({"row": row, "field": "lines", "message": "at least one line"})
    else:
        for i, raw_line in enumerate(raw_lines):
            where = f"lines[{i}]"
            if not isinstance(raw_line, Mapping):
                errors.append({"row": row, "field": where, "message": "must be an object"})
                continue
            sku = _code(raw_line, "sku", errors, row, required=True)
            try:
                quantity = _quantity(raw_line.get("quantity"))
            except ValueError:
                errors.append(
                    {"row": row, "field": f"{where}.quantity", "message": "a whole number ≥ 1"}
                )
                continue
            try:
                price = parse_amount(
                    raw_line.get("unit_price"), f"{where}.unit_price", **AMOUNT_RULES
                )
            except PostalOpsError as exc:
                errors.append({"row": row, "field": f"{where}.unit_price", "message": exc.message})
                continue
            if price <= 0:
                errors.append(
                    {"row": row, "field": f"{where}.unit_price", "message": "must be positive"}
                )
                continue
            if sku:
                lines.append(LineIn(sku, quantity, price))

    order = OrderIn(
        order_no=order_no,  # type: ignore[arg-type]
        channel=channel,  # type: ignore[arg-type]
        paid_at=paid_at,  # type: ignore[arg-type]
        lines=tuple(lines),
        branch=branch,
        leader=leader,
        session=session,
        pickup_point=pickup_point,
        campaign=campaign,
        complete=not errors,
    )
    if errors:  # the codes that could be read are still checked against the references
        raise RowErrors(f"row {row} is invalid", details=errors, partial=order)
    if "amount" in raw and raw["amount"] is not None:
        try:
            declared = parse_amount(raw["amount"], "amount", **AMOUNT_RULES)
        except PostalOpsError as exc:
            raise RowErrors(
                f"row {row} is invalid",
                details=[{"row": row, "field": "amount", "message": exc.message}],
            ) from None
        if declared != order.amount:
            raise RowErrors(
                f"row {row}: amount does not match its lines",
                details=[
                    {
                        "row": row,
                        "field": "amount",
                        "message": f"declared {declared}, lines sum to {order.amount}",
                    }
                ],
            )
    return order


def parse_event(raw: object, row: int) -> EventIn:
    """Validate one refund or cancel event."""
    if not isinstance(raw, Mapping):
        raise RowErrors(
            f"row {row} is not an object",
            details=[{"row": row, "field": None, "message": "must be a JSON object"}],
        )
    errors: list[dict] = []
    kind = raw.get("type")
    if kind not in ("refund", "cancel"):
        errors.append({"row": row, "field": "type", "message": "refund or cancel"})
    order_no = _code(raw, "order_no", errors, row, required=True)
    refund_no = _code(raw, "refund_no", errors, row, required=kind == "refund")
    at = None
    try:
        at = parse_moment(raw.get("at"))
    except (ValueError, TypeError):
        errors.append({"row": row, "field": "at", "message": "an ISO 8601 date-time"})
    amount = None
    if kind == "refund":
        try:
            amount = parse_amount(raw.get("amount"), "amount", **AMOUNT_RULES)
            if amount <= 0:
                errors.append({"row": row, "field": "amount", "message": "must be positive"})
                amount = None
        except PostalOpsError as exc:
            errors.append({"row": row, "field": "amount", "message": exc.message})
    event = EventIn(kind, order_no, at, refund_no, amount, complete=not errors)  # type: ignore[arg-type]
    if errors:  # the order number, if read, is still checked against the stored orders
        raise RowErrors(f"row {row} is invalid", details=errors, partial=event)
    return event


def parse_batch(raws: Iterable[object], parse=parse_order, *, first_row: int = 1):
    """Validate every row; return (valid items with their row numbers, error details per bad row)."""
    valid: list[tuple[int, Any]] = []
    errors: list[dict] = []
    for row, raw in enumerate(raws, start=first_row):
        try:
            valid.append((row, parse(raw, row)))
        except RowErrors as exc:
            errors.append({"row": row, "errors": exc.details})
    return valid, errors


def parse_numbered(
    rows: Iterable[tuple[int, object]],
    parse=parse_order,
    *,
    partial: list[tuple[int, Any]] | None = None,
):
    """Like :func:`parse_batch` for rows that already carry their own numbers (CSV rows).

    ``partial``, if given, receives ``(row, item)`` for every row that failed its shape check
    but could be partly read (``item.complete`` is False): the caller reference-checks them too,
    so a row's shape and reference errors come in one answer."""
    valid: list[tuple[int, Any]] = []
    errors: list[dict] = []
    for row, raw in rows:
        try:
            valid.append((row, parse(raw, row)))
        except RowErrors as exc:
            errors.append({"row": row, "errors": exc.details})
            if partial is not None and exc.partial is not None:
                partial.append((row, exc.partial))
    return valid, errors


def orders_from_csv(text: str) -> tuple[list[tuple[int, dict]], list[dict]]:
    """Group CSV text (one row per order line, ``CSV_COLUMNS``) into order objects; see
    :func:`group_line_rows`. Read by the core's ``postalops.imports.parse_csv`` as every upload
    is: row numbers count the header as row 1, as a spreadsheet shows them."""
    return group_line_rows(parse_csv(text.encode("utf-8")))


def group_line_rows(
    rows: list[tuple[int, Mapping[str, Any]]], columns: Iterable[str] | None = None
) -> tuple[list[tuple[int, dict]], list[dict]]:
    """Group line rows (``(row number, {column: value})``) into order objects.

    Returns (objects with the row number of their first line, errors). The order-level columns
    must agree on every line of the same order.
    """
    columns = set(columns) if columns is not None else set().union(*(r.keys() for _, r in rows))
    missing = [
        c
        for c in ("order_no", "paid_at", "channel", "sku", "quantity", "unit_price")
        if c not in columns
    ]
    if missing:
        raise RowErrors(
            "CSV header is missing columns",
            code="csv_header",
            details=[{"row": 1, "field": c, "message": "missing column"} for c in missing],
        )
    orders: dict[str, tuple[int, dict]] = {}
    errors: list[dict] = []
    head_fields = ("paid_at", "channel", "branch", "leader", "session", "pickup_point", "campaign")

    def text(value: object) -> str | None:
        if value is None:
            return None
        if isinstance(value, datetime):
            return value.isoformat()
        return str(value).strip() or None

    for row, rec in rows:
        order_no = text(rec.get("order_no"))
        line = {
            "sku": text(rec.get("sku")),
            "quantity": text(rec.get("quantity")),
            "unit_price": text(rec.get("unit_price")),
        }
        if not order_no:
            errors.append(
                {"row": row, "errors": [{"row": row, "field": "order_no", "message": "required"}]}
            )
            continue
        head = {f: text(rec.get(f)) for f in head_fields}
        if order_no not in orders:
            orders[order_no] = (row, {"order_no": order_no, **head, "lines": [line]})
            continue
        first_row, obj = orders[order_no]
        clashes = [f for f in head_fields if obj[f] != head[f]]
        if clashes:
            errors.append(
                {
                    "row": row,
                    "errors": [
                        {"row": row, "field": f, "message": f"differs from row {first_row}"}
                        for f in clashes
                    ],
                }
            )
            continue
        obj["lines"].append(line)
    return list(orders.values()), errors
