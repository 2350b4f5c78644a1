"""Database engines for a service's own schema: SQLite by default, PostgreSQL by URL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import MetaData, event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)


class DatabaseUrlError(ValueError):
    """A database URL bankrec cannot use."""


def async_url(url: str) -> str:
    """The async-driver form of a SQLite or PostgreSQL URL."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return str(parsed.set(drivername="sqlite+aiosqlite"))
    if backend == "postgresql":
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    raise DatabaseUrlError(f"unsupported database {backend!r}: use sqlite:/// or postgresql://")


def sync_url(url: str) -> str:
    """The blocking-driver form, for migrations."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return str(parsed.set(drivername="sqlite"))
    if backend == "postgresql":
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    raise DatabaseUrlError(f"unsupported database {backend!r}: use sqlite:/// or postgresql://")


def ensure_sqlite_directory(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


def create_engine(url: str, **options: Any) -> AsyncEngine:
    """An async engine; SQLite gets WAL and a busy timeout so readers never block writers."""
    ensure_sqlite_directory(url)
    engine = create_async_engine(async_url(url), pool_pre_ping=True, **options)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # pysqlite's own transaction handling breaks SAVEPOINTs: take it over
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=10000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _sqlite_begin(connection: Any) -> None:
            # IMMEDIATE takes the write lock up front, so two writers wait on the busy
            # timeout instead of failing when a read lock would have to be upgraded
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


class SnapshotTooLateError(RuntimeError):
    """A snapshot was asked for after the transaction had begun."""


async def begin_snapshot(session: AsyncSession) -> None:
    """Begin the session's transaction as one snapshot, for a read over several tables.

    PostgreSQL's READ COMMITTED takes a new snapshot per statement, so a period loaded table
    by table could show another transaction's commit in one table and not in the next (a
    request done, its line still matched); REPEATABLE READ reads all of them as of the first
    statement. Only for reads: a writer there would fail instead of waiting on a lock. SQLite's
    transactions (BEGIN IMMEDIATE) hold the database already.
    """
    if session.in_transaction():
        raise SnapshotTooLateError("begin the snapshot before the transaction's first statement")
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


def session_factory(engine: AsyncEngine) -> async_sessionmaker[Any]:
    return async_sessionmaker(engine, expire_on_commit=False)


def upgrade_database(url: str, migrations_dir: Path) -> None:
    """Run the service's Alembic migrations up to head (blocking; call at start-up)."""
    ensure_sqlite_directory(url)
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.set_main_option("sqlalchemy.url", sync_url(url).replace("%", "%%"))
    command.upgrade(config, "head")


def run_alembic_environment(metadata: MetaData) -> None:
    """The body of a service's Alembic ``env.py``: migrate its tables online (or render
    the SQL offline). SQLite cannot ALTER most things, so there migrations copy the table
    instead (``render_as_batch``)."""
    from alembic import context
    from sqlalchemy import engine_from_config, pool

    config = context.config
    if context.is_offline_mode():
        context.configure(
            url=config.get_main_option("sqlalchemy.url"),
            target_metadata=metadata,
            literal_binds=True,
            render_as_batch=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    connectable = engine_from_config(
        config.get_section(config.config_ini_section, {}),
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with connectable.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
