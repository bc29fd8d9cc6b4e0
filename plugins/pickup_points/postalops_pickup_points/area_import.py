"""Reading service areas and pickup points from CSV, XLSX, GeoJSON or JSON, row by row.

Rows belong to the caller's active unit (the tenant never comes from the file); ``county`` is
the county/district code segment below it (``jinshui``) that coverage is grouped by, or the
unit's own last segment for rows of the unit itself; it must name a unit of the org tree
(``network.check_counties``, a reference check reported with the shape errors). Each row is
validated on its own and reported as ``{"row": n, "ok": bool, "errors": {field: message}}``,
numbered as the core's imports number them: spreadsheet rows for CSV/XLSX (the header is row 1,
so the first data row is 2), list positions from 0 for JSON and GeoJSON features. Nothing here writes:
the service layer stores the rows only when every row is valid, so a rejected file changes
nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import shapely
from postalops import imports
from postalops.errors import ValidationError
from shapely import wkt as shapely_wkt
from shapely.errors import GEOSException

from .points import AreaCategory, PointStatus, PointType

_COUNTY = re.compile(r"^[a-z][a-z0-9]*$")
MAX_ROWS = 200_000


@dataclass
class RowReport:
    row: int
    ok: bool
    errors: dict[str, str] = field(default_factory=dict)
    value: dict[str, Any] | None = None
    raw: Mapping[str, Any] | None = None  # the row as read, for reference checks on bad rows

    def to_dict(self) -> dict[str, Any]:
        return {"row": self.row, "ok": self.ok, "errors": self.errors}


@dataclass
class ImportReport:
    rows: list[RowReport]

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.rows)

    @property
    def values(self) -> list[dict[str, Any]]:
        return [r.value for r in self.rows if r.ok and r.value is not None]

    def to_dict(self) -> dict[str, Any]:
        bad = [r for r in self.rows if not r.ok]
        return {
            "total": len(self.rows),
            "valid": len(self.rows) - len(bad),
            "invalid": len(bad),
            "rows": [r.to_dict() for r in self.rows],
        }


def read_rows(data: bytes | str | list | dict, fmt: str) -> list[tuple[int, dict[str, Any]]]:
    """``[(row number, {column: value})]`` from ``fmt`` in {"csv", "xlsx", "geojson", "json"}:
    the core's reader (``postalops.imports.read_rows``), up to ``MAX_ROWS`` rows."""
    return imports.read_rows(data, fmt, max_rows=MAX_ROWS)


def _text(row, key, errors, required=True, max_len=200):
    value = row.get(key)
    value = "" if value is None else str(value).strip()
    if not value:
        if required:
            errors[key] = "required"
        return None
    if len(value) > max_len:
        errors[key] = f"longer than {max_len} characters"
        return None
    return value


def _number(row, key, errors, lo, hi, required=True, integer=False):
    raw = row.get(key)
    if raw is None or str(raw).strip() == "":
        if required:
            errors[key] = "required"
        return None
    try:
        value = float(raw)
        if integer:
            if value != int(value):
                raise ValueError
            value = int(value)
    except (TypeError, ValueError):
        errors[key] = f"{raw!r} is not {'a whole number' if integer else 'a number'}"
        return None
    if not (lo <= value <= hi):
        errors[key] = f"must be between {lo} and {hi}"
        return None
    return value


def _choice(row, key, enum_cls, errors, default=None):
    raw = row.get(key)
    if raw is None or str(raw).strip() == "":
        if default is not None:
            return default
        errors[key] = "required"
        return None
    try:
        return enum_cls(str(raw).strip())
    except ValueError:
        errors[key] = f"{raw!r} is not one of {', '.join(m.value for m in enum_cls)}"
        return None


def _county(row, errors):
    county = _text(row, "county", errors, max_len=60)
    if county and not _COUNTY.match(county):
        errors["county"] = "expected a county code segment like jinshui"
        return None
    return county


def _location(row, errors) -> tuple[float | None, float | None, str | None]:
    """(lon, lat, polygon WKT) from lon/lat columns, a ``polygon`` WKT column or GeoJSON."""
    polygon = None
    geometry = row.get("__geometry__")
    if geometry is not None:
        try:
            shape = shapely.from_geojson(json.dumps(geometry))
        except (GEOSException, ValueError, TypeError):
            errors["geometry"] = "not a valid GeoJSON geometry"
            return None, None, None
        if shape.geom_type == "Point":
            row.setdefault("lon", shape.x)
            row.setdefault("lat", shape.y)
        elif shape.geom_type in ("Polygon", "MultiPolygon"):
            if not shape.is_valid:
                errors["geometry"] = "polygon is not valid (self-intersecting?)"
                return None, None, None
            polygon = shape.wkt
            inner = shape.representative_point()
            row.setdefault("lon", inner.x)
            row.setdefault("lat", inner.y)
        else:
            errors["geometry"] = f"{shape.geom_type} is not a Point or Polygon"
            return None, None, None
    elif row.get("polygon"):
        try:
            shape = shapely_wkt.loads(str(row["polygon"]))
        except (GEOSException, ValueError, TypeError):
            errors["polygon"] = "not valid WKT"
            return None, None, None
        if shape.geom_type not in ("Polygon", "MultiPolygon") or not shape.is_valid:
            errors["polygon"] = "expected a valid POLYGON"
            return None, None, None
        polygon = shape.wkt
        if row.get("lon") in (None, "") and row.get("lat") in (None, ""):
            inner = shape.representative_point()
            row["lon"], row["lat"] = inner.x, inner.y
    lon = _number(row, "lon", errors, -180, 180)
    lat = _number(row, "lat", errors, -90, 90)
    return lon, lat, polygon


def validate_area_row(row: Mapping[str, Any]) -> tuple[dict[str, Any] | None, dict[str, str]]:
    """One service-area row → (clean value, errors by field)."""
    row = dict(row)
    errors: dict[str, str] = {}
    code = _text(row, "code", errors, max_len=64)
    name = _text(row, "name", errors)
    category = _choice(row, "category", AreaCategory, errors)
    lon, lat, polygon = _location(row, errors)
    households = _number(row, "households", errors, 0, 10_000_000, integer=True)
    population = _number(row, "population", errors, 0, 100_000_000, required=False, integer=True)
    county = _county(row, errors)
    if errors:
        return None, errors
    return {
        "code": code,
        "name": name,
        "category": category,
        "lon": lon,
        "lat": lat,
        "polygon_wkt": polygon,
        "households": households,
        "population": population,
        "county": county,
    }, errors


def validate_point_row(row: Mapping[str, Any]) -> tuple[dict[str, Any] | None, dict[str, str]]:
    """One pickup-point row → (clean value, errors by field)."""
    from .agent_fee import money
    from .opening_hours import parse_opening_hours

    row = dict(row)
    errors: dict[str, str] = {}
    code = _text(row, "code", errors, max_len=64)
    name = _text(row, "name", errors)
    point_type = _choice(row, "point_type", PointType, errors)
    status = _choice(row, "status", PointStatus, errors, default=PointStatus.ACTIVE)
    lon, lat, _ = _location(row, errors)
    operator = _text(row, "operator", errors, required=False)
    capacity = _number(row, "capacity", errors, 0, 1_000_000, required=False, integer=True)
    county = _county(row, errors)
    hours = None
    raw_hours = row.get("opening_hours")
    if isinstance(raw_hours, str) and raw_hours.strip():
        try:
            raw_hours = json.loads(raw_hours)
        except json.JSONDecodeError:
            errors["opening_hours"] = "expected a JSON object"
            raw_hours = None
    if raw_hours not in (None, ""):
        try:
            hours = parse_opening_hours(raw_hours).to_json()
        except ValidationError as exc:
            details = exc.details or [{"field": "opening_hours"}]
            errors[details[0]["field"]] = details[0].get("message", str(exc))
    opened_on = None
    raw_opened = row.get("opened_on")
    if raw_opened not in (None, ""):
        try:
            opened_on = (
                raw_opened
                if isinstance(raw_opened, dt.date) and not isinstance(raw_opened, dt.datetime)
                else dt.date.fromisoformat(str(raw_opened)[:10])
            )
        except ValueError:
            errors["opened_on"] = "expected YYYY-MM-DD"
    fee = None
    if row.get("agent_fee") not in (None, ""):
        try:
            fee = money(row["agent_fee"], "agent_fee")
        except ValidationError as exc:
            errors["agent_fee"] = exc.message
    if errors:
        return None, errors
    return {
        "code": code,
        "name": name,
        "point_type": point_type,
        "status": status,
        "lon": lon,
        "lat": lat,
        "operator": operator,
        "capacity": capacity,
        "county": county,
        "opening_hours": hours,
        "agent_fee": fee,
        "opened_on": opened_on,
    }, errors


def validate_rows(
    rows: Iterable[tuple[int, Mapping[str, Any]]],
    validate: Callable[[Mapping[str, Any]], tuple[dict[str, Any] | None, dict[str, str]]],
    unique_key: str = "code",
) -> ImportReport:
    """Validate every row and flag duplicate codes within the file."""
    reports = []
    seen: dict[Any, int] = {}
    for n, row in rows:
        value, errors = validate(row)
        if value is not None:
            key = value.get(unique_key)
            if key in seen:
                errors = {unique_key: f"duplicate of row {seen[key]}"}
                value = None
            else:
                seen[key] = n
        reports.append(RowReport(n, not errors, errors, value, row))
    return ImportReport(reports)


def row_county(report: RowReport) -> str | None:
    """The row's county if it is readable, whether or not the row's other fields are valid."""
    if report.value is not None:
        return report.value.get("county")
    if "county" in report.errors or report.raw is None:
        return None
    county = report.raw.get("county")
    county = "" if county is None else str(county).strip()
    return county if _COUNTY.match(county) else None
