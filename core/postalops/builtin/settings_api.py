"""``/api/v1/settings/<plugin>``: a plugin's settings at a unit (``postalops.plugin_settings``)."""

from __future__ import annotations

from typing import Any

from flask import current_app
from pydantic import BaseModel, Field
from sqlmodel import select

from postalops import context, plugin_settings
from postalops.api import ApiBlueprint
from postalops.auth import check_permission
from postalops.db import check_in_scope
from postalops.errors import NotFound
from postalops.models import OrgUnit

api = ApiBlueprint("core_settings_api", __name__)
TAGS = ["settings"]


class UnitQuery(BaseModel):
    unit: str | None = Field(
        default=None, max_length=200, description="unit code (default: your active unit)"
    )


class SettingsPut(BaseModel):
    values: dict[str, Any] = Field(
        description="the values this unit sets itself; a field left out or null is inherited "
        "from the unit above (or the default)"
    )


class SettingsOut(BaseModel):
    plugin: str
    unit: str
    values: dict[str, Any] = Field(description="the settings in force at the unit")
    own: dict[str, Any] = Field(description="the values the unit sets itself")
    source: dict[str, str | None] = Field(
        description="per field, the unit whose value is in force (null: the default)"
    )
    schema_: dict[str, Any] = Field(alias="schema", description="the JSON schema of the values")


def resolve(plugin: str, unit: str | None, *, edit: bool) -> tuple[Any, str]:
    """The plugin's schema and the unit, after the checks every settings route makes: the
    plugin declares settings (404), the caller holds its permission (403), the unit is in the
    caller's scope (403) and the plugin is enabled there (404)."""
    registry = current_app.extensions["postalops.plugins"]
    schema = plugin_settings.schema_of(registry, plugin)
    check_permission(schema.edit_permission if edit else schema.view_permission)
    unit = unit or context.tenant()
    s = context.session()
    check_in_scope(s, unit)
    if s.exec(select(OrgUnit.id).where(OrgUnit.code == unit)).first() is None:
        raise NotFound(
            f"unknown unit {unit!r}", details=[{"field": "query.unit", "message": "unknown unit"}]
        )
    if not registry.is_enabled(s, unit, plugin):
        raise NotFound(
            f"plugin {plugin} is not enabled at {unit}",
            details=[{"field": "query.unit", "message": "plugin not enabled here"}],
        )
    return schema, unit


def settings_json(plugin: str, eff: plugin_settings.Effective, model: type) -> dict[str, Any]:
    return {
        "plugin": plugin,
        "unit": eff.unit,
        "values": eff.as_json(),
        "own": eff.own,
        "source": eff.source,
        "schema": model.model_json_schema(),  # type: ignore[attr-defined]
    }


def read(plugin: str, unit: str | None) -> dict[str, Any]:
    schema, unit = resolve(plugin, unit, edit=False)
    eff = plugin_settings.effective(context.session(), schema.model, plugin, unit)
    return settings_json(plugin, eff, schema.model)


def write(plugin: str, unit: str | None, own: dict[str, Any]) -> dict[str, Any]:
    schema, unit = resolve(plugin, unit, edit=True)
    s = context.session()
    eff = plugin_settings.save(s, schema.model, plugin, unit, own, actor=context.principal().name)
    s.commit()
    return settings_json(plugin, eff, schema.model)


@api.operation(
    "/settings/<plugin>",
    query=UnitQuery,
    summary="A plugin's settings in force at a unit, where each comes from, and their schema",
    tags=TAGS,
    response=SettingsOut,
)
def get_settings(plugin: str, query: UnitQuery) -> Any:
    return read(plugin, query.unit)


@api.operation(
    "/settings/<plugin>",
    methods=["PUT"],
    query=UnitQuery,
    body=SettingsPut,
    summary="Set the values a unit sets itself (the rest inherited); 422 names each bad field",
    tags=TAGS,
    response=SettingsOut,
)
def put_settings(plugin: str, query: UnitQuery, body: SettingsPut) -> Any:
    return write(plugin, query.unit, body.values)
