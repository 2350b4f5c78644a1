import pytest

from bankrec.runtime import DatabaseUrlError, async_url, sync_url


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
