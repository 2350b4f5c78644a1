"""Alembic environment of the matcher (run by ``bankrec.runtime.upgrade_database``).

On PostgreSQL the tables live in the ``matcher`` schema: it is created if missing, the
default schema is mapped to it and Alembic's version table lives there too. An advisory lock
keeps two instances starting at once from migrating at the same time.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine, pool, text

from bankrec.matcher.adapters.tables import metadata, schema_for

MIGRATION_LOCK_ID = 0x62726D61  # "brma": one id per service is enough (schemas differ)


def run_migrations(connection: Connection) -> None:
    schema = schema_for(connection.dialect.name)
    if schema is not None:
        connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": MIGRATION_LOCK_ID})
        connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        connection.commit()
        connection = connection.execution_options(schema_translate_map={None: schema})
    try:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            version_table_schema=schema,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()
    finally:
        if schema is not None:
            connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": MIGRATION_LOCK_ID})
            connection.commit()


def run_online() -> None:
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("set sqlalchemy.url (bankrec.runtime.upgrade_database does)")
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            run_migrations(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("the matcher's migrations run online only")
run_online()
