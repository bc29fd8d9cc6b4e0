"""Alembic: `postalops db upgrade` on an empty database builds exactly the models' schema."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from postalops import migrate
from sqlmodel import SQLModel


def test_upgrade_builds_the_models_schema(po_app, empty_db):
    reg = po_app.extensions["postalops.plugins"]
    migrate.upgrade(empty_db, reg)
    with empty_db.engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": False}), SQLModel.metadata
        )
        partitions = set()
        if empty_db.is_postgres:  # monthly partitions of event tables are not models
            partitions = set(
                conn.execute(sa.text("SELECT relname FROM pg_class WHERE relispartition")).scalars()
            )
    # Index and type rendering differ harmlessly between backends; tables and columns must not.
    real = [
        d
        for d in diff
        if d[0] in ("add_table", "remove_table", "add_column", "remove_column")
        and not (d[0] == "remove_table" and d[1].name in partitions)
    ]
    assert real == [], real
    assert migrate.pending(empty_db, reg) == []


def test_every_installed_branch_is_applied(po_app, empty_db):
    reg = po_app.extensions["postalops.plugins"]
    locations = migrate.version_locations(reg)
    assert "core" in locations
    migrate.upgrade(empty_db, reg)
    inspector = sa.inspect(empty_db.engine)
    tables = set(inspector.get_table_names())
    for owner in locations:
        assert any(t.startswith(owner + "_") for t in tables), f"no tables for {owner}"


def test_upgrade_twice_is_a_no_op(po_app, empty_db):
    reg = po_app.extensions["postalops.plugins"]
    migrate.upgrade(empty_db, reg)
    first = migrate.current(empty_db, reg)
    migrate.upgrade(empty_db, reg)
    assert migrate.current(empty_db, reg) == first


def test_core_0002_session_version_up_and_down(po_app, empty_db):
    """core_0002 adds core_user.session_version (0 for existing users) and takes it away."""
    from alembic import command

    reg = po_app.extensions["postalops.plugins"]
    migrate.upgrade(empty_db, reg, target="core_0001")
    user = sa.table(
        "core_user",
        *(sa.column(c) for c in ("username", "display_name", "password_hash")),
        *(sa.column(c) for c in ("home_unit_code", "roles", "active", "created_at")),
    )
    with empty_db.engine.begin() as conn:
        conn.execute(
            user.insert().values(
                username="old",
                display_name="Old",
                password_hash="x",
                home_unit_code="cn",
                roles=sa.literal_column("'[]'"),
                active=True,
                created_at=sa.func.now(),
            )
        )
    migrate.upgrade(empty_db, reg)
    columns = {c["name"] for c in sa.inspect(empty_db.engine).get_columns("core_user")}
    assert "session_version" in columns
    with empty_db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT session_version FROM core_user")).scalar_one() == 0
    indexes = {i["name"] for i in sa.inspect(empty_db.engine).get_indexes("core_login_failure")}
    assert "ix_core_login_failure_address_at" in indexes
    with empty_db.engine.begin() as conn:
        command.downgrade(migrate.alembic_config(reg, conn), "core_0001")
    empty_db.engine.dispose()
    inspector = sa.inspect(empty_db.engine)
    assert "session_version" not in {c["name"] for c in inspector.get_columns("core_user")}
    assert "ix_core_login_failure_address_at" not in {
        i["name"] for i in inspector.get_indexes("core_login_failure")
    }
    with empty_db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT username FROM core_user")).scalar_one() == "old"
    migrate.upgrade(empty_db, reg)
    assert migrate.pending(empty_db, reg) == []
