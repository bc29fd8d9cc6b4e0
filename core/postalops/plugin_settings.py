"""Plugin settings: a schema declared by the plugin, values stored by the core per unit.

A plugin returns a :class:`postalops.plugins.SettingsSchema` (a pydantic model and the
permissions to read and change it) from ``postalops_settings_schema()``. The core keeps the
values set at each unit in ``core_plugin_setting``; a unit inherits every value it does not set
from the nearest unit above it that does, then from the model's defaults. Values are validated
with the model as a whole (the unit's own values over the inherited ones), so a refused change
names the field and writes nothing.

Plugin code reads the values in force with :func:`values`::

    rules = plugin_settings.values(session, "pickup_points", "cn.henan.zhengzhou")
    rules.radius_urban_m   # 500, or what Henan or Zhengzhou set
"""

from __future__ import annotations

import datetime as dt
import enum
import types
import typing
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError
from sqlmodel import Session, select

from . import audit
from .db import check_in_scope, utcnow
from .errors import NotFound, ValidationError
from .models import PluginSetting

__all__ = [
    "values",
    "effective",
    "save",
    "label",
]


M = typing.TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Effective:
    """The settings in force at a unit: the validated model, the values the unit sets itself,
    and where each value comes from (a unit code, or None for the model's default)."""

    unit: str
    model: BaseModel
    own: dict[str, Any]
    source: dict[str, str | None]

    def as_json(self) -> dict[str, Any]:
        return self.model.model_dump(mode="json")


def _chain(unit: str) -> list[str]:
    parts = unit.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def schema_of(registry: Any, plugin: str) -> Any:
    """The plugin's :class:`~postalops.plugins.SettingsSchema` (404 when it declares none)."""
    schema = registry.settings_schemas().get(plugin)
    if schema is None:
        raise NotFound(
            f"plugin {plugin!r} has no settings", details=[{"field": "plugin", "message": plugin}]
        )
    return schema


def _rows(session: Session, plugin: str, unit: str) -> dict[str, dict[str, Any]]:
    rows = session.exec(
        select(PluginSetting).where(
            PluginSetting.plugin_key == plugin,
            PluginSetting.unit_code.in_(_chain(unit)),  # type: ignore[attr-defined]
        )
    ).all()
    return {r.unit_code: dict(r.values or {}) for r in rows}


def _merge(
    model: type[BaseModel], by_unit: dict[str, dict[str, Any]], chain: list[str]
) -> tuple[dict[str, Any], dict[str, str | None]]:
    merged: dict[str, Any] = {}
    source: dict[str, str | None] = dict.fromkeys(model.model_fields)
    for code in chain:  # the group first, the unit last: the nearest value wins
        for key, value in by_unit.get(code, {}).items():
            if key in model.model_fields:  # a field since removed from the schema is ignored
                merged[key] = value
                source[key] = code
    return merged, source


def effective(session: Session, model: type[BaseModel], plugin: str, unit: str) -> Effective:
    """The settings of ``plugin`` (schema ``model``) in force at ``unit``."""
    chain = _chain(unit)
    by_unit = _rows(session, plugin, unit)
    merged, source = _merge(model, by_unit, chain)
    try:
        validated = model.model_validate(merged)
    except PydanticValidationError as exc:
        # Stored values that a newer schema refuses: name them rather than guess.
        raise ValidationError(
            f"stored {plugin} settings are no longer valid at {unit}",
            code="invalid_settings",
            details=_errors(exc),
        ) from exc
    own = {k: v for k, v in by_unit.get(unit, {}).items() if k in model.model_fields}
    return Effective(unit, validated, own, source)


def values(session: Session, plugin: str, unit: str, model: type[M]) -> M:
    """The validated ``model`` in force at ``unit`` (what plugin code reads)."""
    return effective(session, model, plugin, unit).model  # type: ignore[return-value]


def _errors(exc: PydanticValidationError) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        out.append({"field": ".".join(loc) or "values", "message": err.get("msg", "invalid")})
    return out


def save(
    session: Session,
    model: type[BaseModel],
    plugin: str,
    unit: str,
    own: dict[str, Any],
    *,
    actor: str | None = None,
) -> Effective:
    """Replace the values ``unit`` sets itself with ``own`` (a key left out, or None, is
    inherited again); validated against the schema with the inherited values. Audited.
    The caller commits."""
    check_in_scope(session, unit)
    unknown = sorted(k for k in own if k not in model.model_fields)
    if unknown:
        raise ValidationError(
            "unknown settings",
            code="unknown_setting",
            details=[{"field": k, "message": "not a setting of " + plugin} for k in unknown],
        )
    own = {k: v for k, v in own.items() if v is not None}
    chain = _chain(unit)
    by_unit = _rows(session, plugin, unit)
    before = by_unit.get(unit)
    by_unit[unit] = own
    merged, _ = _merge(model, by_unit, chain)
    try:
        validated = model.model_validate(merged)
    except PydanticValidationError as exc:
        raise ValidationError(
            "settings are invalid", code="invalid_settings", details=_errors(exc)
        ) from exc
    # Store the unit's own values in their JSON form (Decimal as text, times as ISO).
    dumped = validated.model_dump(mode="json")
    stored = {k: dumped[k] for k in own}
    row = session.exec(
        select(PluginSetting).where(
            PluginSetting.plugin_key == plugin, PluginSetting.unit_code == unit
        )
    ).first()
    if row is None:
        row = PluginSetting(unit_code=unit, plugin_key=plugin, values=stored, changed_by=actor)
    else:
        row.values, row.changed_by, row.changed_at = stored, actor, utcnow()
    session.add(row)
    session.flush()
    audit.record(
        "core.settings.save",
        target_type="plugin_settings",
        target_id=f"{plugin}@{unit}",
        tenant=unit,
        before=before,
        after=stored,
        session=session,
        actor=actor,
    )
    return effective(session, model, plugin, unit)


# --- the form -------------------------------------------------------------------------------


def label(zh: str, help_zh: str = "", help_en: str = "", **extra: Any) -> dict[str, Any]:
    """The ``json_schema_extra`` that labels a settings field on the form: its Chinese label and
    the help text in both languages (the English label is the field's ``title``); ``extra``
    adds further keys such as ``option_labels``."""
    out: dict[str, Any] = {"label_zh": zh}
    if help_zh:
        out["help_zh"] = help_zh
    if help_en:
        out["help_en"] = help_en
    out.update(extra)
    return out


@dataclass(frozen=True)
class FormField:
    """How the admin page renders one field of a settings model."""

    name: str
    label_zh: str
    label_en: str
    help_zh: str
    help_en: str
    type: str  # text | number | checkbox | select | time
    options: tuple[tuple[str, str], ...] = ()
    required: bool = False
    step: str | None = None


def _base_type(annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _base_type(args[0]) if len(args) == 1 else str
    if origin is typing.Annotated:
        return _base_type(typing.get_args(annotation)[0])
    return annotation


def form_fields(model: type[BaseModel]) -> list[FormField]:
    """The fields of ``model`` as form inputs: labels from ``json_schema_extra``
    (``label_zh``, ``help_zh``, ``help_en``) and ``title`` (English), types from annotations."""
    out = []
    for name, f in model.model_fields.items():
        extra = f.json_schema_extra if isinstance(f.json_schema_extra, dict) else {}
        base = _base_type(f.annotation)
        options: tuple[tuple[str, str], ...] = ()
        step = None
        if typing.get_origin(base) is typing.Literal:
            kind = "select"
            options = tuple((str(v), str(v)) for v in typing.get_args(base))
        elif isinstance(base, type) and issubclass(base, enum.Enum):
            kind = "select"
            options = tuple((str(m.value), str(m.value)) for m in base)
        elif base is bool:
            kind = "checkbox"
        elif base is int:
            kind, step = "number", "1"
        elif base in (float, Decimal):
            kind, step = "number", "any"
        elif base is dt.time:
            kind = "time"
        else:
            kind = "text"
        labels = extra.get("option_labels")
        if isinstance(labels, dict) and options:
            options = tuple((v, str(labels.get(v, lab))) for v, lab in options)
        title = f.title or name.replace("_", " ").capitalize()
        out.append(
            FormField(
                name=name,
                label_zh=str(extra.get("label_zh") or title),
                label_en=str(extra.get("label_en") or title),
                help_zh=str(extra.get("help_zh") or ""),
                help_en=str(extra.get("help_en") or f.description or ""),
                type=kind,
                options=options,
                step=step,
            )
        )
    return out
