"""Bulk imports: CSV, XLSX or JSON in, every row validated, a report per row out.

Imports are all-or-nothing: when any row is invalid the caller gets 422 with every bad row named
(spreadsheet row numbers, header = row 1) and nothing is written. Errors come in one pass: a
row's shape errors (types, ranges) and its reference errors (unknown unit, out of scope,
duplicate) are reported together, and so are every other row's; nobody fixes a file twice to
meet the second stage. Each detail is ``{"row": n, "errors": [{"field", "message", ...}]}``.

One-pass example (shape and reference checks together)::

    valid, errors = check_rows(read_upload(), CourierRow)   # shape errors collected, not raised
    for row_no, item in valid: ...reference checks: errors.add(row_no, "unit", "unknown")...
    for row_no, raw in errors.raw_rows(): ...the same checks on the raw values of bad rows...
    errors.raise_if_any()                                   # one 422 with everything

Example (a plugin's API view)::

    rows = read_upload()                       # [(row_number, {column: value})]
    valid = validate_rows(rows, CourierRow)    # raises 422 listing every bad row
    for row_no, item in valid: ...upsert...
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from typing import Any

from flask import request
from pydantic import BaseModel, TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from .api import load_json, pydantic_errors
from .errors import BadRequest, ValidationError

__all__ = [
    "read_upload",
    "validate_rows",
    "check_rows",
    "row_report",
    "RowErrors",
    "parse_csv",
    "parse_xlsx",
    "read_rows",
]


MAX_ROWS = 100_000


def parse_csv(data: bytes) -> list[tuple[int, dict[str, Any]]]:
    """Rows of a CSV file (UTF-8 with or without BOM, or GB18030 as Excel in China saves it)."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes any byte string
        raise BadRequest("file is not UTF-8 or GB18030 text", code="bad_encoding")
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames:
        raise BadRequest(
            "CSV file has no header row",
            code="no_header",
            details=[{"row": 1, "message": "header missing"}],
        )
    rows = []
    for i, raw in enumerate(reader, start=2):
        if None in raw:
            raise ValidationError(
                f"row {i} has more cells than the header",
                code="bad_row",
                details=[{"row": i, "message": "too many cells"}],
            )
        clean = {k.strip(): (v.strip() if isinstance(v, str) else v) for k, v in raw.items() if k}
        if any(v not in ("", None) for v in clean.values()):
            rows.append((i, {k: (None if v == "" else v) for k, v in clean.items()}))
    return rows


def parse_xlsx(data: bytes) -> list[tuple[int, dict[str, Any]]]:
    """Rows of the first sheet of an XLSX workbook; header in row 1."""
    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many types for corrupt files
        raise BadRequest(f"not a readable XLSX workbook: {exc}", code="bad_xlsx") from exc
    ws = wb.worksheets[0]
    it = ws.iter_rows(values_only=True)
    header = next(it, None)
    if not header or not any(header):
        raise BadRequest(
            "XLSX sheet has no header row",
            code="no_header",
            details=[{"row": 1, "message": "header missing"}],
        )
    names = [str(h).strip() if h is not None else "" for h in header]
    rows = []
    for i, values in enumerate(it, start=2):
        if values is None or all(v in (None, "") for v in values):
            continue
        rows.append(
            (
                i,
                {
                    n: (v.strip() if isinstance(v, str) else v)
                    for n, v in zip(names, values, strict=False)
                    if n
                },
            )
        )
    wb.close()
    return rows


def parse_json_rows(data: bytes) -> list[tuple[int, dict[str, Any]]]:
    payload = load_json(data)
    if isinstance(payload, dict) and isinstance(payload.get("items"), list):
        payload = payload["items"]
    if not isinstance(payload, list):
        raise ValidationError(
            'JSON body must be a list of rows (or {"items": [...]})',
            details=[{"field": "body", "message": "expected a list"}],
        )
    out = []
    for i, item in enumerate(payload):
        if not isinstance(item, dict):
            raise ValidationError(
                f"item {i} is not an object", details=[{"row": i, "message": "expected an object"}]
            )
        out.append((i, item))
    return out


def _geojson_rows(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """A Feature or FeatureCollection: each feature's properties, its geometry under
    ``__geometry__``."""
    features = doc["features"] if doc.get("type") == "FeatureCollection" else [doc]
    rows = []
    for feature in features:
        row = dict(feature.get("properties") or {})
        geometry = feature.get("geometry")
        if geometry is not None:
            row["__geometry__"] = geometry
        rows.append(row)
    return rows


def read_rows(data: Any, fmt: str, *, max_rows: int = MAX_ROWS) -> list[tuple[int, dict[str, Any]]]:
    """``[(row number, {column: value})]`` of a file in ``fmt``: ``"csv"`` and ``"xlsx"``
    (:func:`parse_csv`, :func:`parse_xlsx`: spreadsheet row numbers, the header is row 1),
    ``"json"`` or ``"geojson"`` (a list of objects, ``{"items": [...]}`` or ``{"rows": [...]}``,
    or a GeoJSON Feature/FeatureCollection whose features' properties are the rows, the geometry
    under ``__geometry__``; numbered by position from 0; ``data`` may be parsed already).
    A file that cannot be read is a 400: the CSV/XLSX readers' own codes (``bad_encoding``,
    ``bad_xlsx``, ``no_header``), ``unreadable_file`` for JSON that is not a list of objects,
    ``unsupported_format`` for another format, ``too_many_rows`` above ``max_rows``."""
    fmt = fmt.lower().lstrip(".")
    try:
        if fmt == "csv":
            rows = parse_csv(data if isinstance(data, bytes) else str(data).encode())
        elif fmt == "xlsx":
            rows = parse_xlsx(data if isinstance(data, bytes) else str(data).encode())
        elif fmt in ("geojson", "json"):
            doc = json.loads(data) if isinstance(data, str | bytes) else data
            if isinstance(doc, dict) and doc.get("type") in ("FeatureCollection", "Feature"):
                found = _geojson_rows(doc)
            else:
                items = doc.get("items", doc.get("rows")) if isinstance(doc, dict) else doc
                if not isinstance(items, list) or not all(isinstance(r, dict) for r in items):
                    raise ValueError('expected a list of objects or {"items": [...]}')
                found = [dict(r) for r in items]
            rows = list(enumerate(found))
        else:
            raise BadRequest(
                f"unsupported format {fmt!r}",
                code="unsupported_format",
                details=[{"field": "format", "message": "use csv, xlsx, geojson or json"}],
            )
    except (UnicodeError, csv.Error, ValueError, KeyError, TypeError) as exc:
        raise BadRequest(
            f"cannot read the {fmt} file: {exc}",
            code="unreadable_file",
            details=[{"field": "file", "message": str(exc)}],
        ) from exc
    if len(rows) > max_rows:
        raise BadRequest(
            "too many rows",
            code="too_many_rows",
            details=[{"field": "file", "message": f"at most {max_rows} rows per import"}],
        )
    return rows


def read_upload(field: str = "file") -> list[tuple[int, dict[str, Any]]]:
    """Rows from the current request: a multipart file (CSV/XLSX by name or content) or a JSON
    body. JSON rows are numbered by list index from 0; file rows by spreadsheet row number."""
    if request.files:
        f = request.files.get(field)
        if f is None:
            raise BadRequest(
                f"multipart upload needs a '{field}' part",
                details=[{"field": field, "message": "missing"}],
            )
        data = f.read()
        name = (f.filename or "").lower()
        if name.endswith(".xlsx") or data[:2] == b"PK":
            rows = parse_xlsx(data)
        else:
            rows = parse_csv(data)
    else:
        ctype = request.mimetype or ""
        data = request.get_data()
        if ctype in ("text/csv", "application/csv"):
            rows = parse_csv(data)
        elif ctype.endswith("spreadsheetml.sheet"):
            rows = parse_xlsx(data)
        else:
            if not data:
                raise BadRequest(
                    "empty body",
                    code="empty_body",
                    details=[{"field": "body", "message": "required"}],
                )
            rows = parse_json_rows(data)
    if len(rows) > MAX_ROWS:
        raise ValidationError(
            f"at most {MAX_ROWS} rows per import",
            details=[{"field": "body", "message": "too many rows"}],
        )
    return rows


class RowErrors:
    """Every error of every row of one import, in row order; raised once as one 422."""

    def __init__(self) -> None:
        self._by_row: dict[int, list[dict[str, Any]]] = {}
        self._raw: dict[int, dict[str, Any]] = {}

    def add(self, row: int, field: str, message: str, **extra: Any) -> None:
        self._by_row.setdefault(row, []).append({"field": field, "message": message, **extra})

    def extend(
        self, row: int, errors: Iterable[dict[str, Any]], raw: dict[str, Any] | None = None
    ) -> None:
        """Add ``errors`` to ``row``; ``raw`` keeps a row that failed shape validation."""
        self._by_row.setdefault(row, []).extend(errors)
        if raw is not None:
            self._raw[row] = raw

    def has(self, row: int) -> bool:
        return row in self._by_row

    def raw_rows(self) -> list[tuple[int, dict[str, Any]]]:
        """Rows that failed shape validation, as read: reference checks run on them too."""
        return sorted(self._raw.items())

    def details(self) -> list[dict[str, Any]]:
        return [{"row": row, "errors": errs} for row, errs in sorted(self._by_row.items())]

    def __bool__(self) -> bool:
        return bool(self._by_row)

    def raise_if_any(self) -> None:
        if self._by_row:
            raise ValidationError(
                f"{len(self._by_row)} row(s) invalid; nothing was imported",
                code="invalid_rows",
                details=self.details(),
            )


def check_rows(
    rows: Iterable[tuple[int, dict[str, Any]]],
    model: type[BaseModel] | Any,
) -> tuple[list[tuple[int, Any]], RowErrors]:
    """Validate every row against ``model``; the valid rows, and the shape errors collected (not
    raised) so the caller adds its reference errors before raising them all at once."""
    adapter = TypeAdapter(model)
    valid: list[tuple[int, Any]] = []
    errors = RowErrors()
    for row_no, raw in rows:
        try:
            valid.append((row_no, adapter.validate_python(raw)))
        except PydanticValidationError as exc:
            errors.extend(row_no, pydantic_errors(exc), raw)
    return valid, errors


def validate_rows(
    rows: Iterable[tuple[int, dict[str, Any]]],
    model: type[BaseModel] | Any,
) -> list[tuple[int, Any]]:
    """Validate every row against ``model``; raise one 422 naming every bad row and field.
    For imports with reference checks use :func:`check_rows` so both come in one pass."""
    valid, errors = check_rows(rows, model)
    errors.raise_if_any()
    return valid


def row_report(results: Iterable[tuple[int, str, Any]]) -> dict[str, Any]:
    """Summarise ``(row, status, key)`` triples as the standard import report."""
    rows = [{"row": r, "status": s, "key": k} for r, s, k in results]
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    return {"summary": counts, "rows": rows}
