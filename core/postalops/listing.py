"""Lists of records as the portal shows them: filtered, sorted, paged on the server, and exported
(the filtered rows, all pages) to CSV and XLSX. Public module for plugins; docs/ui.md.

Declare the columns once over a SQLAlchemy ``select``; the tenant scope applies as for any
statement run on the caller's session. In a view::

    AUDIT = Listing(
        select(AuditRecord),
        [
            Column("at", "时间", "Time", kind="datetime", sortable=True, filter="date_range"),
            Column("actor", "操作人", "Who", sortable=True, filter="text"),
        ],
        default_sort="-at",
        filename="audit",
    )

    @bp.route("/audit")
    def audit():
        page = AUDIT.run(context.session(), request.args)
        if page.export:  # ?export=csv or ?export=xlsx
            return page.export_response()
        return render_template("x/audit.html", page=page)

and in the template ``{{ ui.data_table(page) }}``.

Request arguments (with the listing's ``prefix``, when a page shows more than one list):
``page`` (from 1), ``per_page`` (1 to 200, default 50), ``sort`` (a sortable column key, ``-``
first for descending), one argument per filter (``<key>``; ``<key>_from`` / ``<key>_to`` for
date ranges, inclusive local dates) and ``export`` (``csv`` or ``xlsx``). Bad values never fail
the page: an unknown sort or page is ignored, a bad date is ignored and reported in
``Page.problems`` (shown above the table).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from . import formatting

__all__ = [
    "Column",
    "Listing",
    "ListPage",
]


log = logging.getLogger(__name__)

KINDS = (
    "text",
    "money",
    "count",
    "number",
    "percent",
    "date",
    "datetime",
    "unit",
    "status",
    "json",
)
FILTERS = ("text", "exact", "choice", "date_range", "unit")
NUMERIC = ("money", "count", "number", "percent")
PER_PAGE = 50
MAX_PER_PAGE = 200
MAX_EXPORT_ROWS = 100_000
XLSX_FORMATS = {
    "money": "¥#,##0.00",
    "count": "#,##0",
    "number": "#,##0.##",
    "percent": "0.0%",
    "date": "yyyy-mm-dd",
    "datetime": "yyyy-mm-dd hh:mm",
}


@dataclass(frozen=True)
class Column:
    """One column of a listing.

    ``key`` names the attribute of a row (a model attribute or a labelled column of the
    select); ``expr`` is the SQL expression used to sort and filter (default: the statement's
    column or entity attribute of that name). ``kind`` decides alignment and format: text,
    money, count (with ``unit`` word), number, percent (fractions), date, datetime (shown in
    Asia/Shanghai), unit (an org unit code, shown by name), status (translated through
    ``domain``, see ``postalops_status_labels``), json. ``filter``: ``text`` (contains,
    case-insensitive), ``exact``, ``choice`` (one of ``choices``: values, or
    ``(value, label_zh, label_en)``, or a function returning them), ``date_range`` (``<key>_from`` / ``<key>_to``), ``unit``
    (the unit and its subtree). ``value`` derives the cell from the row; ``href`` makes it a link.
    ``show=False`` keeps a column out of the page (export only); ``export=False`` the reverse.
    """

    key: str
    label_zh: str
    label_en: str
    kind: str = "text"
    sortable: bool = False
    filter: str | None = None
    expr: Any = None
    choices: Sequence[Any] | Callable[[], Sequence[Any]] = ()
    domain: str | None = None
    unit: str | None = None
    value: Callable[[Any], Any] | None = None
    href: Callable[[Any], str | None] | None = None
    export: bool = True
    show: bool = True

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"column {self.key}: kind must be one of {KINDS}")
        if self.filter is not None and self.filter not in FILTERS:
            raise ValueError(f"column {self.key}: filter must be one of {FILTERS}")

    @property
    def numeric(self) -> bool:
        return self.kind in NUMERIC

    def label(self, locale: str) -> str:
        return self.label_zh if formatting.is_zh(locale) else self.label_en

    def cell(self, row: Any) -> Any:
        value = self._raw(row)
        if self.kind == "status" and isinstance(value, bool):
            return "true" if value else "false"  # a yes/no column: labelled by its domain
        return value

    def _raw(self, row: Any) -> Any:
        if self.value is not None:
            return self.value(row)
        if hasattr(row, self.key):
            return getattr(row, self.key)
        mapping = getattr(row, "_mapping", None)
        if mapping is not None and self.key in mapping:
            return mapping[self.key]
        raise KeyError(f"listing row has no {self.key!r}; give the column a value= function")

    def choice_options(self, locale: str) -> list[tuple[str, str]]:
        """``[(value, label)]`` for a ``choice`` filter."""
        out = []
        for c in self.choices() if callable(self.choices) else self.choices:
            if isinstance(c, tuple):
                out.append((str(c[0]), c[1] if formatting.is_zh(locale) else c[2]))
            elif self.domain:
                from .ui import status_label

                out.append((str(c), status_label(c, self.domain, locale)[0]))
            else:
                from .ui import humanize

                out.append((str(c), humanize(c)))
        return out


@dataclass
class Page:
    """One page of a listing: the rows and everything the ``data_table`` macro needs."""

    listing: Listing
    rows: list[Any]
    total: int
    page: int
    per_page: int
    sort: str | None
    values: dict[str, str]  # the filter arguments in force (cleaned), by argument name
    problems: list[str] = field(default_factory=list)
    export: str | None = None
    _stmt: Any = None
    _session: Any = None

    @property
    def columns(self) -> list[Column]:
        """The columns shown on the page."""
        return [c for c in self.listing.columns if c.show]

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def first(self) -> int:
        """1-based index of the first row shown (0 when empty)."""
        return 0 if not self.total else (self.page - 1) * self.per_page + 1

    @property
    def last(self) -> int:
        return min(self.total, self.page * self.per_page)

    @property
    def filtered(self) -> bool:
        return bool(self.values)

    def arg(self, name: str) -> str:
        return self.listing.prefix + name

    def query(self, **changes: Any) -> str:
        """The query string of this page with ``changes`` (None removes an argument)."""
        args: dict[str, Any] = {self.arg(k): v for k, v in self.values.items()}
        if self.sort and self.sort != self.listing.default_sort:
            args[self.arg("sort")] = self.sort
        if self.per_page != self.listing.per_page:
            args[self.arg("per_page")] = self.per_page
        if self.page > 1:
            args[self.arg("page")] = self.page
        for k, v in changes.items():
            name = self.arg(k)
            if v is None:
                args.pop(name, None)
            else:
                args[name] = v
        return "?" + urlencode(args) if args else "?"

    def page_url(self, n: int) -> str:
        return self.query(page=n if n > 1 else None)

    def sort_state(self, col: Column) -> str | None:
        """``"ascending"`` / ``"descending"`` when the page is sorted by ``col`` (aria-sort)."""
        if not self.sort or self.sort.lstrip("-") != col.key:
            return None
        return "descending" if self.sort.startswith("-") else "ascending"

    def sort_url(self, col: Column) -> str:
        state = self.sort_state(col)
        target = f"-{col.key}" if state == "ascending" else col.key
        if state is None and col.kind in ("date", "datetime", *NUMERIC):
            target = f"-{col.key}"  # newest / largest first on a first click
        return self.query(sort=target, page=None)

    def export_url(self, fmt: str) -> str:
        return self.query(export=fmt, page=None)

    def page_numbers(self, around: int = 2) -> list[int | None]:
        """Page numbers to link, ``None`` for a gap: 1 … 4 5 [6] 7 8 … 20."""
        return page_numbers(self.page, self.pages, around)

    def export_response(self) -> Any:
        """The filtered rows (all pages, sorted as shown) as a CSV or XLSX download."""
        return self.listing.export_response(self._session, self._stmt, self.export or "csv")


def page_numbers(page: int, pages: int, around: int = 2) -> list[int | None]:
    """Page numbers to link, ``None`` for a gap: 1 … 4 5 [6] 7 8 … 20."""
    keep = {1, pages, *range(page - around, page + around + 1)}
    out: list[int | None] = []
    for n in range(1, pages + 1):
        if n in keep:
            out.append(n)
        elif out and out[-1] is not None:
            out.append(None)
    return out


class ListPage:
    """Paging for a list computed in Python (a report, a comparison table), shown with
    ``ui.pagination`` like a listing's page: ``ListPage(rows, request.args, prefix="u_")``.
    ``prefix`` keeps two lists on one page apart (``page`` / ``u_page``); a bad or too large
    page number shows the nearest page."""

    def __init__(
        self, rows: Sequence[Any], args: Mapping[str, Any], prefix: str = "", per_page: int = 50
    ) -> None:
        self.total = len(rows)
        self.per_page = per_page
        self.pages = max(1, -(-self.total // per_page))
        self._key = prefix + "page"
        raw = str(args.get(self._key, "1"))
        self.page = min(int(raw), self.pages) if raw.isdigit() and int(raw) > 0 else 1
        self.rows = list(rows[(self.page - 1) * per_page : self.page * per_page])
        self.first = 0 if not self.total else (self.page - 1) * per_page + 1
        self.last = min(self.total, self.page * per_page)
        self._args = {k: v for k, v in args.items() if k != self._key}

    def page_url(self, n: int) -> str:
        args = dict(self._args)
        if n > 1:
            args[self._key] = n
        return "?" + urlencode(args)

    def page_numbers(self, around: int = 2) -> list[int | None]:
        return page_numbers(self.page, self.pages, around)


class Listing:
    """A declared list over ``stmt``; see the module docstring. Build it once (module level or
    per request); :meth:`run` does the work per request and keeps no state."""

    def __init__(
        self,
        stmt: Any,
        columns: Sequence[Column],
        *,
        default_sort: str | None = None,
        per_page: int = PER_PAGE,
        prefix: str = "",
        filename: str = "export",
        tiebreak: Sequence[Any] = (),
    ) -> None:
        self.stmt = stmt
        self.columns = list(columns)
        self.by_key = {c.key: c for c in self.columns}
        self.default_sort = default_sort
        self.per_page = per_page
        self.prefix = prefix
        self.filename = filename
        self.tiebreak = list(tiebreak) or self._primary_key()
        for c in self.columns:
            if (c.sortable or c.filter) and self._expr(c) is None:
                raise ValueError(f"column {c.key}: sortable/filterable columns need an expr")

    # -- statement ---------------------------------------------------------------------------

    def _entity(self) -> Any:
        descs = self.stmt.column_descriptions
        if (
            len(descs) == 1
            and descs[0].get("entity") is not None
            and descs[0]["expr"] is descs[0]["entity"]
        ):
            return descs[0]["entity"]
        return None

    def _primary_key(self) -> list[Any]:
        entity = self._entity()
        if entity is None:
            return []
        return list(sa.inspect(entity).primary_key)

    def _expr(self, col: Column) -> Any:
        if col.expr is not None:
            return col.expr
        entity = self._entity()
        if entity is not None:
            return getattr(entity, col.key, None)
        for c in self.stmt.selected_columns:
            if c.key == col.key:
                return c
        return None

    # -- arguments ---------------------------------------------------------------------------

    def _filters(
        self, args: Mapping[str, Any], locale: str, tz: str
    ) -> tuple[list[Any], dict[str, str], list[str]]:
        clauses: list[Any] = []
        values: dict[str, str] = {}
        problems: list[str] = []
        zh = formatting.is_zh(locale)
        for col in self.columns:
            if not col.filter:
                continue
            expr = self._expr(col)
            if col.filter == "date_range":
                for suffix, op in (("_from", "ge"), ("_to", "lt")):
                    raw = str(args.get(self.prefix + col.key + suffix) or "").strip()
                    if not raw:
                        continue
                    try:
                        day = dt.date.fromisoformat(raw)
                    except ValueError:
                        problems.append(
                            f"{col.label(locale)}：日期“{raw}”无效，应为 YYYY-MM-DD，已忽略"
                            if zh
                            else f"{col.label(locale)}: “{raw}” is not a date (YYYY-MM-DD); ignored"
                        )
                        continue
                    if op == "lt":
                        day = day + dt.timedelta(days=1)  # inclusive "to"
                    bound: Any = day
                    if col.kind == "datetime":  # local midnight, compared in UTC
                        bound = dt.datetime.combine(day, dt.time(), ZoneInfo(tz)).astimezone(dt.UTC)
                    clauses.append(expr >= bound if op == "ge" else expr < bound)
                    values[col.key + suffix] = raw
                continue
            raw = str(args.get(self.prefix + col.key) or "").strip()
            if not raw:
                continue
            if col.filter == "text":
                pattern = raw.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                clauses.append(expr.ilike(f"%{pattern}%", escape="\\"))
            elif col.filter == "exact":
                clauses.append(expr == raw)
            elif col.filter == "choice":
                allowed = {v for v, _ in col.choice_options(locale)}
                if raw not in allowed:
                    problems.append(
                        f"{col.label(locale)}：未知取值，已忽略"
                        if zh
                        else f"{col.label(locale)}: unknown value; ignored"
                    )
                    continue
                if isinstance(getattr(expr, "type", None), sa.Boolean):
                    # a yes/no column: choices "true" / "false"
                    clauses.append(expr.is_(raw == "true"))
                else:
                    clauses.append(expr == raw)
            elif col.filter == "unit":
                clauses.append(sa.or_(expr == raw, expr.like(raw.replace("%", "") + ".%")))
            values[col.key] = raw
        return clauses, values, problems

    def _sort(self, raw: str | None, dialect: str = "") -> tuple[str | None, list[Any]]:
        key = (raw or "").strip()
        col = self.by_key.get(key.lstrip("-"))
        if col is None or not col.sortable:
            key = self.default_sort or ""
            col = self.by_key.get(key.lstrip("-"))
            if col is None:
                return None, list(self.tiebreak)
        expr = self._expr(col)
        if col.numeric and dialect == "sqlite":
            # SQLite keeps Money as exact text ("120.50"): order by its value, not its spelling
            expr = sa.cast(expr, sa.Numeric(18, 4))
        desc = key.startswith("-")
        order = [expr.desc() if desc else expr.asc()]
        order += [t.desc() if desc else t.asc() for t in self.tiebreak]
        return key, order

    @staticmethod
    def _int(raw: Any, default: int, lo: int, hi: int) -> int:
        try:
            n = int(str(raw))
        except (TypeError, ValueError):
            return default
        return n if lo <= n <= hi else default

    # -- running -----------------------------------------------------------------------------

    def run(
        self,
        session: Any,
        args: Mapping[str, Any],
        *,
        locale: str | None = None,
        tz: str | None = None,
    ) -> Page:
        """Filter, sort and page ``stmt`` on ``session`` (the caller's scoped session) from the
        request ``args``. ``Page.export`` is set when ``export=csv|xlsx`` was asked."""
        from .ui import locale as request_locale

        locale = locale or request_locale()
        tz = tz or _tz()
        clauses, values, problems = self._filters(args, locale, tz)
        bind = session.get_bind()
        sort, order = self._sort(args.get(self.prefix + "sort"), bind.dialect.name)
        stmt = self.stmt.where(*clauses) if clauses else self.stmt
        per_page = self._int(args.get(self.prefix + "per_page"), self.per_page, 1, MAX_PER_PAGE)
        count_stmt = sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery())
        total = int(session.execute(count_stmt).scalar_one())
        pages = max(1, math.ceil(total / per_page))
        page = self._int(args.get(self.prefix + "page"), 1, 1, 10**9)
        page = min(page, pages)
        ordered = stmt.order_by(None).order_by(*order) if order else stmt
        export = str(args.get(self.prefix + "export") or "")
        rows = self._rows(session, ordered.limit(per_page).offset((page - 1) * per_page))
        return Page(
            listing=self,
            rows=rows,
            total=total,
            page=page,
            per_page=per_page,
            sort=sort,
            values=values,
            problems=problems,
            export=export if export in ("csv", "xlsx") else None,
            _stmt=ordered,
            _session=session,
        )

    def _rows(self, session: Any, stmt: Any) -> list[Any]:
        result = session.execute(stmt)
        return list(result.scalars().all() if self._entity() is not None else result.all())

    # -- export ------------------------------------------------------------------------------

    def export_rows(
        self, session: Any, stmt: Any, locale: str
    ) -> tuple[list[str], list[str], list[list[Any]]]:
        """``(header, kinds, rows)`` of the export: typed values (Decimal, int, date, local
        naive datetime), enums translated, a unit column followed by its code."""
        from .ui import status_label, unit_name

        tz = _tz()
        cols = [c for c in self.columns if c.export]
        header: list[str] = []
        kinds: list[str] = []
        for c in cols:
            header.append(c.label(locale))
            kinds.append(c.kind)
            if c.kind == "unit":
                header.append(f"{c.label(locale)}{'代码' if formatting.is_zh(locale) else ' code'}")
                kinds.append("text")
        out: list[list[Any]] = []
        for row in self._rows(session, stmt.limit(MAX_EXPORT_ROWS)):
            line: list[Any] = []
            for c in cols:
                v = c.cell(row)
                if v is None:
                    line.append(None)
                    if c.kind == "unit":
                        line.append(None)
                    continue
                if c.kind == "money" or c.kind == "percent" or c.kind == "number":
                    v = formatting.to_decimal(v)
                elif c.kind == "count":
                    d = formatting.to_decimal(v)
                    v = int(d) if d is not None and d == d.to_integral_value() else d
                elif c.kind == "datetime" and isinstance(v, dt.datetime):
                    aware = v if v.tzinfo else v.replace(tzinfo=dt.UTC)
                    v = aware.astimezone(ZoneInfo(tz)).replace(tzinfo=None, second=0, microsecond=0)
                elif c.kind == "date" and isinstance(v, dt.datetime):
                    v = formatting._aware_local(v, tz).date()
                elif c.kind == "status":
                    v = status_label(v, c.domain or "", locale)[0]
                elif c.kind == "json":
                    v = json.dumps(v, ensure_ascii=False, sort_keys=True, default=str)
                elif c.kind == "unit":
                    line.append(unit_name(v, locale))
                elif not isinstance(v, str | int | Decimal | dt.date):
                    v = str(v)
                line.append(v)
            out.append(line)
        return header, kinds, out

    def export_response(self, session: Any, stmt: Any, fmt: str) -> Any:
        from flask import send_file

        from .clock import today
        from .ui import locale

        header, kinds, rows = self.export_rows(session, stmt, locale())
        name = f"{self.filename}-{today().isoformat()}"
        if fmt == "xlsx":
            data = to_xlsx(header, kinds, rows)
            mime = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        else:
            data, mime, fmt = to_csv(header, kinds, rows), "text/csv; charset=utf-8", "csv"
        return send_file(
            io.BytesIO(data), mimetype=mime, as_attachment=True, download_name=f"{name}.{fmt}"
        )


def _tz() -> str:
    from flask import current_app, has_app_context

    if has_app_context():
        settings = current_app.extensions.get("postalops.settings")
        return getattr(settings, "timezone", formatting.DEFAULT_TZ)
    return formatting.DEFAULT_TZ


def to_csv(header: list[str], kinds: list[str], rows: list[list[Any]]) -> bytes:
    """UTF-8 with a BOM (so Excel opens Chinese text right); numbers plain (1234.5, no
    separators or currency sign), datetimes ``2022-09-19 14:05``."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    for row in rows:
        w.writerow(
            [
                ""
                if v is None
                else v.strftime("%Y-%m-%d %H:%M")
                if isinstance(v, dt.datetime)
                else v.isoformat()
                if isinstance(v, dt.date)
                else v
                for v in row
            ]
        )
    return b"\xef\xbb\xbf" + buf.getvalue().encode("utf-8")


def to_xlsx(
    header: list[str],
    kinds: list[str],
    rows: list[list[Any]],
    *,
    sheet: str | None = None,
    formats: dict[str, str] | None = None,
) -> bytes:
    """One sheet, bold frozen header, numbers stored as numbers with number formats (money as
    ``¥#,##0.00``, rates as ``0.0%``), dates as dates; ``formats`` replaces the number format
    per kind (an import layout may want amounts without the currency sign)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    formats = XLSX_FORMATS if formats is None else formats
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(sheet)
    ws.freeze_panes = "A2"
    bold = Font(bold=True)
    head = []
    for h in header:
        cell = WriteOnlyCell(ws, value=h)
        cell.font = bold
        head.append(cell)
    ws.append(head)
    for row in rows:
        cells = []
        for v, kind in zip(row, kinds, strict=True):
            cell = WriteOnlyCell(ws, value=v)
            fmt = formats.get(kind)
            if fmt and v is not None:
                cell.number_format = fmt
            cells.append(cell)
        ws.append(cells)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
