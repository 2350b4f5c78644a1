"""Kafka adapters: a topic's end offsets (from the runtime), read before consuming starts.

Decisions and settings leave through the outbox (``OutboxRelay`` from the runtime)."""

from __future__ import annotations

from bankrec.runtime.kafka import readable_end_offsets

__all__ = ["readable_end_offsets"]
