"""HTTP API conventions: ``ApiBlueprint`` routes validated from pydantic/SQLModel models,
listed in the generated OpenAPI 3 document, with the one JSON error format.

Example (a plugin's api.py)::

    api = ApiBlueprint("outcall_api", __name__)

    class CaseIn(BaseModel):
        case_no: str

    @api.operation("/cases", methods=["POST"], body=list[CaseIn], permission="outcall.intake",
                   summary="Intake a batch of approved cases")
    def intake(body):
        return {"created": len(body)}, 201
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, current_app, jsonify, request
from flask.json.provider import DefaultJSONProvider
from pydantic import BaseModel, TypeAdapter
from pydantic import ValidationError as PydanticValidationError
from werkzeug.routing import IntegerConverter

from . import clock, context
from .auth import check_permission
from .errors import BadRequest, Forbidden, NotFound, ValidationError
from .fields import INT64_MAX
from .tenancy import in_subtree, valid_code

__all__ = [
    "ApiBlueprint",
    "paginate",
    "query_tenant",
    "query_period",
    "parse_date",
]


log = logging.getLogger(__name__)

try:
    import orjson as _orjson

    _ORJSON_OPTIONS = _orjson.OPT_SORT_KEYS | _orjson.OPT_NON_STR_KEYS
except ImportError:  # pragma: no cover - an optional speed-up
    _orjson = None  # type: ignore[assignment]


class JSONProvider(DefaultJSONProvider):
    """Decimals as strings (money is never float), datetimes as ISO 8601.

    Compact responses are written by orjson when it is installed (the same JSON, keys sorted,
    several times faster than the standard library for a 50-row list); what orjson refuses
    (an integer beyond 64 bits, a timezone-aware time) and indented output fall back to the
    standard library."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        if _orjson is not None and kwargs.keys() <= {"separators"}:
            try:
                return _orjson.dumps(obj, default=self.default, option=_ORJSON_OPTIONS).decode()
            except TypeError:  # orjson.JSONEncodeError is a TypeError
                pass
        return super().dumps(obj, **kwargs)

    @staticmethod
    def default(o: Any) -> Any:  # type: ignore[override]
        if isinstance(o, Decimal):
            return str(o)
        if isinstance(o, dt.datetime | dt.date | dt.time):
            return o.isoformat()
        if isinstance(o, BaseModel):
            return o.model_dump(mode="json")
        if dataclasses.is_dataclass(o) and not isinstance(o, type):
            return dataclasses.asdict(o)
        return DefaultJSONProvider.default(o)

    ensure_ascii = False

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        # ``request.get_json()`` answers 400 for a ValueError; a body nested deeper than the
        # interpreter's recursion limit must get the same answer, not a 500.
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None


ID_MAX = 2**31 - 1
"""Row ids are INTEGER columns: 32-bit on PostgreSQL (SQLite's are 64-bit)."""


def digits_up_to(n: int) -> str:
    """A regular expression for the decimal integers 0..n (leading zeros allowed)."""
    s, k = str(n), len(str(n))
    alts = [rf"\d{{1,{k - 1}}}"] if k > 1 else []
    for i, d in enumerate(s):
        if d != "0":
            rest = rf"\d{{{k - i - 1}}}" if k - i - 1 else ""
            alts.append(f"{s[:i]}[0-{int(d) - 1}]{rest}")
    alts.append(s)
    return f"0*(?:{'|'.join(alts)})"


class BoundedIntConverter(IntegerConverter):
    """``<int:...>`` path segments up to the largest row id: a larger id matches no route (404)
    instead of reaching the database, which cannot hold it (SQLite raises ``OverflowError``,
    PostgreSQL ``NumericValueOutOfRange``).

    The bound is in the regular expression, not only in ``max``: werkzeug checks a rule's
    methods before its converters, so with ``max`` alone a POST to a path that also has a GET
    rule answered 405 for an id past the bound."""

    regex = digits_up_to(ID_MAX)

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", ID_MAX)
        super().__init__(map, *args, **kwargs)


def install_converters(app: Any) -> None:
    """Called by the app factory before any blueprint is registered."""
    app.url_map.converters["int"] = BoundedIntConverter


@dataclasses.dataclass
class Operation:
    rule: str
    methods: list[str]
    endpoint: str
    summary: str
    body: Any = None
    query: Any = None
    response: Any = None
    permission: str | None = None
    tags: list[str] = dataclasses.field(default_factory=list)
    files: bool = False
    status: int = 200
    downloads: tuple[str, ...] = ()


def pydantic_errors(exc: PydanticValidationError, prefix: str = "") -> list[dict[str, Any]]:
    out = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        out.append(
            {
                "field": f"{prefix}{loc}" if loc else prefix.rstrip(".") or "body",
                "message": err["msg"],
                "type": err["type"],
            }
        )
    return out


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def load_json(raw: bytes) -> Any:
    """Decode a JSON request body; 400 ``malformed_json`` naming the body when it is not JSON
    (including ``NaN``/``Infinity`` and nesting deeper than the parser can follow), 422 naming
    the field for an integer outside the signed 64-bit range or a number too large for a float.
    """
    # The scanner hands each number's text to these, so a body with no number out of range
    # (nearly all) is not walked again after parsing; a 5,000-row batch's walk cost about as
    # much as the parse itself (issue 17 §4).
    out_of_range: list[bool] = []

    def _int(text: str) -> int:
        value = int(text)
        if len(text) > 18 and not -INT64_MAX - 1 <= value <= INT64_MAX:
            out_of_range.append(True)
        return value

    def _float(text: str) -> float:
        value = float(text)
        if value in (float("inf"), float("-inf")):
            out_of_range.append(True)
        return value

    try:
        data = json.loads(raw, parse_constant=_refuse_constant, parse_int=_int, parse_float=_float)
    except RecursionError:
        raise BadRequest(
            "malformed JSON: nested too deeply",
            code="malformed_json",
            details=[{"field": "body", "message": "nested too deeply"}],
        ) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(
            f"malformed JSON: {exc}",
            code="malformed_json",
            details=[{"field": "body", "message": str(exc)}],
        ) from exc
    if out_of_range:  # walk the tree only to name the fields
        raise ValidationError("numbers out of range", details=out_of_range_numbers(data))
    return data


def _children(value: Any, path: str) -> list[tuple[str, Any]]:
    if isinstance(value, BaseModel):
        return [(f"{path}{k}", getattr(value, k)) for k in type(value).model_fields]
    if isinstance(value, dict):
        return [(f"{path}{k}", v) for k, v in value.items()]
    if isinstance(value, list | tuple | set | frozenset):
        return [(f"{path}{i}", v) for i, v in enumerate(value)]
    return []


def out_of_range_numbers(data: Any, prefix: str = "") -> list[dict[str, Any]]:
    """Every integer outside [-2**63, 2**63 - 1] and every non-finite float in ``data`` (parsed
    JSON or validated models), as error details naming its field (``items.3.qty``)."""
    errors: list[dict[str, Any]] = []
    stack: list[tuple[str, Any]] = [(prefix.rstrip("."), data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, bool):
            continue
        if isinstance(value, int) and not -INT64_MAX - 1 <= value <= INT64_MAX:
            errors.append(
                {"field": path or "body", "message": "integer out of range", "type": "int_range"}
            )
        elif isinstance(value, float) and value in (float("inf"), float("-inf")):
            errors.append(
                {"field": path or "body", "message": "number out of range", "type": "float_range"}
            )
        else:
            stack.extend(_children(value, f"{path}." if path else ""))
    return sorted(errors, key=lambda e: e["field"])


def numbers_as_dates(value: Any, raw: Any, path: str = "") -> list[dict[str, Any]]:
    """Fields that validated to a date, datetime or time from a JSON number. Pydantic's lax mode
    reads ``{"as_of": 0}`` as 1970-01-01; the API takes dates only as ISO 8601 text."""
    errors: list[dict[str, Any]] = []
    stack: list[tuple[str, Any, Any]] = [(path, value, raw)]
    while stack:
        where, val, src = stack.pop()
        if isinstance(val, dt.date | dt.time):
            if not isinstance(src, str):
                errors.append(
                    {
                        "field": where or "body",
                        "message": "expected an ISO 8601 string (YYYY-MM-DD, HH:MM)",
                        "type": "date_type",
                    }
                )
            continue
        sep = f"{where}." if where else ""
        if isinstance(val, BaseModel) and isinstance(src, dict):
            for name, info in type(val).model_fields.items():
                key = info.alias or name
                if key in src:
                    stack.append((f"{sep}{key}", getattr(val, name), src[key]))
        elif isinstance(val, dict) and isinstance(src, dict):
            stack.extend((f"{sep}{k}", v, src[k]) for k, v in val.items() if k in src)
        elif isinstance(val, list | tuple) and isinstance(src, list):
            stack.extend(
                (f"{sep}{i}", v, s) for i, (v, s) in enumerate(zip(val, src, strict=False))
            )
    return sorted(errors, key=lambda e: e["field"])


def parse_json_body(schema: Any) -> Any:
    """Parse and validate the request body against ``schema`` (a model or ``list[Model]``)."""
    raw = request.get_data(cache=True)
    if not raw:
        raise BadRequest(
            "request body is empty; JSON expected",
            code="empty_body",
            details=[{"field": "body", "message": "required"}],
        )
    data = load_json(raw)
    try:
        value = TypeAdapter(schema).validate_python(data)
    except PydanticValidationError as exc:
        raise ValidationError("request body is invalid", details=pydantic_errors(exc)) from exc
    errors = numbers_as_dates(value, data) + out_of_range_numbers(value)
    if errors:
        raise ValidationError("request body is invalid", details=errors)
    return value


def parse_query(schema: type[BaseModel]) -> BaseModel:
    try:
        value = schema.model_validate(request.args.to_dict())
    except PydanticValidationError as exc:
        raise ValidationError(
            "query parameters are invalid", details=pydantic_errors(exc, "query.")
        ) from exc
    errors = out_of_range_numbers(value, "query.")
    if errors:
        raise ValidationError("query parameters are invalid", details=errors)
    return value


class ApiBlueprint(Blueprint):
    """A blueprint whose routes are documented in ``/api/v1/openapi.json``.

    The core mounts a plugin's ApiBlueprint at ``/api/v1/<plugin key>``.
    """

    def __init__(self, name: str, import_name: str, **kwargs: Any) -> None:
        super().__init__(name, import_name, **kwargs)
        self.operations: list[Operation] = []

    def operation(
        self,
        rule: str,
        *,
        methods: list[str] | tuple[str, ...] = ("GET",),
        summary: str = "",
        body: Any = None,
        query: type[BaseModel] | None = None,
        response: Any = None,
        permission: str | None = None,
        tags: list[str] | None = None,
        files: bool = False,
        status: int = 200,
        downloads: tuple[str, ...] = (),
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Register an API route. ``body``/``query`` models are validated before the view runs
        and passed as ``body=``/``query=``; ``permission`` is checked first (401/403).
        ``downloads`` names the media types the route may send instead of JSON (``"text/csv"``
        for ``?format=csv``): documented as files beside the JSON ``response``."""

        def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
            def view(**path_args: Any) -> Any:
                context.current()  # 401 when unauthenticated
                if permission:
                    check_permission(permission)
                kwargs = dict(path_args)
                if body is not None and not files:
                    kwargs["body"] = parse_json_body(body)
                if query is not None:
                    kwargs["query"] = parse_query(query)
                return to_response(fn(**kwargs), status)

            view.__name__ = fn.__name__
            view.__doc__ = fn.__doc__
            self.add_url_rule(rule, fn.__name__, view, methods=list(methods))
            self.operations.append(
                Operation(
                    rule=rule,
                    methods=[m.upper() for m in methods],
                    endpoint=fn.__name__,
                    summary=summary or (fn.__doc__ or "").strip().split("\n")[0],
                    body=body,
                    query=query,
                    response=response,
                    permission=permission,
                    tags=tags or [],
                    files=files,
                    status=status,
                    downloads=tuple(downloads),
                )
            )
            return fn

        return deco


def to_response(result: Any, status: int = 200) -> Response:
    if isinstance(result, Response):
        return result
    if isinstance(result, tuple):
        result, status = result
    if isinstance(result, BaseModel):
        result = result.model_dump(mode="json")
    resp = jsonify(result)
    resp.status_code = status
    return resp


# --- list conventions --------------------------------------------------------------------------


def paginate(
    session: Any,
    stmt: Any,
    serialize: Callable[[Any], Any] | None = None,
    *,
    default_per_page: int = 50,
    max_per_page: int = 500,
    plain: bool = False,
) -> dict[str, Any]:
    """Run ``stmt`` one page at a time: ``?page=1&per_page=50`` -> ``{items, page, per_page,
    total}``. ``serialize`` gets each result: the model instance for ``select(Model)`` (from
    sqlmodel or sqlalchemy), a ``Row`` for a select of several columns; without it a model is
    dumped with ``model_dump(mode="json")``.

    ``plain=True``, for ``select(Model)`` with a ``serialize`` that reads only the model's
    columns by attribute (``case.case_no``): it gets a read-only ``Row`` of those columns
    instead of a model object. Same statement and tenant scope; no ORM object is built (about
    a third of a 50-row list's time)."""
    page = _int_arg("page", 1, minimum=1, maximum=10_000_000)
    per_page = _int_arg("per_page", default_per_page, minimum=1, maximum=max_per_page)
    offset = (page - 1) * per_page
    page_stmt = stmt.limit(per_page).offset(offset)
    if plain and _one_entity(stmt):
        model = stmt.column_descriptions[0]["entity"]
        columns = [getattr(model, p.key) for p in sa.inspect(model).column_attrs]
        page_stmt = sa.Select.with_only_columns(page_stmt, *columns)
        rows = session.execute(page_stmt).all()
    else:
        rows = session.exec(page_stmt).all()
    if rows and isinstance(rows[0], sa.Row) and _one_entity(stmt) and not plain:
        rows = [r[0] for r in rows]  # sqlalchemy's select(Model) gives Rows; hand over the model
    if 0 < len(rows) < per_page or (page == 1 and not rows):
        # A short page is the last one: the total is known without counting.
        total = offset + len(rows)
    else:
        total = session.exec(count_statement(stmt)).one()
        if isinstance(total, tuple | sa.Row):
            total = total[0]
    serialize = serialize or (
        lambda r: r.model_dump(mode="json") if hasattr(r, "model_dump") else r
    )
    return {
        "items": [serialize(r) for r in rows],
        "page": page,
        "per_page": per_page,
        "total": int(total),
    }


def count_statement(stmt: Any) -> Any:
    """``SELECT count(*)`` of the rows ``stmt`` returns. A plain select (no grouping, distinct,
    limit or offset) is counted over its own FROM and WHERE, so the database does not build
    every selected column into a subquery first; others are counted as a subquery. The tenant
    scope applies to either, as to any statement run on the caller's session."""
    plain = (
        isinstance(stmt, sa.Select)
        and not stmt._group_by_clauses
        and not stmt._having_criteria
        and not stmt._distinct
        and not stmt._distinct_on
        and stmt._limit_clause is None
        and stmt._offset_clause is None
        and stmt._fetch_clause is None
    )
    if plain:
        return stmt.with_only_columns(sa.func.count(), maintain_column_froms=True).order_by(None)
    return sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery())


def _one_entity(stmt: Any) -> bool:
    """``stmt`` selects exactly one ORM entity (``select(Model)``), not columns."""
    described = getattr(stmt, "column_descriptions", None) or []
    if len(described) != 1:
        return False
    entity = described[0].get("entity")
    return entity is not None and described[0].get("expr") is entity


def _int_arg(name: str, default: int, minimum: int = 0, maximum: int | None = None) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ValidationError(
            f"{name} must be an integer",
            details=[{"field": f"query.{name}", "message": "not an integer"}],
        ) from exc
    if value < minimum or (maximum is not None and value > maximum):
        raise ValidationError(
            f"{name} out of range",
            details=[
                {"field": f"query.{name}", "message": f"must be between {minimum} and {maximum}"}
            ],
        )
    return value


def query_tenant(required: bool = False) -> str:
    """``?tenant=<code>``: must exist and lie in the caller's scope; defaults to the active unit."""
    from sqlmodel import select

    from .models import OrgUnit

    code = request.args.get("tenant")
    ctx = context.current()
    if not code:
        if required:
            raise ValidationError(
                "tenant is required", details=[{"field": "query.tenant", "message": "required"}]
            )
        return context.tenant()
    if not valid_code(code):
        raise ValidationError(
            "malformed tenant code",
            details=[{"field": "query.tenant", "message": "not a unit code"}],
        )
    if ctx.scope.code and not in_subtree(code, ctx.scope.code):
        raise Forbidden(
            f"unit {code!r} is outside your scope",
            details=[{"field": "query.tenant", "message": "outside scope"}],
        )
    if ctx.session.exec(select(OrgUnit.id).where(OrgUnit.code == code)).first() is None:
        raise NotFound(
            f"unknown unit {code!r}", details=[{"field": "query.tenant", "message": "unknown unit"}]
        )
    return code


def parse_date(value: str | None, field: str) -> dt.date | None:
    if value in (None, ""):
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise ValidationError(
            f"{field} must be a date (YYYY-MM-DD)",
            details=[{"field": f"query.{field}", "message": "not a date"}],
        ) from exc


def query_period(default_days: int = 30) -> tuple[dt.date, dt.date]:
    """``?from=YYYY-MM-DD&to=YYYY-MM-DD`` (inclusive); defaults to the last ``default_days``."""
    to = parse_date(request.args.get("to"), "to") or clock.today()
    frm = parse_date(request.args.get("from"), "from") or to - dt.timedelta(days=default_days - 1)
    if frm > to:
        raise ValidationError(
            "from is after to", details=[{"field": "query.from", "message": "after 'to'"}]
        )
    return frm, to


# --- OpenAPI -----------------------------------------------------------------------------------

_PATH_PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")


def component_prefix(blueprint_name: str) -> str:
    """``pickup_points_api`` -> ``PickupPoints``: component schemas are named per plugin, so
    two plugins' ``ProductIn`` models stay two schemas (``EcommerceProductIn``,
    ``LendingProductIn``)."""
    return "".join(part.capitalize() for part in blueprint_name.removesuffix("_api").split("_"))


def _add_component(components: dict[str, Any], name: str, schema: dict[str, Any]) -> None:
    if name in components and components[name] != schema:
        log.warning("OpenAPI: two different schemas named %s; the first is kept", name)
        return
    components[name] = schema


def _json_schema(schema: Any, components: dict[str, Any], prefix: str) -> dict[str, Any]:
    js = TypeAdapter(schema).json_schema(ref_template=f"#/components/schemas/{prefix}{{model}}")
    for name, sub in js.pop("$defs", {}).items():
        _add_component(components, prefix + name, sub)
    return js


def _schema_ref(schema: Any, components: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    js = _json_schema(schema, components, prefix)
    title = js.get("title")
    if js.get("type") == "object" and title:
        _add_component(components, prefix + title, js)
        return {"$ref": f"#/components/schemas/{prefix}{title}"}
    return js


def build_openapi(app: Any) -> dict[str, Any]:
    """The OpenAPI 3.1 document for every ApiBlueprint registered on ``app``."""
    paths: dict[str, Any] = {}
    components: dict[str, Any] = {}
    error_schema = {
        "type": "object",
        "properties": {
            "error": {
                "type": "object",
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "details": {"type": "array", "items": {"type": "object"}},
                },
            }
        },
    }
    components["Error"] = error_schema
    for bp_name, bp in app.blueprints.items():
        if not isinstance(bp, ApiBlueprint):
            continue
        prefix = app.extensions["postalops.api_prefixes"].get(bp_name, "")
        prefix_name = component_prefix(bp_name)
        for op in bp.operations:
            path = prefix + _PATH_PARAM.sub(r"{\2}", op.rule)
            params = [
                {
                    "name": m.group(2),
                    "in": "path",
                    "required": True,
                    "schema": (
                        {"type": "integer", "minimum": 0, "maximum": ID_MAX}
                        if m.group(1) == "int"
                        else {"type": "string"}
                    ),
                }
                for m in _PATH_PARAM.finditer(op.rule)
            ]
            if op.query is not None:
                qs = _json_schema(op.query, components, prefix_name)
                for name, prop in qs.get("properties", {}).items():
                    params.append(
                        {
                            "name": name,
                            "in": "query",
                            "required": name in qs.get("required", []),
                            "schema": prop,
                        }
                    )
            for method in op.methods:
                entry: dict[str, Any] = {
                    "summary": op.summary,
                    "operationId": f"{bp_name}.{op.endpoint}.{method.lower()}",
                    "tags": op.tags or [bp_name.removesuffix("_api")],
                    "parameters": params,
                    "responses": {str(op.status): {"description": "OK"}},
                    "security": [{"bearer": []}, {"session": []}],
                }
                if op.response is not None:
                    entry["responses"][str(op.status)]["content"] = {
                        "application/json": {
                            "schema": _schema_ref(op.response, components, prefix_name)
                        }
                    }
                for media in op.downloads:
                    entry["responses"][str(op.status)].setdefault("content", {})[media] = {
                        "schema": {"type": "string", "format": "binary"}
                    }
                for code in ("400", "401", "403", "404", "409", "422"):
                    entry["responses"][code] = {
                        "description": "error",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                        },
                    }
                if op.permission:
                    entry["x-permission"] = op.permission
                if op.files:
                    content = {
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "file": {
                                        "type": "string",
                                        "format": "binary",
                                        "description": "CSV (UTF-8) or XLSX",
                                    }
                                },
                            }
                        }
                    }
                    if op.body is not None:
                        content["application/json"] = {
                            "schema": _schema_ref(op.body, components, prefix_name)
                        }
                    entry["requestBody"] = {"required": True, "content": content}
                elif op.body is not None:
                    entry["requestBody"] = {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": _schema_ref(op.body, components, prefix_name)
                            }
                        },
                    }
                paths.setdefault(path, {})[method.lower()] = entry
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "PostalOps API",
            "version": current_app.extensions["postalops.version"],
            "description": 'Errors use {"error": {"code", "message", "details"}}.',
        },
        "servers": [{"url": "/"}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": app.config.get("SESSION_COOKIE_NAME", "session"),
                },
            },
        },
    }
