"""The database pool comes from the settings, and file reads (one connection each for a
whole file) must leave connections to the outbox relay and the requests (issue 8)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bankrec.ingest.bootstrap import pool_options
from bankrec.ingest.settings import IngestSettings


def test_the_pool_is_sized_from_the_settings() -> None:
    settings = IngestSettings(
        database_url="postgresql://bankrec@127.0.0.1/ingest",
        database_pool_size=8,
        database_max_overflow=4,
        database_pool_timeout_seconds=12.5,
    )
    assert pool_options(settings) == {"pool_size": 8, "max_overflow": 4, "pool_timeout": 12.5}
    # an in-memory SQLite database is one connection and takes no pool options
    assert pool_options(IngestSettings(database_url="sqlite://")) == {}


def test_file_reads_that_would_take_the_whole_pool_are_refused() -> None:
    IngestSettings(database_pool_size=5, database_max_overflow=1, file_reads_max=4)
    with pytest.raises(ValidationError) as refused:
        IngestSettings(database_pool_size=5, database_max_overflow=1, file_reads_max=5)
    assert "BANKREC_INGEST_FILE_READS_MAX=5 leaves fewer than 2 of the 6" in str(refused.value)
