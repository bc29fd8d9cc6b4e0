"""Finance's journal: ``GET /api/v1/journal`` (JSON, CSV, XLSX) and the finance page
``/finance/journal``, both reading :func:`postalops.vouchers.collect`."""

from __future__ import annotations

import calendar
import datetime as dt
import io
from typing import Any, Literal

from flask import Blueprint, current_app, render_template, request, send_file
from pydantic import BaseModel, Field

from postalops import clock, context
from postalops.api import ApiBlueprint, query_tenant
from postalops.auth import check_permission
from postalops.errors import PostalOpsError, ValidationError
from postalops.listing import ListPage
from postalops.ui import Status
from postalops.vouchers import Journal, check_range, collect, export_bytes, filename

api = ApiBlueprint("core_journal_api", __name__)
bp = Blueprint("finance", __name__, url_prefix="")

READ = "core.journal.read"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

STATUS_LABELS = {
    "journal.balance": {
        "balanced": Status("已平衡", "Balanced", "success", "bi-check2-circle"),
        "unbalanced": Status("不平衡", "Unbalanced", "danger", "bi-exclamation-octagon"),
    }
}


def _registry() -> Any:
    return current_app.extensions["postalops.plugins"]


# --- API -------------------------------------------------------------------------------------


class JournalQuery(BaseModel):
    tenant: str | None = Field(
        default=None, max_length=200, description="unit code (default: your active unit)"
    )
    from_: str | None = Field(
        default=None,
        alias="from",
        max_length=10,
        description="first local date, YYYY-MM-DD (default: the 1st of to's month)",
    )
    to: str | None = Field(
        default=None, max_length=10, description="last local date, YYYY-MM-DD (default: today)"
    )
    format: Literal["json", "csv", "xlsx"] = Field(
        default="json", description="json, or a download in the layout of docs/finance.md"
    )
    page: int = Field(default=1, ge=1, le=10_000_000)
    per_page: int = Field(default=100, ge=1, le=1000)


class VoucherLineOut(BaseModel):
    line_no: int = Field(description="分录号, from 1 within the voucher")
    date: dt.date
    account: str = Field(description="the plugin's account key (postalops.journal.DEFAULT_CHART)")
    code: str = Field(description="科目代码 in force at the line's unit")
    name: str = Field(description="科目名称 in force at the line's unit")
    debit: str = Field(description="yuan, a decimal string")
    credit: str = Field(description="yuan, a decimal string")
    unit: str
    memo: str


class VoucherOut(BaseModel):
    period: str = Field(description="会计期间, YYYY-MM")
    word: str = Field(description="凭证字 (记)")
    number: int = Field(description="凭证号, from 1 per period and unit")
    date: dt.date
    unit: str = Field(description="核算单位: the nearest unit holding all its lines")
    plugin: str
    reference: str
    memo: str
    debit: str
    credit: str
    difference: str = Field(description="debit - credit; 0.00 when balanced")
    balanced: bool
    lines: list[VoucherLineOut]


class TotalsOut(BaseModel):
    vouchers: int
    unbalanced: int
    debit: str
    credit: str
    balanced: bool


class PeriodOut(TotalsOut):
    period: str


class DegradedOut(BaseModel):
    plugin: str
    error: str


class JournalOut(BaseModel):
    tenant: str
    from_: dt.date = Field(alias="from")
    to: dt.date
    totals: TotalsOut = Field(description="every voucher of the range, not only this page")
    periods: list[PeriodOut]
    degraded: list[DegradedOut] = Field(
        description="plugins whose journal could not be read (their vouchers are missing)"
    )
    items: list[VoucherOut]
    page: int
    per_page: int
    total: int


def range_of(raw_from: str | None, raw_to: str | None, prefix: str = "query.") -> tuple:
    """The inclusive dates asked for: ``to`` defaults to today, ``from`` to the 1st of ``to``'s
    month; 422 naming the field (``query.from``) for a bad date, ``from`` after ``to`` or a
    range over a year."""

    def parse(value: str | None, name: str) -> dt.date | None:
        if not value:
            return None
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise ValidationError(
                f"{name} must be a date (YYYY-MM-DD)",
                details=[{"field": f"{prefix}{name}", "message": "not a date"}],
            ) from None

    to = parse(raw_to, "to") or clock.today()
    frm = parse(raw_from, "from") or to.replace(day=1)
    check_range(frm, to, prefix)
    return frm, to


def _download(journal: Journal, fmt: str) -> Any:
    data, mime = export_bytes(context.session(), journal, fmt)
    return send_file(
        io.BytesIO(data), mimetype=mime, as_attachment=True, download_name=filename(journal, fmt)
    )


@api.operation(
    "/journal",
    permission=READ,
    query=JournalQuery,
    tags=["journal"],
    summary="Vouchers (记账凭证) of every enabled plugin for a unit and period; "
    "?format=csv|xlsx downloads them (docs/finance.md)",
    response=JournalOut,
    downloads=("text/csv", XLSX),
)
def journal(query: JournalQuery) -> Any:
    tenant = query_tenant()
    frm, to = range_of(query.from_, query.to)
    out = collect(_registry(), context.session(), tenant, frm, to)
    if query.format != "json":
        return _download(out, query.format)
    start = (query.page - 1) * query.per_page
    body = out.as_json(out.vouchers[start : start + query.per_page])
    body.update(page=query.page, per_page=query.per_page, total=len(out.vouchers))
    return body


# --- the finance page ------------------------------------------------------------------------

PER_PAGE = 50


def _month_range(month: str) -> tuple[dt.date, dt.date]:
    try:
        first = dt.date.fromisoformat(f"{month}-01")
    except ValueError:
        raise ValidationError(
            "month must be YYYY-MM", details=[{"field": "month", "message": "YYYY-MM"}]
        ) from None
    return first, first.replace(day=calendar.monthrange(first.year, first.month)[1])


def _opening_month(unit: str) -> tuple[dt.date, dt.date, Journal]:
    """This month when it has vouchers, else the last month of the past year that has any."""
    today = clock.today()
    frm, to = today.replace(day=1), today
    shown = collect(_registry(), context.session(), unit, frm, to)
    if shown.vouchers:
        return frm, to, shown
    year_from = (frm - dt.timedelta(days=330)).replace(day=1)
    past = collect(_registry(), context.session(), unit, year_from, frm - dt.timedelta(days=1))
    if not past.vouchers:
        return frm, to, shown
    last = max(v.date for v in past.vouchers)
    m_from, m_to = _month_range(f"{last.year:04d}-{last.month:02d}")
    return m_from, m_to, collect(_registry(), context.session(), unit, m_from, m_to)


def _plugin_name(key: str) -> str:
    """A plugin's display name in the page's language (its key when it has none)."""
    from postalops.ui import locale

    plugin = _registry().plugins.get(key)
    info = getattr(plugin, "info", None)
    if info is None:
        return key
    return info.name_zh if locale() == "zh" else info.name_en


@bp.route("/finance/journal")
def journal_page() -> Any:
    check_permission(READ)
    unit = context.tenant()
    errors: dict[str, str] = {}
    status = 200
    args = request.args
    try:
        if args.get("from") or args.get("to"):
            frm, to = range_of(args.get("from"), args.get("to"), prefix="")
            out = collect(_registry(), context.session(), unit, frm, to)
        elif args.get("month"):
            frm, to = _month_range(args["month"])
            out = collect(_registry(), context.session(), unit, frm, to)
        else:
            frm, to, out = _opening_month(unit)
    except PostalOpsError as exc:
        if exc.status != 422:
            raise
        errors = {d.get("field", "from"): exc.message for d in exc.details or [{}]}
        status = 422
        frm = to = None
        out = None
    query = {"tenant": unit, "from": frm.isoformat(), "to": to.isoformat()} if frm and to else {}
    # ui.pagination's pager (1 … around the page … last), its links keeping the period
    listing = ListPage(
        out.vouchers if out else [], {**query, "page": args.get("page", "1")}, per_page=PER_PAGE
    )
    return (
        render_template(
            "postalops/finance_journal.html",
            journal=out,
            vouchers=listing.rows,
            listing=listing,
            date_from=frm,
            date_to=to,
            month=args.get("month") or (f"{frm:%Y-%m}" if frm else ""),
            raw_from=args.get("from", frm.isoformat() if frm else ""),
            raw_to=args.get("to", to.isoformat() if to else ""),
            errors=errors,
            export_query=query,
            previous_month=f"{(frm.replace(day=1) - dt.timedelta(days=1)):%Y-%m}"
            if frm and frm.year > 1
            else "",
            unit=unit,
            plugin_name=_plugin_name,
        ),
        status,
    )
