"""Bulk imports: CSV, XLSX or JSON in, every row validated, a report per row out.

Imports are all-or-nothing: when any row is invalid the caller gets 422 with every bad row named
(spreadsheet row numbers, header = row 1) and nothing is written.

Example (a plugin's API view)::

    rows = read_upload()                       # [(row_number, {column: value})]
    valid = validate_rows(rows, CourierRow)    # raises 422 listing every bad row
    for row_no, item in valid: ...upsert...
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

from flask import request
from pydantic import BaseModel, TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from .api import load_json, pydantic_errors
from .errors import BadRequest, ValidationError

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


def validate_rows(
    rows: Iterable[tuple[int, dict[str, Any]]],
    model: type[BaseModel] | Any,
) -> list[tuple[int, Any]]:
    """Validate every row against ``model``; raise one 422 naming every bad row and field."""
    adapter = TypeAdapter(model)
    valid, errors = [], []
    for row_no, raw in rows:
        try:
            valid.append((row_no, adapter.validate_python(raw)))
        except PydanticValidationError as exc:
            errors.append({"row": row_no, "errors": pydantic_errors(exc)})
    if errors:
        raise ValidationError(
            f"{len(errors)} row(s) invalid; nothing was imported",
            code="invalid_rows",
            details=errors,
        )
    return valid


def row_report(results: Iterable[tuple[int, str, Any]]) -> dict[str, Any]:
    """Summarise ``(row, status, key)`` triples as the standard import report."""
    rows = [{"row": r, "status": s, "key": k} for r, s, k in results]
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    return {"summary": counts, "rows": rows}
