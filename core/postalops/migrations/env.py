"""Alembic environment for PostalOps: one version branch for the core, one per plugin."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

config = context.config
owner = config.attributes.get("postalops_owner")  # set by `postalops db revision --plugin`


def include_object(obj, name, type_, reflected, compare_to):  # noqa: ANN001, ANN201
    """Autogenerate for one owner only: core tables start with core_, a plugin's with its key."""
    if owner is None or type_ != "table":
        return True
    return str(name).startswith(f"{owner}_")


def run() -> None:
    connection = config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        include_object=include_object,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run()
