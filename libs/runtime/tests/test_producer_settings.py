"""The producer's batching settings come from ``BANKREC_KAFKA_PRODUCER_*`` when a broker is
built (not when ``bankrec.runtime.kafka`` is imported), and a bad value is refused naming
its variable."""

from __future__ import annotations

import pytest

from bankrec.runtime import (
    ProducerSettings,
    ProducerSettingsError,
    create_broker,
    producer_settings,
)

UNREACHABLE = "127.0.0.1:1"  # the broker is only built, never started


def producer_options(**overrides: object) -> dict[str, object]:
    broker = create_broker(UNREACHABLE, client_id="producer-settings-test", **overrides)  # type: ignore[arg-type]
    options: dict[str, object] = broker._connection_kwargs
    return {
        name: options[name]
        for name in ("linger_ms", "max_batch_size", "compression_type", "acks")
        if name in options
    }


@pytest.fixture(autouse=True)
def no_producer_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LINGER_MS", "MAX_BATCH_BYTES", "COMPRESSION"):
        monkeypatch.delenv(f"BANKREC_KAFKA_PRODUCER_{name}", raising=False)


def test_the_defaults_are_the_measured_ones() -> None:
    assert producer_settings() == ProducerSettings(
        linger_ms=5, max_batch_bytes=16384, compression=None
    )
    assert producer_options() == {
        "linger_ms": 5,
        "max_batch_size": 16384,
        "compression_type": None,
        "acks": "all",  # not a setting
    }


def test_the_variables_are_read_when_a_broker_is_built(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BANKREC_KAFKA_PRODUCER_LINGER_MS", "20")
    monkeypatch.setenv("BANKREC_KAFKA_PRODUCER_MAX_BATCH_BYTES", "65536")
    monkeypatch.setenv("BANKREC_KAFKA_PRODUCER_COMPRESSION", "zstd")
    assert producer_options() == {
        "linger_ms": 20,
        "max_batch_size": 65536,
        "compression_type": "zstd",
        "acks": "all",
    }
    # explicit arguments still win over the environment
    assert producer_options(linger_ms=0, compression_type="lz4")["linger_ms"] == 0
    assert producer_options(linger_ms=0, compression_type="lz4")["compression_type"] == "lz4"


@pytest.mark.parametrize("value", ["", "none", "NONE"])
def test_none_or_empty_compression_is_none(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("BANKREC_KAFKA_PRODUCER_COMPRESSION", value)
    assert producer_settings().compression is None


def test_bad_values_are_refused_naming_their_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BANKREC_KAFKA_PRODUCER_LINGER_MS", "soon")
    monkeypatch.setenv("BANKREC_KAFKA_PRODUCER_COMPRESSION", "brotli")
    with pytest.raises(ProducerSettingsError) as refused:
        create_broker(UNREACHABLE, client_id="producer-settings-test")
    message = str(refused.value)
    assert "BANKREC_KAFKA_PRODUCER_LINGER_MS='soon'" in message
    assert "BANKREC_KAFKA_PRODUCER_COMPRESSION='brotli'" in message
    assert "'gzip', 'snappy', 'lz4' or 'zstd'" in message


def test_a_negative_batch_size_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BANKREC_KAFKA_PRODUCER_MAX_BATCH_BYTES", "-1")
    with pytest.raises(ProducerSettingsError, match="BANKREC_KAFKA_PRODUCER_MAX_BATCH_BYTES='-1'"):
        producer_settings()
