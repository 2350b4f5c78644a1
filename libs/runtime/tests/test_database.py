from collections.abc import Callable

import pytest
from sqlalchemy import text

from bankrec.runtime import (
    DatabaseUrlError,
    SnapshotTooLateError,
    async_url,
    begin_snapshot,
    create_engine,
    session_factory,
    sync_url,
)


def test_sqlite_urls() -> None:
    assert async_url("sqlite:///var/ledger.sqlite") == "sqlite+aiosqlite:///var/ledger.sqlite"
    assert sync_url("sqlite+aiosqlite:///var/ledger.sqlite") == "sqlite:///var/ledger.sqlite"


def test_postgres_urls_use_psycopg_and_keep_the_password() -> None:
    url = "postgresql://bankrec:secret@127.0.0.1:5432/bankrec_ledger"
    assert async_url(url) == "postgresql+psycopg://bankrec:secret@127.0.0.1:5432/bankrec_ledger"
    assert sync_url(url) == async_url(url)


def test_other_databases_are_refused_with_a_reason() -> None:
    with pytest.raises(DatabaseUrlError, match="use sqlite"):
        async_url("mysql://u:p@h/db")


@pytest.mark.integration
async def test_a_snapshot_read_never_sees_half_of_a_commit(
    database_url: Callable[[str], str],
) -> None:
    """A read of two tables with a commit to both between its statements: READ COMMITTED
    sees the commit in the second table only; the snapshot sees neither."""
    engine = create_engine(database_url("snapshot"))
    sessions = session_factory(engine)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE requests (state text)"))
            await conn.execute(text("CREATE TABLE lines (kind text)"))
            await conn.execute(text("INSERT INTO requests VALUES ('requested')"))
            await conn.execute(text("INSERT INTO lines VALUES ('match')"))

        async def read(*, snapshot: bool) -> tuple[str, str]:
            async with sessions() as reader:
                if snapshot:
                    await begin_snapshot(reader)
                line = (await reader.execute(text("SELECT kind FROM lines"))).scalar_one()
                async with sessions() as writer, writer.begin():  # commits between the reads
                    await writer.execute(text("UPDATE lines SET kind = 'suspense'"))
                    await writer.execute(text("UPDATE requests SET state = 'done'"))
                state = (await reader.execute(text("SELECT state FROM requests"))).scalar_one()
                with pytest.raises(SnapshotTooLateError):
                    await begin_snapshot(reader)
                return line, state

        assert await read(snapshot=False) == ("match", "done")  # torn
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE requests SET state = 'requested'"))
            await conn.execute(text("UPDATE lines SET kind = 'match'"))
        assert await read(snapshot=True) == ("match", "requested")
    finally:
        await engine.dispose()
